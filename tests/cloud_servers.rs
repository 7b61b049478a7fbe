//! Self-tests of the storage server fixtures in `tests/common/servers.rs`:
//! each server starts, its helper calls round-trip data, it really enforces
//! what the cloud tests rely on, and `kill()`/drop leave no process behind.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use common::servers::{http, sigv4_sign, AzuriteServer, S3Server, WebDavServer};

/// Bytes that a form or text decoder would mangle.
fn sample(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 256) as u8).collect()
}

fn refuses_connections(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).is_err()
}

/// Whether any process is still in process group `pgid` (or has pid `pgid`).
fn group_alive(pgid: u32) -> bool {
    if Path::new(&format!("/proc/{pgid}")).exists() {
        return true;
    }
    std::fs::read_dir("/proc")
        .expect("read /proc")
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .any(|stat| {
            // pid (comm) state ppid pgrp ...; comm may contain spaces.
            let after = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
            after.split(' ').nth(2) == Some(pgid.to_string().as_str())
        })
}

#[test]
fn sigv4_matches_aws_documented_example() {
    // "GET Object" example from the AWS SigV4 documentation for S3.
    let headers = sigv4_sign(
        "GET",
        "/test.txt",
        "",
        &[
            ("host".into(), "examplebucket.s3.amazonaws.com".into()),
            ("range".into(), "bytes=0-9".into()),
        ],
        b"",
        "20130524T000000Z",
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "us-east-1",
    );
    let auth = &headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .unwrap()
        .1;
    assert_eq!(
        auth,
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
         SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
         Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    );
}

#[test]
fn s3_round_trip_and_outage() {
    let mut s3 = S3Server::start();
    let env = s3.env();
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("AWS_ENDPOINT"), Some(s3.endpoint().as_str()));
    assert_eq!(get("AWS_REGION"), Some("us-east-1"));
    assert_eq!(get("AWS_ALLOW_HTTP"), Some("true"));
    assert_eq!(get("AWS_VIRTUAL_HOSTED_STYLE_REQUEST"), Some("false"));

    s3.create_bucket("media-in");
    let data = sample(300_000);
    s3.put_object("media-in", "clips/a.mp4", &data);
    s3.put_object("media-in", "clips/sub dir/b+c.bin", b"second");
    s3.put_object("media-in", "other/x", b"");
    assert_eq!(
        s3.get_object("media-in", "clips/a.mp4").as_deref(),
        Some(&data[..])
    );
    assert_eq!(
        s3.get_object("media-in", "clips/sub dir/b+c.bin")
            .as_deref(),
        Some(&b"second"[..])
    );
    assert_eq!(s3.get_object("media-in", "other/x"), Some(vec![]));
    assert_eq!(s3.get_object("media-in", "clips/missing.mp4"), None);
    assert_eq!(
        s3.list("media-in", "clips/"),
        ["clips/a.mp4", "clips/sub dir/b+c.bin"]
    );
    assert_eq!(s3.list("media-in", "nothing/"), Vec::<String>::new());
    assert_eq!(s3.list("media-in", "").len(), 3);

    // moto does not check signatures, but it does check object ACLs: an
    // anonymous (unsigned) read of an object written with credentials is
    // refused, which is why the helpers sign every request.
    let r = http(
        "GET",
        &format!("{}/media-in/clips/a.mp4", s3.endpoint()),
        &[],
        None,
    )
    .unwrap();
    assert_eq!(r.status, 403, "unsigned read: {}", r.text());

    let port = s3.port();
    let pid = s3.pid();
    s3.kill();
    assert!(
        refuses_connections(port),
        "port {port} still open after kill"
    );
    assert!(!group_alive(pid), "moto (pid {pid}) survived kill()");
    assert!(s3
        .request("GET", "/media-in/clips/a.mp4", &[], None)
        .is_err());
    s3.kill(); // idempotent
}

