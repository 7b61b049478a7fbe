//! Cloud and HTTP object stores through the `object_store` crate: inputs are
//! read with ranged GETs (nothing is downloaded in full first), outputs are
//! uploaded segment by segment as the muxer finishes them.
//!
//! URLs: `s3://bucket/prefix`, `gs://bucket/prefix`, `az://container/prefix`
//! (also `azure://`), `http(s)://host/prefix` (a WebDAV-style server that
//! accepts PUT), and, for outputs only, `ftp://user:password@host/folder`
//! (or `ftpes://` for FTP over explicit TLS). Credentials come from the
//! standard environment of each provider (`AWS_*`, `GOOGLE_*`, `AZURE_*`)
//! and are never logged.

mod ftp;
pub(crate) use ftp::is_ftp_url;
mod objects;
mod reader;
mod upload;

pub use upload::UploadSummary;
pub(crate) use upload::{upload_file, Policy, UploadInterceptor, Uploader};

use crate::error::{Error, Result};
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpResponse, HttpService,
    ReqwestConnector,
};
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore, RetryConfig};
use std::sync::Arc;
use std::time::Duration;

/// A store and the prefix under which ffstream reads or writes.
///
/// Give one to [`Packager::upload_to`](crate::Packager::upload_to) to mirror
/// a run there (runnable: `examples/to_store.rs`).
///
/// ```
/// use ffstream::cloud::Store;
/// use std::sync::Arc;
/// // Any object_store backend, under a prefix; the name is what errors say.
/// let memory = Store::custom("memory", Arc::new(object_store::memory::InMemory::new()), "/titles/");
/// assert_eq!(memory.name(), "memory");
/// // A URL: credentials come from the environment; a plain folder also works.
/// let dir = tempfile::tempdir().unwrap();
/// let folder = dir.path().join("mirror").to_string_lossy().into_owned();
/// assert_eq!(Store::from_url(&folder)?.name(), folder);
/// assert!(dir.path().join("mirror").is_dir());
/// // An unknown scheme is refused, naming the URL.
/// let e = Store::from_url("gopher://host/title").unwrap_err();
/// assert!(e.to_string().contains("gopher://host/title"));
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Clone)]
pub struct Store {
    name: String,
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Whether `s` is a URL ffstream opens through `object_store` (not FFmpeg).
///
/// ```
/// use ffstream::cloud::is_store_url;
/// assert!(is_store_url("s3://bucket/in/movie.mp4"));
/// assert!(is_store_url("azure://container/movie.mp4"));
/// // HTTP inputs are FFmpeg's to read; local paths are files.
/// assert!(!is_store_url("https://cdn.example/movie.mp4"));
/// assert!(!is_store_url("movie.mp4"));
/// ```
pub fn is_store_url(s: &str) -> bool {
    ["s3://", "gs://", "az://", "azure://"]
        .iter()
        .any(|p| s.starts_with(p))
}

/// Retries inside `object_store`; with an I/O timeout (live pushes) none:
/// a retry would only delay newer segments.
fn retry(io_timeout: Option<Duration>) -> RetryConfig {
    RetryConfig {
        max_retries: if io_timeout.is_some() { 0 } else { 3 },
        retry_timeout: io_timeout.unwrap_or(Duration::from_secs(20)),
        ..Default::default()
    }
}

/// HTTP client options: plain http allowed (local servers), and the I/O
/// timeout when there is one.
fn client_options(io_timeout: Option<Duration>) -> ClientOptions {
    let mut o = ClientOptions::new().with_allow_http(true);
    if !system_has_ca_certificates() {
        // The HTTP client refuses to start with an empty trust store, even
        // for http:// URLs: trust the root certificates built into ffstream.
        o = o.with_no_system_certificates(true);
        for der in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
            if let Ok(c) = object_store::Certificate::from_der(der) {
                o = o.with_root_certificate(c);
            }
        }
    }
    match io_timeout {
        Some(t) => o.with_timeout(t).with_connect_timeout(t),
        None => o,
    }
}

/// Whether an error, or any error below it, is a failed TLS certificate
/// check (an unknown issuer, an expired certificate, a name mismatch):
/// another attempt cannot fix it. rustls says "invalid peer certificate";
/// OpenSSL says "certificate verify failed".
pub(crate) fn is_certificate_error(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(e) = cur {
        let text = e.to_string();
        if text.contains("invalid peer certificate") || text.contains("certificate verify failed") {
            return true;
        }
        cur = e.source();
    }
    false
}

