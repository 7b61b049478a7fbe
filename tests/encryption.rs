//! HLS AES-128 encryption: every segment is decrypted here, with the key and
//! IV its playlist names, independently of the code that encrypted it.

mod common;

use aes::cipher::{BlockDecryptMut, KeyIvInit};
use common::browser::{self, Player};
use common::{fixtures, hls, oracle};
use ffstream::encryption::Encryption;
use ffstream::{Error, Format};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
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
            // Each key has its own IV, the same in every rendition.
            let ivs = ivs_by_key(&run.master);
            assert_eq!(ivs.len(), changes.len(), "{ivs:x?}");
            let key_bytes: Vec<[u8; 16]> = files
                .iter()
                .map(|f| std::fs::read(f).unwrap().try_into().unwrap())
                .collect();
            assert_ivs_differ(&ivs, &key_bytes);
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

/// Every way the 16 key bytes could be written into text, and whether
/// `out` holds any of them: hex in either case (with or without
/// separators), base64 (standard and URL-safe, padded or not), Rust's
/// `Debug` of the array (`[12, 250, ..]`, `[0xc, 0xfa, ..]`, `{:x?}`,
/// pretty-printed or not), and the raw bytes.
fn key_leaks_in(out: &[u8], key: &[u8; 16]) -> Vec<String> {
    use base64::Engine as _;
    let mut found = Vec::new();
    if out.windows(16).any(|w| w == key) {
        found.push("raw bytes".to_string());
    }
    let text = String::from_utf8_lossy(out);
    let lower = text.to_lowercase();
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    if lower.contains(&hex) {
        found.push(format!("hex {hex} (any case)"));
    }
    let engines = [
        ("base64", base64::engine::general_purpose::STANDARD),
        (
            "base64 unpadded",
            base64::engine::general_purpose::STANDARD_NO_PAD,
        ),
        ("base64url", base64::engine::general_purpose::URL_SAFE),
        (
            "base64url unpadded",
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ),
    ];
    for (name, engine) in engines {
        let b = engine.encode(key);
        if text.contains(&b) {
            found.push(format!("{name} {b}"));
        }
    }
    // Runs of 16 numbers between any separators: decimal or 0x-hex, then
    // bare hex (`{:x?}`, `0c:fa:..`, `0c fa ..`).
    let tokens: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
        .collect();
    let as_num = |t: &str| -> Option<u8> {
        match t.strip_prefix("0x") {
            Some(h) => u8::from_str_radix(h, 16).ok(),
            None => t.parse().ok(),
        }
    };
    let as_hex = |t: &str| u8::from_str_radix(t.strip_prefix("0x").unwrap_or(t), 16).ok();
    for (name, parse) in [
        (
            "decimal/0x number list",
            &as_num as &dyn Fn(&str) -> Option<u8>,
        ),
        ("hex number list", &as_hex),
    ] {
        let nums: Vec<Option<u8>> = tokens.iter().map(|t| parse(t)).collect();
        if nums
            .windows(16)
            .any(|w| w.iter().zip(key).all(|(a, b)| *a == Some(*b)))
        {
            found.push(name.to_string());
        }
    }
    found
}

/// The key files of `dir` whose names start with `stem`, with their bytes.
fn key_files(dir: &Path, stem: &str) -> Vec<(PathBuf, [u8; 16])> {
    let mut v: Vec<(PathBuf, [u8; 16])> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(stem))
        .map(|p| {
            let b = std::fs::read(&p).unwrap().try_into().expect("16-byte key");
            (p, b)
        })
        .collect();
    v.sort();
    v
}

fn assert_no_key_in(out: &[u8], keys: &[(PathBuf, [u8; 16])], what: &str) {
    for (p, k) in keys {
        let leaks = key_leaks_in(out, k);
        assert!(
            leaks.is_empty(),
            "key {} appears in {what} as {leaks:?}",
            p.display()
        );
    }
}

