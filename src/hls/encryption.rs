//! HLS AES-128 encryption with exact key rotation, done in Rust.
//!
//! libavformat's hls muxer cannot encrypt fMP4 and rotates keys only by
//! re-reading a key-info file, so ffstream does the encryption itself: the
//! muxer's output I/O is injected (see `ffi::io`), every segment is
//! encrypted with AES-128-CBC (`aes` + `cbc`, PKCS#7 padding) as it is
//! written, and every playlist the muxer writes gets the matching
//! `EXT-X-KEY` tags before it reaches the disk.
//!
//! Segment `k` of every rendition uses key `k / N` (or the single key when
//! `N` is 0), so with aligned segments the number of keys is
//! `ceil(segments / N)` whatever the number of renditions.

use crate::error::{Error, Result};
use crate::ffi::io::{Interceptor, Sink};
use aes::cipher::{BlockEncryptMut, KeyIvInit};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// How to encrypt an HLS stream (the seed's `hls.encryption(save_to, url, period)`).
///
/// Runnable: `examples/encrypt.rs`.
///
/// ```no_run
/// use ffstream::{encryption::Encryption, Format};
/// // A new key every 10 segments: key files `movie.key`, then suffixed ones.
/// let enc = Encryption::new("keys/movie.key", "https://keys.example.com/movie.key")
///     .rotate_every(10);
/// assert_eq!(enc.rotate_every, 10);
/// ffstream::input("movie.mp4")?
///     .hls(Format::h264())
///     .encryption(enc)
///     .output("out/movie.m3u8")?;
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Encryption {
    /// Where the key file is written. Rotated keys add a unique suffix.
    pub key_path: PathBuf,
    /// The key's URI in the playlists. Rotated keys add the same suffix.
    pub key_url: String,
    /// A new key every this many segments; 0 for one key for the whole stream.
    pub rotate_every: u32,
}

impl std::fmt::Debug for Encryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encryption")
            .field("key_path", &self.key_path)
            .field("key_url", &self.key_url)
            .field("rotate_every", &self.rotate_every)
            .finish()
    }
}

impl Encryption {
    /// One key, written to `key_path` and fetched by players from `key_url`.
    /// Example: [`Encryption`].
    pub fn new(key_path: impl Into<PathBuf>, key_url: impl Into<String>) -> Self {
        Encryption {
            key_path: key_path.into(),
            key_url: key_url.into(),
            rotate_every: 0,
        }
    }

    /// A new key every `n` segments (0: never). Example: [`Encryption`].
    pub fn rotate_every(mut self, n: u32) -> Self {
        self.rotate_every = n;
        self
    }

    /// Checks the settings before any encoding: a non-empty URL, and a key
    /// directory that exists (or can be made) and can be written.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.key_url.trim().is_empty() {
            return Err(Error::Config("encryption key URL is empty".into()));
        }
        if self.key_path.as_os_str().is_empty() || self.key_path.file_name().is_none() {
            return Err(Error::Config(format!(
                "encryption key path {:?} names no file",
                self.key_path
            )));
        }
        let dir = key_dir(&self.key_path);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let probe = dir.join(format!(".ffstream-write-test-{}", std::process::id()));
        std::fs::File::create(&probe)
            .and_then(|_| std::fs::remove_file(&probe))
            .map_err(|e| Error::io(&dir, e))?;
        Ok(())
    }
}

fn key_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// One key: its bytes never appear in `Debug` output, logs or errors.
pub(crate) struct Key {
    pub index: u64,
    pub bytes: [u8; 16],
    pub iv: [u8; 16],
    pub path: PathBuf,
    pub uri: String,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("index", &self.index)
            .field("path", &self.path)
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

/// The keys of one run, shared by every rendition.
pub(crate) struct KeyRing {
    config: Encryption,
    run_id: String,
    keys: Mutex<HashMap<u64, Arc<Key>>>,
    /// Lowest key index each playlist still refers to (for clean-up).
    lowest_ref: Mutex<HashMap<usize, u64>>,
    playlists: usize,
}

impl KeyRing {
    pub fn new(config: Encryption, playlists: usize) -> Self {
        let id: u32 = rand::random();
        KeyRing {
            config,
            run_id: format!("{id:08x}"),
            keys: Mutex::new(HashMap::new()),
            lowest_ref: Mutex::new(HashMap::new()),
            playlists,
        }
    }

