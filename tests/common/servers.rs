//! Real storage servers on 127.0.0.1 for the cloud I/O tests.
//!
//! Every server is a child process started by the test itself on a free
//! ephemeral port, with its data, config and log in a [`TempDir`]:
//!
//! - [`S3Server`]: moto's S3 server (`python3 -m moto.server`).
//! - [`AzuriteServer`]: Azurite's blob service (npm, `tests/cloud`).
//! - [`WebDavServer`]: Debian's nginx with the DAV module (PUT/DELETE/MKCOL/
//!   COPY/MOVE, plus PROPFIND when `libnginx-mod-http-dav-ext` is installed).
//! - [`FtpServer`]: pyftpdlib's FTP server (`python3 -m pyftpdlib`), in the
//!   clear or FTPS only (its TLS handler, with pyOpenSSL).
//!
//! `start()` returns once the server answers HTTP; if it does not within
//! [`READY_TIMEOUT`] (or exits), it panics with the server's log. Each child
//! runs in its own process group, which `Drop` (and `kill()`) kills with
//! SIGKILL and reaps, so a panicking test leaves nothing behind. The child also
//! gets `PR_SET_PDEATHSIG`, so it dies if the test process dies without
//! unwinding. Note that Linux delivers that signal when the *thread* that
//! spawned the child exits: start a server on the thread that uses it (the
//! normal case for a test), not on a short-lived helper thread.
//!
//! The helper calls (`put_object`, `get_blob`, `list`, ...) talk plain HTTP
//! through `ureq` and sign requests with code independent of the
//! `object_store` code under test: AWS's own SigV4 signer (`aws-sigv4`) for
//! S3, and this module's Azure SharedKey signer (see [`azure_shared_key`]
//! for why it stays hand-written).
//! They panic on transport errors and unexpected statuses.
//!
//! Setup: `bash tests/dev.sh deps` (nginx, a Python with moto, `npm ci` in
//! `tests/cloud`, pyftpdlib and pyOpenSSL in `tests/cloud/ftp-venv`). Overrides:
//! `FFSTREAM_PYTHON` (a Python with `moto` and `flask`), `FFSTREAM_NODE`,
//! `FFSTREAM_NGINX`, `FFSTREAM_FTP_PYTHON` (a Python with `pyftpdlib` and
//! `OpenSSL`).

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::{DateTime, NaiveDateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tempfile::TempDir;

/// How long a server may take to answer its first request.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Attempts to start a server when it exits right away (e.g. its port was
/// taken by another test between choosing and binding it).
const START_ATTEMPTS: usize = 3;

// ---------------------------------------------------------------------------
// Child process management
// ---------------------------------------------------------------------------

/// A server child process in its own process group, killed on drop.
struct ServerProcess {
    name: &'static str,
    child: Child,
    log: PathBuf,
    dead: bool,
}

impl ServerProcess {
    /// Starts `cmd` in a new process group with stdout and stderr in `log`,
    /// through `setpriv --pdeathsig KILL` (util-linux), so that the server
    /// dies with the test process even if that is killed (the tests stay
    /// free of `unsafe`). setpriv execs the server: same pid.
    fn spawn(name: &'static str, cmd: Command, log: &Path) -> ServerProcess {
        let out = File::create(log).unwrap_or_else(|e| panic!("{name}: create {log:?}: {e}"));
        let err = out
            .try_clone()
            .unwrap_or_else(|e| panic!("{name}: {log:?}: {e}"));
        let mut wrapped = Command::new("setpriv");
        wrapped
            .args(["--pdeathsig", "KILL", "--"])
            .arg(cmd.get_program())
            .args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => wrapped.env(k, v),
                None => wrapped.env_remove(k),
            };
        }
        if let Some(d) = cmd.get_current_dir() {
            wrapped.current_dir(d);
        }
        let mut cmd = wrapped;
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: cannot run {:?}: {e}", cmd.get_program()));
        ServerProcess {
            name,
            child,
            log: log.to_owned(),
            dead: false,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_else(|e| format!("(no log: {e})"))
    }

    /// Waits until `ready()` is true. `Err` with the log if the process exits
    /// first; panics with the log on timeout.
    fn wait_ready(&mut self, port: u16, ready: impl Fn() -> bool) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.dead = true;
                return Err(format!(
                    "{} exited during startup ({status}); log:\n{}",
                    self.name,
                    self.log_text()
                ));
            }
            if port_open(port) && ready() {
                return Ok(());
            }
            if start.elapsed() > READY_TIMEOUT {
                self.kill();
                panic!(
                    "{} did not answer on 127.0.0.1:{port} within {:?}; log:\n{}",
                    self.name,
                    READY_TIMEOUT,
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILLs the whole process group and reaps the child. Idempotent.
    fn kill(&mut self) {
        if self.dead {
            return;
        }
        // The group id is the child's pid (setpgid(0,0)), and the unreaped
        // child keeps the id from being reused until `wait`.
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", self.pid())])
            .stderr(Stdio::null())
            .status();
        // If `kill` could not run, at least the server itself goes.
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.dead = true;
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port on 127.0.0.1")
}

fn port_open(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200)).is_ok()
}

