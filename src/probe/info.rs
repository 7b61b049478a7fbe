//! The records a probe returns, serialised with ffprobe's field names and
//! order.

use ffmpeg_next as ff;
use serde::ser::{Serialize, SerializeMap, Serializer};

/// An ordered list of `key: value` strings (tags, exported decoder options).
///
/// Serialises as a JSON object in FFmpeg's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags(pub Vec<(String, String)>);

impl Tags {
    /// The value for `key` (exact, case-sensitive match).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value for `key`, ignoring ASCII case (Matroska tags are upper case).
    pub fn get_ignore_case(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl Serialize for Tags {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// Container-level metadata: ffprobe's `format` section.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct FormatInfo {
    /// The input as given.
    pub filename: String,
    /// Number of streams.
    pub nb_streams: u32,
    /// Number of programs (MPEG-TS).
    pub nb_programs: u32,
    /// The demuxer's short name(s), such as `"mov,mp4,m4a,3gp,3g2,mj2"`.
    pub format_name: String,
    /// The demuxer's descriptive name, such as `"QuickTime / MOV"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format_long_name: Option<String>,
    /// Start time in seconds, as `"%f"` text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// Duration in seconds, as `"%f"` text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// Size in bytes, as text (absent for unsized network streams).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// Overall bit rate in bits per second, as text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bit_rate: Option<String>,
    /// How sure FFmpeg is of the format (100 = certain).
    pub probe_score: i32,
    /// Container metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
}

/// A stream's disposition flags, with ffprobe 5.1's keys (1 = set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct Disposition {
    pub default: u8,
    pub dub: u8,
    pub original: u8,
    pub comment: u8,
    pub lyrics: u8,
    pub karaoke: u8,
    pub forced: u8,
    pub hearing_impaired: u8,
    pub visual_impaired: u8,
    pub clean_effects: u8,
    pub attached_pic: u8,
    pub timed_thumbnails: u8,
    pub captions: u8,
    pub descriptions: u8,
    pub metadata: u8,
    pub dependent: u8,
    pub still_image: u8,
}

impl Disposition {
    pub(super) fn from_bits(bits: i32) -> Self {
        use ff::ffi::*;
        let f = |flag: i32| u8::from(bits & flag != 0);
        Disposition {
            default: f(AV_DISPOSITION_DEFAULT),
            dub: f(AV_DISPOSITION_DUB),
            original: f(AV_DISPOSITION_ORIGINAL),
            comment: f(AV_DISPOSITION_COMMENT),
            lyrics: f(AV_DISPOSITION_LYRICS),
            karaoke: f(AV_DISPOSITION_KARAOKE),
            forced: f(AV_DISPOSITION_FORCED),
            hearing_impaired: f(AV_DISPOSITION_HEARING_IMPAIRED),
            visual_impaired: f(AV_DISPOSITION_VISUAL_IMPAIRED),
            clean_effects: f(AV_DISPOSITION_CLEAN_EFFECTS),
            attached_pic: f(AV_DISPOSITION_ATTACHED_PIC),
            timed_thumbnails: f(AV_DISPOSITION_TIMED_THUMBNAILS),
            captions: f(AV_DISPOSITION_CAPTIONS),
            descriptions: f(AV_DISPOSITION_DESCRIPTIONS),
            metadata: f(AV_DISPOSITION_METADATA),
            dependent: f(AV_DISPOSITION_DEPENDENT),
            still_image: f(AV_DISPOSITION_STILL_IMAGE),
        }
    }
}

/// One entry of a stream's `side_data_list`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct SideData {
    /// FFmpeg's name for the type, such as `"Display Matrix"`.
    pub side_data_type: String,
    /// For a display matrix: its 9 values laid out as ffprobe prints them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub displaymatrix: Option<String>,
    /// For a display matrix: the rotation in degrees (counter-clockwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation: Option<i32>,
}

/// One stream's metadata: an entry of ffprobe's `streams` list.
///
/// Fields that ffprobe leaves out for a stream (unknown values, or fields of
/// another media type) are `None` and left out of the JSON too.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
#[allow(missing_docs)] // Field names and meanings are ffprobe's.
pub struct StreamInfo {
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec_long_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// `"video"`, `"audio"`, `"subtitle"`, `"data"` or `"attachment"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec_type: Option<String>,
    /// The FourCC as text, such as `"avc1"`, or `"[0][0][0][0]"`.
    pub codec_tag_string: String,
    /// The FourCC as hexadecimal text, such as `"0x31637661"`.
    pub codec_tag: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coded_width: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coded_height: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_captions: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub film_grain: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_b_frames: Option<i32>,
    /// Such as `"1:1"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_aspect_ratio: Option<String>,
    /// Such as `"16:9"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_aspect_ratio: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pix_fmt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color_range: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color_space: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color_transfer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color_primaries: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chroma_location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field_order: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refs: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_fmt: Option<String>,
    /// In Hz, as text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_layout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bits_per_sample: Option<i32>,
    /// Values the decoder exports (such as H.264's `is_avc`), printed by
    /// ffprobe among the stream's fields.
    #[serde(flatten)]
    pub decoder_options: Tags,
    /// The container's stream id as hexadecimal text (formats that have one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Such as `"30/1"`; `"0/0"` when unknown.
    pub r_frame_rate: String,
    /// Such as `"30/1"`; `"0/0"` when unknown.
    pub avg_frame_rate: String,
    /// Such as `"1/15360"`.
    pub time_base: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_pts: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ts: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bit_rate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_bit_rate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bits_per_raw_sample: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nb_frames: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extradata_size: Option<i32>,
    pub disposition: Disposition,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub side_data_list: Option<Vec<SideData>>,
}

impl StreamInfo {
    /// Whether this is a video stream other than an attached picture.
    pub fn is_video(&self) -> bool {
        self.codec_type.as_deref() == Some("video") && self.disposition.attached_pic == 0
    }

    /// Whether this is an audio stream.
    pub fn is_audio(&self) -> bool {
        self.codec_type.as_deref() == Some("audio")
    }

    /// The display-matrix rotation in degrees as ffprobe 5.1 reports it
    /// (counter-clockwise), or 0.
    pub fn rotation(&self) -> i32 {
        self.side_data_list
            .iter()
            .flatten()
            .find_map(|sd| sd.rotation)
            .unwrap_or(0)
    }
}