    fn index_of(&self, segment: u64) -> u64 {
        match self.config.rotate_every {
            0 => 0,
            n => segment / n as u64,
        }
    }

    /// The key for segment number `segment`, made (and its file written,
    /// mode 0600) the first time any rendition needs it.
    pub fn key_for_segment(&self, segment: u64) -> std::io::Result<Arc<Key>> {
        let index = self.index_of(segment);
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = keys.get(&index) {
            return Ok(k.clone());
        }
        let (path, uri) = if self.config.rotate_every == 0 {
            (self.config.key_path.clone(), self.config.key_url.clone())
        } else {
            let suffix = format!("-{}-{index}", self.run_id);
            let mut p = self.config.key_path.clone().into_os_string();
            p.push(&suffix);
            (PathBuf::from(p), format!("{}{suffix}", self.config.key_url))
        };
        let mut bytes = [0u8; 16];
        let mut iv = [0u8; 16];
        rand::fill(&mut bytes);
        rand::fill(&mut iv);
        write_key_file(&path, &bytes)?;
        let key = Arc::new(Key {
            index,
            bytes,
            iv,
            path,
            uri,
        });
        keys.insert(index, key.clone());
        Ok(key)
    }

    /// Records that playlist `id` now refers to keys from `lowest` on, and
    /// deletes key files that no playlist refers to any more.
    fn release_below(&self, id: usize, lowest: u64) {
        let floor = {
            let mut refs = self.lowest_ref.lock().unwrap_or_else(|p| p.into_inner());
            refs.insert(id, lowest);
            if refs.len() < self.playlists {
                return;
            }
            refs.values().copied().min().unwrap_or(0)
        };
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        let old: Vec<u64> = keys.keys().copied().filter(|i| *i < floor).collect();
        for i in old {
            if let Some(k) = keys.remove(&i) {
                let _ = std::fs::remove_file(&k.path);
            }
        }
    }

    /// Every key made so far, by index.
    pub fn keys(&self) -> Vec<Arc<Key>> {
        let keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<Arc<Key>> = keys.values().cloned().collect();
        v.sort_by_key(|k| k.index);
        v
    }
}

fn write_key_file(path: &Path, bytes: &[u8; 16]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = key_dir(path);
    std::fs::create_dir_all(&dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|f| f.to_str()).unwrap_or("key")
    ));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

/// Encrypts the segments and tags the playlists of one HLS rendition.
pub(crate) struct HlsCrypt {
    ring: Arc<KeyRing>,
    id: usize,
    /// Path of segment files up to the number, e.g. `out/name_720p_`.
    segment_prefix: String,
    /// Segment file extension with its dot, e.g. `.ts`.
    segment_ext: String,
    playlist: String,
    /// Key index of each segment file (by file name) this rendition wrote.
    segment_keys: Mutex<HashMap<String, u64>>,
}

impl HlsCrypt {
    pub fn new(
        ring: Arc<KeyRing>,
        id: usize,
        segment_prefix: String,
        segment_ext: String,
        playlist: String,
    ) -> Self {
        HlsCrypt {
            ring,
            id,
            segment_prefix,
            segment_ext,
            playlist,
            segment_keys: Mutex::new(HashMap::new()),
        }
    }

    fn segment_number(&self, url: &str) -> Option<u64> {
        let url = url.strip_suffix(".tmp").unwrap_or(url);
        let rest = url.strip_prefix(&self.segment_prefix)?;
        let num = rest.strip_suffix(&self.segment_ext)?;
        num.parse().ok()
    }
}

