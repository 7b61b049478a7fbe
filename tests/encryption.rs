//! HLS AES-128 encryption: every segment is decrypted here, with the key and
//! IV its playlist names, independently of the code that encrypted it.

mod common;

use aes::cipher::{BlockDecryptMut, KeyIvInit};
use common::browser::{self, Player};
use common::{fixtures, hls, oracle};
use ffstream::encryption::Encryption;
use ffstream::{Error, Format};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::OnceLock;

/// 8 s, 320x180, so hls_time 1 gives 8 segments.
fn clip8() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let out = fixtures::dir().join("encryption-clip8.mp4");
        if !out.exists() {
            let tmp = out.with_extension(format!("{}.mp4", std::process::id()));
            fixtures::ffmpeg(&[
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=320x180:rate=30:duration=8",
                "-f",
                "lavfi",
                "-i",
                "sine=frequency=440:sample_rate=48000:duration=8",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "aac",
                "-ac",
                "2",
                tmp.to_str().unwrap(),
            ])
            .unwrap();
            std::fs::rename(&tmp, &out).unwrap();
        }
        out
    })
    .clone()
}

/// AES-128-CBC decryption and PKCS#7 unpadding, block by block.
fn decrypt(data: &[u8], key: &[u8; 16], iv: &[u8; 16]) -> Vec<u8> {
    assert!(
        !data.is_empty() && data.len().is_multiple_of(16),
        "ciphertext of {} bytes",
        data.len()
    );
    let mut d = cbc::Decryptor::<aes::Aes128>::new(key.into(), iv.into());
    let mut out = data.to_vec();
    for b in out.chunks_exact_mut(16) {
        d.decrypt_block_mut(b.into());
    }
    let pad = *out.last().unwrap() as usize;
    assert!((1..=16).contains(&pad), "bad PKCS#7 pad {pad}");
    assert!(
        out[out.len() - pad..].iter().all(|&b| b as usize == pad),
        "bad PKCS#7 padding"
    );
    out.truncate(out.len() - pad);
    out
}

fn assert_ts(b: &[u8], what: &str) {
    assert!(
        !b.is_empty() && b.len().is_multiple_of(188),
        "{what}: {} bytes is not whole TS packets",
        b.len()
    );
    assert!(
        b.chunks(188).all(|p| p[0] == 0x47),
        "{what}: sync byte missing"
    );
}

/// Top-level ISO-BMFF boxes of a fragment: sizes add up, moof and mdat present.
fn assert_fmp4_fragment(b: &[u8], what: &str) {
    let mut pos = 0;
    let mut kinds = Vec::new();
    while pos < b.len() {
        assert!(pos + 8 <= b.len(), "{what}: truncated box header");
        let size = u32::from_be_bytes(b[pos..pos + 4].try_into().unwrap()) as usize;
        let kind = String::from_utf8_lossy(&b[pos + 4..pos + 8]).to_string();
        assert!(
            size >= 8 && pos + size <= b.len(),
            "{what}: box {kind} of size {size} at {pos} overruns"
        );
        kinds.push(kind);
        pos += size;
    }
    assert!(
        kinds.contains(&"moof".to_string()) && kinds.contains(&"mdat".to_string()),
        "{what}: boxes {kinds:?}"
    );
}

struct Run {
    dir: tempfile::TempDir,
    master: PathBuf,
}

fn package(fmp4: bool, rotate: u32) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("out").join("enc.m3u8");
    let keys = dir.path().join("out").join("keys").join("enc.key");
    ffstream::input(clip8().to_str().unwrap())
        .unwrap()
        .hls(Format::h264().option("preset", "ultrafast"))
        .auto_generate_representations(Some(&[144, 120]), None, true)
        .hls_time(1.0)
        .fragmented_mp4(fmp4)
        .encryption(Encryption::new(&keys, "keys/enc.key").rotate_every(rotate))
        .output(&master)
        .unwrap();
    Run { dir, master }
}

