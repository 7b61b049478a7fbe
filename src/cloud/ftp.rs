//! An `object_store` for FTP servers: `ftp://` in the clear, or
//! `ftpes://` for FTP over explicit TLS (FTPS: `AUTH TLS` on the usual
//! port, then TLS on the control and every data connection). The protocol
//! is the `suppaftp` crate's; this module owns the adapter: a pool of
//! logged-in control connections, timeouts, and errors that name the server
//! without its password.
//!
//! Why not FFmpeg's ftp protocol: libavformat 5.1 closes the data and
//! control connections without waiting for the server's "transfer
//! complete" reply, so servers see the upload aborted and keep a truncated
//! file; and it has no public call to delete a file. Here each upload waits
//! for the server's 226, control connections are kept open and reused (one
//! login per connection, not per file), and every read and write on a
//! socket gives up after the store's I/O timeout.
//!
//! Only what pushing a stream needs is supported: whole-object writes and
//! deletions. The server's folder must exist (STOR creates no parents).
//! Implicit FTPS (`ftps://`, TLS from the first byte on port 990) is not
//! supported: servers that offer it also offer explicit TLS.
//!
//! Logging: `suppaftp` traces every command it sends, `PASS` and the
//! password included, at the `trace` level of its
//! `suppaftp::sync_ftp::control` module. The CLI never logs that module
//! beyond `debug`; a program with its own logger should do the same.

mod session;

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};
use session::Session;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Stores without an explicit I/O timeout give up on a socket after this long.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Idle control connections kept for reuse.
const POOL: usize = 8;

/// Whether `url` names an FTP store: `ftp://`, `ftpes://`, or `ftps://`
/// (which is refused with a clear error, not taken for a local path).
pub(crate) fn is_ftp_url(url: &str) -> bool {
    ["ftp", "ftpes", "ftps"]
        .iter()
        .any(|s| url.strip_prefix(s).is_some_and(|r| r.starts_with("://")))
}

/// A URL with its password replaced by `***`, for errors and logs.
pub(crate) fn redact(url: &url::Url) -> String {
    let mut u = url.clone();
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    u.to_string()
}

/// What logging in needs.
#[derive(Clone)]
struct Login {
    /// A name or an IP address (IPv6 without brackets).
    host: String,
    port: u16,
    user: String,
    password: String,
    /// With `ftpes://`: the TLS settings of the control and data connections.
    tls: Option<Arc<session::ClientConfig>>,
}

/// An FTP server reached as `ftp://user:password@host:port`, or over TLS as
/// `ftpes://user:password@host:port`.
#[derive(Clone)]
pub(crate) struct FtpStore {
    login: Login,
    /// How errors name the server: without the password.
    shown: String,
    timeout: Duration,
    idle: Arc<Mutex<Vec<Session>>>,
}

impl std::fmt::Debug for FtpStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FtpStore({})", self.shown)
    }
}

impl std::fmt::Display for FtpStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

/// A user name or password from a URL, `%XX` escapes decoded.
fn decoded(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

impl FtpStore {
    /// The server of `url` (`ftp[es]://[user[:password]@]host[:port]/...`).
    /// Fails (naming no password) if the scheme is not an FTP one or the
    /// TLS settings cannot be made.
    pub fn new(url: &url::Url, timeout: Option<Duration>) -> Result<FtpStore, String> {
        let tls = match url.scheme() {
            "ftp" => None,
            "ftpes" => Some(session::tls_config()?),
            "ftps" => return Err(
                "implicit FTPS (ftps://) is not supported: use ftpes:// (FTP over explicit TLS)"
                    .into(),
            ),
            other => return Err(format!("{other}:// is not an FTP URL (ftp or ftpes)")),
        };
        let host = match url.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(h) if !h.to_string().is_empty() => h.to_string(),
            _ => return Err("no host name".into()),
        };
        let mut base = url.clone();
        base.set_path("");
        base.set_query(None);
        base.set_fragment(None);
        Ok(FtpStore {
            login: Login {
                host,
                port: url.port().unwrap_or(21),
                user: match url.username() {
                    "" => "anonymous".to_string(),
                    u => decoded(u),
                },
                password: decoded(url.password().unwrap_or("")),
                tls,
            },
            shown: redact(&base).trim_end_matches('/').to_string(),
            timeout: timeout.unwrap_or(DEFAULT_TIMEOUT),
            idle: Default::default(),
        })
    }

    /// Runs `op` on an idle control connection, or a new one. A reused
    /// connection the server has dropped meanwhile is replaced once (not
    /// one that timed out: the server is slow, and trying again would
    /// double the wait).
    fn with_session<T>(
        &self,
        mut op: impl FnMut(&mut Session) -> Result<T, FtpError>,
    ) -> Result<T, FtpError> {
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let (mut c, reused) = match pooled {
            Some(c) => (c, true),
            None => (Session::open(&self.login, self.timeout)?, false),
        };
        let r = match op(&mut c) {
            Err(FtpError::Io(e)) if reused && !timed_out(&e) => {
                c = Session::open(&self.login, self.timeout)?;
                op(&mut c)
            }
            r => r,
        };
        // A connection is kept only after a clean exchange.
        if r.is_ok() {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < POOL {
                idle.push(c);
            }
        }
        r
    }

    fn err(&self, location: &Path, what: &str, e: FtpError) -> object_store::Error {
        let refused = matches!(e, FtpError::Refused(_));
        let source = format!("{what} {}/{location}: {e}", self.shown).into();
        if refused {
            object_store::Error::PermissionDenied {
                path: location.to_string(),
                source,
            }
        } else {
            object_store::Error::Generic {
                store: "ftp",
                source,
            }
        }
    }
}