/// Makes the HTTP client of every store: reqwest's, except that a failed
/// certificate check is reported as an error `object_store` does not retry
/// (it retries every connection error, and would try the handshake again
/// several times, with back-off, before giving up).
#[derive(Debug, Default)]
struct Connector;

impl HttpConnector for Connector {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        let client = ReqwestConnector::default().connect(options)?;
        Ok(HttpClient::new(CertificatesFailFast(client)))
    }
}

/// See [`Connector`].
#[derive(Debug)]
struct CertificatesFailFast(HttpClient);

#[async_trait::async_trait]
impl HttpService for CertificatesFailFast {
    async fn call(&self, req: HttpRequest) -> std::result::Result<HttpResponse, HttpError> {
        self.0.execute(req).await.map_err(|e| {
            if is_certificate_error(&e) {
                HttpError::new(HttpErrorKind::Unknown, Untrusted(e))
            } else {
                e
            }
        })
    }
}

/// A certificate error, reported with the same text as the error it wraps.
#[derive(Debug)]
struct Untrusted(HttpError);

impl std::fmt::Display for Untrusted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match std::error::Error::source(&self.0) {
            Some(s) => write!(f, "{s}"),
            None => write!(f, "{}", self.0),
        }
    }
}

impl std::error::Error for Untrusted {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.0).and_then(|s| s.source())
    }
}

/// Whether this machine has a CA bundle where TLS clients look for one
/// (`SSL_CERT_FILE`, `SSL_CERT_DIR`, the distribution's usual paths). Looked
/// up once.
fn system_has_ca_certificates() -> bool {
    static FOUND: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FOUND.get_or_init(|| {
        let found = !rustls_native_certs::load_native_certs().certs.is_empty();
        if !found {
            log::info!("no CA certificates on this machine: using the built-in roots");
        }
        found
    })
}

impl Store {
    /// A store you built yourself (any `object_store` backend, or your own
    /// implementation of the trait): the equivalent of the seed's custom cloud.
    /// `name` is how errors and summaries refer to it. Example: [`Store`].
    pub fn custom(name: impl Into<String>, store: Arc<dyn ObjectStore>, prefix: &str) -> Store {
        Store {
            name: name.into(),
            store,
            prefix: ObjectPath::from(prefix.trim_matches('/')),
        }
    }

    /// Parses a store URL (see the module docs), with credentials from the
    /// environment. `url` may name an object or a prefix. Example: [`Store`].
    pub fn from_url(url: &str) -> Result<Store> {
        Self::from_url_with(url, None)
    }

