//! An `object_store` for `ftp://` servers, with a small FTP client of our
//! own (RFC 959: `USER`, `PASS`, `TYPE I`, `PASV`, `STOR`, `DELE`).
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

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Stores without an explicit I/O timeout give up on a socket after this long.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Idle control connections kept for reuse.
const POOL: usize = 8;

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
    host: String,
    port: u16,
    user: String,
    password: String,
}

/// An FTP server reached as `ftp://user:password@host:port`.
#[derive(Clone)]
pub(crate) struct FtpStore {
    login: Login,
    /// How errors name the server: without the password.
    shown: String,
    timeout: Duration,
    idle: Arc<Mutex<Vec<Control>>>,
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

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (b[i], b.get(i + 1).copied(), b.get(i + 2).copied()) {
            (b'%', Some(h), Some(l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl FtpStore {
    /// The server of `url` (`ftp://[user[:password]@]host[:port]/...`).
    pub fn new(url: &url::Url, timeout: Option<Duration>) -> FtpStore {
        let mut base = url.clone();
        base.set_path("");
        base.set_query(None);
        base.set_fragment(None);
        FtpStore {
            login: Login {
                host: url.host_str().unwrap_or_default().to_string(),
                port: url.port().unwrap_or(21),
                user: match url.username() {
                    "" => "anonymous".to_string(),
                    u => percent_decode(u),
                },
                password: percent_decode(url.password().unwrap_or("")),
            },
            shown: redact(&base).trim_end_matches('/').to_string(),
            timeout: timeout.unwrap_or(DEFAULT_TIMEOUT),
            idle: Default::default(),
        }
    }

    /// Runs `op` on an idle control connection, or a new one. A reused
    /// connection the server has dropped meanwhile is replaced once.
    fn with_control<T>(
        &self,
        mut op: impl FnMut(&mut Control) -> Result<T, FtpError>,
    ) -> Result<T, FtpError> {
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let (mut c, reused) = match pooled {
            Some(c) => (c, true),
            None => (Control::connect(&self.login, self.timeout)?, false),
        };
        let r = match op(&mut c) {
            Err(FtpError::Io(_)) if reused => {
                c = Control::connect(&self.login, self.timeout)?;
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

/// One logged-in control connection.
struct Control {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    timeout: Duration,
}

fn connect(host: &str, port: u16, timeout: Duration) -> std::io::Result<TcpStream> {
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                s.set_read_timeout(Some(timeout))?;
                s.set_write_timeout(Some(timeout))?;
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

impl Control {
    fn connect(login: &Login, timeout: Duration) -> Result<Control, FtpError> {
        let stream = connect(&login.host, login.port, timeout)?;
        let mut c = Control {
            writer: stream.try_clone()?,
            reader: BufReader::new(stream),
            timeout,
        };
        c.expect(None, &[220])?;
        let (code, text) = c.send(&format!("USER {}", login.user))?;
        let (code, text) = if code == 331 {
            c.send(&format!("PASS {}", login.password))?
        } else {
            (code, text)
        };
        if code != 230 {
            return Err(FtpError::Refused(format!("login: {text}")));
        }
        c.expect(Some("TYPE I"), &[200])?;
        Ok(c)
    }

    /// Reads one reply, multi-line ones included (`250-...` up to `250 ...`).
    fn reply(&mut self) -> Result<(u16, String), FtpError> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(FtpError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        let code: u16 = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
        if line.as_bytes().get(3) == Some(&b'-') {
            let end = format!("{code} ");
            loop {
                let mut more = String::new();
                if self.reader.read_line(&mut more)? == 0 || more.starts_with(&end) {
                    break;
                }
            }
        }
        Ok((code, line.trim_end().to_string()))
    }

    fn send(&mut self, cmd: &str) -> Result<(u16, String), FtpError> {
        self.writer.write_all(format!("{cmd}\r\n").as_bytes())?;
        self.reply()
    }

    /// Sends `cmd` (or only reads, for the greeting) and checks the answer.
    fn expect(&mut self, cmd: Option<&str>, ok: &[u16]) -> Result<(u16, String), FtpError> {
        let (code, text) = match cmd {
            Some(c) => self.send(c)?,
            None => self.reply()?,
        };
        if ok.contains(&code) {
            Ok((code, text))
        } else if (500..600).contains(&code) {
            Err(FtpError::Refused(text))
        } else {
            Err(FtpError::Failed(text))
        }
    }

    /// Opens a passive-mode data connection (to the control connection's
    /// peer, whatever address the server names: it may be behind NAT).
    fn data(&mut self) -> Result<TcpStream, FtpError> {
        let (_, text) = self.expect(Some("PASV"), &[227])?;
        let nums: Vec<u16> = text
            .rsplit_once('(')
            .map(|(_, t)| t)
            .unwrap_or("")
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .filter_map(|s| s.parse().ok())
            .collect();
        if nums.len() < 6 {
            return Err(FtpError::Failed(format!("unreadable PASV answer: {text}")));
        }
        let port = nums[4] * 256 + nums[5];
        let host = self.writer.peer_addr()?.ip().to_string();
        Ok(connect(&host, port, self.timeout)?)
    }

    fn stor(&mut self, path: &str, data: &[u8]) -> Result<(), FtpError> {
        let mut conn = self.data()?;
        self.expect(Some(&format!("STOR {path}")), &[125, 150])?;
        conn.write_all(data)?;
        conn.flush()?;
        drop(conn);
        // The server's word that the whole file arrived.
        self.expect(None, &[226, 250])?;
        Ok(())
    }

    fn dele(&mut self, path: &str) -> Result<(), FtpError> {
        self.expect(Some(&format!("DELE {path}")), &[250])?;
        Ok(())
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
        operation: format!("{what} on an ftp:// store (ffstream only pushes to FTP)"),
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
        match blocking(move || me.with_control(|c| c.stor(&path, &data))).await {
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
                    match blocking(move || m2.with_control(|c| c.dele(&path))).await {
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

    #[test]
    fn logins_are_decoded_and_passwords_never_shown() {
        let u = url::Url::parse("ftp://us%40r:p%3Ass@example.test:2121/live/x").unwrap();
        let s = FtpStore::new(&u, None);
        assert_eq!(s.login.user, "us@r");
        assert_eq!(s.login.password, "p:ss");
        assert_eq!(s.login.port, 2121);
        assert_eq!(s.to_string(), "ftp://us%40r:***@example.test:2121");
        let anon = FtpStore::new(&url::Url::parse("ftp://example.test/x").unwrap(), None);
        assert_eq!(anon.login.user, "anonymous");
        assert_eq!(anon.login.port, 21);
    }
}