/// Checks every segment of every rendition; returns the key URI of each
/// segment, per rendition.
fn check_all(run: &Run, fmp4: bool) -> Vec<Vec<String>> {
    let out = run.master.parent().unwrap();
    let master = hls::parse_master(&std::fs::read_to_string(&run.master).unwrap()).unwrap();
    assert_eq!(master.variants.len(), 3);
    let mut uris = Vec::new();
    for v in &master.variants {
        let p = out.join(&v.uri);
        let media = hls::parse_media(&std::fs::read_to_string(&p).unwrap()).unwrap();
        let problems = hls::check_media_rfc8216(&media, true);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(media.segments.len(), 8, "{}", v.uri);
        let mut per = Vec::new();
        for s in &media.segments {
            let key = s
                .key
                .as_ref()
                .unwrap_or_else(|| panic!("{} is not encrypted", s.uri));
            assert_eq!(key.method, "AES-128");
            let uri = key.uri.clone();
            let iv = key.iv.expect("explicit IV");
            let key_bytes: [u8; 16] = std::fs::read(out.join(&uri))
                .unwrap()
                .try_into()
                .expect("16-byte key");
            let clear = decrypt(&std::fs::read(out.join(&s.uri)).unwrap(), &key_bytes, &iv);
            if fmp4 {
                assert_fmp4_fragment(&clear, &s.uri);
            } else {
                assert_ts(&clear, &s.uri);
            }
            per.push(uri);
        }
        if fmp4 {
            // The init section stays in the clear (the key tag follows EXT-X-MAP).
            let init = std::fs::read(out.join(&media.map.as_ref().unwrap().uri)).unwrap();
            assert_eq!(&init[4..8], b"ftyp");
        }
        assert!(
            oracle::count_video_frames(&p).abs_diff(240) <= 1,
            "{}: frames",
            v.uri
        );
        uris.push(per);
    }
    uris
}

fn key_changes(uris: &[String]) -> Vec<usize> {
    (0..uris.len())
        .filter(|&i| i == 0 || uris[i] != uris[i - 1])
        .collect()
}

#[test]
fn rotation_periods_give_exact_key_counts_in_ts_and_fmp4() {
    for fmp4 in [false, true] {
        for (rotate, changes) in [(0u32, vec![0]), (1, (0..8).collect()), (3, vec![0, 3, 6])] {
            let run = package(fmp4, rotate);
            let uris = check_all(&run, fmp4);
            for r in &uris {
                assert_eq!(
                    key_changes(r),
                    changes,
                    "fmp4={fmp4} rotate={rotate}: {r:?}"
                );
                assert_eq!(
                    r, &uris[0],
                    "segment k of every rendition uses the same key"
                );
            }
            let distinct: BTreeSet<&String> = uris.iter().flatten().collect();
            assert_eq!(distinct.len(), changes.len());
            // Key files: one per key, mode 0600, nothing else left beside them.
            let kdir = run.master.parent().unwrap().join("keys");
            let files: Vec<_> = std::fs::read_dir(&kdir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            assert_eq!(files.len(), changes.len(), "{files:?}");
            for f in &files {
                use std::os::unix::fs::PermissionsExt;
                assert_eq!(
                    std::fs::metadata(f).unwrap().permissions().mode() & 0o777,
                    0o600
                );
            }
            if rotate == 0 {
                assert_eq!(uris[0][0], "keys/enc.key");
            } else {
                assert!(uris[0][1].starts_with("keys/enc.key-"));
            }
            drop(run.dir);
        }
    }
}

#[test]
fn encrypted_streams_play_in_hls_js() {
    for (fmp4, rotate) in [(false, 1), (true, 3)] {
        let run = package(fmp4, rotate);
        let pb =
            browser::assert_plays(run.master.parent().unwrap(), "enc.m3u8", Player::HlsJs, 4.0);
        assert!(
            pb.requests.iter().any(|r| r.contains("keys/enc.key")),
            "no key fetched: {:?}",
            pb.requests
        );
    }
}

#[test]
fn bad_encryption_settings_are_refused_before_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o").join("x.m3u8");
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let m = ffstream::input(clip8().to_str().unwrap()).unwrap();
    let e = m
        .hls(Format::h264())
        .encryption(Encryption::new(file.join("keys").join("k.key"), "k.key"))
        .output(&out)
        .unwrap_err();
    assert!(
        matches!(&e, Error::Io { path, .. } if path.starts_with(&file)),
        "{e}"
    );
    let e = m
        .hls(Format::h264())
        .encryption(Encryption::new(dir.path().join("k.key"), " "))
        .output(&out)
        .unwrap_err();
    assert!(
        matches!(&e, Error::Config(t) if t.contains("URL is empty")),
        "{e}"
    );
    let e = m
        .dash(Format::h264())
        .encryption(Encryption::new(dir.path().join("k.key"), "k.key"))
        .output(out.with_extension("mpd"))
        .unwrap_err();
    assert!(matches!(&e, Error::Config(t) if t.contains("DASH")), "{e}");
    assert!(!out.parent().unwrap().exists(), "nothing may be encoded");
}

