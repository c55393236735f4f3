//! The `/api/v1` routes, their JSON errors and the token check.

mod scoring;

use std::convert::Infallible;

use axum::extract::multipart::MultipartError;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use deviant_core::fsutil::write_bytes_atomic;
use deviant_core::{Cause, Error};
use deviant_data::excel::workbook_to_csv;
use deviant_data::json::json_to_csv;
use deviant_data::parquet::parquet_to_csv;
use deviant_data::summary::{TableSummary, summarize};
use deviant_data::{SchemaOptions, Table, TableReader, expanded_bytes, infer_schema};
use deviant_detectors::AnyConfig;
use deviant_store::{ColumnInfo, DatasetRecord, RunRecord, is_id, new_id, now_unix};
use serde_json::{Value, json};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;

use crate::jobs::{self, RunRequest};
use crate::pages::token_in;
use crate::streams;
use crate::{Access, AppState, RunEvent, security};

/// An error answered as `{"error": "…"}` with its status. Messages name what was wrong and
/// how to fix it; internal failures say only that they happened (details go to the log).
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    /// Seconds after which a refused request may be sent again (a 429's `Retry-After`).
    retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A 429: try again in `seconds`.
    pub(crate) fn too_many(message: impl Into<String>, seconds: u64) -> Self {
        Self {
            retry_after: Some(seconds.max(1)),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, message)
        }
    }

    /// The status and message sent.
    pub(crate) fn parts(&self) -> (StatusCode, &str) {
        (self.status, &self.message)
    }

    pub(crate) fn not_found(what: &str, id: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("no {what} with id `{id}`"))
    }
}

/// Errors by cause: what the client sent or asked for is a 422 with the message (it names
/// the row, column or field), or a 413 when it is larger than a limit; the server's own
/// failures are a 500 whose details stay in its log.
impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        if let Error::TooLarge { .. } = error {
            return Self::new(StatusCode::PAYLOAD_TOO_LARGE, error.to_string());
        }
        match error.cause() {
            Cause::Input | Cause::Config | Cause::Format | Cause::Version | Cause::Diverged => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, error.to_string())
            }
            Cause::Cancelled | Cause::Budget => Self::new(StatusCode::CONFLICT, error.to_string()),
            Cause::Io | Cause::Internal => {
                tracing::error!("{error}");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; the server log has the details",
                )
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        Self::new(rejection.status(), rejection.body_text())
    }
}

impl From<MultipartError> for ApiError {
    fn from(error: MultipartError) -> Self {
        Self::new(error.status(), error.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({ "error": self.message }))).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// Runs blocking work (files, training data, scoring) off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        tracing::error!("blocking task: {e}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    })?
}

impl AppState {
    /// The dataset `id`, or a 404 (also for ids of the wrong shape).
    pub(crate) fn find_dataset(&self, id: &str) -> ApiResult<DatasetRecord> {
        checked_id("dataset", id)?;
        let found = self.store().dataset(id)?;
        found.ok_or_else(|| ApiError::not_found("dataset", id))
    }

    /// The run `id`, or a 404 (also for ids of the wrong shape).
    pub(crate) fn find_run(&self, id: &str) -> ApiResult<RunRecord> {
        checked_id("run", id)?;
        let found = self.store().run(id)?;
        found.ok_or_else(|| ApiError::not_found("run", id))
    }
}

fn checked_id(what: &str, id: &str) -> ApiResult<()> {
    if is_id(id) {
        Ok(())
    } else {
        Err(ApiError::not_found(what, id))
    }
}

