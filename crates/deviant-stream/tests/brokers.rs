//! Streams through real brokers started on loopback ports of their own: Redis
//! (`redis-server`, append-only so a restart keeps the stream and the group) and NATS with
//! JetStream (`nats-server -js`). Each test restarts its broker mid-stream and checks that
//! every row is scored once, a malformed entry is refused on the error sink, and nothing is
//! left unacknowledged.

use std::collections::HashMap;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use deviant_core::{Dataset, FitContext, Schema, ThresholdRule};
use deviant_data::{PreprocessOptions, Scaling, Table};
use deviant_detectors::AnyConfig;
use deviant_engine::{Model, TrainSpec};
use deviant_stream::brokers::{NatsSink, NatsSource, RedisSink, RedisSource};
use deviant_stream::{Sink, Source, StreamOptions, StreamStatus, Streamer, WriterSink};
use ndarray::Array2;
use redis::Commands;

/// A model of two numeric columns `a` and `b`.
fn model() -> Model {
    let x = Array2::from_shape_fn((200, 2), |(i, j)| ((i * 7 + j * 3) % 13) as f32 / 13.0);
    let mut data = Dataset::new(x, None);
    data.feature_names = vec!["a".into(), "b".into()];
    let schema = Schema::numeric(&data.feature_names);
    let table = Table::from_dataset(&data, "train");
    let config = AnyConfig::from_params("robust_zscore", &serde_json::json!({})).unwrap();
    Model::train(
        TrainSpec {
            config: &config,
            schema: &schema,
            preprocess: PreprocessOptions {
                scaling: Scaling::None,
                impute: false,
            },
            fit: &table,
            threshold_rows: None,
            threshold: ThresholdRule::Mad { k: 3.0 },
        },
        &FitContext::new(1),
    )
    .unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A broker process, killed when dropped.
struct Server {
    child: Child,
    program: &'static str,
    args: Vec<String>,
    port: u16,
}

/// Whether `program` is installed; without it the test says so and skips, unless
/// `DEVIANT_REQUIRE_BROKERS` is set (as `.ci/run` sets it after installing both).
fn installed(program: &str) -> bool {
    let found = Command::new(program).arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("DEVIANT_REQUIRE_BROKERS").is_none(),
            "{program} is not installed (Debian: apt-get install {program})"
        );
        eprintln!("skipped: {program} is not installed (Debian: apt-get install {program})");
    }
    found
}