/// The leak detector finds each form it claims to (so a clean verdict means
/// something), and nothing in text without the key.
#[test]
fn key_leak_detector_finds_every_form() {
    use base64::Engine as _;
    let key: [u8; 16] = [12, 250, 0, 255, 62, 63, 191, 128, 1, 2, 3, 4, 5, 6, 7, 8];
    let hex: String = key.iter().map(|b| format!("{b:02X}")).collect();
    let spaced: Vec<String> = key.iter().map(|b| format!("{b:02x}")).collect();
    let forms = [
        format!("k={hex}"),
        format!("k={}", hex.to_lowercase()),
        format!("k={}", spaced.join(":")),
        format!("k={:?}", key),
        format!("k={:#?}", key),
        format!("k={:x?}", key),
        format!("k={:#x?}", key),
        format!("k={:02X?}", key),
        format!(
            "k={}",
            base64::engine::general_purpose::STANDARD.encode(key)
        ),
        format!(
            "k={}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(key)
        ),
        format!(
            "k={}",
            base64::engine::general_purpose::URL_SAFE.encode(key)
        ),
        format!(
            "k={}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key)
        ),
    ];
    for f in &forms {
        assert!(!key_leaks_in(f.as_bytes(), &key).is_empty(), "missed {f}");
    }
    let mut raw = b"log line ".to_vec();
    raw.extend_from_slice(&key);
    assert!(!key_leaks_in(&raw, &key).is_empty(), "missed raw bytes");
    let mut other = key;
    other[15] ^= 1;
    for f in &forms {
        assert!(key_leaks_in(f.as_bytes(), &other).is_empty(), "{f}");
    }
}

/// Each key's IV, read from the EXT-X-KEY tags of every media playlist of
/// `master` (the strict RFC 8216 parser of tests/common/hls.rs, not
/// ffstream's code): one IV per key URI whichever playlist names it.
fn ivs_by_key(master: &Path) -> std::collections::BTreeMap<String, [u8; 16]> {
    let dir = master.parent().unwrap();
    let m = hls::parse_master(&std::fs::read_to_string(master).unwrap()).unwrap();
    let mut ivs = std::collections::BTreeMap::new();
    for v in &m.variants {
        let media = hls::parse_media(&std::fs::read_to_string(dir.join(&v.uri)).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", v.uri));
        for s in &media.segments {
            let k = s.key.as_ref().expect("encrypted segment");
            let iv = k.iv.expect("explicit IV");
            let prev = ivs.insert(k.uri.clone(), iv);
            assert!(
                prev.is_none_or(|p| p == iv),
                "{}: key {} with two IVs",
                v.uri,
                k.uri
            );
        }
    }
    ivs
}

/// Distinct keys have distinct, non-zero IVs, none equal to a key.
fn assert_ivs_differ(ivs: &std::collections::BTreeMap<String, [u8; 16]>, keys: &[[u8; 16]]) {
    let distinct: BTreeSet<&[u8; 16]> = ivs.values().collect();
    assert_eq!(
        distinct.len(),
        ivs.len(),
        "IVs repeat across keys: {ivs:x?}"
    );
    for iv in ivs.values() {
        assert_ne!(iv, &[0u8; 16], "zero IV");
        assert!(!keys.contains(iv), "an IV equals a key");
    }
}

fn cli_hls(dir: &Path, extra: &[&str]) -> std::process::Output {
    let out = dir.join("x.m3u8");
    std::process::Command::new(env!("CARGO_BIN_EXE_ffstream"))
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
            dir.join("k.key").to_str().unwrap(),
            "--key-url",
            "k.key",
            "--rotate-every",
            "1",
        ])
        .args(extra)
        .env("RUST_LOG", "trace")
        .output()
        .unwrap()
}

