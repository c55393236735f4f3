//! Brokers: Redis Streams (a consumer group; an entry is acknowledged with XACK only after
//! its score is written) and NATS JetStream (a durable pull consumer with explicit acks).
//! Both reconnect when the broker goes away and comes back; what was delivered but not
//! acknowledged is delivered again, so nothing is lost and nothing acknowledged repeats.

use std::time::{Duration, Instant};

use deviant_core::{Error, Result};
use futures::StreamExt;
use redis::streams::{StreamReadOptions, StreamReadReply};
use redis::{Commands, Connection, RedisResult};

use crate::sink::Sink;
use crate::source::{Ack, Location, Payload, Record, Source};

/// How long a sink keeps trying to reach its broker before the stream stops with an error.
const SINK_PATIENCE: Duration = Duration::from_secs(60);

/// The source a broker location names.
pub fn source(location: &Location, group: &str, consumer: &str) -> Result<Box<dyn Source>> {
    match location {
        Location::Redis { address, key } => Ok(Box::new(RedisSource::connect(
            address, key, group, consumer,
        )?)),
        Location::Nats { address, subject } => {
            Ok(Box::new(NatsSource::connect(address, subject, group)?))
        }
        other => Err(Error::internal(format!("{other:?} is not a broker"))),
    }
}

/// The sink a broker location names.
pub fn sink(location: &Location) -> Result<Box<dyn Sink>> {
    match location {
        Location::Redis { address, key } => Ok(Box::new(RedisSink::connect(address, key)?)),
        Location::Nats { address, subject } => Ok(Box::new(NatsSink::connect(address, subject)?)),
        other => Err(Error::internal(format!("{other:?} is not a broker"))),
    }
}

fn broker_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::input(
        what,
        format!("{e}; is the broker running and reachable at that address?"),
    )
}

fn redis_connect(client: &redis::Client, what: &str) -> Result<Connection> {
    client
        .get_connection_with_timeout(Duration::from_secs(2))
        .map_err(|e| broker_error(what, e))
}

/// A Redis stream read through a consumer group.
pub struct RedisSource {
    name: String,
    client: redis::Client,
    connection: Option<Connection>,
    key: String,
    group: String,
    consumer: String,
    /// Read this consumer's delivered but unacknowledged entries first (at start and after
    /// every reconnect), then new ones.
    pending_first: bool,
    /// Entries whose scores are written but whose XACK has not reached the server.
    unacked: Vec<String>,
    entries: u64,
    warned: bool,
    notices: Vec<String>,
}

impl RedisSource {
    /// Joins (or creates, with the stream) the group; a new group starts at the stream's
    /// first entry, so rows added before the consumer started are scored too.
    pub fn connect(address: &str, key: &str, group: &str, consumer: &str) -> Result<Self> {
        let name = format!("redis://{address}/{key}");
        let client = redis::Client::open(format!("redis://{address}/"))
            .map_err(|e| broker_error(&name, e))?;
        let mut source = Self {
            connection: Some(redis_connect(&client, &name)?),
            name,
            client,
            key: key.into(),
            group: group.into(),
            consumer: consumer.into(),
            pending_first: true,
            unacked: Vec::new(),
            entries: 0,
            warned: false,
            notices: Vec::new(),
        };
        source.join_group()?;
        Ok(source)
    }

    fn join_group(&mut self) -> Result<()> {
        let connection = self.connection.as_mut().expect("connected");
        let created: RedisResult<()> =
            connection.xgroup_create_mkstream(&self.key, &self.group, "0");
        match created {
            Err(e) if e.code() != Some("BUSYGROUP") => Err(broker_error(&self.name, e)),
            _ => Ok(()),
        }
    }

    /// A live connection, reconnecting (and re-reading pending entries) after an outage.
    fn connection(&mut self) -> Option<&mut Connection> {
        if self.connection.is_none() {
            match redis_connect(&self.client, &self.name) {
                Ok(connection) => {
                    self.notices.push(format!("{}: reconnected", self.name));
                    self.connection = Some(connection);
                    self.pending_first = true;
                    self.warned = false;
                    if self.join_group().is_err() {
                        self.connection = None;
                    }
                }
                Err(e) => {
                    if !self.warned {
                        self.notices.push(format!("{}: {e}; retrying", self.name));
                        self.warned = true;
                    }
                    return None;
                }
            }
        }
        self.connection.as_mut()
    }

