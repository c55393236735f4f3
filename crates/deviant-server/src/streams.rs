//! Live streams: a run's model attached to a broker (`POST /api/v1/streams`), scoring on a
//! thread of its own through `deviant-stream`, its batches, drift events and refits fanned
//! out to Server-Sent Events listeners and to the dashboard's live page. Streams live as long
//! as the server: they are not kept in the registry, and a restart ends them (the broker
//! keeps what was not acknowledged, so a new stream takes up where the old one stopped).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use std::fmt::Write;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Html;
use axum::response::sse::{Event, KeepAlive, Sse};
use deviant_engine::Model;
use deviant_report::escape;
use deviant_store::{new_id, now_unix};
use deviant_stream::{DriftOptions, Location, Sink, StreamEvent, StreamOptions, Streamer, brokers};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;

use crate::api::{ApiError, ApiResult, blocking};
use crate::pages::{PageError, layout};
use crate::{AppState, lock};

/// What `POST /api/v1/streams` takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StreamRequest {
    /// The run whose model scores the stream.
    run: String,
    /// `redis://HOST:PORT/STREAM` or `nats://HOST:PORT/SUBJECT`.
    source: String,
    /// Where scores are also written, as a broker location; without it they only reach
    /// the event feed.
    #[serde(default)]
    sink: Option<String>,
    /// The Redis consumer group or NATS durable consumer.
    #[serde(default = "default_group")]
    group: String,
    /// Online detectors learn from each batch after scoring it.
    #[serde(default = "yes")]
    learn: bool,
    /// Watch the scores for drift with windows of this many rows.
    #[serde(default)]
    drift_window: Option<usize>,
}

fn default_group() -> String {
    "deviant".into()
}

fn yes() -> bool {
    true
}

/// A stream as listed and as its page shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StreamView {
    pub id: String,
    pub run: String,
    pub source: String,
    pub sink: Option<String>,
    pub started_unix: i64,
    /// `running`, `stopped` or `failed`.
    pub state: String,
    pub error: Option<String>,
    pub rows: u64,
    pub flagged: u64,
    pub refused: u64,
    pub rows_per_second: f64,
    pub lag_ms: f64,
    pub threshold: Option<f64>,
    pub drift_events: u64,
    pub refits: u64,
    /// The last [`RECENT_SCORES`] scores and the output lines of the last
    /// [`RECENT_FLAGGED`] flagged rows, oldest first, so that a page opened late draws and
    /// lists what its counts say.
    pub recent_scores: VecDeque<f32>,
    pub recent_flagged: VecDeque<String>,
}

/// Scores and flagged rows a stream's view keeps (as many as its page shows).
const RECENT_SCORES: usize = 500;
const RECENT_FLAGGED: usize = 50;

/// Appends to a window of the latest `keep` items.
fn keep_last<T>(window: &mut VecDeque<T>, items: impl IntoIterator<Item = T>, keep: usize) {
    window.extend(items);
    let excess = window.len().saturating_sub(keep);
    window.drain(..excess);
}

/// One stream's handle in the server: its stop flag, its view, its event channel.
pub(crate) struct LiveStream {
    stop: Arc<AtomicBool>,
    pub view: StreamView,
    events: broadcast::Sender<StreamEvent>,
}

/// Refuses what a server stream cannot read: only brokers, never the server's own files.
fn broker(field: &str, text: &str) -> ApiResult<Location> {
    let location: Location = text.parse().map_err(ApiError::from)?;
    match location {
        Location::Redis { .. } | Location::Nats { .. } => Ok(location),
        _ => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "`{field}` must be a broker, redis://HOST:PORT/STREAM or nats://HOST:PORT/SUBJECT; \
                 files and stdin are for `deviant stream`"
            ),
        )),
    }
}