fn file_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

impl Interceptor for HlsCrypt {
    fn open_write(&self, url: &str) -> std::io::Result<Option<Box<dyn Sink>>> {
        if url.strip_suffix(".tmp").unwrap_or(url) == self.playlist {
            return Ok(Some(Box::new(PlaylistSink {
                crypt: self.ring.clone(),
                id: self.id,
                keys: self
                    .segment_keys
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone(),
                path: PathBuf::from(url),
                text: Vec::new(),
            })));
        }
        let Some(n) = self.segment_number(url) else {
            return Ok(None);
        };
        let key = self.ring.key_for_segment(n)?;
        self.segment_keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(file_name(url).to_string(), key.index);
        Ok(Some(Box::new(EncryptSink::create(Path::new(url), &key)?)))
    }
}

/// Writes a segment encrypted with AES-128-CBC and PKCS#7 padding.
struct EncryptSink {
    file: std::io::BufWriter<std::fs::File>,
    cipher: cbc::Encryptor<aes::Aes128>,
    pending: Vec<u8>,
}

impl EncryptSink {
    fn create(path: &Path, key: &Key) -> std::io::Result<Self> {
        Ok(EncryptSink {
            file: std::io::BufWriter::new(std::fs::File::create(path)?),
            cipher: cbc::Encryptor::<aes::Aes128>::new(&key.bytes.into(), &key.iv.into()),
            pending: Vec::with_capacity(64 * 1024),
        })
    }
}

impl Sink for EncryptSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.pending.extend_from_slice(data);
        let whole = self.pending.len() / 16 * 16;
        for block in self.pending[..whole].chunks_exact_mut(16) {
            self.cipher.encrypt_block_mut(block.into());
        }
        self.file.write_all(&self.pending[..whole])?;
        self.pending.drain(..whole);
        Ok(())
    }

    fn close(mut self: Box<Self>) -> std::io::Result<()> {
        let pad = 16 - self.pending.len() % 16;
        self.pending.extend(std::iter::repeat_n(pad as u8, pad));
        let mut last = std::mem::take(&mut self.pending);
        for block in last.chunks_exact_mut(16) {
            self.cipher.encrypt_block_mut(block.into());
        }
        self.file.write_all(&last)?;
        self.file.flush()
    }
}

/// Buffers a playlist the muxer writes, adds `EXT-X-KEY` tags, and writes it
/// atomically.
struct PlaylistSink {
    crypt: Arc<KeyRing>,
    id: usize,
    keys: HashMap<String, u64>,
    path: PathBuf,
    text: Vec<u8>,
}

impl Sink for PlaylistSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.text.extend_from_slice(data);
        Ok(())
    }

    fn close(self: Box<Self>) -> std::io::Result<()> {
        let text = String::from_utf8_lossy(&self.text);
        let all: HashMap<u64, Arc<Key>> = self
            .crypt
            .keys()
            .into_iter()
            .map(|k| (k.index, k))
            .collect();
        let (out, lowest) = add_key_tags(&text, |uri| {
            self.keys
                .get(file_name(uri))
                .and_then(|i| all.get(i))
                .cloned()
        })?;
        crate::hls::write_atomic(&self.path, |f| f.write_all(out.as_bytes()))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        if let Some(lowest) = lowest {
            self.crypt.release_below(self.id, lowest);
        }
        Ok(())
    }
}

/// Tags that belong to the segment that follows them.
const SEGMENT_TAGS: [&str; 6] = [
    "#EXTINF",
    "#EXT-X-BYTERANGE",
    "#EXT-X-DISCONTINUITY",
    "#EXT-X-PROGRAM-DATE-TIME",
    "#EXT-X-GAP",
    "#EXT-X-BITRATE",
];

