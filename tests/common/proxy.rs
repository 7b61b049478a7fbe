//! A small HTTP/1.1 proxy on 127.0.0.1 in front of a real server (nginx
//! WebDAV, see `servers.rs`), written for the tests of what a client sends
//! and in which order.
//!
//! Each request is answered as a rule says: forwarded (at once or after a
//! delay, so the object arrives late), answered by the proxy itself with a
//! status (a transient 503, a refusal), or dropped (the connection is closed
//! without an answer, as a server that resets it). Every request is logged
//! with the moment it had fully arrived and the moment it was done: for a
//! forwarded request, when the upstream server's answer came back, that is
//! once the server holds the object. Both are [`Instant`]s, so the logs of
//! several proxies (one per store) share one clock and can be compared.
//!
//! Requests must carry a `Content-Length` (object_store's always do).
//! Upstream, each request goes over a fresh connection with `Connection:
//! close`; towards the client, connections are kept alive.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the proxy does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Forward it to the server.
    Forward,
    /// Wait this long, then forward it.
    Delay(Duration),
    /// Answer with this status without forwarding.
    Status(u16),
    /// Close the connection without answering.
    Drop,
}

/// One request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub method: String,
    /// The request path, without the query.
    pub path: String,
    /// The status sent back; `None` when the connection was dropped.
    pub status: Option<u16>,
    /// When the whole request (head and body) had arrived.
    pub arrived: Instant,
    /// When it was done: the server's answer was back (the object stored),
    /// or the proxy's own answer was decided.
    pub done: Instant,
    /// The body, kept for manifests (`.m3u8`, `.mpd`) only.
    pub body: Vec<u8>,
}