/// Runs `attempt(port)` on fresh ports until the server stays up.
fn start_with_retries<T>(what: &str, mut attempt: impl FnMut(u16) -> Result<T, String>) -> T {
    let mut errors = Vec::new();
    for _ in 0..START_ATTEMPTS {
        match attempt(free_port()) {
            Ok(server) => return server,
            Err(e) => errors.push(e),
        }
    }
    panic!("{what} failed to start:\n{}", errors.join("\n---\n"));
}

fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

// ---------------------------------------------------------------------------
// Plain HTTP (the independent oracle)
// ---------------------------------------------------------------------------

/// A status and body, whatever the status.
pub struct HttpReply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl HttpReply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Sends one request and returns the reply whatever its status; `Err` only on
/// transport errors (connection refused, ...). Standard methods only: ureq
/// rejects WebDAV ones (MKCOL, PROPFIND, ...).
pub fn http(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
) -> Result<HttpReply, String> {
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let req = req
        .body(body.unwrap_or_default().to_vec())
        .map_err(|e| format!("{method} {url}: {e}"))?;
    let mut resp = agent()
        .run(req)
        .map_err(|e| format!("{method} {url}: {e}"))?;
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(u64::MAX)
        .read_to_vec()
        .map_err(|e| format!("{method} {url}: reading body: {e}"))?;
    Ok(HttpReply { status, body })
}

fn http_ok(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
) -> HttpReply {
    http(method, url, headers, body).unwrap_or_else(|e| panic!("{e}"))
}