    /// Like [`from_url`](Self::from_url); with `io_timeout`, every request
    /// gives up after that long and is not retried (live pushes).
    pub(crate) fn from_url_with(url: &str, io_timeout: Option<Duration>) -> Result<Store> {
        let shown = match url::Url::parse(url) {
            Ok(u) if u.password().is_some() => ftp::redact(&u),
            _ => url.to_string(),
        };
        let bad = |reason: String| Error::Store {
            store: shown.clone(),
            reason,
            source: None,
        };
        if !url.contains("://") || url.starts_with("file://") {
            // A local folder: handy for a second local copy, and for tests.
            let dir = std::path::PathBuf::from(url.trim_start_matches("file://"));
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            let s = object_store::local::LocalFileSystem::new_with_prefix(&dir)
                .map_err(|e| bad(e.to_string()))?;
            return Ok(Store {
                name: url.trim_end_matches('/').to_string(),
                store: Arc::new(s),
                prefix: ObjectPath::from(""),
            });
        }
        let url_norm = url.replacen("azure://", "az://", 1);
        let parsed = url::Url::parse(&url_norm).map_err(|e| bad(format!("not a URL: {e}")))?;
        let host = parsed.host_str().unwrap_or("").to_string();
        let path = parsed.path().trim_matches('/').to_string();
        let (store, prefix): (Arc<dyn ObjectStore>, String) = match parsed.scheme() {
            "s3" => {
                if host.is_empty() {
                    return Err(bad("no bucket name".into()));
                }
                let s = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(&host)
                    .with_retry(retry(io_timeout))
                    .with_http_connector(Connector)
                    .build()
                    .map_err(|e| bad(e.to_string()))?;
                (Arc::new(s), path)
            }
            "gs" => {
                if host.is_empty() {
                    return Err(bad("no bucket name".into()));
                }
                let s = object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_bucket_name(&host)
                    .with_retry(retry(io_timeout))
                    .with_http_connector(Connector)
                    .build()
                    .map_err(|e| bad(e.to_string()))?;
                (Arc::new(s), path)
            }
            "az" => {
                if host.is_empty() {
                    return Err(bad("no container name".into()));
                }
                let s = object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_container_name(&host)
                    .with_retry(retry(io_timeout))
                    .with_http_connector(Connector)
                    .build()
                    .map_err(|e| bad(e.to_string()))?;
                (Arc::new(s), path)
            }
            "http" | "https" => {
                let base = format!(
                    "{}://{}",
                    parsed.scheme(),
                    &url_norm[parsed.scheme().len() + 3..]
                        .split('/')
                        .next()
                        .unwrap_or("")
                );
                let s = object_store::http::HttpBuilder::new()
                    .with_url(base)
                    .with_client_options(client_options(io_timeout))
                    .with_retry(retry(io_timeout))
                    .with_http_connector(Connector)
                    .build()
                    .map_err(|e| bad(e.to_string()))?;
                (Arc::new(s), path)
            }
            "ftp" | "ftpes" | "ftps" => {
                let s = ftp::FtpStore::new(&parsed, io_timeout).map_err(bad)?;
                (Arc::new(s), path)
            }
            other => {
                return Err(bad(format!(
                    "unsupported scheme {other}: use s3, gs, az, http(s), ftp or ftpes"
                )))
            }
        };
        Ok(Store {
            // Never the password of an ftp:// URL.
            name: shown.trim_end_matches('/').to_string(),
            store,
            prefix: ObjectPath::from(prefix),
        })
    }

    /// How errors and summaries name this store. Example: [`Store`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The object path of `rel` under this store's prefix.
    pub(crate) fn path_of(&self, rel: &str) -> ObjectPath {
        let rel = rel.trim_matches('/');
        if self.prefix.as_ref().is_empty() {
            ObjectPath::from(rel)
        } else {
            ObjectPath::from(format!("{}/{rel}", self.prefix))
        }
    }

    /// Splits a store URL naming a manifest (`s3://b/dir/name.m3u8`) into the
    /// store of its folder and the file name.
    pub(crate) fn from_object_url(
        url: &str,
        io_timeout: Option<Duration>,
    ) -> Result<(Store, String)> {
        let (dir, file) = url
            .trim_end_matches('/')
            .rsplit_once('/')
            .filter(|(d, _)| d.contains("://") && !d.ends_with(':') && !d.ends_with("//"))
            .ok_or_else(|| Error::Store {
                store: match url::Url::parse(url) {
                    Ok(u) if u.password().is_some() => ftp::redact(&u),
                    _ => url.to_string(),
                },
                reason: "expected a URL naming an object, like s3://bucket/folder/name.m3u8".into(),
                source: None,
            })?;
        Ok((Store::from_url_with(dir, io_timeout)?, file.to_string()))
    }
}

/// Opens an input held in a store, reading it with ranged requests.
pub(crate) fn open_input(url: &str) -> Result<ffmpeg_next::format::context::Input> {
    let (store, object) = Store::from_object_url(url, None)?;
    open_object(store, &object)
}

/// Opens object `object` (relative to the store's prefix) for demuxing.
pub(crate) fn open_object(
    store: Store,
    object: &str,
) -> Result<ffmpeg_next::format::context::Input> {
    crate::init();
    let name = format!("{}/{}", store.name(), object);
    let path = store.path_of(object);
    let r = reader::ObjectReader::open(store, path, name.clone())?;
    let io = ffmpeg_next::format::context::StreamIo::from_read_seek_with_capacity(r, 256 * 1024)
        .map_err(|e| Error::OpenInput {
            input: name.clone(),
            reason: e.to_string(),
            source: Some(Box::new(e)),
        })?;
    // The file name helps FFmpeg guess the format from its extension.
    ffmpeg_next::format::input_from_stream(io, Some(object), None).map_err(|e| Error::OpenInput {
        input: name,
        reason: crate::ffi::log::explain(e),
        source: Some(Box::new(e)),
    })
}