/// The router: health and the spec are open; everything else needs the token.
pub fn app(state: AppState) -> Router {
    let max_upload = state.config().max_upload_bytes;
    let protected = Router::new()
        .route("/api/v1/detectors", get(detectors))
        .route("/api/v1/datasets", get(list_datasets).post(upload_dataset))
        .route(
            "/api/v1/datasets/{id}",
            get(get_dataset).delete(delete_dataset),
        )
        .route("/api/v1/datasets/{id}/summary", get(dataset_summary))
        .route("/api/v1/runs", get(list_runs).post(create_run))
        .route("/api/v1/runs/{id}", get(get_run))
        .route("/api/v1/runs/{id}/cancel", post(cancel_run))
        .route("/api/v1/runs/{id}/events", get(run_events))
        .route("/api/v1/runs/{id}/score", post(scoring::score))
        .route("/api/v1/runs/{id}/model", get(scoring::download_model))
        .route("/api/v1/runs/{id}/leaderboard", get(run_leaderboard))
        .route("/api/v1/selections", post(create_selection))
        .route(
            "/api/v1/streams",
            get(streams::list_streams).post(streams::create_stream),
        )
        .route("/api/v1/streams/{id}", get(streams::get_stream))
        .route("/api/v1/streams/{id}/stop", post(streams::stop_stream))
        .route("/api/v1/streams/{id}/events", get(streams::stream_events))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/v1/openapi.json", get(openapi))
        .merge(protected)
        .merge(crate::pages::routes(state.clone()))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such endpoint") })
        .layer(DefaultBodyLimit::max(max_upload))
        .layer(middleware::from_fn(errors_as_json))
        .layer(middleware::from_fn(security::headers))
        .with_state(state)
}

async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match state.access(
        security::client_of(request.extensions()),
        token_in(request.headers()),
    ) {
        Access::Allowed => next.run(request).await,
        Access::Throttled(wait) => security::too_many_wrong_tokens(wait).into_response(),
        Access::Denied => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "send the API token printed at the server's first start as `Authorization: Bearer \
             TOKEN` (`deviant serve --new-token` makes a new one)",
        )
        .into_response(),
    }
}

/// The API's errors are JSON `{"error": …}`, also where axum answers before a handler runs
/// (a body, a query or a Content-Type its extractors refuse): their plain-text message is
/// wrapped.
async fn errors_as_json(request: Request, next: Next) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !(api
        && plain
        && (response.status().is_client_error() || response.status().is_server_error()))
    {
        return response;
    }
    let status = response.status();
    // Rejection messages are a line or two; anything longer is cut.
    let text = match axum::body::to_bytes(response.into_body(), 64 * 1024).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => status.canonical_reason().unwrap_or("error").to_string(),
    };
    ApiError::new(status, text).into_response()
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

async fn openapi() -> Json<Value> {
    Json(crate::openapi::spec())
}

async fn detectors() -> Json<Value> {
    Json(serde_json::to_value(AnyConfig::kinds()).expect("kinds serialise"))
}

async fn list_datasets(State(state): State<AppState>) -> ApiResult<Json<Vec<DatasetRecord>>> {
    Ok(Json(state.store().datasets()?))
}

async fn get_dataset(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<DatasetRecord>> {
    state.find_dataset(&id).map(Json)
}

async fn delete_dataset(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    checked_id("dataset", &id)?;
    if state.store().delete_dataset(&id)? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("dataset", &id))
    }
}

