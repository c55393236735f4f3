//! Checked downloads against a small HTTP server on 127.0.0.1: a clean download, resuming a
//! dropped connection with a range request, a digest mismatch, and the offline remedy.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use deviant_core::{Error, NoProgress};
use deviant_data::download::{RemoteFile, download, find_or_download, sha256_file};

/// Serves `body` at every path. The first `drop_first` responses send only half the body and
/// close the connection. Returns the base URL and a counter of range requests seen.
fn serve(body: Vec<u8>, drop_first: usize) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/file.bin", listener.local_addr().unwrap());
    let ranges = Arc::new(AtomicUsize::new(0));
    let seen = ranges.clone();
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            respond(stream.unwrap(), &body, i < drop_first, &seen);
        }
    });
    (url, ranges)
}

fn respond(mut stream: TcpStream, body: &[u8], drop_half: bool, ranges: &AtomicUsize) {
    let mut start = 0;
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(spec) = lower.strip_prefix("range: bytes=") {
            start = spec.trim().trim_end_matches('-').parse().unwrap();
            ranges.fetch_add(1, Ordering::SeqCst);
        }
    }
    let rest = &body[start..];
    let head = if start > 0 {
        format!(
            "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {start}-{}/{}\r\nConnection: close\r\n\r\n",
            rest.len(),
            body.len() - 1,
            body.len()
        )
    } else {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            rest.len()
        )
    };
    stream.write_all(head.as_bytes()).unwrap();
    let sent = if drop_half {
        &rest[..rest.len() / 2]
    } else {
        rest
    };
    let _ = stream.write_all(sent);
    let _ = stream.flush();
}

fn body() -> Vec<u8> {
    (0..200_000u32)
        .flat_map(|i| (i % 251).to_le_bytes())
        .collect()
}

fn digest_of(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x");
    std::fs::write(&path, bytes).unwrap();
    sha256_file(&path).unwrap()
}

#[test]
fn downloads_and_checks_the_digest() {
    let body = body();
    let (url, ranges) = serve(body.clone(), 0);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("sub/file.bin");
    download(&url, &dest, &digest_of(&body), &NoProgress).unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), body);
    assert_eq!(ranges.load(Ordering::SeqCst), 0);
    assert!(!dir.path().join("sub/file.bin.part").exists());
}

#[test]
fn resumes_a_dropped_connection_with_a_range_request() {
    let body = body();
    let (url, ranges) = serve(body.clone(), 1);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("file.bin");
    download(&url, &dest, &digest_of(&body), &NoProgress).unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), body);
    assert_eq!(
        ranges.load(Ordering::SeqCst),
        1,
        "the second try asks for the rest"
    );
}

#[test]
fn a_digest_mismatch_keeps_nothing() {
    let (url, _) = serve(body(), 0);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("file.bin");
    let err = download(&url, &dest, &"0".repeat(64), &NoProgress).unwrap_err();
    assert!(matches!(err, Error::Download { .. }), "{err}");
    assert!(err.to_string().contains("sha256"), "{err}");
    assert!(!dest.exists());
    assert!(!dir.path().join("file.bin.part").exists());
}

#[test]
fn a_local_copy_is_used_and_offline_errors_name_the_remedy() {
    let body = body();
    let digest: &'static str = Box::leak(digest_of(&body).into_boxed_str());
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("file.bin"), &body).unwrap();
    // Nothing listens on this port once the listener is dropped.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url: &'static str = Box::leak(format!("http://127.0.0.1:{port}/file.bin").into_boxed_str());
    let file = RemoteFile {
        name: "file.bin",
        url,
        sha256: digest,
    };
    let dirs: Vec<PathBuf> = vec![local.path().to_path_buf()];
    let empty = tempfile::tempdir().unwrap();
    let found = find_or_download(&file, &dirs, empty.path(), &NoProgress).unwrap();
    assert_eq!(found, local.path().join("file.bin"));

    let err = find_or_download(
        &file,
        &[empty.path().to_path_buf()],
        empty.path(),
        &NoProgress,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("file.bin") && err.contains("--data-dir"),
        "{err}"
    );
    assert!(err.contains(digest), "{err}");
}
