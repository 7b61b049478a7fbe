//! Packages an input straight into an object store (S3, GCS, Azure, an HTTP
//! server that accepts PUT, FTP), or locally with mirrors in stores.
//!
//! Usage: `cargo run --example to_store -- INPUT OUTPUT [MIRROR_URL...]`
//!
//! - `OUTPUT`: the manifest, as a store URL (`s3://bucket/vod/movie.m3u8`,
//!   `gs://…`, `az://container/…`, `https://host/…/movie.mpd`) or a local
//!   path. A store output is staged in a temporary folder, removed after.
//! - `MIRROR_URL`: more stores (or prefixes) that get every file too.
//!
//! Segments are uploaded as soon as each is complete, several at a time; a
//! manifest only once every object it names has arrived, and the master
//! last, so nobody reading the store sees a manifest naming a missing file.
//!
//! Credentials come from each provider's usual environment, never from the
//! command line: for S3 `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_REGION`, and for an S3-compatible server `AWS_ENDPOINT`
//! (plus `AWS_ALLOW_HTTP=true` for plain HTTP); `AZURE_STORAGE_ACCOUNT_NAME`
//! and `AZURE_STORAGE_ACCOUNT_KEY`; `GOOGLE_SERVICE_ACCOUNT`.
//!
//! ```sh
//! AWS_ENDPOINT=http://127.0.0.1:9000 AWS_ALLOW_HTTP=true \
//! AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… AWS_REGION=us-east-1 \
//!     cargo run --example to_store -- movie.mp4 s3://cdn/vod/movie.m3u8
//! ```

use ffstream::cloud::is_store_url;
use ffstream::Format;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output, mirrors @ ..] = args.as_slice() else {
        eprintln!("usage: to_store INPUT OUTPUT [MIRROR_URL...]");
        return ExitCode::from(2);
    };
    let is_remote = |u: &str| {
        is_store_url(u)
            || ["http://", "https://", "ftp://"]
                .iter()
                .any(|p| u.starts_with(p))
    };
    if !is_remote(output) && !mirrors.iter().any(|m| is_remote(m)) {
        eprintln!("to_store: name a store URL (s3://, gs://, az://, http(s)://, ftp://) as OUTPUT or MIRROR_URL");
        return ExitCode::from(2);
    }
    let result = ffstream::input(input).and_then(|media| {
        let mut job = if output.ends_with(".mpd") {
            media.dash(Format::h264())
        } else {
            media.hls(Format::h264())
        };
        job = job.auto_generate_representations(None, None, false);
        for m in mirrors {
            job = job.upload(m.as_str());
        }
        job.output(output)
    });
    match result {
        Ok(report) => {
            println!("{}", report.manifest.display());
            for u in &report.uploads {
                println!(
                    "  {}: {} objects, {} bytes in {:.1} s",
                    u.store,
                    u.objects,
                    u.bytes,
                    u.elapsed.as_secs_f64()
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            // A store that keeps failing fails the run, naming the store (never
            // its credentials); the manifests already uploaded are deleted
            // again, so no store claims a finished stream.
            eprintln!("to_store: {e}");
            ExitCode::FAILURE
        }
    }
}