/// Whether a socket call gave up after the store's timeout.
fn timed_out(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    )
}

/// Why an FTP exchange failed.
#[derive(Debug)]
enum FtpError {
    /// The connection failed or timed out.
    Io(std::io::Error),
    /// A permanent refusal (5xx): wrong login, no permission, no folder.
    Refused(String),
    /// A transient refusal (4xx) or an unexpected answer.
    Failed(String),
}

impl FtpError {
    /// The same error, saying which step failed (`login`, `AUTH TLS`).
    fn context(self, step: &str) -> FtpError {
        match self {
            FtpError::Io(e) => FtpError::Io(std::io::Error::new(e.kind(), format!("{step}: {e}"))),
            FtpError::Refused(s) => FtpError::Refused(format!("{step}: {s}")),
            FtpError::Failed(s) => FtpError::Failed(format!("{step}: {s}")),
        }
    }
}

impl std::fmt::Display for FtpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FtpError::Io(e) => write!(f, "{e}"),
            FtpError::Refused(s) => write!(f, "refused: {s}"),
            FtpError::Failed(s) => write!(f, "failed: {s}"),
        }
    }
}

impl From<std::io::Error> for FtpError {
    fn from(e: std::io::Error) -> Self {
        FtpError::Io(e)
    }
}

/// Runs blocking socket I/O on its own thread and waits for it without
/// blocking the async runtime. (Every socket call is bounded by the
/// store's timeout, so the thread ends.)
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, FtpError> + Send + 'static,
) -> Result<T, FtpError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("ffstream-ftp".into())
        .spawn(move || {
            let _ = tx.send(f());
        })?;
    rx.await
        .map_err(|_| FtpError::Failed("the FTP thread stopped".into()))?
}

fn unsupported(what: &str) -> object_store::Error {
    object_store::Error::NotImplemented {
        operation: format!("{what} on an FTP store (ffstream only pushes to FTP)"),
        implementer: "ffstream FtpStore".into(),
    }
}

#[async_trait]
impl ObjectStore for FtpStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        _opts: PutOptions,
    ) -> Result<PutResult> {
        let me = self.clone();
        let path = format!("/{location}");
        let data: bytes::Bytes = payload.into();
        match blocking(move || me.with_session(|c| c.stor(&path, &data))).await {
            Ok(()) => Ok(PutResult {
                e_tag: None,
                version: None,
                extensions: Default::default(),
            }),
            Err(e) => Err(self.err(location, "upload to", e)),
        }
    }

    async fn put_multipart_opts(
        &self,
        _location: &Path,
        _opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        Err(unsupported("multipart upload"))
    }

    async fn get_opts(&self, _location: &Path, _options: GetOptions) -> Result<GetResult> {
        Err(unsupported("get"))
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let me = self.clone();
        locations
            .then(move |location| {
                let me = me.clone();
                async move {
                    let location = location?;
                    let path = format!("/{location}");
                    let m2 = me.clone();
                    match blocking(move || m2.with_session(|c| c.dele(&path))).await {
                        Ok(()) => Ok(location),
                        Err(e) => Err(me.err(&location, "delete", e)),
                    }
                }
            })
            .boxed()
    }

    fn list(&self, _prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        futures::stream::once(async { Err(unsupported("list")) }).boxed()
    }

    async fn list_with_delimiter(&self, _prefix: Option<&Path>) -> Result<ListResult> {
        Err(unsupported("list"))
    }

    async fn copy_opts(&self, _from: &Path, _to: &Path, _options: CopyOptions) -> Result<()> {
        Err(unsupported("copy"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(url: &str) -> Result<FtpStore, String> {
        FtpStore::new(&url::Url::parse(url).unwrap(), None)
    }

    #[test]
    fn logins_are_decoded_and_passwords_never_shown() {
        let s = store("ftp://us%40r:p%3Ass@example.test:2121/live/x").unwrap();
        assert_eq!(s.login.user, "us@r");
        assert_eq!(s.login.password, "p:ss");
        assert_eq!(s.login.port, 2121);
        assert!(s.login.tls.is_none());
        assert_eq!(s.to_string(), "ftp://us%40r:***@example.test:2121");
        let anon = store("ftp://example.test/x").unwrap();
        assert_eq!(anon.login.user, "anonymous");
        assert_eq!(anon.login.port, 21);
    }

    #[test]
    fn ftpes_urls_use_tls_and_other_schemes_are_refused() {
        let s = store("ftpes://u:pw@[::1]:2121/x").unwrap();
        assert!(s.login.tls.is_some());
        // Connected to and checked against the certificate without brackets.
        assert_eq!(s.login.host, "::1");
        assert_eq!(s.to_string(), "ftpes://u:***@[::1]:2121");
        let e = store("sftp://u:pw@example.test/x").unwrap_err();
        assert!(e.contains("sftp") && !e.contains("pw"), "{e}");
        let e = store("ftps://u:pw@example.test/x").unwrap_err();
        assert!(e.contains("ftpes://") && !e.contains("pw"), "{e}");
    }

    #[test]
    fn ftp_urls_are_told_from_local_paths() {
        for u in ["ftp://h/x.m3u8", "ftpes://h/x.m3u8", "ftps://h/x.m3u8"] {
            assert!(is_ftp_url(u), "{u}");
        }
        for u in ["ftp/x.m3u8", "ftpx://h/x", "sftp://h/x", "http://h/x"] {
            assert!(!is_ftp_url(u), "{u}");
        }
    }
}
