//! The dashboard: server-rendered pages over the same registry as the API, with the charts
//! of `deviant-report` inline and a small script (`assets/app.js`) for uploads, live
//! progress, sorting, the threshold explorer, training and prediction forms.

mod runs;

use std::fmt::Write;

use axum::Router;
use axum::extract::{Form, Path, Query, Request, State};
use axum::http::{Extensions, HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use deviant_core::ColumnKind;
use deviant_data::summary::ColumnSummary;
use deviant_detectors::AnyConfig;
use deviant_report::charts::{horizontal_bars, value_histogram};
use deviant_report::{escape, series_colour};
use serde::Deserialize;

use crate::api::{ApiError, summary_of};
use crate::jobs::SELECT;
use crate::{Access, AppState, security};

/// The session cookie holding the API token (HttpOnly, SameSite=Strict).
pub(crate) const COOKIE: &str = "deviant_token";

/// The API token from `Authorization: Bearer …` or the session cookie.
pub(crate) fn token_in(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    bearer.or_else(|| {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|pair| pair.trim().strip_prefix(&format!("{COOKIE}=")[..]))
    })
}

pub(crate) fn routes(state: AppState) -> Router<AppState> {
    let pages = Router::new()
        .route("/", get(datasets_page))
        .route("/datasets/{id}", get(explore_page))
        .route("/train", get(train_page))
        .route("/runs", get(runs::runs_page))
        .route("/runs/compare", get(runs::compare_page))
        .route("/runs/{id}", get(runs::run_page))
        .route("/predict/{id}", get(runs::predict_page))
        .route("/streams", get(crate::streams::streams_page))
        .route("/streams/{id}", get(crate::streams::stream_page))
        .route_layer(middleware::from_fn_with_state(state, require_session));
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/assets/style.css", get(style))
        .route("/assets/app.js", get(script))
        .merge(pages)
}

async fn require_session(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match state.access(
        security::client_of(request.extensions()),
        token_in(request.headers()),
    ) {
        Access::Allowed => next.run(request).await,
        Access::Throttled(wait) => security::too_many_wrong_tokens(wait).into_response(),
        Access::Denied => Redirect::to("/login").into_response(),
    }
}

async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../assets/style.css"),
    )
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../assets/app.js"),
    )
}

/// An error on a dashboard page: the API's message, as a page.
pub(crate) struct PageError(ApiError);

impl<E: Into<ApiError>> From<E> for PageError {
    fn from(error: E) -> Self {
        Self(error.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, message) = self.0.parts();
        let title = if status == StatusCode::NOT_FOUND {
            "Not found"
        } else {
            "Something went wrong"
        };
        let body = format!(
            r#"<p class="error">{}</p><p><a href="/">Back to the datasets</a></p>"#,
            escape(message)
        );
        (status, layout(title, &body)).into_response()
    }
}

/// A whole page: header navigation, then `body`.
pub(crate) fn layout(title: &str, body: &str) -> Html<String> {
    Html(format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · deviant</title>
<link rel="stylesheet" href="/assets/style.css">
<script src="/assets/app.js"></script>
</head><body>
<header><a class="brand" href="/">deviant</a><a href="/">Datasets</a><a href="/train">Train</a><a href="/runs">Runs</a><a href="/streams">Streams</a><a href="/api/v1/openapi.json">API</a></header>
<main><h1>{title}</h1>
{body}</main></body></html>"#,
        title = escape(title)
    ))
}

/// JSON for a `<script type="application/json">` block: `</` escaped so no value can end it.
fn embedded_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value)
        .expect("values serialise")
        .replace("</", "<\\/")
}

fn when(unix: i64) -> String {
    // Days and hours are enough to tell uploads and runs apart; no time-zone database.
    let age = deviant_store::now_unix() - unix;
    match age {
        a if a < 60 => "just now".into(),
        a if a < 3600 => format!("{} min ago", a / 60),
        a if a < 86_400 => format!("{} h ago", a / 3600),
        a => format!("{} days ago", a / 86_400),
    }
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b < 1 << 10 => format!("{b} B"),
        b if b < 1 << 20 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{:.1} MiB", b as f64 / (1 << 20) as f64),
    }
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login_page() -> Html<String> {
    layout(
        "Sign in",
        r#"<div class="card"><form method="post" action="/login" class="grid">
<label class="wide">API token (printed when the server first started)<input name="token" type="password" autocomplete="current-password" required></label>
<div><button type="submit">Sign in</button></div></form></div>"#,
    )
}

