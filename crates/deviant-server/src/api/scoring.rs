//! Scoring with a run's model (`POST /api/v1/runs/{id}/score`, JSON or CSV rows) and
//! downloading it.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use deviant_core::fsutil::write_bytes_atomic;
use deviant_core::{Error, Scoring};
use deviant_data::{ReadOptions, Table, TableReader};
use deviant_engine::Model;
use deviant_store::new_id;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{ApiError, ApiResult, blocking, checked_id};
use crate::{AppState, lock};

fn default_top_features() -> usize {
    3
}

/// What `POST /api/v1/runs/{id}/score` takes: rows as JSON objects keyed by column name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScoreRequest {
    rows: Vec<Map<String, Value>>,
    /// Features listed per row, largest contribution first (detectors with `explain`).
    #[serde(default = "default_top_features")]
    top_features: usize,
}

#[derive(Debug, Serialize)]
struct Contribution {
    feature: String,
    contribution: f32,
}

#[derive(Debug, Serialize)]
struct ScoredRow {
    score: f32,
    anomaly: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    top_features: Vec<Contribution>,
}

/// The run's model, loaded once and kept while it is among the most recently used.
fn model(state: &AppState, id: &str) -> ApiResult<Arc<Model>> {
    if let Some(model) = lock(&state.inner.models).get(id) {
        return Ok(model.clone());
    }
    let run = state.find_run(id)?;
    if !run.has_model {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("run `{id}` has no model (it is {:?})", run.status).to_lowercase(),
        ));
    }
    let model = Arc::new(Model::load(&state.store().model_dir(id))?);
    lock(&state.inner.models).put(id.into(), model.clone());
    Ok(model)
}

/// The run's model directory as a tar archive (`deviant score` reads it once unpacked).
pub(super) async fn download_model(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    checked_id("run", &id)?;
    // Fails with 404 or 409 unless a model is there.
    model(&state, &id)?;
    let dir = state.store().model_dir(&id);
    let name = format!("deviant-model-{id}");
    let folder = name.clone();
    let archive = blocking(move || {
        let mut builder = tar::Builder::new(Vec::new());
        builder
            .append_dir_all(&folder, &dir)
            .map_err(|e| Error::io(&dir, e))?;
        Ok(builder.into_inner().map_err(|e| Error::io(&dir, e))?)
    })
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-tar".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.tar\""),
            ),
        ],
        archive,
    )
        .into_response())
}

/// Rows to score: JSON objects, or a CSV body.
enum Rows {
    Json(Vec<Map<String, Value>>),
    Csv(axum::body::Bytes),
}

#[derive(Debug, Deserialize)]
pub(super) struct ScoreQuery {
    top_features: Option<usize>,
    /// The rows are one batch (per-batch thresholds rank them); else each row is flagged as
    /// it would be alone.
    #[serde(default)]
    batch: bool,
}

/// Reads a CSV body under the model's schema through the file reader, so its errors name
/// the line and column exactly as for a file. At most `max_rows + 1` rows are read: a body
/// of more rows than the server scores is refused without being held.
fn csv_rows(
    model: &Model,
    body: &[u8],
    read: &ReadOptions,
    max_rows: usize,
) -> deviant_core::Result<Table> {
    let path = std::env::temp_dir().join(format!("deviant-score-{}.csv", new_id()));
    write_bytes_atomic(&path, body)?;
    let read = TableReader::open(&path, read, &model.manifest.schema).and_then(|mut reader| {
        reader
            .next_chunk(max_rows.saturating_add(1))?
            .ok_or_else(|| Error::Empty {
                what: "the CSV body".into(),
                remedy: "send a header row and at least one row".into(),
            })
    });
    let _ = std::fs::remove_file(&path);
    // Errors name the body, not the temporary file it was read from.
    read.map_err(|e| match e {
        Error::Cell {
            line,
            column,
            reason,
            ..
        } => Error::Cell {
            file: "the CSV body".into(),
            line,
            column,
            reason,
        },
        Error::Format { reason, .. } => Error::format("the CSV body", reason),
        Error::TooLarge { reason, .. } => Error::TooLarge {
            file: "the CSV body".into(),
            reason,
        },
        other => other,
    })
}

/// Scores rows sent as `{"rows": [...]}` JSON or as `text/csv` (`?top_features=N` then).
pub(super) async fn score(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<ScoreQuery>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    checked_id("run", &id)?;
    let csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/csv"));
    let (rows, top_features) = if csv {
        (
            Rows::Csv(body),
            query.top_features.unwrap_or(default_top_features()),
        )
    } else {
        let request: ScoreRequest = serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "send {{\"rows\": [{{column: value, …}}, …]}} as JSON, or CSV as text/csv: {e}"
                ),
            )
        })?;
        let top = query.top_features.unwrap_or(request.top_features);
        (Rows::Json(request.rows), top)
    };
    let max_rows = state.config().max_score_rows;
    let too_many = move || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "more than {max_rows} rows in one request; the server scores at most \
                 {max_rows} a request (`deviant serve --max-score-rows`): send them in batches"
            ),
        )
    };
    if let Rows::Json(rows) = &rows
        && rows.len() > max_rows
    {
        return Err(too_many());
    }
    blocking(move || {
        let model = model(&state, &id)?;
        let table = match &rows {
            Rows::Json(rows) => Table::from_json_rows(&model.manifest.schema, rows, "rows")?,
            Rows::Csv(body) => csv_rows(&model, body, &state.read_options(), max_rows)?,
        };
        if table.n_rows() > max_rows {
            return Err(too_many());
        }
        let data = model.prepare(&table)?;
        let scoring = match query.batch {
            true => Scoring::Batch,
            false => Scoring::Rows,
        };
        let scored = model.score(&data, scoring)?;
        let explained = match top_features {
            0 => None,
            _ => model.detector.explain(data.view()).transpose()?,
        };
        let names = &model.manifest.feature_names;
        let rows: Vec<ScoredRow> = scored
            .scores
            .iter()
            .zip(&scored.flags)
            .enumerate()
            .map(|(i, (&score, &anomaly))| ScoredRow {
                score,
                anomaly,
                top_features: explained.as_ref().map_or_else(Vec::new, |e| {
                    let mut row: Vec<(usize, f32)> = e.row(i).iter().copied().enumerate().collect();
                    row.sort_by(|a, b| b.1.total_cmp(&a.1));
                    row.into_iter()
                        .take(top_features)
                        .map(|(j, contribution)| Contribution {
                            feature: names[j].clone(),
                            contribution,
                        })
                        .collect()
                }),
            })
            .collect();
        Ok(Json(json!({ "threshold": scored.threshold, "rows": rows })))
    })
    .await
}