#[test]
fn key_bytes_never_reach_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let r = cli_hls(dir.path(), &["-vv"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let logs = [r.stdout, r.stderr].concat();
    assert!(logs.len() > 1000, "expected verbose logs");
    // ffmpeg's own trace lines are there too (they see the segment bytes).
    assert!(
        String::from_utf8_lossy(&logs).contains("ffmpeg"),
        "no ffmpeg log lines"
    );
    let keys = key_files(dir.path(), "k.key");
    assert_eq!(keys.len(), 4);
    assert_no_key_in(&logs, &keys, "the CLI's trace logs");
    let ivs = ivs_by_key(&dir.path().join("x.m3u8"));
    assert_eq!(ivs.len(), 4, "{ivs:x?}");
    assert_ivs_differ(&ivs, &keys.iter().map(|k| k.1).collect::<Vec<_>>());
    // No temporary key material is left behind.
    let stray: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp") || n.contains("keyinfo"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}

/// A run that fails after keys were made (a directory stands where the
/// third segment goes): the error, as the CLI prints it and as the library
/// returns it (`Display` and `Debug`), carries no key.
#[test]
fn key_bytes_never_reach_error_messages() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("x_120p_0002.ts")).unwrap();
    let r = cli_hls(dir.path(), &[]);
    let err = String::from_utf8_lossy(&r.stderr).into_owned();
    assert_eq!(r.status.code(), Some(4), "an output failure: {err}");
    assert!(err.contains("x_120p_0002.ts"), "{err}");
    let keys = key_files(dir.path(), "k.key");
    assert!(keys.len() >= 2, "{keys:?}");
    assert_no_key_in(&[r.stdout, r.stderr].concat(), &keys, "the CLI's error");

    let lib = tempfile::tempdir().unwrap();
    std::fs::create_dir(lib.path().join("x_120p_0002.ts")).unwrap();
    let e = ffstream::input(clip8().to_str().unwrap())
        .unwrap()
        .hls(Format::h264().option("preset", "ultrafast"))
        .auto_generate_representations(Some(&[120]), None, true)
        .hls_time(2.0)
        .encryption(Encryption::new(lib.path().join("k.key"), "k.key").rotate_every(1))
        .output(lib.path().join("x.m3u8"))
        .unwrap_err();
    let text = format!("{e}\n{e:?}\n{e:#?}");
    assert!(text.contains("x_120p_0002.ts"), "{text}");
    let keys = key_files(lib.path(), "k.key");
    assert!(keys.len() >= 2, "{keys:?}");
    assert_no_key_in(text.as_bytes(), &keys, "the library's error");
}

/// Collects every log record of this test process (the library's and,
/// through its log callback, FFmpeg's), at trace level.
struct Capture;

static CAPTURED: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, r: &log::Record) {
        let line = format!("{} {} {}\n", r.level(), r.target(), r.args());
        let mut c = CAPTURED.lock().unwrap_or_else(|p| p.into_inner());
        c.extend_from_slice(line.as_bytes());
    }
    fn flush(&self) {}
}

/// Through the library: its logs, every progress event the monitor sees
/// (`Debug`, plain and pretty) and the final report carry no key.
#[test]
fn key_bytes_never_reach_library_logs_or_progress() {
    static LOGGER: Capture = Capture;
    log::set_logger(&LOGGER).expect("the only logger of this test binary");
    log::set_max_level(log::LevelFilter::Trace);
    let dir = tempfile::tempdir().unwrap();
    let mut events = Vec::new();
    let report = ffstream::input(clip8().to_str().unwrap())
        .unwrap()
        .hls(Format::h264().option("preset", "ultrafast"))
        .auto_generate_representations(Some(&[144, 120]), None, true)
        .hls_time(1.0)
        .encryption(Encryption::new(dir.path().join("k.key"), "k.key").rotate_every(1))
        .monitor(|p| {
            events.extend(format!("{p:?}\n{p:#?}\n").into_bytes());
            ffstream::Control::Continue
        })
        .output(dir.path().join("x.m3u8"))
        .unwrap();
    assert!(!events.is_empty(), "no progress events");
    let keys = key_files(dir.path(), "k.key");
    assert_eq!(keys.len(), 8);
    assert_no_key_in(&events, &keys, "progress events");
    assert_no_key_in(format!("{report:?}").as_bytes(), &keys, "the report");
    let logs = CAPTURED.lock().unwrap().clone();
    assert!(
        String::from_utf8_lossy(&logs).contains("TRACE ffmpeg"),
        "FFmpeg's trace lines reach the logger"
    );
    assert_no_key_in(&logs, &keys, "the library's trace logs");
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