#[test]
fn azurite_round_trip_auth_and_outage() {
    let mut az = AzuriteServer::start();
    assert!(az.endpoint().ends_with("/devstoreaccount1"));
    let env = az.env();
    assert!(env.contains(&("AZURE_STORAGE_USE_EMULATOR".into(), "true".into())));
    assert!(env.contains(&("AZURITE_BLOB_STORAGE_URL".into(), az.blob_service_url())));

    az.create_container("media-out");
    let data = sample(200_000);
    az.put_blob("media-out", "hls/index.m3u8", b"#EXTM3U\n");
    az.put_blob("media-out", "hls/seg 0.ts", &data);
    az.put_blob("media-out", "dash/manifest.mpd", b"<MPD/>");
    assert_eq!(
        az.get_blob("media-out", "hls/seg 0.ts").as_deref(),
        Some(&data[..])
    );
    assert_eq!(
        az.get_blob("media-out", "hls/index.m3u8").as_deref(),
        Some(&b"#EXTM3U\n"[..])
    );
    assert_eq!(az.get_blob("media-out", "hls/missing.ts"), None);
    assert_eq!(
        az.list("media-out", "hls/"),
        ["hls/index.m3u8", "hls/seg 0.ts"]
    );
    assert_eq!(az.list("media-out", "").len(), 3);

    // Azurite really checks SharedKey: an unsigned read is refused.
    let r = http(
        "GET",
        &format!("{}/media-out/hls/index.m3u8", az.endpoint()),
        &[],
        None,
    )
    .unwrap();
    assert!(
        r.status == 403 || r.status == 401,
        "unsigned read got {}: {}",
        r.status,
        r.text()
    );

    let port = az.port();
    let pid = az.pid();
    az.kill();
    assert!(
        refuses_connections(port),
        "port {port} still open after kill"
    );
    assert!(!group_alive(pid), "Azurite (pid {pid}) survived kill()");
}

#[test]
fn webdav_put_lands_under_root() {
    let mut dav = WebDavServer::start();
    let data = sample(100_000);
    let url = format!("{}/out/v0/seg_00001.m4s", dav.url());
    let r = http("PUT", &url, &[], Some(&data)).unwrap();
    assert!(r.status == 201 || r.status == 204, "PUT got {}", r.status);
    let on_disk = dav.root().join("out/v0/seg_00001.m4s");
    assert_eq!(std::fs::read(&on_disk).unwrap(), data);
    // Overwrite, read back over HTTP, delete.
    let r = http("PUT", &url, &[], Some(b"v2")).unwrap();
    assert_eq!(r.status, 204);
    assert_eq!(http("GET", &url, &[], None).unwrap().body, b"v2");
    assert_eq!(http("DELETE", &url, &[], None).unwrap().status, 204);
    assert!(!on_disk.exists());
    assert_eq!(http("GET", &url, &[], None).unwrap().status, 404);
    if dav.supports_propfind() {
        // ureq refuses WebDAV methods, so PROPFIND goes over a raw socket.
        let mut sock = TcpStream::connect(("127.0.0.1", dav.port())).unwrap();
        write!(
            sock,
            "PROPFIND /out/ HTTP/1.1\r\nHost: 127.0.0.1\r\nDepth: 1\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut reply = String::new();
        sock.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1.1 207"), "PROPFIND: {reply}");
        assert!(reply.contains("/out/v0/"), "PROPFIND: {reply}");
    }
    let methods: Vec<_> = dav.requests().into_iter().map(|(m, _, s)| (m, s)).collect();
    assert!(methods.contains(&("PUT".into(), 201)), "{methods:?}");

    let port = dav.port();
    let pid = dav.pid();
    dav.kill();
    assert!(
        refuses_connections(port),
        "port {port} still open after kill"
    );
    assert!(!group_alive(pid), "nginx (pid {pid}) survived kill()");
    assert!(
        dav.root().join("out/v0").is_dir(),
        "root() must outlive kill()"
    );
}

#[test]
fn webdav_refusing_put() {
    let dav = WebDavServer::start_refusing_put();
    std::fs::write(dav.root().join("present.txt"), b"hi").unwrap();
    let r = http("PUT", &format!("{}/a/b.ts", dav.url()), &[], Some(b"x")).unwrap();
    assert!(r.status == 403 || r.status == 405, "PUT got {}", r.status);
    assert!(!dav.root().join("a").exists());
    let r = http("GET", &format!("{}/present.txt", dav.url()), &[], None).unwrap();
    assert_eq!((r.status, r.body), (200, b"hi".to_vec()));
}

#[test]
fn drop_leaves_no_process_even_after_a_panic() {
    // Normal drop.
    let dav = WebDavServer::start();
    let pid = dav.pid();
    drop(dav);
    assert!(!group_alive(pid), "nginx (pid {pid}) survived drop");

    // A test that panics while holding servers.
    let (tx, rx) = std::sync::mpsc::channel();
    let joined = std::thread::spawn(move || {
        let az = AzuriteServer::start();
        let dav = WebDavServer::start_refusing_put();
        tx.send(vec![az.pid(), dav.pid()]).unwrap();
        panic!("simulated test failure");
    })
    .join();
    assert!(joined.is_err());
    for pid in rx.recv().unwrap() {
        assert!(!group_alive(pid), "server pid {pid} survived a panic");
    }
}