impl Server {
    fn start(program: &'static str, args: Vec<String>, port: u16) -> Self {
        let child = Command::new(program)
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{program} could not start ({e}): install it (Debian: apt-get install {program}); .ci/run does")
            });
        let server = Self {
            child,
            program,
            args,
            port,
        };
        server.wait_until_listening();
        server
    }

    fn wait_until_listening(&self) {
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{} did not listen",
                self.program
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the broker — with SIGKILL, or SIGTERM when `graceful` — and starts it again on
    /// the same port and data.
    fn restart(&mut self, graceful: bool) {
        match graceful {
            true => {
                let pid = self.child.id().to_string();
                assert!(
                    Command::new("kill")
                        .args(["-TERM", &pid])
                        .status()
                        .unwrap()
                        .success()
                );
            }
            false => self.child.kill().unwrap(),
        }
        self.child.wait().unwrap();
        *self = Self::start(self.program, self.args.clone(), self.port);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn stream_in_background(
    source: Box<dyn Source>,
    sink: Box<dyn Sink>,
    errors: &Path,
) -> (Arc<AtomicBool>, JoinHandle<StreamStatus>) {
    let stop = Arc::new(AtomicBool::new(false));
    let errors: Box<dyn Sink> = Box::new(WriterSink::file(errors).unwrap());
    let options = StreamOptions {
        max_delay: Duration::from_millis(2),
        max_batch: 64,
        ..Default::default()
    };
    let streamer =
        Streamer::new(model(), "test", source, sink, errors, options, stop.clone()).unwrap();
    (stop, std::thread::spawn(move || streamer.run().unwrap()))
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// (input id or line, count) over the NDJSON lines `scores`.
fn counted(scores: &[String], key: &str) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for line in scores {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        *counts.entry(row[key].to_string()).or_insert(0) += 1;
    }
    counts
}

#[test]
fn redis_streams_survive_a_broker_restart_without_losing_or_repeating_rows() {
    if !installed("redis-server") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let args = [
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--dir",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([dir.path().display().to_string()])
    .collect();
    let mut server = Server::start("redis-server", args, port);
    let address = format!("127.0.0.1:{port}");
    let client = redis::Client::open(format!("redis://{address}/")).unwrap();
    let add = |from: usize, to: usize| {
        let mut connection = client.get_connection().unwrap();
        for i in from..to {
            let a = ((i % 13) as f32 / 13.0).to_string();
            let _: String = connection
                .xadd("flows", "*", &[("a", a.as_str()), ("b", "0.5")])
                .unwrap();
        }
    };
    add(0, 150);
    let _: String = client
        .get_connection()
        .unwrap()
        .xadd("flows", "*", &[("a", "not a number"), ("b", "0.5")])
        .unwrap();
    let source = RedisSource::connect(&address, "flows", "scorers", "one").unwrap();
    let sink = RedisSink::connect(&address, "scores").unwrap();
    let errors = dir.path().join("errors.ndjson");
    let (stop, running) = stream_in_background(Box::new(source), Box::new(sink), &errors);
    let scores = |client: &redis::Client| -> Vec<String> {
        let Ok(mut connection) = client.get_connection() else {
            return Vec::new();
        };
        let entries: redis::streams::StreamRangeReply =
            connection.xrange_all("scores").unwrap_or_default();
        entries
            .ids
            .iter()
            .map(|e| e.get::<String>("json").unwrap())
            .collect()
    };
    wait_for("the first rows", || scores(&client).len() >= 150);
    // Redis writes the append-only file on every command: even a kill keeps the group.
    server.restart(false);
    add(150, 300);
    wait_for("every row", || scores(&client).len() >= 300);
    stop.store(true, Ordering::Relaxed);
    let status = running.join().unwrap();
    let all = scores(&client);
    let counts = counted(&all, "id");
    assert_eq!(counts.len(), 300, "every entry scored");
    assert!(counts.values().all(|&n| n == 1), "an entry scored twice");
    assert_eq!(status.errors, 1);
    let refused = std::fs::read_to_string(&errors).unwrap();
    assert!(
        refused.contains("column `a`") && refused.contains("not a number"),
        "{refused}"
    );
    let mut connection = client.get_connection().unwrap();
    let pending: redis::streams::StreamPendingReply =
        connection.xpending("flows", "scorers").unwrap();
    assert_eq!(pending.count(), 0, "entries left unacknowledged");
}

#[test]
fn nats_jetstream_survives_a_broker_restart_without_losing_or_repeating_rows() {
    if !installed("nats-server") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let args = vec![
        "-js".to_string(),
        "-a".into(),
        "127.0.0.1".into(),
        "-p".into(),
        port.to_string(),
        "-sd".into(),
        dir.path().join("store").display().to_string(),
    ];
    let mut server = Server::start("nats-server", args, port);
    let address = format!("127.0.0.1:{port}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // The results, kept by a JetStream stream of our own: a plain subscriber would miss
    // what is published while it reconnects.
    runtime.block_on(async {
        let client = async_nats::connect(address.clone()).await.unwrap();
        let js = async_nats::jetstream::new(client);
        js.create_stream(async_nats::jetstream::stream::Config {
            name: "RESULTS".into(),
            subjects: vec!["scores".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    });
    let received = || -> Vec<String> {
        runtime.block_on(async {
            let Ok(client) = async_nats::connect(address.clone()).await else {
                return Vec::new();
            };
            let js = async_nats::jetstream::new(client);
            let Ok(mut stream) = js.get_stream("RESULTS").await else {
                return Vec::new();
            };
            let Ok(info) = stream.info().await else {
                return Vec::new();
            };
            let last = info.state.last_sequence;
            let mut texts = Vec::new();
            for sequence in 1..=last {
                if let Ok(message) = stream.get_raw_message(sequence).await {
                    texts.push(String::from_utf8_lossy(&message.payload).into_owned());
                }
            }
            texts
        })
    };
    let source = NatsSource::connect(&address, "flows", "scorers").unwrap();
    let sink = NatsSink::connect(&address, "scores").unwrap();
    let publish = |from: usize, to: usize| {
        let address = address.clone();
        runtime.block_on(async move {
            let client = async_nats::connect(address).await.unwrap();
            let js = async_nats::jetstream::new(client);
            for i in from..to {
                let row = format!("{{\"a\": {}, \"b\": 0.5}}", (i % 13) as f32 / 13.0);
                js.publish("flows", row.into())
                    .await
                    .unwrap()
                    .await
                    .unwrap();
            }
            if from == 0 {
                js.publish("flows", "{\"a\": 1".into())
                    .await
                    .unwrap()
                    .await
                    .unwrap();
            }
        });
    };
    publish(0, 150);
    let errors = dir.path().join("errors.ndjson");
    let (stop, running) = stream_in_background(Box::new(source), Box::new(sink), &errors);
    let count = || received().len();
    wait_for("the first rows", || count() >= 150);
    // NATS 2.9 keeps a consumer's acknowledgements in memory and writes them out now and
    // then, so a kill -9 may deliver acknowledged messages again: that is the broker's
    // guarantee, not the stream's. Once every ack has reached it, a clean restart keeps them.
    wait_for("the acknowledgements", || {
        ack_pending(&runtime, &address) == 0
    });
    server.restart(true);
    publish(150, 300);
    wait_for("every row", || count() >= 300);
    stop.store(true, Ordering::Relaxed);
    let status = running.join().unwrap();
    let counts = counted(&received(), "id");
    assert_eq!(counts.len(), 300, "every message scored");
    assert!(counts.values().all(|&n| n == 1), "a message scored twice");
    assert_eq!(status.errors, 1);
    let refused = std::fs::read_to_string(&errors).unwrap();
    assert!(refused.contains("not JSON"), "{refused}");
    assert_eq!(
        ack_pending(&runtime, &address),
        0,
        "messages left unacknowledged"
    );
}

/// Messages of the `scorers` consumer delivered and not yet acknowledged, or not yet
/// delivered.
fn ack_pending(runtime: &tokio::runtime::Runtime, address: &str) -> u64 {
    runtime.block_on(async {
        let client = async_nats::connect(address).await.unwrap();
        let js = async_nats::jetstream::new(client);
        let stream = js.get_stream("DEVIANT_flows").await.unwrap();
        let mut consumer: async_nats::jetstream::consumer::PullConsumer =
            stream.get_consumer("scorers").await.unwrap();
        let info = consumer.info().await.unwrap();
        info.num_ack_pending as u64 + info.num_pending
    })
}
