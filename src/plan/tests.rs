//! Plans for representative inputs, compared with the plans expected.

use super::*;
use crate::ladder::Bitrate;
use crate::options::VideoCodec;
use std::path::Path;

fn settings(protocol: Protocol, reps: Vec<Representation>) -> Settings {
    Settings {
        protocol,
        format: Format::h264(),
        reps,
        hls: HlsOptions::default(),
        dash: DashOptions::default(),
        output: PathBuf::from("out/movie.m3u8"),
        threads: 8,
        live: false,
        end_list: false,
        audio: AudioOptions::default(),
        subtitles: Default::default(),
        single_file: false,
    }
}

fn rep(w: u32, h: u32, video_k: u64, audio_k: u64) -> Representation {
    Representation::new(
        Size::new(w, h),
        Bitrate::new(video_k * 1000, audio_k * 1000),
    )
}

/// A 1920x1080 (square pixels) 30 fps video with 48 kHz stereo audio.
fn hd_input() -> InputInfo {
    InputInfo {
        video: Some(VideoInput {
            index: 0,
            coded: Size::new(1920, 1080),
            display: Size::new(1920, 1080),
            frame_rate: Ratio::new(30, 1),
            time_base: Ratio::new(1, 15360),
            rotation: 0,
        }),
        audio: vec![AudioInput::new(1, 48000, 2, STEREO)],
        subtitles: Vec::new(),
    }
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn no_options() -> options::Classified {
    options::Classified::default()
}

#[test]
fn an_hls_ladder_of_two_renditions_sharing_one_audio_encode() {
    let mut s = settings(
        Protocol::Hls,
        vec![rep(1280, 720, 2500, 128), rep(640, 360, 800, 128)],
    );
    s.hls.hls_time = 4.0;
    let mut o = no_options();
    o.encoder = pairs(&[("crf", "23")]);
    o.muxer = pairs(&[("hls_allow_cache", "1")]);
    let p = build(&s, &hd_input(), &o).unwrap();
    assert_eq!(p.dir, PathBuf::from("out"));
    assert_eq!(p.segment_seconds, 4.0);
    assert_eq!(p.audio.len(), 1, "one AAC encode shared");
    assert_eq!(
        p.audio[0],
        AudioEncode {
            name: "audio 128k".into(),
            track: 0,
            label: "und".into(),
            bitrate: 128_000,
            sample_rate: 48000,
            layout: STEREO,
            channels: 2,
        }
    );
    let v = &p.video[0];
    assert_eq!(
        (v.name.as_str(), v.size, v.gop),
        ("720p", Size::new(1280, 720), 120)
    );
    assert_eq!((v.bitrate, v.maxrate), (Some(2_500_000), Some(2_750_000)));
    assert_eq!(v.encoder, "libx264");
    assert_eq!(v.sample_aspect, Ratio::new(1, 1));
    assert_eq!(
        v.options,
        pairs(&[
            ("preset", "veryfast"),
            ("forced-idr", "1"),
            ("bufsize", "5000000"),
            ("crf", "23")
        ])
    );
    assert_eq!(v.audio, Some(0));
    // Threads by pixel share (1280x720 is 80% of the pixels), 1.5x headroom.
    assert_eq!((p.video[0].threads, p.video[1].threads), (8, 2));
    let paths: Vec<&Path> = p.outputs.iter().map(|o| o.path.as_path()).collect();
    assert_eq!(
        paths,
        [
            Path::new("out/movie_720p.m3u8"),
            Path::new("out/movie_360p.m3u8")
        ]
    );
    assert_eq!(
        p.outputs[1].streams,
        [StreamRef::Video(1), StreamRef::Audio(0)]
    );
    assert_eq!(
        p.outputs[0].options,
        pairs(&[
            ("hls_time", "4"),
            ("hls_list_size", "0"),
            ("hls_segment_filename", "out/movie_720p_%04d.ts"),
            ("hls_playlist_type", "vod"),
            ("hls_flags", "independent_segments"),
            ("hls_allow_cache", "1"),
        ])
    );
    assert_eq!(
        p.outputs[0].segments,
        Some(("out/movie_720p_".into(), ".ts".into()))
    );
    assert_eq!(p.variants.len(), 2);
    assert_eq!(
        p.manifests,
        [
            PathBuf::from("out/movie_720p.m3u8"),
            PathBuf::from("out/movie_360p.m3u8"),
            PathBuf::from("out/movie_720p_iframes.m3u8"),
            PathBuf::from("out/movie_360p_iframes.m3u8"),
            PathBuf::from("out/movie.m3u8"),
        ]
    );
}

#[test]
fn renditions_with_their_own_audio_rates_get_an_encode_each() {
    let s = settings(
        Protocol::Hls,
        vec![rep(1280, 720, 2500, 128), rep(640, 360, 800, 64)],
    );
    let p = build(&s, &hd_input(), &no_options()).unwrap();
    let rates: Vec<u64> = p.audio.iter().map(|a| a.bitrate).collect();
    assert_eq!(rates, [128_000, 64_000]);
    assert_eq!((p.video[0].audio, p.video[1].audio), (Some(0), Some(1)));
}

#[test]
fn a_dash_run_is_one_muxer_with_two_adaptation_sets() {
    let mut s = settings(
        Protocol::Dash,
        vec![rep(1280, 720, 2500, 128), rep(640, 360, 800, 128)],
    );
    s.output = PathBuf::from("movie.mpd");
    s.dash.seg_duration = 2.0;
    s.dash.generate_hls_playlist = true;
    let p = build(&s, &hd_input(), &no_options()).unwrap();
    assert_eq!(p.dir, PathBuf::from("."));
    assert_eq!(p.outputs.len(), 1);
    let o = &p.outputs[0];
    assert_eq!(
        o.streams,
        [
            StreamRef::Video(0),
            StreamRef::Video(1),
            StreamRef::Audio(0)
        ]
    );
    assert_eq!(
        o.options,
        pairs(&[
            ("seg_duration", "2"),
            ("use_template", "1"),
            ("use_timeline", "1"),
            ("init_seg_name", "movie_init_$RepresentationID$.m4s"),
            (
                "media_seg_name",
                "movie_chunk_$RepresentationID$_$Number%05d$.m4s"
            ),
            ("adaptation_sets", "id=0,streams=v id=1,streams=2"),
            ("window_size", "0"),
            ("hls_playlist", "1"),
        ])
    );
    assert_eq!(p.video[0].gop, 60);
    assert!(p.variants.is_empty());
    assert_eq!(p.manifests.len(), 1 + 1 + 3, "MPD, master.m3u8, media_0..2");
}

#[test]
fn an_audio_only_input_gets_one_variant_per_audio_rate() {
    let mut s = settings(Protocol::Hls, vec![rep(1280, 720, 2500, 128)]);
    s.hls.fragmented_mp4 = true;
    let input = InputInfo {
        video: None,
        audio: vec![AudioInput::new(0, 22050, 1, MONO)],
        subtitles: Vec::new(),
    };
    let p = build(&s, &input, &no_options()).unwrap();
    assert!(p.video.is_empty());
    assert_eq!((p.audio[0].sample_rate, p.audio[0].channels), (22050, 1));
    assert_eq!(p.outputs[0].path, PathBuf::from("out/movie_128k.m3u8"));
    assert_eq!(p.outputs[0].streams, [StreamRef::Audio(0)]);
    let opts = &p.outputs[0].options;
    assert!(opts.contains(&(
        "hls_segment_filename".into(),
        "out/movie_128k_%04d.m4s".into()
    )));
    assert!(opts.contains(&(
        "hls_fmp4_init_filename".into(),
        "movie_128k_init.mp4".into()
    )));
    assert_eq!(p.variants[0].audio, Some(0));
}

#[test]
fn a_live_run_has_a_window_and_no_end_list() {
    let mut s = settings(Protocol::Hls, vec![rep(640, 360, 800, 96)]);
    s.live = true;
    s.hls.flags = vec!["delete_segments".into()];
    let p = build(&s, &hd_input(), &no_options()).unwrap();
    let o = &p.outputs[0].options;
    assert!(o.contains(&("hls_list_size".into(), "6".into())));
    assert!(o.contains(&(
        "hls_flags".into(),
        "independent_segments+delete_segments+omit_endlist".into()
    )));
    assert!(!o.iter().any(|(k, _)| k == "hls_playlist_type"));
    s.end_list = true;
    s.hls.hls_list_size = 3;
    let p = build(&s, &hd_input(), &no_options()).unwrap();
    let o = &p.outputs[0].options;
    assert!(o.contains(&("hls_list_size".into(), "3".into())));
    assert!(o.contains(&(
        "hls_flags".into(),
        "independent_segments+delete_segments".into()
    )));
}

#[test]
fn odd_rates_resample_and_surround_keeps_or_downmixes() {
    let mut input = hd_input();
    input.audio = vec![AudioInput::new(1, 8000, 6, 0x60f)];
    let mut s = settings(Protocol::Hls, vec![rep(640, 360, 800, 96)]);
    let p = build(&s, &input, &no_options()).unwrap();
    assert_eq!(
        (
            p.audio[0].sample_rate,
            p.audio[0].layout,
            p.audio[0].channels
        ),
        (48000, STEREO, 2)
    );
    s.audio.channels = ChannelMode::Keep;
    let p = build(&s, &input, &no_options()).unwrap();
    assert_eq!((p.audio[0].layout, p.audio[0].channels), (0x60f, 6));
}

#[test]
fn names_stay_unique_and_aspect_is_kept_at_every_size() {
    let mut input = hd_input();
    // An anamorphic 720x576 picture shown at 16:9.
    if let Some(v) = input.video.as_mut() {
        v.coded = Size::new(720, 576);
        v.display = Size::new(1024, 576);
        v.frame_rate = Ratio::new(25, 1);
    }
    let s = settings(
        Protocol::Hls,
        vec![rep(720, 576, 1500, 128), rep(1024, 576, 1500, 128)],
    );
    let p = build(&s, &input, &no_options()).unwrap();
    let names: Vec<&str> = p.video.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["576p", "576p_2"]);
    assert_eq!(p.video[0].sample_aspect, Ratio::new(64, 45));
    assert_eq!(p.video[1].sample_aspect, Ratio::new(1, 1));
    assert_eq!(p.video[0].gop, 150);
}

