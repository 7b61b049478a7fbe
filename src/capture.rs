//! Live inputs: cameras, screens and microphones through libavdevice.

use crate::error::{Error, Result};

/// A capture device format and the sources it can list, from [`devices`].
///
/// ```no_run
/// for d in ffstream::capture::devices().iter().filter(|d| d.video) {
///     match &d.list_error {
///         None => println!("{} ({}): {:?}", d.format, d.description, d.sources),
///         Some(why) => println!("{}: cannot list: {why}", d.format),
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceFormat {
    /// libavdevice's name, such as `v4l2`, `x11grab`, `alsa`, `avfoundation`.
    pub format: String,
    /// FFmpeg's description.
    pub description: String,
    /// Video (true) or audio device.
    pub video: bool,
    /// `(name, description)` of each source, as the OS names them.
    pub sources: Vec<(String, String)>,
    /// Why the sources could not be listed (many formats cannot list).
    pub list_error: Option<String>,
}

/// Every capture device format libavdevice offers, with what it can see.
///
/// ```no_run
/// let cameras: Vec<String> = ffstream::capture::devices()
///     .into_iter()
///     .filter(|d| d.format == "v4l2")
///     .flat_map(|d| d.sources.into_iter().map(|(name, _)| name))
///     .collect();
/// println!("cameras: {cameras:?}");
/// ```
pub fn devices() -> Vec<DeviceFormat> {
    crate::ffi::device::list_devices()
        .into_iter()
        .map(|d| {
            let (sources, list_error) = match d.sources {
                Ok(s) => (
                    s.into_iter().map(|s| (s.name, s.description)).collect(),
                    None,
                ),
                Err(e) => (Vec::new(), Some(e)),
            };
            DeviceFormat {
                format: d.name,
                description: d.description,
                video: d.video,
                sources,
                list_error,
            }
        })
        .collect()
}

/// A capture device to read live, as the seed's `input(name, capture=True)`.
///
/// Opened with [`Media::capture`](crate::Media::capture); runnable:
/// `examples/live_capture.rs`.
///
/// ```
/// use ffstream::capture::Capture;
/// let cam = Capture::device("/dev/video0")
///     .format("v4l2")
///     .option("video_size", "1280x720")
///     .option("framerate", "30")
///     .audio("default")
///     .audio_format("pulse");
/// assert_eq!(cam.format_name(), "v4l2");
/// assert_eq!(cam.audio_format_name(), "pulse");
/// assert_eq!(cam.options.len(), 2);
/// let screen = Capture::screen(":0.0");
/// assert!(screen.screen && screen.audio_device.is_none());
/// ```
///
/// ```no_run
/// use ffstream::{capture::Capture, Format, Media};
/// let media = Media::capture(Capture::device("/dev/video0"))?;
/// let job = media.hls(Format::h264()).duration(std::time::Duration::from_secs(60));
/// job.output("live/cam.m3u8")?;
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capture {
    /// The device as the OS names it: `/dev/video0`, `:0.0` (X11 screen),
    /// `0` (avfoundation), `video=Camera` (dshow).
    pub device: String,
    /// The libavdevice format; `None` picks the platform's default.
    pub format: Option<String>,
    /// Capture the screen rather than a camera (picks the screen grabber).
    pub screen: bool,
    /// Device options, such as `framerate=30`, `video_size=1280x720`.
    pub options: Vec<(String, String)>,
    /// A microphone (or any audio source) captured alongside, as the OS
    /// names it: a PulseAudio source such as `alsa_input.pci-0000_00_1f.3.analog-stereo`
    /// or `default`, an ALSA device such as `hw:0`, `:0` (avfoundation),
    /// `audio=Microphone` (dshow).
    pub audio_device: Option<String>,
    /// The libavdevice format of the audio device; `None` picks the
    /// platform's default (PulseAudio on Linux when FFmpeg has it, else ALSA).
    pub audio_format: Option<String>,
}

