//! The first segment of an AES-128 encrypted HLS media playlist, decrypted
//! into a temporary file FFmpeg can read: FFmpeg 5.1's hls demuxer refuses
//! key files whose name is not a media extension (and cannot reach a key
//! server), so [`super::timestamp_map`] decrypts the one segment it needs
//! itself.

use crate::{Error, Result};
use aes::cipher::{BlockDecryptMut, KeyIvInit};
use std::path::{Path, PathBuf};

/// An `EXT-X-KEY` with `METHOD=AES-128`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct KeyTag {
    /// Its `URI`, as written.
    pub uri: String,
    /// Its `IV`, when given (else the segment's media sequence number).
    pub iv: Option<[u8; 16]>,
}

/// What a reader needs to read a playlist's first segment alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FirstSegment {
    /// The segment's URI, as written.
    pub uri: String,
    /// Its media sequence number.
    pub sequence: u64,
    /// The key it is encrypted with, if any.
    pub key: Option<KeyTag>,
    /// The `EXT-X-MAP` initialisation section (fMP4) and its key.
    pub map: Option<(String, Option<KeyTag>)>,
}

/// The first segment of a media playlist, with the tags that apply to it;
/// `None` when it lists none.
pub(super) fn first_segment(text: &str) -> Option<FirstSegment> {
    let mut sequence = 0;
    let mut key = None;
    let mut map = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            sequence = v.trim().parse().unwrap_or(0);
        } else if let Some(attrs) = line.strip_prefix("#EXT-X-KEY:") {
            key = (attr(attrs, "METHOD").as_deref() == Some("AES-128")).then(|| KeyTag {
                uri: attr(attrs, "URI").unwrap_or_default(),
                iv: attr(attrs, "IV").and_then(|v| parse_iv(&v)),
            });
        } else if let Some(attrs) = line.strip_prefix("#EXT-X-MAP:") {
            map = attr(attrs, "URI").map(|u| (u, key.clone()));
        } else if !line.starts_with('#') {
            return Some(FirstSegment {
                uri: line.to_string(),
                sequence,
                key,
                map,
            });
        }
    }
    None
}

/// The value of attribute `name` in an attribute list (quotes removed).
fn attr(list: &str, name: &str) -> Option<String> {
    let mut rest = list;
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let (value, next) = match after.strip_prefix('"') {
            Some(q) => {
                let end = q.find('"')?;
                (&q[..end], q[end + 1..].trim_start_matches(','))
            }
            None => after.split_once(',').unwrap_or((after, "")),
        };
        if key.trim() == name {
            return Some(value.to_string());
        }
        rest = next;
    }
    None
}

/// A hexadecimal IV (`0x` and 32 digits).
fn parse_iv(v: &str) -> Option<[u8; 16]> {
    let hex = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X"))?;
    if hex.len() != 32 {
        return None;
    }
    let mut iv = [0u8; 16];
    for (i, b) in iv.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(iv)
}

/// The first segment of the playlist at `playlist` (with its fMP4
/// initialisation section in front), decrypted, in a temporary file.
/// `key` is the 16-byte key; `None` reads the key file the playlist names,
/// which must then be a local file.
pub(super) fn decrypted_copy(
    playlist: &Path,
    first: &FirstSegment,
    key: Option<&[u8; 16]>,
) -> Result<tempfile::NamedTempFile> {
    let dir = playlist.parent().unwrap_or(Path::new(""));
    let mut bytes = Vec::new();
    if let Some((uri, map_key)) = &first.map {
        let init = read(&local(dir, uri, playlist)?)?;
        bytes = match map_key {
            Some(k) => decrypt_with(playlist, dir, &init, k, first.sequence, key)?,
            None => init,
        };
    }
    let segment = read(&local(dir, &first.uri, playlist)?)?;
    match &first.key {
        Some(k) => bytes.extend(decrypt_with(
            playlist,
            dir,
            &segment,
            k,
            first.sequence,
            key,
        )?),
        None => bytes.extend(segment),
    }
    let tmp = tempfile::Builder::new()
        .prefix("ffstream-first-segment-")
        .tempfile()
        .map_err(|e| Error::io(std::env::temp_dir(), e))?;
    std::fs::write(tmp.path(), &bytes).map_err(|e| Error::io(tmp.path(), e))?;
    Ok(tmp)
}

/// Decrypts `data` with the key of `tag` (given, or read from its file).
fn decrypt_with(
    playlist: &Path,
    dir: &Path,
    data: &[u8],
    tag: &KeyTag,
    sequence: u64,
    key: Option<&[u8; 16]>,
) -> Result<Vec<u8>> {
    let key = match key {
        Some(k) => *k,
        None => {
            let bytes = read(&local(dir, &tag.uri, playlist)?)?;
            bytes.try_into().map_err(|b: Vec<u8>| Error::OpenInput {
                input: playlist.display().to_string(),
                reason: format!("its key {} holds {} bytes, not 16", tag.uri, b.len()),
                source: None,
            })?
        }
    };
    let iv = tag.iv.unwrap_or_else(|| u128::from(sequence).to_be_bytes());
    decrypt(data, &key, &iv).ok_or_else(|| Error::Decode {
        input: playlist.display().to_string(),
        reason: "its first segment does not decrypt with its AES-128 key".into(),
        source: None,
    })
}