/// Starts a stream: the model is loaded afresh (an online detector learns in it, apart
/// from the registry's copy), the broker connected before the answer, then scoring goes on
/// on a thread of its own.
pub(crate) async fn create_stream(
    State(state): State<AppState>,
    Json(request): Json<StreamRequest>,
) -> ApiResult<(StatusCode, Json<StreamView>)> {
    let run = state.find_run(&request.run)?;
    if !run.has_model {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("run `{}` has no model to stream with", request.run),
        ));
    }
    let source_location = broker("source", &request.source)?;
    let sink_location = request
        .sink
        .as_deref()
        .map(|s| broker("sink", s))
        .transpose()?;
    let model_dir = state.store().model_dir(&request.run);
    let id = new_id();
    let stop = Arc::new(AtomicBool::new(false));
    let (events, _) = broadcast::channel(256);
    let view = StreamView {
        id: id.clone(),
        run: request.run.clone(),
        source: request.source.clone(),
        sink: request.sink.clone(),
        started_unix: now_unix(),
        state: "running".into(),
        error: None,
        rows: 0,
        flagged: 0,
        refused: 0,
        rows_per_second: 0.0,
        lag_ms: 0.0,
        threshold: None,
        drift_events: 0,
        refits: 0,
        recent_scores: VecDeque::new(),
        recent_flagged: VecDeque::new(),
    };
    let (worker_state, worker_stop, worker_events) = (state.clone(), stop.clone(), events.clone());
    let consumer = format!("deviant-{id}");
    let streamer = blocking(move || {
        let model = Model::load(&model_dir)?;
        let source = brokers::source(&source_location, &request.group, &consumer)?;
        let sink: Box<dyn Sink> = match &sink_location {
            Some(location) => brokers::sink(location)?,
            None => Box::new(Discard),
        };
        let options = StreamOptions {
            learn: request.learn,
            drift: request.drift_window.map(|window| DriftOptions {
                window,
                alpha: 1e-4,
            }),
            ..Default::default()
        };
        Ok(Streamer::new(
            model,
            &request.run,
            source,
            sink,
            Box::new(Discard),
            options,
            worker_stop,
        )?)
    })
    .await?;
    lock(&state.inner.streams).insert(
        id.clone(),
        LiveStream {
            stop,
            view: view.clone(),
            events,
        },
    );
    std::thread::spawn(move || run_stream(&worker_state, &id, streamer, worker_events));
    Ok((StatusCode::CREATED, Json(view)))
}

/// Scores until stopped, keeping the stream's view current and passing every event on.
fn run_stream(
    state: &AppState,
    id: &str,
    mut streamer: Streamer,
    events: broadcast::Sender<StreamEvent>,
) {
    let started = std::time::Instant::now();
    let (handler_state, handler_id) = (state.clone(), id.to_string());
    streamer.on_event = Some(Box::new(move |event| {
        let mut streams = lock(&handler_state.inner.streams);
        if let Some(live) = streams.get_mut(&handler_id) {
            let view = &mut live.view;
            match event {
                StreamEvent::Batch {
                    scores,
                    threshold,
                    flagged,
                    flagged_rows,
                    refused,
                    lag_ms,
                } => {
                    view.rows += (scores.len() + refused) as u64;
                    view.flagged += *flagged as u64;
                    view.refused += *refused as u64;
                    view.lag_ms = *lag_ms;
                    view.threshold = threshold.is_finite().then_some(*threshold);
                    view.rows_per_second = view.rows as f64 / started.elapsed().as_secs_f64();
                    keep_last(
                        &mut view.recent_scores,
                        scores.iter().copied(),
                        RECENT_SCORES,
                    );
                    keep_last(
                        &mut view.recent_flagged,
                        flagged_rows.iter().cloned(),
                        RECENT_FLAGGED,
                    );
                }
                StreamEvent::Drift(_) => view.drift_events += 1,
                StreamEvent::Refit { .. } => view.refits += 1,
                StreamEvent::Notice { .. } => {}
            }
        }
        // Sent under the lock a listener holds to copy the view and subscribe, so that each
        // listener sees each batch once: in its first view or as an event, never both.
        let _ = events.send(event.clone());
    }));
    let ended = streamer.run();
    if let Some(live) = lock(&state.inner.streams).get_mut(id) {
        match ended {
            Ok(_) => live.view.state = "stopped".into(),
            Err(e) => {
                tracing::warn!("stream {id}: {e}");
                live.view.state = "failed".into();
                live.view.error = Some(e.to_string());
            }
        }
    }
}

/// Scores nobody asked to keep: they reach the event feed only.
struct Discard;

impl Sink for Discard {
    fn write(&mut self, _lines: &[String]) -> deviant_core::Result<()> {
        Ok(())
    }

    fn describe(&self) -> String {
        "the event feed".into()
    }
}

impl AppState {
    pub(crate) fn stream_view(&self, id: &str) -> ApiResult<StreamView> {
        lock(&self.inner.streams)
            .get(id)
            .map(|live| live.view.clone())
            .ok_or_else(|| ApiError::not_found("stream", id))
    }

    pub(crate) fn stream_views(&self) -> Vec<StreamView> {
        let mut views: Vec<StreamView> = lock(&self.inner.streams)
            .values()
            .map(|live| live.view.clone())
            .collect();
        views.sort_by_key(|v| std::cmp::Reverse(v.started_unix));
        views
    }
}

pub(crate) async fn list_streams(State(state): State<AppState>) -> Json<Vec<StreamView>> {
    Json(state.stream_views())
}