#[test]
fn vp9_and_hevc_get_their_encoders_defaults() {
    let mut s = settings(Protocol::Dash, vec![rep(640, 360, 800, 96)]);
    s.output = PathBuf::from("v.mpd");
    s.format = Format::vp9();
    let p = build(&s, &hd_input(), &no_options()).unwrap();
    assert_eq!(p.video[0].encoder, VideoCodec::Vp9.encoder_name());
    assert_eq!(
        p.video[0].options[..3],
        pairs(&[("deadline", "realtime"), ("cpu-used", "8"), ("row-mt", "1")])
    );
    s.format = Format::hevc();
    let p = build(&s, &hd_input(), &no_options()).unwrap();
    assert!(p.video[0]
        .options
        .contains(&("x265-params".into(), "log-level=error".into())));
}

#[test]
fn a_plan_prints_as_json_and_refuses_what_it_cannot_name() {
    let s = settings(Protocol::Hls, vec![rep(640, 360, 800, 96)]);
    let p = build(&s, &hd_input(), &no_options()).unwrap();
    let json: serde_json::Value = serde_json::from_str(&p.to_json()).unwrap();
    assert_eq!(json["protocol"], "hls");
    assert_eq!(json["input"]["video"]["frame_rate"], "30/1");
    assert_eq!(json["video"][0]["name"], "360p");
    assert_eq!(json["outputs"][0]["streams"][1]["audio"], 0);
    let mut bad = s.clone();
    bad.output = PathBuf::from("..");
    assert!(matches!(
        build(&bad, &hd_input(), &no_options()),
        Err(Error::Config(_))
    ));
    let mut dash = settings(Protocol::Dash, Vec::new());
    dash.dash.flags = vec!["delete_segments".into()];
    let e = check(&dash).unwrap_err().to_string();
    assert!(e.contains("--flags delete_segments is for HLS"), "{e}");
}

