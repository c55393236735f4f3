//! What the `deviant` binary's test files share: the command, a generated table, a
//! scratch folder, and a bare HTTP client for `deviant serve`.
// Each test binary compiles this module and uses a part of it.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::PathBuf;

use assert_cmd::cargo::cargo_bin_cmd;
use predicates::prelude::*;
use predicates::str::contains;
use tempfile::TempDir;

pub fn deviant() -> assert_cmd::Command {
    let mut cmd = cargo_bin_cmd!("deviant");
    cmd.arg("--quiet");
    cmd
}

/// A deterministic table: normal rows near (0, 0) with protocol tcp/udp, anomalies far away
/// with protocol icmp. Every `anomaly_every`-th row is an anomaly (0 = none).
pub fn table(rows: usize, anomaly_every: usize, seed: u64) -> String {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut uniform = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let mut text = String::from("a,b,c,proto,label\n");
    for i in 0..rows {
        let anomaly = anomaly_every > 0 && i % anomaly_every == anomaly_every - 1;
        let (a, b) = (uniform(), uniform());
        if anomaly {
            writeln!(text, "{},{},{},icmp,1", 4.0 + a, -4.0 + b, 3.0 + uniform()).unwrap();
        } else {
            let proto = if i % 3 == 0 { "udp" } else { "tcp" };
            writeln!(text, "{a},{b},{},{proto},0", a + b + 0.05 * uniform()).unwrap();
        }
    }
    text
}

pub struct Workspace {
    dir: TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        Workspace {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Trains a PCA model on normal rows, threshold chosen on a labelled validation table.
    pub fn fitted_model(&self) -> PathBuf {
        let train = self.write("train.csv", &table(400, 0, 1));
        let validation = self.write("validation.csv", &table(200, 5, 2));
        let model = self.path("model");
        deviant()
            .args(["fit", "-d", "pca", "--label", "label", "--out"])
            .arg(&model)
            .arg("--validation")
            .arg(&validation)
            .arg(&train)
            .assert()
            .success()
            .stdout(contains("threshold:").and(contains("best-f1, chosen on validation")));
        model
    }
}

/// One HTTP/1.1 request over a plain socket: (status code, body).
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> std::io::Result<(u16, String)> {
    request(addr, method, path, token, None)
}

/// [`http`] with a body: (content type, bytes).
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, &[u8])>,
) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr)?;
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let content = body.map_or(String::new(), |(kind, bytes)| {
        format!(
            "Content-Type: {kind}\r\nContent-Length: {}\r\n",
            bytes.len()
        )
    });
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}{content}Connection: close\r\n\r\n"
    )?;
    if let Some((_, bytes)) = body {
        stream.write_all(bytes)?;
    }
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    Ok((status, body))
}

/// A multipart/form-data body with one file part named `file`: (content type, bytes).
pub fn multipart(file_name: &str, content: &[u8]) -> (String, Vec<u8>) {
    let boundary = "deviant-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A port free on loopback now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