pub(crate) async fn get_stream(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<StreamView>> {
    Ok(Json(state.stream_view(&id)?))
}

/// Stops a stream after the batch in hand is written and acknowledged.
pub(crate) async fn stop_stream(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<StreamView>> {
    let view = {
        let streams = lock(&state.inner.streams);
        let live = streams
            .get(&id)
            .ok_or_else(|| ApiError::not_found("stream", &id))?;
        live.stop.store(true, Ordering::Relaxed);
        live.view.clone()
    };
    Ok(Json(view))
}

/// The stream's view first (event `status`), then each batch (`batch`: scores, threshold,
/// flagged rows, lag), drift event (`drift`), refit (`refit`) and broker notice (`notice`).
pub(crate) async fn stream_events(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>>> {
    let (view, receiver) = {
        let streams = lock(&state.inner.streams);
        let live = streams
            .get(&id)
            .ok_or_else(|| ApiError::not_found("stream", &id))?;
        (live.view.clone(), live.events.subscribe())
    };
    let first = Event::default()
        .event("status")
        .data(serde_json::to_string(&view).expect("views serialise"));
    let rest = BroadcastStream::new(receiver)
        .filter_map(|item| item.ok())
        .map(|event| {
            let name = match &event {
                StreamEvent::Batch { .. } => "batch",
                StreamEvent::Drift(_) => "drift",
                StreamEvent::Refit { .. } => "refit",
                StreamEvent::Notice { .. } => "notice",
            };
            Ok(Event::default()
                .event(name)
                .data(serde_json::to_string(&event).expect("events serialise")))
        });
    let stream = tokio_stream::once(Ok(first)).chain(rest);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// The streams page: every stream of this server's life, and a form to start one.
pub(crate) async fn streams_page(State(state): State<AppState>) -> Result<Html<String>, PageError> {
    let runs: Vec<_> = state
        .store()
        .runs()?
        .into_iter()
        .filter(|r| r.has_model)
        .collect();
    let mut body = String::new();
    let views = state.stream_views();
    if views.is_empty() {
        body.push_str(r#"<p class="muted">No streams yet.</p>"#);
    } else {
        body.push_str(r#"<div class="card scroll"><table id="streams"><thead><tr><th>stream</th><th>run</th><th>source</th><th>state</th><th class="num">rows</th><th class="num">flagged</th><th class="num">rows/s</th></tr></thead><tbody>"#);
        for v in &views {
            let _ = write!(
                body,
                r#"<tr><td><a href="/streams/{id}">{id}</a></td><td><a href="/runs/{run}">{run}</a></td><td>{source}</td><td>{state}</td><td class="num">{rows}</td><td class="num">{flagged}</td><td class="num">{rate:.0}</td></tr>"#,
                id = v.id,
                run = v.run,
                source = escape(&v.source),
                state = escape(&v.state),
                rows = v.rows,
                flagged = v.flagged,
                rate = v.rows_per_second,
            );
        }
        body.push_str("</tbody></table></div>");
    }
    let options: String = runs
        .iter()
        .map(|r| {
            format!(
                r#"<option value="{id}">{detector} · {id}</option>"#,
                id = r.id,
                detector = escape(&r.detector)
            )
        })
        .collect();
    let _ = write!(
        body,
        r#"<h2>Start a stream</h2><div class="card"><form id="start-stream" class="grid" data-init="start-stream">
<label>Model of run<select name="run">{options}</select></label>
<label>Source<input name="source" placeholder="redis://127.0.0.1:6379/flows" required></label>
<label>Also write scores to (optional)<input name="sink" placeholder="redis://127.0.0.1:6379/scores"></label>
<label>Drift window in rows (0: off)<input name="drift" type="number" min="0" value="0"></label>
<div class="wide"><button type="submit">Start</button></div>
<p class="error wide"></p></form></div>"#
    );
    Ok(layout("Streams", &body))
}

/// One stream, live.
pub(crate) async fn stream_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Html<String>, PageError> {
    let view = state.stream_view(&id)?;
    let body = format!(
        r#"<p class="muted">Model of run <a href="/runs/{run}">{run}</a> on {source}{sink}.</p>
<div class="card"><p><span id="state">{state}</span> · <b id="rows">{rows}</b> rows · <b id="flagged-count">{flagged}</b> flagged · <b id="refused">{refused}</b> refused · <b id="rate">{rate:.0}</b> rows/s · lag <b id="lag">{lag:.1}</b> ms <button id="stop">Stop</button></p>
<svg id="live-scores" viewBox="0 0 600 200" role="img" aria-label="recent scores and the threshold" data-init="stream" data-id="{id}"></svg></div>
<h2>Flagged rows</h2><div class="card scroll"><table id="flagged"><thead><tr><th>id or line</th><th class="num">score</th><th>top features</th></tr></thead><tbody></tbody></table></div>
<h2>Drift and refits</h2><ul id="drifts"></ul>"#,
        run = view.run,
        source = escape(&view.source),
        sink = view
            .sink
            .as_deref()
            .map_or(String::new(), |s| format!(", scores to {}", escape(s))),
        state = escape(&view.state),
        rows = view.rows,
        flagged = view.flagged,
        refused = view.refused,
        rate = view.rows_per_second,
        lag = view.lag_ms,
    );
    Ok(layout("Stream", &body))
}