impl Capture {
    /// A camera (or any device) by its OS name.
    /// Example: [`Capture`].
    pub fn device(device: impl Into<String>) -> Capture {
        Capture {
            device: device.into(),
            format: None,
            screen: false,
            options: Vec::new(),
            audio_device: None,
            audio_format: None,
        }
    }
    /// The screen (X11 display such as `:0.0` on Linux).
    /// Example: [`Capture`].
    pub fn screen(display: impl Into<String>) -> Capture {
        Capture {
            screen: true,
            ..Capture::device(display)
        }
    }
    /// Uses this libavdevice format.
    /// Example: [`Capture`].
    pub fn format(mut self, f: impl Into<String>) -> Capture {
        self.format = Some(f.into());
        self
    }
    /// Also captures audio from this device (see [`audio_device`](Self::audio_device)).
    /// Example: [`Capture`].
    pub fn audio(mut self, device: impl Into<String>) -> Capture {
        self.audio_device = Some(device.into());
        self
    }
    /// Uses this libavdevice format for the audio device.
    /// Example: [`Capture`].
    pub fn audio_format(mut self, f: impl Into<String>) -> Capture {
        self.audio_format = Some(f.into());
        self
    }
    /// The audio device's format: the given one, or the platform's default.
    /// Example: [`Capture`].
    pub fn audio_format_name(&self) -> &str {
        if let Some(f) = &self.audio_format {
            return f;
        }
        match std::env::consts::OS {
            "macos" => "avfoundation",
            "windows" => "dshow",
            _ if crate::ffi::device::find_input_format("pulse").is_some() => "pulse",
            _ => "alsa",
        }
    }
    /// Adds a device option.
    /// Example: [`Capture`].
    pub fn option(mut self, k: impl Into<String>, v: impl Into<String>) -> Capture {
        self.options.push((k.into(), v.into()));
        self
    }

    /// The format used: the given one, or the platform's default.
    /// Example: [`Capture`].
    pub fn format_name(&self) -> &str {
        if let Some(f) = &self.format {
            return f;
        }
        match (std::env::consts::OS, self.screen) {
            ("linux", true) => "x11grab",
            ("linux", false) => "v4l2",
            ("macos", _) => "avfoundation",
            ("windows", true) => "gdigrab",
            ("windows", false) => "dshow",
            (_, true) => "x11grab",
            (_, false) => "v4l2",
        }
    }

    /// Opens the device; a device that cannot be opened gives an error that
    /// lists the sources this format can see.
    pub(crate) fn open(&self) -> Result<ffmpeg_next::format::context::Input> {
        open_device(&self.device, self.format_name(), &self.options)
    }

    /// Opens the audio device, if there is one.
    pub(crate) fn open_audio(&self) -> Result<Option<ffmpeg_next::format::context::Input>> {
        match &self.audio_device {
            Some(d) => open_device(d, self.audio_format_name(), &[]).map(Some),
            None => Ok(None),
        }
    }
}

fn open_device(
    device: &str,
    fmt_name: &str,
    options: &[(String, String)],
) -> Result<ffmpeg_next::format::context::Input> {
    {
        let fmt = crate::ffi::device::find_input_format(fmt_name).ok_or_else(|| {
            Error::Config(format!(
                "capture format {fmt_name} is not available in this FFmpeg build (see `ffstream devices`)"
            ))
        })?;
        let mut dict = ffmpeg_next::Dictionary::new();
        for (k, v) in options {
            dict.set(k, v);
        }
        match ffmpeg_next::format::open_with(device, &ffmpeg_next::Format::Input(fmt), dict) {
            Ok(ffmpeg_next::format::context::Context::Input(i)) => Ok(i),
            Ok(_) => Err(Error::Internal("device opened as an output".into())),
            Err(e) => {
                let reason = crate::ffi::log::explain(e);
                let seen: Vec<String> = devices()
                    .into_iter()
                    .filter(|d| d.format.split(',').any(|n| n == fmt_name))
                    .flat_map(|d| d.sources)
                    .map(|(n, d)| {
                        if d.is_empty() || d == n {
                            n
                        } else {
                            format!("{n} ({d})")
                        }
                    })
                    .collect();
                let avail = if seen.is_empty() {
                    format!("{fmt_name} lists no devices here")
                } else {
                    format!("available {fmt_name} devices: {}", seen.join(", "))
                };
                Err(Error::OpenInput {
                    input: format!("{device} ({fmt_name})"),
                    reason: format!("{reason}; {avail}"),
                    source: None,
                })
            }
        }
    }
}