/// Per-column statistics, histograms and value counts of a dataset.
async fn dataset_summary(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<TableSummary>> {
    let dataset = state.find_dataset(&id)?;
    Ok(Json(summary_of(&state, &dataset).await?))
}

/// The summary written beside a dataset when it was uploaded.
const SUMMARY: &str = "summary.json";

/// A dataset's summary: the one stored at upload, or (for an older upload without one)
/// read from the file now and stored for next time.
pub(crate) async fn summary_of(
    state: &AppState,
    dataset: &DatasetRecord,
) -> ApiResult<TableSummary> {
    let dir = state.store().dataset_dir(&dataset.id);
    let data = dir.join(&dataset.file);
    let options = state.read_options();
    blocking(move || {
        let stored = std::fs::read(dir.join(SUMMARY))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        match stored {
            Some(summary) => Ok(summary),
            None => {
                let schema = infer_schema(&data, &options, &SchemaOptions::default())?;
                let table = TableReader::open(&data, &options, &schema)?.read_all()?;
                Ok(store_summary(&dir, &schema, &table)?)
            }
        }
    })
    .await
}

fn store_summary(
    dir: &std::path::Path,
    schema: &deviant_core::Schema,
    table: &Table,
) -> deviant_core::Result<TableSummary> {
    let summary = TableSummary {
        rows: table.n_rows(),
        columns: summarize(schema, table),
    };
    write_bytes_atomic(
        &dir.join(SUMMARY),
        &serde_json::to_vec(&summary).expect("summaries serialise"),
    )?;
    Ok(summary)
}

/// How an upload is stored, by its file name's extension.
#[derive(Debug, Clone, Copy)]
enum Upload {
    /// Delimited text kept as sent, under this name.
    AsIs(&'static str),
    /// JSON rows, stored as CSV.
    Json,
    /// An Excel or OpenDocument workbook's first sheet, stored as CSV.
    Workbook,
    /// A Parquet file's flat columns, stored as CSV.
    Parquet,
}

impl Upload {
    fn of(name: &str) -> ApiResult<Self> {
        let lower = name.to_ascii_lowercase();
        let gz = lower.ends_with(".gz");
        let plain = lower.strip_suffix(".gz").unwrap_or(&lower);
        Ok(match (plain.rsplit_once('.').map(|(_, e)| e), gz) {
            (Some("csv" | "txt"), false) => Self::AsIs("data.csv"),
            (Some("csv" | "txt"), true) => Self::AsIs("data.csv.gz"),
            (Some("tsv" | "tab"), false) => Self::AsIs("data.tsv"),
            (Some("tsv" | "tab"), true) => Self::AsIs("data.tsv.gz"),
            (Some("json" | "ndjson" | "jsonl"), false) => Self::Json,
            (Some("xlsx" | "xlsm" | "xls" | "ods"), false) => Self::Workbook,
            (Some("parquet" | "parq"), false) => Self::Parquet,
            _ => {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    format!(
                        "`{name}`: upload a .csv or .tsv file (optionally .gz), JSON rows \
                         (.json array of objects, .ndjson), a workbook (.xlsx, .xls, .ods) or a \
                         .parquet file"
                    ),
                ));
            }
        })
    }

    fn stored_name(self) -> &'static str {
        match self {
            Self::AsIs(name) => name,
            Self::Json | Self::Workbook | Self::Parquet => "data.csv",
        }
    }

    /// The bytes to store.
    /// The upload as the CSV stored; `max_bytes` bounds what a workbook or Parquet file may
    /// expand to.
    fn convert(self, bytes: &[u8], name: &str, max_bytes: u64) -> deviant_core::Result<Vec<u8>> {
        match self {
            Self::AsIs(_) => Ok(bytes.to_vec()),
            Self::Json => json_to_csv(bytes, name),
            Self::Workbook => workbook_to_csv(bytes, name, max_bytes),
            Self::Parquet => parquet_to_csv(bytes, name, max_bytes),
        }
    }
}

/// `multipart/form-data` with a `file` part (and an optional `name`): stored under a
/// generated name, read once to infer its columns and count its rows; a file that does not
/// read is refused and removed.
async fn upload_dataset(
    State(state): State<AppState>,
    mut multipart: Multipart,
) -> ApiResult<(StatusCode, Json<DatasetRecord>)> {
    let (mut upload, mut name) = (None, None);
    while let Some(field) = multipart.next_field().await? {
        match field.name() {
            Some("file") => {
                let file_name = field.file_name().unwrap_or("upload.csv").to_string();
                upload = Some((file_name, field.bytes().await?));
            }
            Some("name") => name = Some(field.text().await?),
            _ => {}
        }
    }
    let (file_name, bytes) = upload.ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "send the table as a multipart part named `file`",
        )
    })?;
    if bytes.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("`{file_name}` is empty"),
        ));
    }
    let upload_kind = Upload::of(&file_name)?;
    let stored = upload_kind.stored_name();
    let name = name
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| file_name.clone());
    let options = state.read_options();
    let record = blocking(move || {
        let id = new_id();
        let dir = state.store().dataset_dir(&id);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let path = dir.join(stored);
        let read = || -> deviant_core::Result<(deviant_core::Schema, usize)> {
            let max_bytes = options.limits.max_bytes;
            write_bytes_atomic(&path, &upload_kind.convert(&bytes, &file_name, max_bytes)?)?;
            // Read through once without parsing, in constant memory, so that a file that
            // expands past the limit is refused before any of it is held.
            expanded_bytes(&path, &options)?;
            let schema = infer_schema(&path, &options, &SchemaOptions::default())?;
            let table = TableReader::open(&path, &options, &schema)?.read_all()?;
            // Summarised now, while the table is in memory, for the explore page and API.
            store_summary(&dir, &schema, &table)?;
            Ok((schema, table.n_rows()))
        };
        let (schema, rows) = match read() {
            Ok(read) => read,
            Err(error) => {
                let _ = std::fs::remove_dir_all(&dir);
                // The client knows its file by its own name, not the server's path.
                let message = error
                    .to_string()
                    .replace(&path.display().to_string(), &file_name);
                return Err(match error {
                    Error::Io { .. } => error.into(),
                    Error::TooLarge { .. } => ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!("{message} (`deviant serve --max-expanded-mb`)"),
                    ),
                    _ => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message),
                });
            }
        };
        let record = DatasetRecord {
            id,
            name,
            file: stored.into(),
            bytes: bytes.len() as u64,
            rows: rows as u64,
            columns: schema
                .features
                .iter()
                .map(|c| ColumnInfo {
                    name: c.name.clone(),
                    kind: serde_json::to_value(c.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default(),
                })
                .collect(),
            created_unix: now_unix(),
        };
        state.store().insert_dataset(&record)?;
        Ok(record)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(record)))
}

