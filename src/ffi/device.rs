//! Capture devices through libavdevice: finding an input format by name and
//! listing what each device format can see.

use ffmpeg_next::{ffi, format};
use std::ffi::{CStr, CString};

/// One capture source a device format reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Source {
    pub name: String,
    pub description: String,
}

/// A device format (`v4l2`, `x11grab`, `alsa`, ...) and the sources it lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeviceFormat {
    pub name: String,
    pub description: String,
    pub video: bool,
    /// `Err` carries FFmpeg's text when the format cannot list (many can't).
    pub sources: Result<Vec<Source>, String>,
}

fn cstr(p: *const std::ffi::c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: FFmpeg strings are NUL-terminated and outlive this call.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// The input (demuxer or device) format called `name`.
pub(crate) fn find_input_format(name: &str) -> Option<format::Input> {
    crate::init();
    let c = CString::new(name).ok()?;
    // SAFETY: `c` is a valid C string; the returned AVInputFormat is a
    // static registered by libavformat/libavdevice (or null), which
    // `format::Input::wrap` only reads.
    unsafe {
        let p = ffi::av_find_input_format(c.as_ptr());
        if p.is_null() {
            None
        } else {
            Some(format::Input::wrap(p as *mut _))
        }
    }
}

fn list_sources(fmt: *const ffi::AVInputFormat) -> Result<Vec<Source>, String> {
    let mut list: *mut ffi::AVDeviceInfoList = std::ptr::null_mut();
    // SAFETY: `fmt` is a registered device format; FFmpeg allocates `list`
    // (or leaves it null) and we free it with the matching function after
    // copying every string out.
    unsafe {
        let n = ffi::avdevice_list_input_sources(
            fmt,
            std::ptr::null(),
            std::ptr::null_mut(),
            &mut list,
        );
        if n < 0 {
            if !list.is_null() {
                ffi::avdevice_free_list_devices(&mut list);
            }
            crate::ffi::log::take_last_error();
            return Err(crate::ffi::error_text(n));
        }
        let mut out = Vec::new();
        if !list.is_null() {
            for i in 0..(*list).nb_devices.max(0) as usize {
                let d = *(*list).devices.add(i);
                if d.is_null() {
                    continue;
                }
                out.push(Source {
                    name: cstr((*d).device_name),
                    description: cstr((*d).device_description),
                });
            }
            ffi::avdevice_free_list_devices(&mut list);
        }
        Ok(out)
    }
}

/// Every capture device format libavdevice has, video first.
pub(crate) fn list_devices() -> Vec<DeviceFormat> {
    crate::init();
    let mut out = Vec::new();
    for video in [true, false] {
        let mut cur: *const ffi::AVInputFormat = std::ptr::null();
        loop {
            // SAFETY: iterating libavdevice's static list: each call takes the
            // previous element (or null to start) and returns the next or null.
            cur = unsafe {
                if video {
                    ffi::av_input_video_device_next(cur as *mut _) as *const _
                } else {
                    ffi::av_input_audio_device_next(cur as *mut _) as *const _
                }
            };
            if cur.is_null() {
                break;
            }
            // SAFETY: `cur` is a non-null registered AVInputFormat.
            let (name, description) = unsafe { (cstr((*cur).name), cstr((*cur).long_name)) };
            out.push(DeviceFormat {
                name,
                description,
                video,
                sources: list_sources(cur),
            });
        }
    }
    out
}