/// Inserts an `EXT-X-KEY` before the first segment of each key. Returns the
/// new text and the lowest key index it refers to.
pub(crate) fn add_key_tags(
    text: &str,
    key_of: impl Fn(&str) -> Option<Arc<Key>>,
) -> std::io::Result<(String, Option<u64>)> {
    let mut out = String::with_capacity(text.len() + 256);
    let mut pending: Vec<&str> = Vec::new();
    let mut current: Option<u64> = None;
    let mut lowest: Option<u64> = None;
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            if SEGMENT_TAGS.iter().any(|t| line.starts_with(t)) {
                pending.push(line);
            } else {
                let _ = writeln!(out, "{line}");
            }
            continue;
        }
        let key = key_of(line).ok_or_else(|| {
            std::io::Error::other(format!(
                "playlist names segment {line} that was not encrypted"
            ))
        })?;
        lowest = Some(lowest.map_or(key.index, |l| l.min(key.index)));
        if current != Some(key.index) {
            let _ = writeln!(
                out,
                "#EXT-X-KEY:METHOD=AES-128,URI=\"{}\",IV=0x{}",
                key.uri,
                hex(&key.iv)
            );
            current = Some(key.index);
        }
        for p in pending.drain(..) {
            let _ = writeln!(out, "{p}");
        }
        let _ = writeln!(out, "{line}");
    }
    for p in pending {
        let _ = writeln!(out, "{p}");
    }
    Ok((out, lowest))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(index: u64) -> Arc<Key> {
        Arc::new(Key {
            index,
            bytes: [index as u8; 16],
            iv: [0xab; 16],
            path: PathBuf::from(format!("k{index}")),
            uri: format!("https://keys/k{index}"),
        })
    }

    #[test]
    fn key_tags_go_before_each_new_key_and_after_the_map() {
        let text = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"init.mp4\"\n\
                    #EXTINF:2.0,\na_0.m4s\n#EXTINF:2.0,\na_1.m4s\n#EXTINF:1.0,\na_2.m4s\n#EXT-X-ENDLIST\n";
        let (out, lowest) = add_key_tags(text, |u| {
            let n: u64 = u[2..3].parse().unwrap();
            Some(key(n / 2))
        })
        .unwrap();
        let iv = "0x".to_string() + &"ab".repeat(16);
        assert_eq!(
            out,
            format!(
                "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"init.mp4\"\n\
                 #EXT-X-KEY:METHOD=AES-128,URI=\"https://keys/k0\",IV={iv}\n#EXTINF:2.0,\na_0.m4s\n#EXTINF:2.0,\na_1.m4s\n\
                 #EXT-X-KEY:METHOD=AES-128,URI=\"https://keys/k1\",IV={iv}\n#EXTINF:1.0,\na_2.m4s\n#EXT-X-ENDLIST\n"
            )
        );
        assert_eq!(lowest, Some(0));
    }

    #[test]
    fn unknown_segments_are_an_error_not_plaintext() {
        assert!(add_key_tags("#EXTM3U\n#EXTINF:1,\nx.ts\n", |_| None).is_err());
    }

    #[test]
    fn debug_never_shows_key_bytes() {
        let k = key(7);
        let s = format!("{k:?}");
        assert!(!s.contains("bytes") && !s.contains("iv"), "{s}");
    }

    #[test]
    fn rotation_indices() {
        let dir = std::env::temp_dir().join(format!("ffstream-ring-{}", std::process::id()));
        let ring = KeyRing::new(
            Encryption::new(dir.join("k.key"), "https://x/k.key").rotate_every(3),
            1,
        );
        let a = ring.key_for_segment(0).unwrap();
        let b = ring.key_for_segment(2).unwrap();
        let c = ring.key_for_segment(3).unwrap();
        assert_eq!((a.index, b.index, c.index), (0, 0, 1));
        assert!(Arc::ptr_eq(&a, &b));
        assert_ne!(a.bytes, c.bytes);
        assert!(c.uri.starts_with("https://x/k.key-") && c.uri.ends_with("-1"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&c.path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(std::fs::read(&c.path).unwrap(), c.bytes);
        let _ = std::fs::remove_dir_all(dir);
    }
}
