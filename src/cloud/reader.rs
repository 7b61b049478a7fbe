//! `Read + Seek` over an object in a store, with ranged GETs and a read-ahead
//! window, so FFmpeg can demux an object without downloading it first.

use super::Store;
use crate::error::{Error, Result};
use object_store::path::Path as ObjectPath;
use object_store::ObjectStoreExt;
use std::io::{Read, Seek, SeekFrom};

/// Bytes fetched per ranged request.
const CHUNK: u64 = 2 * 1024 * 1024;

pub(crate) struct ObjectReader {
    store: Store,
    path: ObjectPath,
    name: String,
    size: u64,
    pos: u64,
    buf: bytes::Bytes,
    buf_start: u64,
    rt: tokio::runtime::Runtime,
}

impl ObjectReader {
    pub fn open(store: Store, path: ObjectPath, name: String) -> Result<ObjectReader> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Internal(format!("async runtime: {e}")))?;
        let meta = rt.block_on(store.store.head(&path)).map_err(|e| {
            // A HEAD answer has no body to say whether the object or the
            // whole bucket is missing; a one-byte GET does.
            let e = match e {
                object_store::Error::NotFound { .. } => rt
                    .block_on(store.store.get_range(&path, 0..1))
                    .err()
                    .unwrap_or(e),
                other => other,
            };
            Error::OpenInput {
                input: name.clone(),
                reason: super::upload::describe(&e),
                source: Some(Box::new(e)),
            }
        })?;
        Ok(ObjectReader {
            store,
            path,
            name,
            size: meta.size,
            pos: 0,
            buf: bytes::Bytes::new(),
            buf_start: 0,
            rt,
        })
    }
}

impl Read for ObjectReader {
    /// Called from FFmpeg's read callback (ffmpeg-next's `StreamIo` does not
    /// catch panics), so a panic must not unwind out of it.
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.read_chunk(out)))
            .unwrap_or_else(|p| {
                Err(std::io::Error::other(format!(
                    "{}: reading panicked: {}",
                    self.name,
                    crate::error::panic_message(p.as_ref())
                )))
            })
    }
}

impl ObjectReader {
    fn read_chunk(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.size || out.is_empty() {
            return Ok(0);
        }
        let in_buf =
            self.pos >= self.buf_start && self.pos < self.buf_start + self.buf.len() as u64;
        if !in_buf {
            let end = (self.pos + CHUNK).min(self.size);
            let bytes = self
                .rt
                .block_on(self.store.store.get_range(&self.path, self.pos..end))
                .map_err(|e| {
                    std::io::Error::other(format!("{}: {}", self.name, super::upload::describe(&e)))
                })?;
            if bytes.is_empty() {
                return Ok(0);
            }
            self.buf = bytes;
            self.buf_start = self.pos;
        }
        let off = (self.pos - self.buf_start) as usize;
        let n = out.len().min(self.buf.len() - off);
        out[..n].copy_from_slice(&self.buf[off..off + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for ObjectReader {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => p as i128,
            SeekFrom::End(d) => self.size as i128 + d as i128,
            SeekFrom::Current(d) => self.pos as i128 + d as i128,
        };
        if target < 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before the start of the object",
            ));
        }
        self.pos = target as u64;
        Ok(self.pos)
    }
}