#[test]
fn key_bytes_never_reach_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.m3u8");
    let r = std::process::Command::new(env!("CARGO_BIN_EXE_ffstream"))
        .args([
            "hls",
            clip8().to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--auto",
            "120",
            "--hls-time",
            "2",
            "-x",
            "preset=ultrafast",
            "--key-path",
            dir.path().join("k.key").to_str().unwrap(),
            "--key-url",
            "k.key",
            "--rotate-every",
            "1",
            "-vvv",
        ])
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let logs = [r.stdout, r.stderr].concat();
    let logs = String::from_utf8_lossy(&logs).to_lowercase();
    assert!(logs.len() > 1000, "expected verbose logs");
    let keys: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("k.key")
        })
        .collect();
    assert_eq!(keys.len(), 4);
    for k in keys {
        let hex: String = std::fs::read(&k)
            .unwrap()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(
            !logs.contains(&hex),
            "key {} appears in the logs",
            k.display()
        );
    }
    // No temporary key material is left behind.
    let stray: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp") || n.contains("keyinfo"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}

#[test]
fn segment_files_decrypt_to_the_source_frames_through_ffmpeg() {
    // ffmpeg's own HLS demuxer (crypto protocol) decodes the whole stream.
    let run = package(false, 3);
    let p = run.master.parent().unwrap().join("enc_144p.m3u8");
    oracle::decodes_cleanly(&p).expect("ffmpeg decodes the encrypted stream without errors");
}

#[test]
fn keys_leaving_every_playlist_window_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("w.m3u8");
    let keys = dir.path().join("keys").join("k.key");
    ffstream::input(clip8().to_str().unwrap())
        .unwrap()
        .hls(Format::h264().option("preset", "ultrafast"))
        .auto_generate_representations(Some(&[120]), None, true)
        .hls_time(1.0)
        .hls_list_size(2)
        .hls_playlist_type(None)
        .flags(["delete_segments"])
        .encryption(Encryption::new(&keys, "keys/k.key").rotate_every(1))
        .output(&master)
        .unwrap();
    // Every key a playlist names is still there; none other is.
    let mut named = BTreeSet::new();
    for v in ["w_180p.m3u8", "w_120p.m3u8"] {
        let media =
            hls::parse_media(&std::fs::read_to_string(dir.path().join(v)).unwrap()).unwrap();
        assert_eq!(media.segments.len(), 2);
        for s in &media.segments {
            let k = s.key.as_ref().unwrap();
            assert!(
                dir.path().join(&k.uri).exists(),
                "{} is named but gone",
                k.uri
            );
            named.insert(k.uri.clone());
        }
    }
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir.path().join("keys"))
        .unwrap()
        .map(|e| format!("keys/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    assert_eq!(
        on_disk, named,
        "8 keys were made; only those still referred to remain"
    );
}
