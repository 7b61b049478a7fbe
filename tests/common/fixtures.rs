//! Test media made with the `ffmpeg` command-line tool (tests only; the
//! library itself never runs it).
//!
//! Clips are cached under Cargo's per-target temporary directory with names
//! that encode what they contain, so repeated `cargo test` runs reuse them.
//! Each one is written under a temporary name and renamed into place, so test
//! threads (or test binaries) racing to make the same clip never see a
//! half-written file. Clips are short (about 2 s) to keep the suite fast.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Bump when a recipe changes, so stale cached clips are not reused.
const RECIPE_VERSION: u32 = 1;

/// The kinds of test clip available.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// 2 s, 640x360, 30 fps H.264 plus stereo 48 kHz AAC, in MP4.
    H264Aac,
    /// 2 s of stereo 48 kHz AAC in an M4A.
    AudioOnly,
    /// 2 s, 640x360, 30 fps H.264 in MP4, no audio.
    VideoOnly,
    /// 853x479 H.264 (4:4:4, since 4:2:0 needs even sizes) plus AAC, in MP4.
    OddSize,
    /// H.264 High 4:2:2 10-bit (yuv422p10le) plus Opus, in Matroska.
    TenBit422Opus,
    /// 640x360 H.264 plus AAC remuxed with a `rotate=90` tag (a display matrix).
    Rotated90,
    /// 720x576 with a 16:15 sample aspect ratio (PAL 4:3), plus AAC.
    NonSquarePixels,
    /// Variable frame rate: 30 fps for 1 s, then 10 fps, plus AAC.
    Vfr,
    /// H.264 plus 6-channel (5.1) AAC.
    Surround51,
    /// H.264 plus two stereo AAC tracks tagged `eng` and `fre`.
    TwoAudioTracks,
    /// 1920x1080, 30 fps H.264 plus AAC of the given length in seconds.
    Long1080p(u32),
    /// A 640x360 H.264 + AAC MP4 without faststart, cut before its moov index.
    TruncatedMp4,
}

impl Kind {
    /// Every short kind (everything but [`Kind::Long1080p`] and the
    /// deliberately broken [`Kind::TruncatedMp4`]).
    pub const ALL_VALID: &'static [Kind] = &[
        Kind::H264Aac,
        Kind::AudioOnly,
        Kind::VideoOnly,
        Kind::OddSize,
        Kind::TenBit422Opus,
        Kind::Rotated90,
        Kind::NonSquarePixels,
        Kind::Vfr,
        Kind::Surround51,
        Kind::TwoAudioTracks,
    ];

    fn file_name(self) -> String {
        let stem = match self {
            Kind::H264Aac => "h264-aac-640x360-30fps-2s".to_string(),
            Kind::AudioOnly => "aac-stereo-48k-2s".to_string(),
            Kind::VideoOnly => "h264-640x360-30fps-2s".to_string(),
            Kind::OddSize => "h264-444-853x479-aac-2s".to_string(),
            Kind::TenBit422Opus => "h264-high422-10bit-opus-2s".to_string(),
            Kind::Rotated90 => "h264-aac-640x360-rotate90-2s".to_string(),
            Kind::NonSquarePixels => "h264-aac-720x576-sar16x15-2s".to_string(),
            Kind::Vfr => "h264-aac-vfr-30-10fps-3s".to_string(),
            Kind::Surround51 => "h264-aac51-2s".to_string(),
            Kind::TwoAudioTracks => "h264-2xaac-eng-fre-2s".to_string(),
            Kind::Long1080p(s) => format!("h264-aac-1920x1080-30fps-{s}s"),
            Kind::TruncatedMp4 => "h264-aac-truncated-before-moov".to_string(),
        };
        let ext = match self {
            Kind::AudioOnly => "m4a",
            Kind::TenBit422Opus => "mkv",
            _ => "mp4",
        };
        format!("v{RECIPE_VERSION}-{stem}.{ext}")
    }
}

/// The directory holding cached fixtures (created on first use).
pub fn dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ffstream-fixtures");
    std::fs::create_dir_all(&d).expect("create fixture directory");
    d
}

/// Serialises generation within one test process: with 2 cores, making clips
/// one at a time is as fast as racing and avoids duplicate work.
static GENERATE: Mutex<()> = Mutex::new(());