async fn login(
    State(state): State<AppState>,
    extensions: Extensions,
    Form(form): Form<LoginForm>,
) -> Response {
    let token = form.token.trim();
    let access = match token.contains(';') {
        true => Access::Denied,
        false => state.access(security::client_of(&extensions), Some(token)),
    };
    if let Access::Throttled(wait) = access {
        return security::too_many_wrong_tokens(wait).into_response();
    }
    if !matches!(access, Access::Allowed) {
        let page = layout(
            "Sign in",
            r#"<p class="error">That is not the API token.</p><p><a href="/login">Try again</a></p>"#,
        );
        return (StatusCode::UNAUTHORIZED, page).into_response();
    }
    (
        [(
            header::SET_COOKIE,
            format!(
                "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/{}",
                if state.config().tls { "; Secure" } else { "" }
            ),
        )],
        Redirect::to("/"),
    )
        .into_response()
}

async fn datasets_page(State(state): State<AppState>) -> Result<Html<String>, PageError> {
    let datasets = state.store().datasets()?;
    let mut body = String::from(
        r#"<div class="card"><form id="upload" class="grid" enctype="multipart/form-data" data-init="upload">
<label>Table (.csv or .tsv, optionally .gz; JSON rows: .json, .ndjson; a workbook: .xlsx, .xls, .ods; .parquet)<input type="file" name="file" required></label>
<label>Name (optional)<input name="name"></label>
<div class="wide"><button type="submit">Upload</button> <progress value="0" max="1"></progress></div>
<p class="error wide"></p></form></div>"#,
    );
    if datasets.is_empty() {
        body.push_str(r#"<p class="muted">No datasets yet: upload a table to begin.</p>"#);
    } else {
        body.push_str(
            r#"<div class="card scroll"><table id="datasets" data-init="sortable"><thead><tr><th class="sortable">name</th><th class="sortable num">rows</th><th class="sortable num">columns</th><th class="num">size</th><th>uploaded</th><th></th></tr></thead><tbody>"#,
        );
        for d in &datasets {
            let _ = write!(
                body,
                r#"<tr><td><a href="/datasets/{id}">{name}</a></td><td class="num">{rows}</td><td class="num">{columns}</td><td class="num">{size}</td><td>{when}</td><td><a href="/train?dataset={id}">train</a></td></tr>"#,
                id = d.id,
                name = escape(&d.name),
                rows = d.rows,
                columns = d.columns.len(),
                size = size(d.bytes),
                when = when(d.created_unix),
            );
        }
        body.push_str("</tbody></table></div>");
    }
    Ok(layout("Datasets", &body))
}

fn number(v: f64) -> String {
    deviant_report::charts::short(v)
}

async fn explore_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Html<String>, PageError> {
    let dataset = state.find_dataset(&id)?;
    let summary = summary_of(&state, &dataset).await?;
    let (rows, columns) = (summary.rows, summary.columns);
    let mut body = format!(
        r#"<p>{rows} rows · {n} columns · {size} · uploaded {when} · <a class="button" href="/train?dataset={id}">Train a detector on it</a> <a class="button" id="find-best" href="/train?dataset={id}&amp;detector=select">Find the best detector</a> <a class="button" href="/runs?dataset={id}">Leaderboard of its runs</a></p>"#,
        n = columns.len(),
        size = size(dataset.bytes),
        when = when(dataset.created_unix),
    );
    body.push_str(r#"<h2>Structure</h2><div class="card scroll"><table><thead><tr><th>column</th><th>type</th><th class="num">present</th><th class="num">missing</th><th class="num">unique</th></tr></thead><tbody>"#);
    for c in &columns {
        let kind = match c.kind {
            ColumnKind::Numeric => "numeric",
            ColumnKind::Categorical => "categorical",
        };
        let _ = write!(
            body,
            r#"<tr><td>{}</td><td>{kind}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
            escape(&c.name),
            c.count,
            c.missing,
            c.unique
        );
    }
    body.push_str("</tbody></table></div>");
    let numeric: Vec<&ColumnSummary> = columns.iter().filter(|c| c.numeric.is_some()).collect();
    if !numeric.is_empty() {
        body.push_str(r#"<h2>Numeric columns</h2><div class="card scroll"><table><thead><tr><th>column</th><th class="num">count</th><th class="num">mean</th><th class="num">std</th><th class="num">min</th><th class="num">25%</th><th class="num">50%</th><th class="num">75%</th><th class="num">max</th></tr></thead><tbody>"#);
        for c in &numeric {
            let n = c.numeric.as_ref().expect("numeric");
            let _ = write!(
                body,
                "<tr><td>{}</td><td class=\"num\">{}</td>",
                escape(&c.name),
                c.count
            );
            for v in [n.mean, n.std, n.min, n.q25, n.median, n.q75, n.max] {
                let _ = write!(body, r#"<td class="num">{}</td>"#, number(v));
            }
            body.push_str("</tr>");
        }
        body.push_str("</tbody></table></div>");
    }
    let categorical: Vec<&ColumnSummary> = columns
        .iter()
        .filter(|c| c.kind == ColumnKind::Categorical)
        .collect();
    if !categorical.is_empty() {
        body.push_str(r#"<h2>Categorical columns</h2><div class="card scroll"><table><thead><tr><th>column</th><th class="num">count</th><th class="num">unique</th><th>top</th><th class="num">freq</th></tr></thead><tbody>"#);
        for c in &categorical {
            let (top, freq) = c.top.first().cloned().unwrap_or_default();
            let _ = write!(
                body,
                r#"<tr><td>{}</td><td class="num">{}</td><td class="num">{}</td><td>{}</td><td class="num">{freq}</td></tr>"#,
                escape(&c.name),
                c.count,
                c.unique,
                escape(&top)
            );
        }
        body.push_str("</tbody></table></div>");
    }
    body.push_str(r#"<h2>Distributions</h2><p class="muted">Histograms of numeric columns; the most frequent values of the others and of columns with few values (a label column shows its balance).</p><div class="charts">"#);
    for c in &columns {
        let few_values = c.unique <= 12;
        let svg = match (&c.numeric, few_values) {
            (Some(n), false) => value_histogram(&c.name, &c.name, &n.histogram),
            _ => {
                let items: Vec<(String, f64)> = c
                    .top
                    .iter()
                    .take(12)
                    .map(|(v, n)| (v.clone(), *n as f64))
                    .collect();
                horizontal_bars(&c.name, "rows", &items, series_colour(0))
            }
        };
        let _ = write!(body, "<figure>{svg}</figure>");
    }
    body.push_str("</div>");
    Ok(layout(&dataset.name, &body))
}

#[derive(Deserialize)]
struct TrainQuery {
    dataset: Option<String>,
    /// `select` preselects model selection.
    detector: Option<String>,
}

async fn train_page(
    State(state): State<AppState>,
    Query(query): Query<TrainQuery>,
) -> Result<Html<String>, PageError> {
    let datasets = state.store().datasets()?;
    if datasets.is_empty() {
        return Ok(layout(
            "Train a detector",
            r#"<p>Upload a dataset first, on the <a href="/">datasets page</a>.</p>"#,
        ));
    }
    let mut dataset_options = String::new();
    for d in &datasets {
        let selected = if query.dataset.as_deref() == Some(d.id.as_str()) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            dataset_options,
            r#"<option value="{}"{selected}>{} ({} rows)</option>"#,
            d.id,
            escape(&d.name),
            d.rows
        );
    }
    let kinds = AnyConfig::kinds();
    let selecting = query.detector.as_deref() == Some(SELECT);
    let mut detector_options = format!(
        r#"<option value="{SELECT}"{}>{SELECT}: find the best detector</option>"#,
        if selecting { " selected" } else { "" }
    );
    for k in &kinds {
        let _ = write!(
            detector_options,
            r#"<option value="{0}">{0}</option>"#,
            escape(k.kind)
        );
    }
    let body = format!(
        r#"<div class="card"><form id="train" class="grid" data-init="train">
<label>Dataset<select name="dataset">{dataset_options}</select></label>
<label>Detector<select name="detector">{detector_options}</select><span id="detector-help" class="muted"></span></label>
<label>Label column (optional: without it nothing is measured)<select name="label"></select></label>
<label>Label values that mean normal (comma-separated)<input name="normal" value="0"></label>
<label>Columns to ignore<select name="ignore" multiple size="4"></select></label>
<label>Validation share (chooses the threshold)<input name="validation_share" type="number" min="0" max="0.8" step="0.05" value="0.2"></label>
<label>Test share (measures the model)<input name="test_share" type="number" min="0" max="0.8" step="0.05" value="0.2"></label>
<label>Threshold rule (empty: best-f1 with a label, else contamination:0.1)<input name="threshold" placeholder="best-f1, contamination:0.05, top:5, mad:3"></label>
<label>Seed<input name="seed" type="number" value="42"></label>
<label>Budget in seconds (with {SELECT})<input name="budget_seconds" type="number" min="1" step="1" value="60"></label>
<label class="wide">Parameters (JSON, the detector's defaults)<textarea name="params" spellcheck="false"></textarea></label>
<div class="wide"><button type="submit">Start training</button></div>
<p class="error wide"></p></form></div>
<script type="application/json" id="detectors">{detectors}</script>
<script type="application/json" id="datasets-json">{datasets_json}</script>"#,
        detectors = embedded_json(&kinds),
        datasets_json = embedded_json(&datasets),
    );
    Ok(layout("Train a detector", &body))
}
