//! `deviant serve`: the REST API under `/api/v1` over the registry of datasets, runs and
//! models ([`deviant_store`]). Training runs on a bounded pool of worker threads, never on a
//! request thread; scoring runs on tokio's blocking pool.
//!
//! [`app`] builds the router, so tests drive it without a socket (`tower::ServiceExt::oneshot`).

// The OpenAPI document is one large `json!` literal.
#![recursion_limit = "512"]

mod api;
mod jobs;
mod openapi;
mod pages;
mod security;
mod streams;

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};

use deviant_core::Result;
use deviant_engine::Model;
use deviant_store::Store;
use lru::LruCache;
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;

pub use api::app;
pub use jobs::RunRequest;
pub use openapi::spec as openapi_spec;

/// The setting holding the SHA-256 of the API token; the token itself is never stored.
const TOKEN_SETTING: &str = "api_token_sha256";

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where the registry lives (database, uploads, models).
    pub home: PathBuf,
    /// The largest upload accepted, in bytes.
    pub max_upload_bytes: usize,
    /// What a table may hold: `max_bytes` bounds what an upload expands to once
    /// decompressed (a gzip bomb is refused with a 413 before it is parsed).
    pub read_limits: deviant_data::ReadLimits,
    /// Whether every call but health and the spec needs the API token.
    pub require_token: bool,
    /// Training jobs run at once.
    pub workers: usize,
    /// Runs that may wait for a worker; past it, new runs get a 429.
    pub max_queued_runs: usize,
    /// Rows one score request may carry; past it, a 413.
    pub max_score_rows: usize,
    /// Trained models kept loaded for scoring; past it, the least recently used is dropped
    /// (and loaded again from disk when next asked for).
    pub cached_models: NonZeroUsize,
    /// Whether the server answers over TLS: the session cookie is then `Secure`.
    pub tls: bool,
}

/// The last thing a run reported, as sent to event-stream listeners.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunEvent {
    pub status: deviant_store::RunStatus,
    pub phase: String,
    pub done: u64,
    pub total: u64,
    pub message: String,
    /// The latest finished epoch and its mean losses (deep detectors), for live curves.
    pub epoch: Option<usize>,
    pub loss: Option<f64>,
    pub valid_loss: Option<f64>,
}

impl RunEvent {
    pub(crate) fn new(status: deviant_store::RunStatus, phase: &str, message: String) -> Self {
        Self {
            status,
            phase: phase.into(),
            done: 0,
            total: 0,
            message,
            epoch: None,
            loss: None,
            valid_loss: None,
        }
    }
}

/// A queued or running run: its cancel flag and its event channel.
struct LiveRun {
    cancel: Arc<AtomicBool>,
    events: broadcast::Sender<RunEvent>,
    last: RunEvent,
}

struct Inner {
    config: ServerConfig,
    store: Mutex<Store>,
    token_sha256: Option<String>,
    jobs: Mutex<mpsc::Sender<String>>,
    live: Mutex<HashMap<String, LiveRun>>,
    models: Mutex<LruCache<String, Arc<Model>>>,
    streams: Mutex<HashMap<String, streams::LiveStream>>,
    throttle: security::Throttle,
}

/// What an authentication check allows.
pub(crate) enum Access {
    Allowed,
    Denied,
    /// The client sent too many wrong tokens: refused for this many more seconds.
    Throttled(u64),
}

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock leaves plain data behind; keep serving.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl AppState {
    /// Opens the registry and starts the training workers. Returns the API token when one
    /// was generated now (first start, or `new_token`): it is shown once and stored hashed.
    pub fn start(config: ServerConfig, new_token: bool) -> Result<(Self, Option<String>)> {
        let store = Store::open(&config.home)?;
        // A registry damaged outside the server is refused before anything is served from it.
        store.integrity_check()?;
        let mut fresh = None;
        let token_sha256 = if config.require_token {
            match store.setting(TOKEN_SETTING)? {
                Some(hash) if !new_token => Some(hash),
                _ => {
                    let token = format!(
                        "{:016x}{:016x}",
                        rand::random::<u64>(),
                        rand::random::<u64>()
                    );
                    let hash = sha256_hex(&token);
                    store.set_setting(TOKEN_SETTING, &hash)?;
                    fresh = Some(token);
                    Some(hash)
                }
            }
        } else {
            None
        };
        let (send, receive) = mpsc::channel::<String>();
        let state = Self {
            inner: Arc::new(Inner {
                store: Mutex::new(store),
                token_sha256,
                jobs: Mutex::new(send),
                live: Mutex::new(HashMap::new()),
                models: Mutex::new(LruCache::new(config.cached_models)),
                streams: Mutex::new(HashMap::new()),
                throttle: Default::default(),
                config,
            }),
        };
        let receive = Arc::new(Mutex::new(receive));
        for _ in 0..state.inner.config.workers.max(1) {
            let (state, receive) = (state.clone(), receive.clone());
            std::thread::spawn(move || {
                loop {
                    let next = lock(&receive).recv();
                    match next {
                        Ok(id) => jobs::run(&state, &id),
                        Err(_) => break,
                    }
                }
            });
        }
        Ok((state, fresh))
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.inner.store)
    }

    fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// How the server reads tables: within its limits.
    fn read_options(&self) -> deviant_data::ReadOptions {
        deviant_data::ReadOptions {
            limits: self.inner.config.read_limits,
            ..Default::default()
        }
    }

    /// Whether `client`, sending `token`, may go on (always without authentication). A
    /// throttled client is refused before its token is looked at; a wrong token counts
    /// against its client, a missing one does not.
    pub(crate) fn access(&self, client: std::net::IpAddr, token: Option<&str>) -> Access {
        let Some(hash) = &self.inner.token_sha256 else {
            return Access::Allowed;
        };
        if let Some(wait) = self.inner.throttle.refused(client) {
            return Access::Throttled(wait);
        }
        match token {
            Some(token) if security::token_matches(token, hash) => Access::Allowed,
            Some(_) => {
                self.inner.throttle.wrong_token(client);
                Access::Denied
            }
            None => Access::Denied,
        }
    }
}
