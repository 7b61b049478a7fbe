//! Upload order, observed by a store wrapper that records every put: a
//! manifest is never uploaded before any object it names.

mod common;

use async_trait::async_trait;
use common::{dash, fixtures, hls};
use futures::stream::BoxStream;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};
use std::sync::{Arc, Mutex};

/// Records (path, bytes) of each put, in order, then stores it in memory;
/// also records whether each read asked for a byte range.
#[derive(Debug, Default)]
struct Recorder {
    inner: InMemory,
    puts: Mutex<Vec<(String, Vec<u8>)>>,
    reads: Mutex<Vec<bool>>,
}

impl std::fmt::Display for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Recorder")
    }
}

#[async_trait]
impl ObjectStore for Recorder {
    async fn put_opts(
        &self,
        location: &ObjectPath,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        let bytes: Vec<u8> = payload.iter().flat_map(|b| b.to_vec()).collect();
        self.puts
            .lock()
            .unwrap()
            .push((location.to_string(), bytes));
        self.inner.put_opts(location, payload, opts).await
    }
    async fn put_multipart_opts(
        &self,
        location: &ObjectPath,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }
    async fn get_opts(&self, location: &ObjectPath, options: GetOptions) -> Result<GetResult> {
        if !options.head {
            self.reads.lock().unwrap().push(options.range.is_some());
        }
        self.inner.get_opts(location, options).await
    }
    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<ObjectPath>>,
    ) -> BoxStream<'static, Result<ObjectPath>> {
        self.inner.delete_stream(locations)
    }
    fn list(&self, prefix: Option<&ObjectPath>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn list_with_delimiter(&self, prefix: Option<&ObjectPath>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }
    async fn copy_opts(
        &self,
        from: &ObjectPath,
        to: &ObjectPath,
        options: CopyOptions,
    ) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

fn file_name(p: &str) -> &str {
    p.rsplit('/').next().unwrap()
}

/// Index of the first put of `name` (by file name), if any.
fn first_put(puts: &[(String, Vec<u8>)], name: &str) -> Option<usize> {
    puts.iter().position(|(p, _)| file_name(p) == name)
}

#[test]
fn hls_manifests_follow_the_segments_they_name() {
    let rec = Arc::new(Recorder::default());
    let dir = tempfile::tempdir().unwrap();
    ffstream::input(fixtures::clip(fixtures::Kind::H264Aac).to_str().unwrap())
        .unwrap()
        .hls(ffstream::Format::h264().option("preset", "ultrafast"))
        .auto_generate_representations(Some(&[180, 120]), None, false)
        .hls_time(0.5)
        .upload_to(ffstream::cloud::Store::custom(
            "recorder",
            rec.clone(),
            "out",
        ))
        .output(dir.path().join("s.m3u8"))
        .unwrap();
    let puts = rec.puts.lock().unwrap().clone();
    assert!(puts.iter().all(|(p, _)| p.starts_with("out/")), "prefix");
    let mut checked = 0;
    for (i, (path, body)) in puts.iter().enumerate() {
        if !path.ends_with(".m3u8") {
            continue;
        }
        let text = String::from_utf8(body.clone()).unwrap();
        let names: Vec<String> = if text.contains("#EXT-X-STREAM-INF") {
            hls::parse_master(&text)
                .unwrap()
                .variants
                .into_iter()
                .map(|v| v.uri)
                .collect()
        } else {
            hls::parse_media(&text)
                .unwrap()
                .segments
                .into_iter()
                .map(|s| s.uri)
                .collect()
        };
        assert!(!names.is_empty());
        for n in names {
            let at =
                first_put(&puts, &n).unwrap_or_else(|| panic!("{path} names {n}, never uploaded"));
            assert!(at < i, "{path} (put #{i}) names {n}, put later (#{at})");
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} references checked");
    // The master is the very last object.
    assert_eq!(file_name(&puts.last().unwrap().0), "s.m3u8");
}

#[test]
fn dash_manifest_follows_its_segments() {
    let rec = Arc::new(Recorder::default());
    let dir = tempfile::tempdir().unwrap();
    ffstream::input(fixtures::clip(fixtures::Kind::H264Aac).to_str().unwrap())
        .unwrap()
        .dash(ffstream::Format::h264().option("preset", "ultrafast"))
        .auto_generate_representations(Some(&[120]), None, false)
        .seg_duration(0.5)
        .upload_to(ffstream::cloud::Store::custom("recorder", rec.clone(), ""))
        .output(dir.path().join("d.mpd"))
        .unwrap();
    let puts = rec.puts.lock().unwrap().clone();
    let (i, body) = puts
        .iter()
        .enumerate()
        .filter(|(_, (p, _))| p == "d.mpd")
        .map(|(i, (_, b))| (i, b.clone()))
        .next_back()
        .expect("MPD uploaded");
    let mpd = dash::parse_mpd_str(&String::from_utf8(body).unwrap()).unwrap();
    assert_eq!(mpd.mpd_type, "static");
    for rep in mpd.representations() {
        let mut names = mpd.segment_files(rep);
        names.push(mpd.init_file(rep).unwrap());
        for n in names {
            let at =
                first_put(&puts, &n).unwrap_or_else(|| panic!("MPD names {n}, never uploaded"));
            assert!(at < i, "MPD (put #{i}) names {n}, put later (#{at})");
        }
    }
}

#[test]
fn input_from_a_store_object_is_read_by_ranges() {
    let rec = Arc::new(Recorder::default());
    let clip = std::fs::read(fixtures::clip(fixtures::Kind::H264Aac)).unwrap();
    futures::executor::block_on(
        rec.inner
            .put(&ObjectPath::from("media/clip.mp4"), clip.into()),
    )
    .unwrap();
    let store = ffstream::cloud::Store::custom("memory", rec.clone(), "media");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.m3u8");
    let media = ffstream::Media::open_store(store, "clip.mp4").unwrap();
    assert_eq!(media.display_size(), Some(ffstream::Size::new(640, 360)));
    media
        .hls(ffstream::Format::h264().option("preset", "ultrafast"))
        .auto_generate_representations(Some(&[180]), None, false)
        .output(&out)
        .unwrap();
    let reads = rec.reads.lock().unwrap().clone();
    assert!(
        !reads.is_empty() && reads.iter().all(|r| *r),
        "every read is ranged: {reads:?}"
    );
    let frames = common::oracle::count_video_frames(dir.path().join("m_180p.m3u8"));
    assert_eq!(frames, 60);
}