    /// Drops the connection after a failed command; the next call reconnects.
    fn lost(&mut self, e: &redis::RedisError) {
        if !self.warned {
            self.notices
                .push(format!("{}: {e}; reconnecting", self.name));
            self.warned = true;
        }
        self.connection = None;
    }

    fn flush_acks(&mut self) -> bool {
        if self.unacked.is_empty() {
            return true;
        }
        let (key, group) = (self.key.clone(), self.group.clone());
        let ids = std::mem::take(&mut self.unacked);
        let Some(connection) = self.connection() else {
            self.unacked = ids;
            return false;
        };
        let acked: RedisResult<i64> = connection.xack(&key, &group, &ids);
        match acked {
            Ok(_) => true,
            Err(e) => {
                self.unacked = ids;
                self.lost(&e);
                false
            }
        }
    }
}

impl Source for RedisSource {
    fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<Record>> {
        let started = Instant::now();
        if !self.flush_acks() {
            std::thread::sleep(wait.min(Duration::from_millis(200)));
            return Ok(Vec::new());
        }
        let from = if self.pending_first { "0" } else { ">" };
        let mut options = StreamReadOptions::default()
            .group(&self.group, &self.consumer)
            .count(max);
        if from == ">" {
            options = options.block(wait.as_millis().max(1) as usize);
        }
        let key = self.key.clone();
        let Some(connection) = self.connection() else {
            std::thread::sleep(
                wait.saturating_sub(started.elapsed())
                    .min(Duration::from_millis(200)),
            );
            return Ok(Vec::new());
        };
        let reply: RedisResult<Option<StreamReadReply>> =
            connection.xread_options(&[&key], &[from], &options);
        let reply = match reply {
            Ok(reply) => reply,
            Err(e) => {
                self.lost(&e);
                return Ok(Vec::new());
            }
        };
        let mut records = Vec::new();
        for stream in reply.map(|r| r.keys).unwrap_or_default() {
            for entry in stream.ids {
                self.entries += 1;
                let mut pairs = Vec::with_capacity(entry.map.len());
                for (field, value) in entry.map {
                    let text: String = redis::from_redis_value(value).map_err(|e| {
                        Error::format(
                            &self.name,
                            format!("entry {}: field `{field}`: {e}", entry.id),
                        )
                    })?;
                    pairs.push((field, text));
                }
                records.push(Record {
                    id: Some(entry.id.clone()),
                    line: self.entries,
                    payload: Payload::Pairs(pairs),
                    ack: Ack::Redis(entry.id),
                });
            }
        }
        if self.pending_first && records.is_empty() {
            self.pending_first = false;
        }
        Ok(records)
    }

    fn ack(&mut self, acks: Vec<Ack>) -> Result<()> {
        self.unacked
            .extend(acks.into_iter().filter_map(|a| match a {
                Ack::Redis(id) => Some(id),
                _ => None,
            }));
        self.flush_acks();
        Ok(())
    }