/// AES-128-CBC decryption with PKCS#7 padding removed; `None` when the
/// length or the padding is wrong (a wrong key).
fn decrypt(data: &[u8], key: &[u8; 16], iv: &[u8; 16]) -> Option<Vec<u8>> {
    if data.is_empty() || !data.len().is_multiple_of(16) {
        return None;
    }
    let mut d = cbc::Decryptor::<aes::Aes128>::new(key.into(), iv.into());
    let mut out = data.to_vec();
    for block in out.chunks_exact_mut(16) {
        d.decrypt_block_mut(block.into());
    }
    let pad = usize::from(*out.last()?);
    let ok = (1..=16).contains(&pad)
        && out[out.len() - pad..]
            .iter()
            .all(|&b| usize::from(b) == pad);
    ok.then(|| {
        out.truncate(out.len() - pad);
        out
    })
}

/// The local file a URI in the playlist names (relative to its folder).
fn local(dir: &Path, uri: &str, playlist: &Path) -> Result<PathBuf> {
    let path = uri
        .strip_prefix("file://")
        .or_else(|| uri.strip_prefix("file:"))
        .unwrap_or(uri);
    if path.contains("://") {
        return Err(Error::OpenInput {
            input: playlist.display().to_string(),
            reason: format!("{uri} is not a local file (give the key to read it)"),
            source: None,
        });
    }
    Ok(dir.join(path))
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::BlockEncryptMut;

    #[test]
    fn the_first_segment_comes_with_its_key_and_map() {
        let text = "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:7\n\
                    #EXT-X-KEY:METHOD=AES-128,URI=\"k,1.key\",IV=0x000102030405060708090a0b0c0d0e0f\n\
                    #EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:2.0,\nseg7.m4s\nseg8.m4s\n";
        let key = KeyTag {
            uri: "k,1.key".into(),
            iv: Some(std::array::from_fn(|i| i as u8)),
        };
        assert_eq!(
            first_segment(text),
            Some(FirstSegment {
                uri: "seg7.m4s".into(),
                sequence: 7,
                key: Some(key.clone()),
                map: Some(("init.mp4".into(), Some(key))),
            })
        );
        let clear = "#EXTM3U\n#EXT-X-KEY:METHOD=NONE\n#EXTINF:2,\na.ts\n";
        assert_eq!(first_segment(clear).unwrap().key, None);
        assert_eq!(first_segment("#EXTM3U\n#EXT-X-ENDLIST\n"), None);
    }

    #[test]
    fn attributes_and_ivs_parse() {
        let list = "METHOD=AES-128,URI=\"a=b,c\",IV=0xFF000000000000000000000000000001";
        assert_eq!(attr(list, "URI").as_deref(), Some("a=b,c"));
        assert_eq!(attr(list, "METHOD").as_deref(), Some("AES-128"));
        assert_eq!(attr(list, "KEYFORMAT"), None);
        let iv = parse_iv(&attr(list, "IV").unwrap()).unwrap();
        assert_eq!((iv[0], iv[15]), (0xff, 1));
        assert_eq!(parse_iv("0x01"), None);
        assert_eq!(parse_iv("00000000000000000000000000000000"), None);
    }

    #[test]
    fn decryption_undoes_cbc_with_pkcs7() {
        let (key, iv) = ([9u8; 16], [3u8; 16]);
        let plain = b"twenty-one bytes long".to_vec();
        let mut padded = plain.clone();
        let pad = 16 - plain.len() % 16;
        padded.extend(std::iter::repeat_n(pad as u8, pad));
        let mut e = cbc::Encryptor::<aes::Aes128>::new(&key.into(), &iv.into());
        for block in padded.chunks_exact_mut(16) {
            e.encrypt_block_mut(block.into());
        }
        assert_eq!(decrypt(&padded, &key, &iv), Some(plain));
        assert_eq!(decrypt(&padded, &[0u8; 16], &iv), None);
        assert_eq!(decrypt(&padded[..20], &key, &iv), None);
    }

    #[test]
    fn remote_keys_must_be_given() {
        let e = local(
            Path::new("out"),
            "https://keys.example/k",
            Path::new("out/v.m3u8"),
        );
        assert!(e.unwrap_err().to_string().contains("is not a local file"));
        assert_eq!(
            local(Path::new("out"), "file:v.key", Path::new("out/v.m3u8")).unwrap(),
            Path::new("out/v.key")
        );
    }
}