/// Three audio languages, two subtitle tracks, two audio rates.
fn film_input() -> InputInfo {
    let mut input = hd_input();
    input.audio = ["en", "fr", "en"]
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut a = AudioInput::new(i + 1, 48000, 2, STEREO);
            a.language = Some((*l).into());
            a
        })
        .collect();
    input.subtitles = ["en", "fr"]
        .iter()
        .enumerate()
        .map(|(i, l)| SubtitleInput {
            index: 4 + i,
            file: None,
            language: Some((*l).into()),
            title: None,
            forced: i == 1,
            default: false,
            sdh: false,
        })
        .collect();
    input
}

#[test]
fn several_audio_tracks_become_groups_of_renditions_per_rate() {
    let s = settings(
        Protocol::Hls,
        vec![rep(1280, 720, 2500, 128), rep(640, 360, 800, 64)],
    );
    let p = build(&s, &film_input(), &no_options()).unwrap();
    assert_eq!(p.audio.len(), 6, "three tracks at two rates");
    let names: Vec<String> = p
        .outputs
        .iter()
        .map(|o| o.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "movie_720p.m3u8",
            "movie_360p.m3u8",
            "movie_audio_en_128k.m3u8",
            "movie_audio_fr_128k.m3u8",
            "movie_audio_en-2_128k.m3u8",
            "movie_audio_en_64k.m3u8",
            "movie_audio_fr_64k.m3u8",
            "movie_audio_en-2_64k.m3u8",
        ]
    );
    // Video variants carry no audio; each names the group of its rate.
    assert_eq!(p.outputs[0].streams, [StreamRef::Video(0)]);
    assert_eq!(p.variants[0].audio_group.as_deref(), Some("audio-128k"));
    assert_eq!(p.variants[1].audio_group.as_deref(), Some("audio-64k"));
    assert_eq!(p.variants[1].subtitles.as_deref(), Some("subs"));
    assert_eq!(p.audio_renditions.len(), 6);
    let subs: Vec<_> = p.subtitles.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(subs, ["sub_en", "sub_fr"]);
    assert_eq!(
        p.subtitles[1].playlist.as_deref(),
        Some(std::path::Path::new("out/movie_sub_fr.m3u8"))
    );
    assert!(p
        .manifests
        .contains(&PathBuf::from("out/movie_sub_fr.m3u8")));
}