/// Percent-encodes everything but RFC 3986 unreserved characters (and `/`
/// when `keep_slash`).
fn pct(s: &str, keep_slash: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn hmac_sha256(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// `Tue, 05 Mar 2024 07:08:09 GMT`
fn rfc1123_now() -> String {
    DateTime::<Utc>::from(SystemTime::now())
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

fn xml_texts(xml: &[u8], element: &str) -> Vec<String> {
    let text = std::str::from_utf8(xml).expect("XML reply is UTF-8");
    let doc =
        roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("bad XML reply ({e}):\n{text}"));
    doc.descendants()
        .filter(|n| n.tag_name().name() == element)
        .map(|n| n.text().unwrap_or_default().to_owned())
        .collect()
}

/// The text of the first direct child `name` of the root element, if any.
fn xml_root_child(xml: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(xml).ok()?;
    let doc = roxmltree::Document::parse(text).ok()?;
    doc.root_element()
        .children()
        .find(|n| n.tag_name().name() == name)
        .and_then(|n| n.text())
        .map(str::to_owned)
}

// ---------------------------------------------------------------------------
// S3 (moto)
// ---------------------------------------------------------------------------

/// Credentials given to object_store and used by the helpers. moto accepts
/// any; it does not check signatures unless its IAM emulation is switched on.
pub const S3_ACCESS_KEY_ID: &str = "ffstream-test-key";
pub const S3_SECRET_ACCESS_KEY: &str = "ffstream-test-secret";
pub const S3_REGION: &str = "us-east-1";

/// moto's S3 server in a child process.
pub struct S3Server {
    port: u16,
    process: ServerProcess,
    _dir: TempDir,
}

/// The Python that runs moto: `FFSTREAM_PYTHON`, else the venv `dev.sh`
/// makes in `tests/cloud/venv`, else `python3`.
fn moto_python() -> PathBuf {
    if let Some(p) = std::env::var_os("FFSTREAM_PYTHON") {
        return p.into();
    }
    let venv = repo_path("tests/cloud/venv/bin/python3");
    if venv.exists() {
        return venv;
    }
    "python3".into()
}

impl S3Server {
    /// Starts moto's server on a free port and waits until it answers.
    pub fn start() -> S3Server {
        let python = moto_python();
        start_with_retries("moto S3 server", |port| {
            let dir = tempfile::Builder::new()
                .prefix("ffstream-s3-")
                .tempdir()
                .expect("tempdir");
            let mut cmd = Command::new(&python);
            cmd.args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
                .arg(port.to_string())
                .current_dir(dir.path())
                .env("PYTHONUNBUFFERED", "1")
                // moto keeps state in memory; nothing must reach real AWS.
                .env_remove("AWS_PROFILE")
                .env("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY_ID)
                .env("AWS_SECRET_ACCESS_KEY", S3_SECRET_ACCESS_KEY);
            let mut process = ServerProcess::spawn("moto", cmd, &dir.path().join("moto.log"));
            let url = format!("http://127.0.0.1:{port}/moto-api/");
            process.wait_ready(port, || {
                http("GET", &url, &[], None).is_ok_and(|r| r.status == 200)
            })?;
            Ok(S3Server {
                port,
                process,
                _dir: dir,
            })
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// What the server has logged so far.
    pub fn log(&self) -> String {
        self.process.log_text()
    }

    /// Variables for `object_store::aws::AmazonS3Builder::from_env()`.
    /// The bucket is not included (`with_bucket_name` or an `s3://` URL).
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY_ID.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", S3_SECRET_ACCESS_KEY.to_owned()),
            ("AWS_REGION", S3_REGION.to_owned()),
            ("AWS_ENDPOINT", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
            ("AWS_VIRTUAL_HOSTED_STYLE_REQUEST", "false".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Sends a SigV4-signed, path-style request (`/bucket/key?query`).
    /// `query` pairs are unencoded.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<HttpReply, String> {
        let host = format!("127.0.0.1:{}", self.port);
        let uri = pct(path, true);
        let mut q: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (pct(k, false), pct(v, false)))
            .collect();
        q.sort();
        let query_string = q
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let mut headers = sigv4_headers(method, &host, &uri, &query_string, body.unwrap_or(&[]));
        // Without a type, moto (Werkzeug) may parse the body as a form.
        headers.push(("content-type".into(), "application/octet-stream".into()));
        let mut url = format!("{}{uri}", self.endpoint());
        if !query_string.is_empty() {
            url = format!("{url}?{query_string}");
        }
        http(method, &url, &headers, body)
    }

    fn request_ok(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> HttpReply {
        self.request(method, path, query, body)
            .unwrap_or_else(|e| panic!("S3 {e}"))
    }

    pub fn create_bucket(&self, bucket: &str) {
        let r = self.request_ok("PUT", &format!("/{bucket}"), &[], None);
        assert_eq!(r.status, 200, "S3 create bucket {bucket}: {}", r.text());
    }

    pub fn put_object(&self, bucket: &str, key: &str, bytes: &[u8]) {
        let r = self.request_ok("PUT", &format!("/{bucket}/{key}"), &[], Some(bytes));
        assert_eq!(r.status, 200, "S3 put {bucket}/{key}: {}", r.text());
    }

    /// The object's bytes, or `None` if it does not exist (404).
    pub fn get_object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let r = self.request_ok("GET", &format!("/{bucket}/{key}"), &[], None);
        match r.status {
            200 => Some(r.body),
            404 => None,
            s => panic!("S3 get {bucket}/{key}: status {s}: {}", r.text()),
        }
    }

    /// Keys starting with `prefix`, sorted (ListObjectsV2, all pages).
    pub fn list(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("list-type", "2"), ("prefix", prefix)];
            if let Some(t) = &token {
                query.push(("continuation-token", t));
            }
            let r = self.request_ok("GET", &format!("/{bucket}"), &query, None);
            assert_eq!(r.status, 200, "S3 list {bucket}/{prefix}: {}", r.text());
            keys.extend(xml_texts(&r.body, "Key"));
            token = match xml_root_child(&r.body, "IsTruncated").as_deref() {
                Some("true") => xml_root_child(&r.body, "NextContinuationToken"),
                _ => None,
            };
            if token.is_none() {
                break;
            }
        }
        keys.sort();
        keys
    }

    /// Kills the server (simulated outage); the struct stays usable.
    pub fn kill(&mut self) {
        self.process.kill();
    }
}

/// The headers of an AWS Signature Version 4 request for S3 (`uri` and
/// `query` already encoded and sorted), signed now.
fn sigv4_headers(
    method: &str,
    host: &str,
    uri: &str,
    query: &str,
    body: &[u8],
) -> Vec<(String, String)> {
    let now = DateTime::<Utc>::from(SystemTime::now());
    sigv4_sign(
        method,
        uri,
        query,
        &[("host".into(), host.into())],
        body,
        &now.format("%Y%m%dT%H%M%SZ").to_string(),
        S3_ACCESS_KEY_ID,
        S3_SECRET_ACCESS_KEY,
        S3_REGION,
    )
}

/// SigV4 for S3 at `amz_date` (`20130524T000000Z`) by AWS's own signer
/// (`aws-sigv4`), set as the AWS SDKs set it for S3: returns `extra` (less
/// `host`, the host signed for) plus `x-amz-date`, `x-amz-content-sha256`
/// and `authorization`. `extra` header names must be lowercase.
#[allow(clippy::too_many_arguments)]
pub fn sigv4_sign(
    method: &str,
    uri: &str,
    query: &str,
    extra: &[(String, String)],
    body: &[u8],
    amz_date: &str,
    key_id: &str,
    secret: &str,
    region: &str,
) -> Vec<(String, String)> {
    let time = NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ")
        .unwrap_or_else(|e| panic!("x-amz-date {amz_date:?}: {e}"))
        .and_utc();
    let identity = Credentials::new(key_id, secret, None, None, "ffstream-tests").into();
    let mut settings = SigningSettings::default();
    // S3 signs the payload's hash, and the path as sent (encoded once, not
    // normalised).
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("s3")
        .time(time.into())
        .settings(settings)
        .build()
        .expect("every SigV4 parameter is set")
        .into();
    let host = extra
        .iter()
        .find(|(k, _)| k == "host")
        .map(|(_, v)| v.as_str())
        .expect("sigv4_sign needs a host header");
    let url = match query {
        "" => format!("http://{host}{uri}"),
        q => format!("http://{host}{uri}?{q}"),
    };
    let headers = extra.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let request = SignableRequest::new(method, url.as_str(), headers, SignableBody::Bytes(body))
        .unwrap_or_else(|e| panic!("SigV4 {method} {url}: {e}"));
    let (instructions, _) = sign(request, &params)
        .unwrap_or_else(|e| panic!("SigV4 {method} {url}: {e}"))
        .into_parts();
    // ureq sets Host itself (same value).
    let mut out: Vec<(String, String)> =
        extra.iter().filter(|(k, _)| k != "host").cloned().collect();
    out.extend(
        instructions
            .headers()
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    out
}

// ---------------------------------------------------------------------------
// Azure Blob (Azurite)
// ---------------------------------------------------------------------------

/// Azurite's (and the old emulator's) fixed development account.
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
/// Azurite's well-known development account key (public, not a secret).
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// The REST API version the helpers send.
const AZURE_API_VERSION: &str = "2023-11-03";

/// Azurite's blob service in a child process (Node).
pub struct AzuriteServer {
    port: u16,
    process: ServerProcess,
    _dir: TempDir,
}

impl AzuriteServer {
    /// Starts Azurite's blob service on a free port and waits until it answers.
    pub fn start() -> AzuriteServer {
        let main = repo_path("tests/cloud/node_modules/azurite/dist/src/blob/main.js");
        if !main.exists() {
            panic!(
                "Azurite is not installed ({} is missing); run `npm ci` in tests/cloud \
                 (or `bash tests/dev.sh deps`)",
                main.display()
            );
        }
        let node = std::env::var_os("FFSTREAM_NODE").unwrap_or_else(|| "node".into());
        start_with_retries("Azurite", |port| {
            let dir = tempfile::Builder::new()
                .prefix("ffstream-azurite-")
                .tempdir()
                .expect("tempdir");
            let data = dir.path().join("data");
            std::fs::create_dir(&data).expect("create Azurite data dir");
            let mut cmd = Command::new(&node);
            cmd.arg(&main)
                .args(["--blobHost", "127.0.0.1", "--blobPort"])
                .arg(port.to_string())
                .arg("--location")
                .arg(&data)
                .args([
                    "--silent",
                    "--skipApiVersionCheck",
                    "--loose",
                    "--disableTelemetry",
                    "--disableProductStyleUrl",
                ])
                .current_dir(dir.path());
            let mut process = ServerProcess::spawn("Azurite", cmd, &dir.path().join("azurite.log"));
            // Any HTTP answer (an auth error) means it is serving.
            let url = format!("http://127.0.0.1:{port}/{AZURITE_ACCOUNT}?comp=list");
            process.wait_ready(port, || http("GET", &url, &[], None).is_ok())?;
            Ok(AzuriteServer {
                port,
                process,
                _dir: dir,
            })
        })
    }

    /// `http://127.0.0.1:PORT/devstoreaccount1` (the account URL).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{AZURITE_ACCOUNT}", self.port)
    }

    /// `http://127.0.0.1:PORT` (what `AZURITE_BLOB_STORAGE_URL` takes).
    pub fn blob_service_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    pub fn log(&self) -> String {
        self.process.log_text()
    }

    /// Variables for `object_store::azure::MicrosoftAzureBuilder::from_env()`
    /// in emulator mode. Note: object_store reads `AZURITE_BLOB_STORAGE_URL`
    /// from the *process* environment in `build()` (not through the builder),
    /// so it must be set on the process that builds the store (e.g. the CLI
    /// child via `Command::envs`). The container is not included.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AZURE_STORAGE_USE_EMULATOR", "true".to_owned()),
            ("AZURITE_BLOB_STORAGE_URL", self.blob_service_url()),
            ("AZURE_STORAGE_ACCOUNT_NAME", AZURITE_ACCOUNT.to_owned()),
            ("AZURE_STORAGE_ACCOUNT_KEY", AZURITE_KEY.to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// The same account without emulator mode: endpoint plus key, all
    /// settable through the builder (`with_config`), no process env needed.
    pub fn env_endpoint_style(&self) -> Vec<(String, String)> {
        [
            ("AZURE_STORAGE_ACCOUNT_NAME", AZURITE_ACCOUNT.to_owned()),
            ("AZURE_STORAGE_ACCOUNT_KEY", AZURITE_KEY.to_owned()),
            ("AZURE_STORAGE_ENDPOINT", self.endpoint()),
            ("AZURE_ALLOW_HTTP", "true".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Sends a SharedKey-signed request to `/devstoreaccount1{path}`.
    /// `query` pairs are unencoded; `headers` names must be lowercase.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<HttpReply, String> {
        let uri = format!("/{AZURITE_ACCOUNT}{}", pct(path, true));
        let mut all: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        all.push(("x-ms-date".into(), rfc1123_now()));
        all.push(("x-ms-version".into(), AZURE_API_VERSION.into()));
        if body.is_some() && !all.iter().any(|(k, _)| k == "content-type") {
            all.push(("content-type".into(), "application/octet-stream".into()));
        }
        let len = body.map_or(0, <[u8]>::len);
        let auth = azure_shared_key(method, &uri, query, &all, len);
        all.push(("authorization".into(), auth));
        let mut url = format!("http://127.0.0.1:{}{uri}", self.port);
        if !query.is_empty() {
            let q: Vec<String> = query
                .iter()
                .map(|(k, v)| format!("{}={}", pct(k, false), pct(v, false)))
                .collect();
            url = format!("{url}?{}", q.join("&"));
        }
        http(method, &url, &all, body)
    }

    fn request_ok(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> HttpReply {
        self.request(method, path, query, headers, body)
            .unwrap_or_else(|e| panic!("Azurite {e}"))
    }

    pub fn create_container(&self, container: &str) {
        let r = self.request_ok(
            "PUT",
            &format!("/{container}"),
            &[("restype", "container")],
            &[],
            None,
        );
        assert_eq!(r.status, 201, "create container {container}: {}", r.text());
    }

    pub fn put_blob(&self, container: &str, name: &str, bytes: &[u8]) {
        let r = self.request_ok(
            "PUT",
            &format!("/{container}/{name}"),
            &[],
            &[("x-ms-blob-type", "BlockBlob")],
            Some(bytes),
        );
        assert_eq!(r.status, 201, "put blob {container}/{name}: {}", r.text());
    }

    /// The blob's bytes, or `None` if it does not exist (404).
    pub fn get_blob(&self, container: &str, name: &str) -> Option<Vec<u8>> {
        let r = self.request_ok("GET", &format!("/{container}/{name}"), &[], &[], None);
        match r.status {
            200 => Some(r.body),
            404 => None,
            s => panic!("get blob {container}/{name}: status {s}: {}", r.text()),
        }
    }

    /// Blob names starting with `prefix`, sorted (List Blobs, all pages).
    pub fn list(&self, container: &str, prefix: &str) -> Vec<String> {
        let mut names = Vec::new();
        let mut marker = String::new();
        loop {
            let mut query = vec![
                ("restype", "container"),
                ("comp", "list"),
                ("prefix", prefix),
            ];
            if !marker.is_empty() {
                query.push(("marker", &marker));
            }
            let r = self.request_ok("GET", &format!("/{container}"), &query, &[], None);
            assert_eq!(r.status, 200, "list {container}/{prefix}: {}", r.text());
            // <Blobs><Blob><Name>..</Name>..</Blob></Blobs>; other elements
            // (Containers) are not in this reply.
            let text = String::from_utf8_lossy(&r.body).into_owned();
            let doc = roxmltree::Document::parse(text.trim_start_matches('\u{feff}'))
                .unwrap_or_else(|e| panic!("bad List Blobs reply ({e}):\n{text}"));
            names.extend(
                doc.descendants()
                    .filter(|n| n.has_tag_name("Blob"))
                    .filter_map(|b| b.children().find(|c| c.has_tag_name("Name")))
                    .map(|n| n.text().unwrap_or_default().to_owned()),
            );
            marker = doc
                .root_element()
                .children()
                .find(|n| n.has_tag_name("NextMarker"))
                .and_then(|n| n.text())
                .unwrap_or_default()
                .to_owned();
            if marker.is_empty() {
                break;
            }
        }
        names.sort();
        names
    }

    /// Kills the server (simulated outage); the struct stays usable.
    pub fn kill(&mut self) {
        self.process.kill();
    }
}

/// `SharedKey devstoreaccount1:<signature>` for the Blob service.
/// `uri` is the encoded path (starting with the account, path-style);
/// `headers` names are lowercase.
///
/// Hand-written on purpose: Microsoft's maintained Rust SDK
/// (`azure_storage_blob` 1.x) signs with Entra ID tokens and SAS only, not
/// SharedKey; the older `azure_storage` 0.x line that did is no longer
/// maintained; and `object_store`'s public `AzureAuthorizer` is the code
/// under test, which these helpers must not share. Azurite checks every
/// signature, so a mistake here fails the tests rather than hiding.
fn azure_shared_key(
    method: &str,
    uri: &str,
    query: &[(&str, &str)],
    headers: &[(String, String)],
    content_length: usize,
) -> String {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    let length = if content_length == 0 {
        String::new()
    } else {
        content_length.to_string()
    };
    let mut ms: Vec<(&str, &str)> = headers
        .iter()
        .filter(|(k, _)| k.starts_with("x-ms-"))
        .map(|(k, v)| (k.as_str(), v.trim()))
        .collect();
    ms.sort();
    let canonical_headers: String = ms.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    // Path-style: the account appears twice (once for the account, once in
    // the path), as object_store and the Azure SDKs sign for the emulator.
    let mut resource = format!("/{AZURITE_ACCOUNT}{uri}");
    let mut params: Vec<(String, &str)> =
        query.iter().map(|(k, v)| (k.to_lowercase(), *v)).collect();
    params.sort();
    for (k, v) in params {
        resource.push_str(&format!("\n{k}:{v}"));
    }
    let string_to_sign = format!(
        "{method}\n{}\n{}\n{length}\n{}\n{}\n\n{}\n{}\n{}\n{}\n{}\n{canonical_headers}{resource}",
        get("content-encoding"),
        get("content-language"),
        get("content-md5"),
        get("content-type"),
        get("if-modified-since"),
        get("if-match"),
        get("if-none-match"),
        get("if-unmodified-since"),
        get("range"),
    );
    let key = BASE64.decode(AZURITE_KEY).expect("Azurite key is base64");
    format!(
        "SharedKey {AZURITE_ACCOUNT}:{}",
        BASE64.encode(hmac_sha256(&key, &string_to_sign))
    )
}

// ---------------------------------------------------------------------------
// WebDAV (nginx)
// ---------------------------------------------------------------------------

/// Debian's dynamic module for PROPFIND/OPTIONS (`libnginx-mod-http-dav-ext`).
const DAV_EXT_MODULE: &str = "/usr/lib/nginx/modules/ngx_http_dav_ext_module.so";

/// nginx serving a temporary directory over HTTP with WebDAV writes.
pub struct WebDavServer {
    port: u16,
    process: ServerProcess,
    root: PathBuf,
    propfind: bool,
    /// Served over https (see [`WebDavServer::start_tls`]).
    tls: bool,
    _dir: TempDir,
}

impl WebDavServer {
    /// A server that accepts PUT (creating parent directories), DELETE,
    /// MKCOL, COPY and MOVE, and PROPFIND if the dav-ext module is installed.
    pub fn start() -> WebDavServer {
        Self::start_inner(false, None)
    }

    /// A server that serves GET but answers every write (PUT, ...) with 403.
    pub fn start_refusing_put() -> WebDavServer {
        Self::start_inner(true, None)
    }

    /// Like [`start`](Self::start), over https with this certificate chain
    /// and key (PEM files); `url()` is then `https://127.0.0.1:PORT`.
    pub fn start_tls(cert: &Path, key: &Path) -> WebDavServer {
        Self::start_inner(false, Some((cert, key)))
    }

    fn start_inner(refuse_writes: bool, tls: Option<(&Path, &Path)>) -> WebDavServer {
        let nginx = std::env::var_os("FFSTREAM_NGINX").unwrap_or_else(|| "nginx".into());
        let propfind = Path::new(DAV_EXT_MODULE).exists();
        start_with_retries("nginx WebDAV server", |port| {
            let dir = tempfile::Builder::new()
                .prefix("ffstream-webdav-")
                .tempdir()
                .expect("tempdir");
            let root = dir.path().join("www");
            std::fs::create_dir(&root).expect("create www");
            let mut conf = nginx_conf(dir.path(), &root, port, refuse_writes, propfind);
            if let Some((cert, key)) = tls {
                conf = conf.replacen(
                    &format!("listen 127.0.0.1:{port};"),
                    &format!(
                        "listen 127.0.0.1:{port} ssl; ssl_certificate {}; ssl_certificate_key {};",
                        cert.display(),
                        key.display()
                    ),
                    1,
                );
            }
            let conf_path = dir.path().join("nginx.conf");
            std::fs::write(&conf_path, conf).expect("write nginx.conf");
            let mut cmd = Command::new(&nginx);
            cmd.arg("-p")
                .arg(dir.path())
                .arg("-e")
                .arg(dir.path().join("error.log"))
                .arg("-c")
                .arg(&conf_path)
                .current_dir(dir.path());
            let mut process = ServerProcess::spawn("nginx", cmd, &dir.path().join("nginx.log"));
            let url = format!("http://127.0.0.1:{port}/");
            // (The helpers speak plain HTTP only: over TLS, an open port.)
            let ready = process.wait_ready(port, || {
                tls.is_some() || http("GET", &url, &[], None).is_ok()
            });
            if let Err(e) = ready {
                let errlog =
                    std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
                return Err(format!("{e}\nerror.log:\n{errlog}"));
            }
            Ok(WebDavServer {
                port,
                process,
                root,
                propfind,
                tls: tls.is_some(),
                _dir: dir,
            })
        })
    }

    /// `http://127.0.0.1:PORT` (no trailing slash); `url()/a/b.ts` is
    /// stored at `root()/a/b.ts`.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Where uploaded files arrive.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Whether PROPFIND (object_store's `list` on an HTTP store) works.
    pub fn supports_propfind(&self) -> bool {
        self.propfind
    }

    /// The server's error log and stdout/stderr.
    pub fn log(&self) -> String {
        let errlog = self.root.parent().map(|d| d.join("error.log"));
        let errlog = errlog
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default();
        format!("{}{errlog}", self.process.log_text())
    }

    /// Request paths and statuses from the access log, in order
    /// (e.g. `("PUT", "/out/index.m3u8", 201)`).
    pub fn requests(&self) -> Vec<(String, String, u16)> {
        let path = self
            .root
            .parent()
            .expect("root has a parent")
            .join("access.log");
        let text = std::fs::read_to_string(path).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let mut it = l.split('\t');
                let method = it.next()?.to_owned();
                let uri = it.next()?.to_owned();
                let status = it.next()?.parse().ok()?;
                Some((method, uri, status))
            })
            .collect()
    }

    /// Kills the server (simulated outage); `root()` stays readable.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// For each request in the access log, in order: the connection's
    /// serial number and how many requests that connection had served
    /// (nginx's `$connection` and `$connection_requests`).
    pub fn connections(&self) -> Vec<(u64, u64)> {
        let path = self
            .root
            .parent()
            .expect("root has a parent")
            .join("access.log");
        let text = std::fs::read_to_string(path).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                Some((f.get(3)?.parse().ok()?, f.get(4)?.parse().ok()?))
            })
            .collect()
    }
}

fn nginx_conf(dir: &Path, root: &Path, port: u16, refuse_writes: bool, propfind: bool) -> String {
    let d = dir.display();
    let load = if propfind {
        format!("load_module {DAV_EXT_MODULE};\n")
    } else {
        String::new()
    };
    let ext = if propfind {
        "dav_ext_methods PROPFIND OPTIONS;"
    } else {
        ""
    };
    let refuse = if refuse_writes {
        "limit_except GET HEAD { deny all; }"
    } else {
        ""
    };
    // One process, no daemon, no privilege switch: the server runs as the
    // test's user (root included) and dies with the process group.
    format!(
        r#"{load}daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 256; }}
http {{
    default_type application/octet-stream;
    log_format ffstream "$request_method\t$uri\t$status\t$connection\t$connection_requests";
    access_log {d}/access.log ffstream;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    client_max_body_size 0;
    sendfile on;
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        root {root};
        location / {{
            autoindex on;
            dav_methods PUT DELETE MKCOL COPY MOVE;
            {ext}
            create_full_put_path on;
            dav_access user:rw group:r all:r;
            {refuse}
        }}
    }}
}}
"#,
        root = root.display()
    )
}

/// A test CA and a certificate for 127.0.0.1 signed by it, made in `dir`
/// with the openssl CLI, for [`WebDavServer::start_tls`]: (CA certificate,
/// server certificate, server key), PEM files valid for two days.
pub fn test_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let openssl = |args: &[&str]| {
        let o = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl is not installed");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    #[rustfmt::skip]
    openssl(&[&["req", "-x509"], &ec[..], &[
        "-subj", "/CN=ffstream test CA", "-days", "2", "-keyout", "ca.key", "-out", "ca.pem",
    ]].concat());
    #[rustfmt::skip]
    openssl(&[&["req"], &ec[..], &[
        "-subj", "/CN=127.0.0.1", "-keyout", "srv.key", "-out", "srv.csr",
    ]].concat());
    std::fs::write(
        dir.join("ext.cnf"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write ext.cnf");
    #[rustfmt::skip]
    openssl(&[
        "x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "ext.cnf", "-out", "srv.pem",
    ]);
    (dir.join("ca.pem"), dir.join("srv.pem"), dir.join("srv.key"))
}

// ---------------------------------------------------------------------------
// FTP (pyftpdlib)
// ---------------------------------------------------------------------------

/// The Python that runs pyftpdlib: `FFSTREAM_FTP_PYTHON`, else the venv
/// `dev.sh` makes in `tests/cloud/ftp-venv`, else `python3`.
fn ftp_python() -> PathBuf {
    if let Some(p) = std::env::var_os("FFSTREAM_FTP_PYTHON") {
        return p.into();
    }
    let venv = repo_path("tests/cloud/ftp-venv/bin/python3");
    if venv.exists() {
        return venv;
    }
    "python3".into()
}

/// pyftpdlib serving a temporary directory to one user, `ffstream` with
/// password `secret`; in the clear, or (`start_tls`) FTP over explicit TLS
/// only.
pub struct FtpServer {
    port: u16,
    process: ServerProcess,
    root: PathBuf,
    /// With TLS: the test CA that signed the server's certificate.
    ca: Option<PathBuf>,
    _dir: TempDir,
}

impl FtpServer {
    pub const USER: &'static str = "ffstream";
    pub const PASSWORD: &'static str = "secret";

    /// A server where the user may write and delete.
    pub fn start() -> FtpServer {
        Self::start_inner(true, false)
    }

    /// A server where the user may only read: STOR is refused (550).
    pub fn start_read_only() -> FtpServer {
        Self::start_inner(false, false)
    }

    /// A writable server that takes FTP over explicit TLS only (RFC 4217,
    /// pyftpdlib's `TLS_FTPHandler`, needs pyOpenSSL): `AUTH TLS` before
    /// logging in and `PROT P` before any transfer are required. Its
    /// certificate, for 127.0.0.1, is signed by [`Self::ca`].
    pub fn start_tls() -> FtpServer {
        Self::start_inner(true, true)
    }

    fn start_inner(writable: bool, tls: bool) -> FtpServer {
        let python = ftp_python();
        start_with_retries("pyftpdlib FTP server", |port| {
            let dir = tempfile::Builder::new()
                .prefix("ffstream-ftp-")
                .tempdir()
                .expect("tempdir");
            let root = dir.path().join("root");
            std::fs::create_dir(&root).expect("create root");
            let mut cmd = Command::new(&python);
            cmd.args(["-m", "pyftpdlib", "-i", "127.0.0.1", "-p"])
                .arg(port.to_string())
                .arg("-d")
                .arg(&root)
                .args(["-u", Self::USER, "-P", Self::PASSWORD])
                .current_dir(dir.path());
            if writable {
                cmd.arg("-w");
            }
            let ca = tls.then(|| {
                let (ca, cert, key) = test_certificates(dir.path());
                cmd.args(["--tls", "--tls-control-required", "--tls-data-required"])
                    .arg("--certfile")
                    .arg(cert)
                    .arg("--keyfile")
                    .arg(key);
                ca
            });
            let mut process = ServerProcess::spawn("pyftpdlib", cmd, &dir.path().join("ftp.log"));
            // Ready when it greets a client.
            process.wait_ready(port, || {
                use std::io::Read;
                let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
                    return false;
                };
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = [0u8; 3];
                s.read_exact(&mut buf).is_ok() && &buf == b"220"
            })?;
            Ok(FtpServer {
                port,
                process,
                root,
                ca,
                _dir: dir,
            })
        })
    }

    /// `ftp://ffstream:secret@127.0.0.1:PORT` (no trailing slash), or
    /// `ftpes://...` for a TLS server; `url()/a/b.ts` is stored at
    /// `root()/a/b.ts`.
    pub fn url(&self) -> String {
        format!(
            "{}://{}:{}@127.0.0.1:{}",
            if self.ca.is_some() { "ftpes" } else { "ftp" },
            Self::USER,
            Self::PASSWORD,
            self.port
        )
    }

    /// The CA certificate (PEM) that signed a TLS server's certificate.
    pub fn ca(&self) -> &Path {
        self.ca.as_deref().expect("not a TLS server (start_tls)")
    }

    /// Where uploaded files arrive.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The server's log: one line per command it completed, such as
    /// `... STOR /tmp/.../root/live/x.ts completed=1 bytes=...` or
    /// `... DELE /tmp/.../root/live/x.ts`.
    pub fn log(&self) -> String {
        self.process.log_text()
    }
}
