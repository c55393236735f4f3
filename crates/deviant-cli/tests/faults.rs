//! Crashes and faults against real processes. `fit --out` dies while it replaces a model
//! (`DEVIANT_FAULT` stops the process at a named point as `kill -9` would), a file-size
//! limit stands in for a full disk, and `deviant serve` is killed during an upload, a
//! training run and a model save, then started again on the same home.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;

use common::{Workspace, deviant, free_port, http, multipart, request, table};

/// The detector kind of the model directory at `dir`.
fn kind_at(dir: &Path) -> String {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    manifest["detector"]["kind"].as_str().unwrap().to_string()
}

/// Names in `dir`'s folder that a write of `dir` left beside it.
fn leftovers(dir: &Path) -> Vec<String> {
    let prefix = format!(".{}.", dir.file_name().unwrap().to_string_lossy());
    std::fs::read_dir(dir.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(&prefix))
        .collect()
}

#[test]
fn a_crash_while_fit_replaces_a_model_leaves_the_old_one_or_the_new_one() {
    let ws = Workspace::new();
    let data = ws.write("train.csv", &table(300, 0, 1));
    let model = ws.path("model");
    let fit = |kind: &str| {
        let mut fit = deviant();
        fit.args(["fit", "-d", kind, "--out"])
            .arg(&model)
            .arg(&data);
        fit
    };
    fit("pca").assert().success();
    // Killed once the new model is written beside the old, the old one stays; killed right
    // after the swap, the new one is in place. Either way it scores.
    for (point, kind) in [("dir-filled", "pca"), ("dir-replaced", "iforest")] {
        fit("iforest")
            .env("DEVIANT_FAULT", point)
            .assert()
            .failure();
        assert_eq!(kind_at(&model), kind, "killed at {point}");
        let score = deviant().arg("score").arg(&model).arg(&data).assert();
        score.success();
    }
    assert!(
        !leftovers(&model).is_empty(),
        "the crashes left their folders"
    );
    // The next write clears what the crashed ones left.
    fit("hbos").assert().success();
    assert_eq!(kind_at(&model), "hbos");
    assert_eq!(leftovers(&model), Vec::<String>::new());
}

#[test]
fn a_full_disk_while_saving_is_a_clear_error_and_keeps_the_previous_model() {
    let ws = Workspace::new();
    let data = ws.write("train.csv", &table(300, 0, 1));
    let model = ws.path("model");
    deviant()
        .args(["fit", "-d", "pca", "--out"])
        .arg(&model)
        .arg(&data)
        .assert()
        .success();
    // A 16 KiB file-size limit (an Isolation Forest's trees need more) with SIGXFSZ ignored,
    // so a write past it fails as a write to a full disk does.
    let bin = assert_cmd::cargo::cargo_bin!("deviant");
    let output = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -f 32; trap '' XFSZ; exec "$0" --quiet fit -d iforest --out "$1" "$2""#)
        .arg(bin)
        .arg(&model)
        .arg(&data)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("what was there is kept") && stderr.contains("free space"),
        "{stderr}"
    );
    assert_eq!(kind_at(&model), "pca");
    assert_eq!(leftovers(&model), Vec::<String>::new());
    deviant()
        .arg("score")
        .arg(&model)
        .arg(&data)
        .assert()
        .success();
}

/// `deviant serve` on loopback over `home`.
struct Served {
    child: Child,
    addr: String,
}