/// The path of a clip of the given kind, made on first use.
pub fn clip(kind: Kind) -> PathBuf {
    let path = dir().join(kind.file_name());
    if path.is_file() {
        return path;
    }
    let _guard = GENERATE.lock().unwrap_or_else(|e| e.into_inner());
    if path.is_file() {
        return path;
    }
    let tmp = temp_sibling(&path);
    let result = make(kind, &tmp);
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        panic!("making fixture {kind:?}: {e}");
    }
    std::fs::rename(&tmp, &path).expect("rename fixture into place");
    path
}

/// A unique temporary name next to `path` (unique across the threads and
/// processes making the same fixture at once), keeping its extension so
/// `ffmpeg` picks the same container.
pub fn temp_sibling(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path.file_name().unwrap().to_string_lossy();
    path.with_file_name(format!(".tmp-{}-{n}-{name}", std::process::id()))
}

/// Runs `ffmpeg` with the given arguments (after `-y -v error`), returning
/// its stderr on failure.
pub fn ffmpeg(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-y", "-v", "error"])
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ffmpeg: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ffmpeg {:?} failed: {}",
            args,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn video_src(size: &str, secs: u32) -> String {
    format!("testsrc2=size={size}:rate=30:duration={secs}")
}

fn tone(freq: u32, secs: u32) -> String {
    format!("sine=frequency={freq}:sample_rate=48000:duration={secs}")
}

fn make(kind: Kind, out: &Path) -> Result<(), String> {
    let o = out.to_str().expect("UTF-8 fixture path");
    let x264 = ["-c:v", "libx264", "-preset", "ultrafast"];
    let aac = ["-c:a", "aac", "-ac", "2", "-b:a", "128k"];
    let av = |size: &str, secs: u32, vf: &[&str], extra: &[&str]| -> Result<(), String> {
        let v = video_src(size, secs);
        let a = tone(440, secs);
        let mut args: Vec<&str> = vec!["-f", "lavfi", "-i", &v, "-f", "lavfi", "-i", &a];
        args.extend(vf);
        args.extend(x264);
        args.extend(extra);
        args.extend(aac);
        args.push(o);
        ffmpeg(&args)
    };
    match kind {
        Kind::H264Aac => av("640x360", 2, &[], &["-pix_fmt", "yuv420p"]),
        Kind::AudioOnly => {
            let a = tone(440, 2);
            ffmpeg(&[
                "-f", "lavfi", "-i", &a, "-c:a", "aac", "-ac", "2", "-b:a", "128k", o,
            ])
        }
        Kind::VideoOnly => {
            let v = video_src("640x360", 2);
            let mut args = vec!["-f", "lavfi", "-i", &v];
            args.extend(x264);
            args.extend(["-pix_fmt", "yuv420p", o]);
            ffmpeg(&args)
        }
        // testsrc2 rounds odd sizes down, so scale to the odd size instead.
        Kind::OddSize => av(
            "854x480",
            2,
            &["-vf", "scale=853:479,setsar=1"],
            &["-pix_fmt", "yuv444p"],
        ),
        Kind::TenBit422Opus => {
            let v = video_src("640x360", 2);
            let a = tone(440, 2);
            let mut args = vec!["-f", "lavfi", "-i", &v, "-f", "lavfi", "-i", &a];
            args.extend(x264);
            args.extend([
                "-profile:v",
                "high422",
                "-pix_fmt",
                "yuv422p10le",
                "-c:a",
                "libopus",
                "-ac",
                "2",
                "-b:a",
                "96k",
                o,
            ]);
            ffmpeg(&args)
        }
        Kind::Rotated90 => {
            // FFmpeg 5.1 has no -display_rotation; its MP4 muxer turns a
            // `rotate` stream tag into the track's display matrix.
            let plain = clip(Kind::H264Aac);
            let p = plain.to_str().unwrap();
            ffmpeg(&[
                "-i",
                p,
                "-map",
                "0",
                "-c",
                "copy",
                "-metadata:s:v:0",
                "rotate=90",
                o,
            ])
        }
        Kind::NonSquarePixels => av(
            "720x576",
            2,
            &["-vf", "setsar=16/15"],
            &["-pix_fmt", "yuv420p"],
        ),
        Kind::Vfr => {
            // All frames for the first second, then every third one.
            av(
                "640x360",
                3,
                &[
                    "-vf",
                    "select='lt(n\\,30)+not(mod(n\\,3))'",
                    "-fps_mode",
                    "vfr",
                ],
                &["-pix_fmt", "yuv420p"],
            )
        }
        Kind::Surround51 => {
            let v = video_src("640x360", 2);
            let a = format!("{},aformat=channel_layouts=5.1", tone(440, 2));
            let mut args = vec!["-f", "lavfi", "-i", &v, "-f", "lavfi", "-i", &a];
            args.extend(x264);
            args.extend(["-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "384k", o]);
            ffmpeg(&args)
        }
        Kind::TwoAudioTracks => {
            let v = video_src("640x360", 2);
            let a1 = tone(440, 2);
            let a2 = tone(660, 2);
            let mut args = vec![
                "-f", "lavfi", "-i", &v, "-f", "lavfi", "-i", &a1, "-f", "lavfi", "-i", &a2,
                "-map", "0:v", "-map", "1:a", "-map", "2:a",
            ];
            args.extend(x264);
            args.extend(aac);
            args.extend([
                "-pix_fmt",
                "yuv420p",
                "-metadata:s:a:0",
                "language=eng",
                "-metadata:s:a:1",
                "language=fre",
                o,
            ]);
            ffmpeg(&args)
        }
        Kind::Long1080p(secs) => av("1920x1080", secs, &[], &["-pix_fmt", "yuv420p"]),
        Kind::TruncatedMp4 => {
            // Without +faststart the moov index is written last, so keeping
            // the first half leaves the media data but no index.
            let full = clip(Kind::H264Aac);
            let bytes = std::fs::read(&full).map_err(|e| e.to_string())?;
            let moov = find_top_level_box(&bytes, b"moov").ok_or("fixture has no moov")?;
            let mdat = find_top_level_box(&bytes, b"mdat").ok_or("fixture has no mdat")?;
            if moov < mdat {
                return Err("expected moov after mdat (no faststart)".into());
            }
            std::fs::write(out, &bytes[..mdat + (moov - mdat) / 2]).map_err(|e| e.to_string())
        }
    }
}

/// Offset of the first top-level ISO-BMFF box of the given type.
fn find_top_level_box(bytes: &[u8], kind: &[u8; 4]) -> Option<usize> {
    let mut pos = 0usize;
    while pos + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as u64;
        let size = match size {
            1 if pos + 16 <= bytes.len() => {
                u64::from_be_bytes(bytes[pos + 8..pos + 16].try_into().unwrap())
            }
            0 => (bytes.len() - pos) as u64,
            s => s,
        };
        if &bytes[pos + 4..pos + 8] == kind {
            return Some(pos);
        }
        if size < 8 {
            return None;
        }
        pos = pos.checked_add(size as usize)?;
    }
    None
}

/// A path that does not exist.
pub fn missing_path() -> PathBuf {
    dir().join("does-not-exist").join("nothing-here.mp4")
}

/// An empty file named like a video.
pub fn zero_byte_file() -> PathBuf {
    let p = dir().join("zero-byte.mp4");
    write_atomically(&p, b"");
    p
}

/// A text file named like a video.
pub fn text_named_mp4() -> PathBuf {
    let p = dir().join("text-not-video.mp4");
    write_atomically(&p, b"This is a text file, not a video.\n");
    p
}

/// A directory (named like a video, to be sure the name is no excuse).
pub fn directory() -> PathBuf {
    let p = dir().join("a-directory.mp4");
    std::fs::create_dir_all(&p).expect("create directory fixture");
    p
}

/// An HTTP URL on a local port that refuses connections.
///
/// The port was free when checked; another process could take it in the
/// meantime, but on a test machine that is vanishingly unlikely.
pub fn closed_port_url() -> String {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        l.local_addr().unwrap().port()
    };
    format!("http://127.0.0.1:{port}/x.mp4")
}

fn write_atomically(path: &Path, bytes: &[u8]) {
    if std::fs::read(path).is_ok_and(|b| b == bytes) {
        return;
    }
    let tmp = temp_sibling(path);
    std::fs::write(&tmp, bytes).expect("write fixture");
    std::fs::rename(&tmp, path).expect("rename fixture into place");
}