#[test]
fn dash_gets_an_adaptation_set_per_audio_track() {
    let mut s = settings(Protocol::Dash, vec![rep(1280, 720, 2500, 128)]);
    s.output = PathBuf::from("out/movie.mpd");
    let p = build(&s, &film_input(), &no_options()).unwrap();
    let sets = &p.outputs[0]
        .options
        .iter()
        .find(|(k, _)| k == "adaptation_sets")
        .unwrap()
        .1;
    assert_eq!(
        sets,
        "id=0,streams=v id=1,streams=1 id=2,streams=2 id=3,streams=3"
    );
    assert_eq!(
        p.subtitles[0].vtt.as_deref(),
        Some(std::path::Path::new("out/movie_sub_en.vtt"))
    );
}

#[test]
fn one_audio_track_stays_muxed_unless_asked() {
    let s = settings(Protocol::Hls, vec![rep(640, 360, 800, 96)]);
    let p = build(&s, &hd_input(), &no_options()).unwrap();
    assert_eq!(p.outputs.len(), 1);
    assert_eq!(
        p.outputs[0].streams,
        [StreamRef::Video(0), StreamRef::Audio(0)]
    );
    let mut s = s;
    s.audio.separate = true;
    let p = build(&s, &hd_input(), &no_options()).unwrap();
    assert_eq!(p.outputs[0].streams, [StreamRef::Video(0)]);
    assert_eq!(p.audio_renditions.len(), 1);
    assert_eq!(p.variants[0].audio, None);
}