impl Served {
    /// Starts the server with `env` and waits until it answers; the API token when this
    /// start made one.
    fn start(home: &Path, env: &[(&str, &str)]) -> (Self, Option<String>) {
        let addr = format!("127.0.0.1:{}", free_port());
        let mut child = Command::new(assert_cmd::cargo::cargo_bin!("deviant"))
            .args(["serve", "--addr", &addr, "--home"])
            .arg(home)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut token = None;
        for _ in 0..3 {
            let line = lines.next().unwrap().unwrap();
            if line.starts_with("API token (shown once") {
                token = Some(lines.next().unwrap().unwrap().trim().to_string());
                break;
            }
            if line.starts_with("API token:") {
                break;
            }
        }
        let served = Served { child, addr };
        let started = Instant::now();
        while http(&served.addr, "GET", "/api/v1/health", None).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "no answer");
            std::thread::sleep(Duration::from_millis(50));
        }
        (served, token)
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<(&str, &[u8])>,
    ) -> (u16, Value) {
        let (status, body) = request(&self.addr, method, path, Some(token), body).unwrap();
        (
            status,
            serde_json::from_str(&body).unwrap_or(Value::String(body)),
        )
    }

    fn upload(&self, token: &str, name: &str, text: &str) -> String {
        let (kind, body) = multipart(name, text.as_bytes());
        let (status, dataset) = self.call("POST", "/api/v1/datasets", token, Some((&kind, &body)));
        assert_eq!(status, 201, "{dataset}");
        dataset["id"].as_str().unwrap().to_string()
    }

    fn train(&self, token: &str, dataset: &str, detector: &str, params: Value) -> String {
        let run = serde_json::json!({
            "dataset": dataset, "detector": detector, "label": "label", "params": params
        })
        .to_string();
        let body = Some(("application/json", run.as_bytes()));
        let (status, run) = self.call("POST", "/api/v1/runs", token, body);
        assert_eq!(status, 202, "{run}");
        run["id"].as_str().unwrap().to_string()
    }

    /// Polls run `id` until `done` holds of it.
    fn wait_for(&self, token: &str, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let (status, run) = self.call("GET", &format!("/api/v1/runs/{id}"), token, None);
            assert_eq!(status, 200, "{run}");
            if done(&run) {
                return run;
            }
            assert!(started.elapsed() < Duration::from_secs(120), "{run}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `kill -9`.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn serve_killed_during_an_upload_a_run_and_a_save_restarts_consistent() {
    let ws = Workspace::new();
    let home = ws.path("home");
    let (server, token) = Served::start(&home, &[]);
    let token = token.expect("a first start makes a token");
    let kept = server.upload(&token, "kept.csv", &table(300, 5, 1));
    let done = server.train(&token, &kept, "iforest", serde_json::json!({}));
    let finished = |run: &Value| run["status"] != "queued" && run["status"] != "running";
    assert_eq!(
        server.wait_for(&token, &done, finished)["status"],
        "succeeded"
    );
    let score_row = r#"{"rows": [{"a": 4, "b": -4, "c": 3, "proto": "icmp"}]}"#;
    let scores = |server: &Served| {
        let body = Some(("application/json", score_row.as_bytes()));
        server.call("POST", &format!("/api/v1/runs/{done}/score"), &token, body)
    };
    let (status, before) = scores(&server);
    assert_eq!(status, 200, "{before}");

    // During an upload: half of a large body has arrived.
    let (kind, body) = multipart("half.csv", table(200_000, 5, 2).as_bytes());
    let mut stream = std::net::TcpStream::connect(&server.addr).unwrap();
    write!(
        stream,
        "POST /api/v1/datasets HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: {kind}\r\nContent-Length: {}\r\n\r\n",
        server.addr,
        body.len()
    )
    .unwrap();
    stream.write_all(&body[..body.len() / 2]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    server.kill();
    let (server, _) = Served::start(&home, &[]);
    let (_, datasets) = server.call("GET", "/api/v1/datasets", &token, None);
    assert_eq!(datasets.as_array().unwrap().len(), 1, "{datasets}");

    // During training: a long autoencoder run.
    let params = serde_json::json!({"training": {"epochs": 1_000_000, "patience": 0}});
    let long = server.train(&token, &kept, "ae", params);
    server.wait_for(&token, &long, |run| run["status"] == "running");
    std::thread::sleep(Duration::from_millis(500));
    server.kill();

    // During the save of a model: the server dies once the model is written beside its
    // place, before the run is recorded as finished.
    let (server, _) = Served::start(&home, &[("DEVIANT_FAULT", "dir-filled")]);
    let saving = server.train(&token, &kept, "iforest", serde_json::json!({}));
    let mut server = server;
    let started = Instant::now();
    while server.child.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the fault never fired"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let (server, _) = Served::start(&home, &[]);
    for id in [&long, &saving] {
        let (_, run) = server.call("GET", &format!("/api/v1/runs/{id}"), &token, None);
        assert_eq!(run["status"], "failed", "{run}");
        assert!(
            run["error"].as_str().unwrap().contains("interrupted"),
            "{run}"
        );
        assert_eq!(run["has_model"], false, "{run}");
        let (status, body) = server.call(
            "POST",
            &format!("/api/v1/runs/{id}/score"),
            &token,
            Some(("application/json", score_row.as_bytes())),
        );
        assert_eq!(status, 409, "no half model is served: {body}");
    }
    // What was there before the crashes is intact.
    let (status, after) = scores(&server);
    assert_eq!((status, &after), (200, &before));
    let (_, datasets) = server.call("GET", "/api/v1/datasets", &token, None);
    assert_eq!(datasets[0]["id"], kept.as_str());
    drop(server);
    let store = deviant_store::Store::open(&home).unwrap();
    store.integrity_check().unwrap();
    // Nothing the crashes left is on disk: one dataset folder, one model folder.
    for (folder, count) in [("datasets", 1), ("models", 1)] {
        let names: Vec<_> = std::fs::read_dir(home.join(folder)).unwrap().collect();
        assert_eq!(names.len(), count, "{folder}: {names:?}");
    }
}