async fn list_runs(State(state): State<AppState>) -> ApiResult<Json<Vec<RunRecord>>> {
    Ok(Json(state.store().runs()?))
}

async fn get_run(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<RunRecord>> {
    state.find_run(&id).map(Json)
}

async fn create_run(
    State(state): State<AppState>,
    request: Result<Json<RunRequest>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<RunRecord>)> {
    let Json(request) = request?;
    let dataset = state.find_dataset(&request.dataset)?;
    let record = state.enqueue(&request, &dataset)?;
    Ok((StatusCode::ACCEPTED, Json(record)))
}

/// A run whose model is chosen by selection: the body of `POST /api/v1/runs` with
/// `detector` left out (or `select`).
async fn create_selection(
    State(state): State<AppState>,
    request: Result<Json<Value>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<RunRecord>)> {
    let Json(mut body) = request?;
    let Some(fields) = body.as_object_mut() else {
        return Err(Error::input("the request body", "must be a JSON object").into());
    };
    match fields.get("detector") {
        None => {
            fields.insert("detector".into(), json!(jobs::SELECT));
        }
        Some(v) if v == jobs::SELECT => {}
        Some(v) => {
            return Err(Error::config(
                "detector",
                format!("a selection chooses the detector itself; leave out `{v}`"),
            )
            .into());
        }
    }
    let request: RunRequest = serde_json::from_value(body)
        .map_err(|e| Error::input("the request body", e.to_string()))?;
    let dataset = state.find_dataset(&request.dataset)?;
    let record = state.enqueue(&request, &dataset)?;
    Ok((StatusCode::ACCEPTED, Json(record)))
}

/// A selection run's leaderboard: every attempt so far, with `finished` once it has ended.
async fn run_leaderboard(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    checked_id("run", &id)?;
    state.find_run(&id)?;
    let path = state.store().run_dir(&id).join(jobs::LEADERBOARD);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ApiError::not_found("leaderboard of run", &id));
        }
        Err(e) => return Err(Error::io(&path, e).into()),
    };
    let value =
        serde_json::from_slice(&bytes).map_err(|e| Error::format(path.display(), e.to_string()))?;
    Ok(Json(value))
}

async fn cancel_run(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    checked_id("run", &id)?;
    if state.cancel(&id) {
        return Ok((StatusCode::ACCEPTED, Json(json!({ "cancelling": id }))));
    }
    let run = state.store().run(&id)?;
    match run {
        None => Err(ApiError::not_found("run", &id)),
        Some(run) => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("run `{id}` has already ended ({:?})", run.status).to_lowercase(),
        )),
    }
}

type EventStream = std::pin::Pin<Box<dyn tokio_stream::Stream<Item = RunEvent> + Send>>;

/// Server-Sent Events: the run's latest state at once, then every change until it ends.
async fn run_events(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>>> {
    checked_id("run", &id)?;
    let event = |e: &RunEvent| {
        Ok(Event::default()
            .event("progress")
            .data(serde_json::to_string(e).expect("events serialise")))
    };
    let (first, rest): (RunEvent, EventStream) = match state.subscribe(&id) {
        Some((last, receiver)) => (
            last,
            Box::pin(BroadcastStream::new(receiver).filter_map(|item| item.ok())),
        ),
        None => {
            let run = state
                .store()
                .run(&id)?
                .ok_or_else(|| ApiError::not_found("run", &id))?;
            let last = RunEvent::new(run.status, "finished", run.error.unwrap_or_default());
            (last, Box::pin(tokio_stream::empty()))
        }
    };
    let stream = tokio_stream::once(event(&first)).chain(rest.map(move |e| event(&e)));
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