#[test]
fn a_mixed_ladder_copies_the_source_and_encodes_without_keyframes_of_its_own() {
    let mut input = hd_input();
    if let Some(v) = input.video.as_mut() {
        // Coded 1440x1080 with wide pixels: the copied rung is the coded size.
        v.coded = Size::new(1440, 1080);
    }
    let mut copied = Representation::copy(96_000);
    copied.size = Size::new(1920, 1080);
    let s = settings(Protocol::Hls, vec![copied, rep(640, 360, 800, 96)]);
    let p = build(&s, &input, &no_options()).unwrap();
    let (top, low) = (&p.video[0], &p.video[1]);
    assert!(top.copy && !low.copy);
    assert_eq!(
        (top.name.as_str(), top.size),
        ("1080p", Size::new(1440, 1080))
    );
    assert_eq!(top.encoder, "copy");
    assert_eq!((top.bitrate, top.gop, top.threads), (None, 0, 0));
    assert!(top.options.is_empty());
    assert_eq!(top.sample_aspect, Ratio::new(4, 3));
    // The encoded rung gets every thread and places keyframes only where
    // asked: no interval within reach, no scene cuts.
    assert_eq!(low.threads, 8);
    assert_eq!(low.gop, mixed::FOLLOW_GOP);
    assert_eq!(
        low.options.last(),
        Some(&("sc_threshold".to_string(), "0".to_string()))
    );
    // One audio encode at the copied rung's rate, muxed beside both.
    assert_eq!(p.audio.len(), 1);
    assert_eq!((top.audio, low.audio), (Some(0), Some(0)));
    // Without a copied rung, the keyframe interval is one segment.
    let plain = build(
        &settings(Protocol::Hls, vec![rep(640, 360, 800, 96)]),
        &input,
        &no_options(),
    )
    .unwrap();
    assert_eq!(plain.video[0].gop, 180);
    assert!(!plain.video[0].copy);
}

/// The value of muxer option `key` of output `o`.
fn option<'a>(o: &'a OutputPlan, key: &str) -> Option<&'a str> {
    o.options
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[test]
fn single_file_layouts_name_one_media_file_per_rendition() {
    let reps = vec![rep(1280, 720, 2500, 128), rep(640, 360, 800, 128)];
    let mut s = settings(Protocol::Hls, reps.clone());
    s.single_file = true;
    let p = build(&s, &hd_input(), &no_options()).unwrap();
    let o = &p.outputs[0];
    assert_eq!(o.media_files, [PathBuf::from("out/movie_720p.ts")]);
    assert_eq!(option(o, "hls_segment_filename"), Some("out/movie_720p.ts"));
    assert_eq!(
        option(o, "hls_flags"),
        Some("independent_segments+single_file")
    );
    assert_eq!(o.segments, None, "no numbered segments");
    s.hls.fragmented_mp4 = true;
    let p = build(&s, &hd_input(), &no_options()).unwrap();
    let o = &p.outputs[1];
    assert_eq!(o.media_files, [PathBuf::from("out/movie_360p.mp4")]);
    assert_eq!(option(o, "hls_fmp4_init_filename"), None, "init inside");
    let mut s = settings(Protocol::Dash, reps);
    s.output = PathBuf::from("out/movie.mpd");
    s.single_file = true;
    let p = build(&s, &hd_input(), &no_options()).unwrap();
    let o = &p.outputs[0];
    let files: Vec<PathBuf> = ["0", "1", "2"]
        .iter()
        .map(|id| PathBuf::from(format!("out/movie_{id}.mp4")))
        .collect();
    assert_eq!(o.media_files, files, "two videos, then the audio");
    assert_eq!(
        option(o, "single_file_name"),
        Some("movie_$RepresentationID$.mp4")
    );
    assert_eq!(option(o, "global_sidx"), Some("1"));
    assert_eq!(option(o, "use_template"), None);
    s.live = true;
    assert!(check(&s).is_err(), "live single files are refused");
}