    fn take_notices(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notices)
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

/// Scores appended to a Redis stream, one entry per row with the JSON in field `json`.
pub struct RedisSink {
    name: String,
    client: redis::Client,
    connection: Option<Connection>,
    key: String,
}

impl RedisSink {
    pub fn connect(address: &str, key: &str) -> Result<Self> {
        let name = format!("redis://{address}/{key}");
        let client = redis::Client::open(format!("redis://{address}/"))
            .map_err(|e| broker_error(&name, e))?;
        Ok(Self {
            connection: Some(redis_connect(&client, &name)?),
            name,
            client,
            key: key.into(),
        })
    }
}

impl Sink for RedisSink {
    /// Retries through an outage of up to a minute; a batch cut short by one may be written
    /// twice, never lost.
    fn write(&mut self, lines: &[String]) -> Result<()> {
        let mut pipe = redis::pipe();
        for line in lines {
            pipe.xadd(&self.key, "*", &[("json", line)]).ignore();
        }
        let started = Instant::now();
        loop {
            if self.connection.is_none() {
                self.connection = redis_connect(&self.client, &self.name).ok();
            }
            if let Some(connection) = &mut self.connection {
                match pipe.query::<()>(connection) {
                    Ok(()) => return Ok(()),
                    Err(e) if started.elapsed() > SINK_PATIENCE => {
                        return Err(broker_error(&self.name, e));
                    }
                    Err(_) => self.connection = None,
                }
            }
            if started.elapsed() > SINK_PATIENCE {
                return Err(broker_error(&self.name, "cannot reconnect"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

/// A runtime with one worker thread for a NATS client: the client's own tasks (heartbeats,
/// acknowledgements of publishes, reconnects) keep running while the stream scores, and
/// the stream waits on it with `block_on`.
fn nats_runtime(name: &str) -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| Error::io(name, e))
}

async fn nats_client(address: &str, name: &str) -> Result<async_nats::Client> {
    async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(2))
        .connect(address)
        .await
        .map_err(|e| broker_error(name, e))
}

type NatsMessages = async_nats::jetstream::consumer::pull::Stream;

/// A JetStream durable pull consumer on the stream that captures the subject (created, as
/// `DEVIANT_<subject>`, when no stream does).
pub struct NatsSource {
    name: String,
    runtime: tokio::runtime::Runtime,
    client: async_nats::Client,
    messages: NatsMessages,
    entries: u64,
    notices: Vec<String>,
}

impl NatsSource {
    pub fn connect(address: &str, subject: &str, durable: &str) -> Result<Self> {
        use async_nats::jetstream::{self, consumer, stream};
        let name = format!("nats://{address}/{subject}");
        let runtime = nats_runtime(&name)?;
        let (client, messages) = runtime.block_on(async {
            let deadline =
                tokio::time::timeout(Duration::from_secs(5), nats_client(address, &name));
            let client = deadline
                .await
                .map_err(|_| broker_error(&name, "no answer within 5 s"))??;
            let js = jetstream::new(client.clone());
            let stream_name = match js.stream_by_subject(subject).await {
                Ok(existing) => existing,
                Err(_) => {
                    let name: String = subject
                        .chars()
                        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                        .collect();
                    format!("DEVIANT_{name}")
                }
            };
            let stream = js
                .get_or_create_stream(stream::Config {
                    name: stream_name,
                    subjects: vec![subject.to_string()],
                    ..Default::default()
                })
                .await
                .map_err(|e| broker_error(&name, e))?;
            let consumer = stream
                .get_or_create_consumer(
                    durable,
                    consumer::pull::Config {
                        durable_name: Some(durable.to_string()),
                        ack_policy: consumer::AckPolicy::Explicit,
                        ..Default::default()
                    },
                )
                .await
                .map_err(|e| broker_error(&name, e))?;
            let messages = consumer
                .messages()
                .await
                .map_err(|e| broker_error(&name, e))?;
            Ok::<_, Error>((client, messages))
        })?;
        Ok(Self {
            name,
            runtime,
            client,
            messages,
            entries: 0,
            notices: Vec::new(),
        })
    }

    fn record(&mut self, message: async_nats::jetstream::Message) -> Record {
        self.entries += 1;
        let id = message
            .info()
            .map(|info| info.stream_sequence.to_string())
            .ok();
        let reply = message.reply.as_ref().map(|r| r.to_string());
        Record {
            id,
            line: self.entries,
            payload: Payload::Json(String::from_utf8_lossy(&message.payload).into_owned()),
            ack: reply.map_or(Ack::None, Ack::Nats),
        }
    }
}

impl Source for NatsSource {
    fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<Record>> {
        let mut arrived = Vec::new();
        let messages = &mut self.messages;
        self.runtime.block_on(async {
            if let Ok(Some(first)) = tokio::time::timeout(wait, messages.next()).await {
                arrived.push(first);
                // Whatever else is already here joins without waiting.
                while arrived.len() < max {
                    match futures::FutureExt::now_or_never(messages.next()) {
                        Some(Some(message)) => arrived.push(message),
                        _ => break,
                    }
                }
            }
        });
        let mut records = Vec::with_capacity(arrived.len());
        for message in arrived {
            match message {
                Ok(message) => records.push(self.record(message)),
                // The client reconnects by itself; undelivered messages come again.
                Err(e) => self.notices.push(format!("{}: {e}", self.name)),
            }
        }
        Ok(records)
    }

    fn ack(&mut self, acks: Vec<Ack>) -> Result<()> {
        let client = self.client.clone();
        let name = self.name.clone();
        self.runtime.block_on(async move {
            for ack in acks {
                if let Ack::Nats(reply) = ack {
                    client
                        .publish(reply, "+ACK".into())
                        .await
                        .map_err(|e| broker_error(&name, e))?;
                }
            }
            client.flush().await.map_err(|e| broker_error(&name, e))
        })
    }

    fn take_notices(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notices)
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

/// Scores published on a NATS subject, one message per row. When a JetStream stream
/// captures the subject, each message is published through JetStream with its hash as the
/// message id and the write waits for the stream's acknowledgements, republishing what an
/// outage lost (the stream drops the copies it already has); otherwise it is a plain
/// publish, which NATS delivers at most once.
pub struct NatsSink {
    name: String,
    runtime: tokio::runtime::Runtime,
    client: async_nats::Client,
    jetstream: Option<async_nats::jetstream::Context>,
    subject: String,
}

impl NatsSink {
    pub fn connect(address: &str, subject: &str) -> Result<Self> {
        let name = format!("nats://{address}/{subject}");
        let runtime = nats_runtime(&name)?;
        let (client, jetstream) = runtime.block_on(async {
            let client = tokio::time::timeout(Duration::from_secs(5), nats_client(address, &name))
                .await
                .map_err(|_| broker_error(&name, "no answer within 5 s"))??;
            let js = async_nats::jetstream::new(client.clone());
            let stored = js.stream_by_subject(subject).await.is_ok();
            Ok::<_, Error>((client, stored.then_some(js)))
        })?;
        Ok(Self {
            name,
            runtime,
            client,
            jetstream,
            subject: subject.into(),
        })
    }
}

impl Sink for NatsSink {
    fn write(&mut self, lines: &[String]) -> Result<()> {
        let (client, subject, name) = (&self.client, &self.subject, &self.name);
        let jetstream = self.jetstream.as_ref();
        self.runtime.block_on(async {
            let Some(js) = jetstream else {
                for line in lines {
                    client
                        .publish(subject.clone(), line.clone().into())
                        .await
                        .map_err(|e| broker_error(name, e))?;
                }
                return tokio::time::timeout(SINK_PATIENCE, client.flush())
                    .await
                    .map_err(|_| broker_error(name, "flush timed out"))?
                    .map_err(|e| broker_error(name, e));
            };
            let started = Instant::now();
            let mut unconfirmed: Vec<&String> = lines.iter().collect();
            while !unconfirmed.is_empty() {
                let mut pending = Vec::with_capacity(unconfirmed.len());
                for line in &unconfirmed {
                    // The line's hash as the message id: the stream drops a republished copy.
                    let message = async_nats::jetstream::message::PublishMessage::build()
                        .payload((*line).clone().into())
                        .message_id(format!("{:016x}", fnv1a(line.as_bytes())));
                    pending.push(js.send_publish(subject.clone(), message).await);
                }
                let mut failed = Vec::new();
                let mut last_error = String::new();
                for (line, published) in unconfirmed.iter().zip(pending) {
                    let confirmed = match published {
                        Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string()),
                    };
                    if let Err(e) = confirmed {
                        failed.push(*line);
                        last_error = e;
                    }
                }
                if !failed.is_empty() && started.elapsed() > SINK_PATIENCE {
                    return Err(broker_error(name, last_error));
                }
                if !failed.is_empty() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                unconfirmed = failed;
            }
            Ok(())
        })
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

/// FNV-1a, 64 bits: a stable id of an output line.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
