//! One logged-in FTP control connection, through the `suppaftp` crate, and
//! the TLS settings of `ftpes://` stores.
//!
//! Every socket (control and passive data connections alike) is connected
//! with the store's I/O timeout and reads and writes with it, so no call
//! here can block longer than that on a silent server. Uploads close the
//! data connection and wait for the server's "transfer complete" (226 or
//! 250) before they count as done.
//!
//! With TLS (`AUTH TLS`, RFC 4217), the control connection is secured before
//! logging in (the password never travels in the clear), then `PBSZ 0` and
//! `PROT P` make every data connection TLS too. Servers are checked against
//! the machine's CA certificates (`SSL_CERT_FILE`, `SSL_CERT_DIR`, the
//! system's bundle), or Mozilla's roots built into ffstream on a machine
//! without any, as for the HTTP stores.

use super::{FtpError, Login};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;
pub(super) use suppaftp::rustls::ClientConfig;
use suppaftp::rustls::RootCertStore;
use suppaftp::types::FileType;
use suppaftp::{Mode, RustlsConnector, RustlsFtpStream};

/// The TLS client settings of an `ftpes://` store. Fails only if the
/// crypto provider refuses its own default protocol versions.
pub(super) fn tls_config() -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    let (found, _unreadable) =
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if found == 0 {
        log::info!("no CA certificates on this machine: FTPS uses the built-in roots");
        roots.add_parsable_certificates(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
    }
    let provider = Arc::new(suppaftp::rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS settings: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Connects to `host:port` (each of its addresses in turn), with `timeout`
/// on the connection and on every later read and write.
fn connect(host: &str, port: u16, timeout: Duration) -> std::io::Result<TcpStream> {
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
    for addr in (host, port).to_socket_addrs()? {
        match connect_addr(addr, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn connect_addr(addr: SocketAddr, timeout: Duration) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    Ok(s)
}

/// A logged-in control connection in binary mode.
pub(super) struct Session {
    ftp: RustlsFtpStream,
}

impl Session {
    /// Connects, secures the connection when the store uses TLS, logs in
    /// and selects binary transfers (`TYPE I`).
    pub(super) fn open(login: &Login, timeout: Duration) -> Result<Session, FtpError> {
        let control = connect(&login.host, login.port, timeout)?;
        let mut ftp =
            RustlsFtpStream::connect_with_stream(control)?.passive_stream_builder(move |addr| {
                connect_addr(addr, timeout).map_err(suppaftp::FtpError::ConnectionError)
            });
        // Passive data connections go to the control connection's peer,
        // whatever address the server names: it may be behind NAT.
        ftp.set_mode(Mode::Passive);
        ftp.set_passive_nat_workaround(true);
        if let Some(tls) = &login.tls {
            ftp = ftp
                .into_secure(RustlsConnector::from(Arc::clone(tls)), &login.host)
                .map_err(|e| FtpError::from(e).context("AUTH TLS"))?;
        }
        ftp.login(login.user.as_str(), login.password.as_str())
            .map_err(|e| FtpError::from(e).context("login"))?;
        ftp.transfer_type(FileType::Binary)?;
        Ok(Session { ftp })
    }

    /// Stores `data` at `path`; returns once the server has said the whole
    /// file arrived.
    pub(super) fn stor(&mut self, path: &str, data: &[u8]) -> Result<(), FtpError> {
        // `put_file` closes the data connection, then reads the reply.
        self.ftp.put_file(path, &mut &data[..])?;
        Ok(())
    }

    /// Deletes the file at `path`.
    pub(super) fn dele(&mut self, path: &str) -> Result<(), FtpError> {
        self.ftp.rm(path)?;
        Ok(())
    }
}

impl From<suppaftp::FtpError> for FtpError {
    fn from(e: suppaftp::FtpError) -> Self {
        match e {
            suppaftp::FtpError::ConnectionError(io) => FtpError::Io(io),
            suppaftp::FtpError::UnexpectedResponse(r) => {
                let text = String::from_utf8_lossy(&r.body)
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                if (500..600).contains(&r.status.code()) {
                    FtpError::Refused(text)
                } else {
                    FtpError::Failed(text)
                }
            }
            other => FtpError::Failed(other.to_string()),
        }
    }
}