impl Entry {
    /// A request the server answered with 2xx.
    pub fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The rule: method, path and how many requests with this method and path
/// have arrived so far (this one included, counting from 1).
pub type Rule = dyn Fn(&str, &str, usize) -> Action + Send + Sync;

struct Inner {
    upstream: u16,
    rule: Box<Rule>,
    log: Mutex<Vec<Entry>>,
    seen: Mutex<HashMap<(String, String), usize>>,
}

/// The proxy; stops accepting when dropped.
pub struct Proxy {
    port: u16,
    inner: Arc<Inner>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    /// Starts a proxy to the server on `127.0.0.1:upstream`.
    pub fn start(
        upstream: u16,
        rule: impl Fn(&str, &str, usize) -> Action + Send + Sync + 'static,
    ) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        listener.set_nonblocking(true).expect("non-blocking accept");
        let inner = Arc::new(Inner {
            upstream,
            rule: Box::new(rule),
            log: Mutex::new(Vec::new()),
            seen: Mutex::new(HashMap::new()),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (i2, s2) = (inner.clone(), stop.clone());
        std::thread::spawn(move || accept_loop(listener, i2, s2));
        Proxy { port, inner, stop }
    }

    /// A proxy that forwards everything at once (a plain logging proxy).
    pub fn transparent(upstream: u16) -> Proxy {
        Self::start(upstream, |_, _, _| Action::Forward)
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request so far, in the order they were done.
    pub fn log(&self) -> Vec<Entry> {
        let mut v = self
            .inner
            .log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        v.sort_by_key(|e| e.done);
        v
    }

    /// The requests with this method whose path ends with `suffix`.
    pub fn requests(&self, method: &str, suffix: &str) -> Vec<Entry> {
        self.log()
            .into_iter()
            .filter(|e| e.method == method && e.path.ends_with(suffix))
            .collect()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn accept_loop(listener: TcpListener, inner: Arc<Inner>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((s, _)) => {
                let inner = inner.clone();
                std::thread::spawn(move || serve(s, &inner));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(_) => return,
        }
    }
}

/// A request or response head and body.
struct Message {
    /// The first line, without its line end.
    start: String,
    /// Header lines as (name, value), in order.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads a head: `None` at a clean end of the connection.
fn read_head(r: &mut impl BufRead) -> Option<(String, Vec<(String, String)>)> {
    let mut start = String::new();
    if r.read_line(&mut start).ok()? == 0 {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    Some((start.trim_end().to_string(), headers))
}

fn read_request(r: &mut impl BufRead) -> Option<Message> {
    let (start, headers) = read_head(r)?;
    let mut m = Message {
        start,
        headers,
        body: Vec::new(),
    };
    assert!(
        m.header("transfer-encoding").is_none(),
        "the test proxy takes requests with a Content-Length only: {}",
        m.start
    );
    let len: usize = m
        .header("content-length")
        .map_or(0, |v| v.parse().expect("Content-Length"));
    m.body = vec![0; len];
    r.read_exact(&mut m.body).ok()?;
    Some(m)
}

fn serve(client: TcpStream, inner: &Inner) {
    let mut reader = BufReader::new(client.try_clone().expect("clone the client socket"));
    let mut writer = client;
    while let Some(req) = read_request(&mut reader) {
        let arrived = Instant::now();
        let mut parts = req.start.split(' ');
        let method = parts.next().unwrap_or_default().to_string();
        let path = parts
            .next()
            .unwrap_or_default()
            .split('?')
            .next()
            .unwrap_or_default()
            .to_string();
        let nth = {
            let mut seen = inner.seen.lock().unwrap_or_else(|p| p.into_inner());
            let n = seen.entry((method.clone(), path.clone())).or_insert(0);
            *n += 1;
            *n
        };
        let action = (inner.rule)(&method, &path, nth);
        let (status, reply) = match action {
            Action::Drop => (None, None),
            Action::Status(s) => {
                let text = format!("refused by the test proxy ({s})");
                let head = format!(
                    "HTTP/1.1 {s} Test\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
                    text.len()
                );
                (Some(s), Some([head.as_bytes(), text.as_bytes()].concat()))
            }
            Action::Forward | Action::Delay(_) => {
                if let Action::Delay(d) = action {
                    std::thread::sleep(d);
                }
                match forward(inner.upstream, &req) {
                    Ok((s, bytes)) => (Some(s), Some(bytes)),
                    Err(e) => panic!("test proxy: upstream {}: {e}", req.start),
                }
            }
        };
        let keep = path.ends_with(".m3u8") || path.ends_with(".mpd");
        inner
            .log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Entry {
                method,
                path,
                status,
                arrived,
                done: Instant::now(),
                body: if keep { req.body } else { Vec::new() },
            });
        match reply {
            Some(bytes) => {
                if writer.write_all(&bytes).is_err() {
                    return;
                }
            }
            None => {
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

/// Sends `req` to the server over a new connection and returns its status
/// and the answer to pass on (kept alive towards the client).
fn forward(upstream: u16, req: &Message) -> std::io::Result<(u16, Vec<u8>)> {
    let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
    up.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!("{}\r\n", req.start);
    for (k, v) in &req.headers {
        if !k.eq_ignore_ascii_case("connection") && !k.eq_ignore_ascii_case("keep-alive") {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    up.write_all(head.as_bytes())?;
    up.write_all(&req.body)?;
    let mut raw = Vec::new();
    up.read_to_end(&mut raw)?;
    let mut r = BufReader::new(&raw[..]);
    let (start, headers) =
        read_head(&mut r).ok_or_else(|| std::io::Error::other("no answer head"))?;
    let mut body = Vec::new();
    r.read_to_end(&mut body)?;
    let status: u16 = start
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {start:?}")))?;
    let m = Message {
        start,
        headers,
        body,
    };
    // Everything the server sent until it closed is the answer: pass it on
    // with its length, so the client's connection can stay open.
    let mut out = format!("{}\r\n", m.start);
    for (k, v) in &m.headers {
        let drop = [
            "connection",
            "keep-alive",
            "content-length",
            "transfer-encoding",
        ]
        .iter()
        .any(|h| k.eq_ignore_ascii_case(h));
        if !drop {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    let body = if m.header("transfer-encoding").is_some() {
        dechunk(&m.body)
    } else {
        m.body
    };
    if status == 204 || status == 304 {
        // No body, and no length either (RFC 9110, 8.6).
        out.push_str("\r\n");
    } else {
        out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    }
    Ok((status, [out.into_bytes(), body].concat()))
}

/// The payload of a chunked body.
fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = std::str::from_utf8(&b[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 || b.len() < eol + 2 + size {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[(eol + 4 + size).min(b.len())..];
    }
}
