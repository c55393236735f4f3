//! The dashboard: server-rendered pages over the same registry as the API, with the charts
//! of `deviant-report` inline and a small script (`assets/app.js`) for uploads, live
//! progress, sorting, the threshold explorer, training and prediction forms.

use std::collections::HashMap;
use std::fmt::Write;

use axum::Router;
use axum::extract::{Form, Path, Query, Request, State};
use axum::http::{Extensions, HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use deviant_core::ColumnKind;
use deviant_core::metrics::Evaluation;
use deviant_core::record::ColumnImportance;
use deviant_data::summary::ColumnSummary;
use deviant_detectors::AnyConfig;
use deviant_report::charts::{Curve, horizontal_bars, pr_chart, roc_chart, value_histogram};
use deviant_report::{
    ChartOptions, IMPORTANCE_NOTE, ScoredSplit, escape, importance_charts, importance_table,
    series_colour, split_charts,
};
use deviant_store::{RunRecord, RunStatus};
use serde::Deserialize;

use crate::api::{ApiError, summary_of};
use crate::jobs::{EXPLAINED, Explained, IMPORTANCE, LEADERBOARD, SELECT, TEST_SCORES, TestScores};
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
        .route("/runs", get(runs_page))
        .route("/runs/compare", get(compare_page))
        .route("/runs/{id}", get(run_page))
        .route("/predict/{id}", get(predict_page))
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

fn metric(run: &RunRecord, name: &str) -> Option<f64> {
    run.metrics.as_ref()?["evaluation"][name].as_f64()
}

/// A metric of the run's model on its labelled training rows.
fn train_metric(run: &RunRecord, name: &str) -> Option<f64> {
    run.metrics.as_ref()?["train"][name].as_f64()
}

#[derive(Deserialize)]
struct RunsQuery {
    /// Only the runs on this dataset: its leaderboard.
    dataset: Option<String>,
}

async fn runs_page(
    State(state): State<AppState>,
    Query(query): Query<RunsQuery>,
) -> Result<Html<String>, PageError> {
    let mut runs = state.store().runs()?;
    if let Some(dataset) = &query.dataset {
        runs.retain(|r| &r.dataset_id == dataset);
    }
    let names: HashMap<String, String> = state
        .store()
        .datasets()?
        .into_iter()
        .map(|d| (d.id, d.name))
        .collect();
    if runs.is_empty() {
        return Ok(layout(
            "Runs",
            r#"<p class="muted">No runs yet: <a href="/train">train a detector</a>.</p>"#,
        ));
    }
    let mut body = String::from(
        r#"<div class="card scroll"><table id="runs" data-init="sortable"><thead><tr><th></th><th class="sortable">detector</th><th class="sortable">dataset</th><th class="sortable">status</th><th class="sortable">labels</th><th class="sortable num">ROC AUC</th><th class="sortable num">AP</th><th class="sortable num">precision</th><th class="sortable num">recall</th><th class="sortable num">F1</th><th class="sortable num">F2</th><th class="sortable num">accuracy</th><th class="sortable num">train ROC AUC</th><th class="sortable num">train F1</th><th class="sortable num">train accuracy</th><th class="sortable num">fit s</th><th>started</th></tr></thead><tbody>"#,
    );
    let cell =
        |v: Option<f64>, digits: usize| v.map_or("–".to_string(), |v| format!("{v:.digits$}"));
    for r in &runs {
        let status = format!("{:?}", r.status).to_lowercase();
        let _ = write!(
            body,
            r#"<tr><td><input type="checkbox" class="pick" value="{id}" aria-label="compare"></td><td><a href="/runs/{id}">{detector}</a></td><td>{dataset}</td><td class="status {status}">{status}</td><td>{labels}</td><td class="num">{auc}</td><td class="num">{ap}</td><td class="num">{precision}</td><td class="num">{recall}</td><td class="num">{f1}</td><td class="num">{f2}</td><td class="num">{accuracy}</td><td class="num">{train_auc}</td><td class="num">{train_f1}</td><td class="num">{train_accuracy}</td><td class="num">{fit}</td><td>{when}</td></tr>"#,
            id = r.id,
            detector = escape(&r.detector),
            dataset = escape(names.get(&r.dataset_id).map_or("(deleted)", String::as_str)),
            labels = match r.metrics.as_ref().and_then(|m| m["supervised"].as_bool()) {
                Some(true) => "yes",
                Some(false) => "no",
                None => "–",
            },
            auc = cell(metric(r, "roc_auc"), 4),
            ap = cell(metric(r, "average_precision"), 4),
            precision = cell(metric(r, "precision"), 4),
            recall = cell(metric(r, "recall"), 4),
            f1 = cell(metric(r, "f1"), 4),
            f2 = cell(metric(r, "f2"), 4),
            accuracy = cell(metric(r, "accuracy"), 4),
            train_auc = cell(train_metric(r, "roc_auc"), 4),
            train_f1 = cell(train_metric(r, "f1"), 4),
            train_accuracy = cell(train_metric(r, "accuracy"), 4),
            fit = cell(r.fit_seconds, 2),
            when = when(r.created_unix),
        );
    }
    body.push_str(
        r#"</tbody></table></div><p><button id="compare" data-init="compare">Compare ticked runs</button></p>"#,
    );
    Ok(layout("Runs", &body))
}

fn test_scores(state: &AppState, id: &str) -> Option<TestScores> {
    let path = state.store().run_dir(id).join(TEST_SCORES);
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn explained(state: &AppState, id: &str) -> Option<Explained> {
    let path = state.store().run_dir(id).join(EXPLAINED);
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

async fn run_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Html<String>, PageError> {
    let run = state.find_run(&id)?;
    let status = format!("{:?}", run.status).to_lowercase();
    let request = &run.request;
    let mut body = format!(
        r#"<p><span class="status {status}">{status}</span> · {detector} · label {label} · seed {seed}{fit}</p>"#,
        detector = escape(&run.detector),
        label = escape(request["label"].as_str().unwrap_or("none")),
        seed = request["seed"],
        fit = run
            .fit_seconds
            .map_or(String::new(), |s| format!(" · trained in {s:.2} s")),
    );
    if !run.status.is_final() {
        let _ = write!(
            body,
            r#"<div class="card" data-init="follow" data-id="{id}"><progress id="progress" value="0" max="1"></progress><p id="progress-text" class="muted">{status}</p><svg id="live-loss" viewBox="0 0 600 160" width="100%" height="160" hidden role="img" aria-label="loss per epoch"></svg><button id="cancel" data-init="cancel" data-id="{id}">Cancel</button></div>"#
        );
    }
    if let Some(error) = &run.error {
        let _ = write!(body, r#"<p class="error">{}</p>"#, escape(error));
    }
    if run.detector == SELECT {
        body.push_str(&leaderboard_section(&state, &id, run.status.is_final()));
    }
    if run.has_model {
        let _ = write!(
            body,
            r#"<p><a class="button" href="/predict/{id}">Score new rows with this model</a> <a class="button" href="/streams">Stream rows through it</a> <a class="button" href="/api/v1/runs/{id}/model">Download the model (.tar)</a></p>"#
        );
    }
    let scores = test_scores(&state, &id);
    let evaluation = scores
        .as_ref()
        .and_then(|t| Evaluation::new(&t.scores, &t.labels, t.threshold).ok());
    if let (Some(t), Some(e)) = (&scores, &evaluation) {
        let c = e.confusion;
        let _ = write!(
            body,
            r#"<h2>Threshold</h2><div class="card"><p class="muted">Move the threshold over the {n} held-out test rows: rows scoring at least it are flagged. The model's own threshold ({rule}, chosen on {on}) is where the slider starts.</p>
<input type="range" id="threshold" min="0" max="1" step="0.001" aria-label="threshold">
<p>threshold <b id="threshold-value"></b></p>
<div class="metrics">
<div class="metric"><b>{auc:.4}</b><span>ROC AUC</span></div><div class="metric"><b>{ap:.4}</b><span>AP</span></div>
<div class="metric"><b id="m-precision">{p:.4}</b><span>precision</span></div><div class="metric"><b id="m-recall">{r:.4}</b><span>recall</span></div>
<div class="metric"><b id="m-f1">{f1:.4}</b><span>F1</span></div><div class="metric"><b id="m-f2">{f2:.4}</b><span>F2</span></div>
<div class="metric"><b id="m-accuracy">{acc:.4}</b><span>accuracy</span></div></div>
<div class="scroll"><table><thead><tr><th></th><th class="num">flagged normal</th><th class="num">flagged anomaly</th></tr></thead><tbody>
<tr><td>actual normal</td><td class="num" id="c-tn">{tn}</td><td class="num" id="c-fp">{fp}</td></tr>
<tr><td>actual anomaly</td><td class="num" id="c-fn">{fnn}</td><td class="num" id="c-tp">{tp}</td></tr></tbody></table></div></div>
<script type="application/json" id="scores" data-init="threshold">{data}</script>"#,
            n = t.scores.len(),
            rule = escape(
                run.metrics
                    .as_ref()
                    .and_then(|m| m["threshold_rule"].as_str())
                    .unwrap_or("?")
            ),
            on = escape(
                run.metrics
                    .as_ref()
                    .and_then(|m| m["threshold_chosen_on"].as_str())
                    .unwrap_or("?")
            ),
            auc = e.roc_auc,
            ap = e.average_precision,
            p = e.precision,
            r = e.recall,
            f1 = e.f1,
            f2 = e.f2,
            acc = e.accuracy,
            tn = c.tn,
            fp = c.fp,
            fnn = c.fn_,
            tp = c.tp,
            data = embedded_json(t),
        );
    }
    if let Some(explained) = explained(&state, &id).filter(|e| !e.rows.is_empty()) {
        body.push_str(r#"<h2>Why rows are flagged</h2><div class="charts">"#);
        if !explained.importance.is_empty() {
            let top: Vec<(String, f64)> = explained.importance.iter().take(15).cloned().collect();
            let _ = write!(
                body,
                "<figure>{}<figcaption>Mean contribution of each feature to the scores of the flagged test rows (the 15 largest).</figcaption></figure>",
                horizontal_bars(
                    "Feature importance",
                    "mean contribution",
                    &top,
                    series_colour(1)
                )
            );
        }
        body.push_str(r#"</div><div class="card scroll"><table><thead><tr><th class="num">rank</th><th>row</th><th class="num">score</th><th>label</th><th>largest contributions</th></tr></thead><tbody>"#);
        for (rank, row) in explained.rows.iter().enumerate() {
            let features = row
                .top(3)
                .iter()
                .map(|(f, v)| format!("{f} ({})", number(*v)))
                .collect::<Vec<_>>()
                .join(", ");
            let label = match row.label {
                Some(0) => "normal",
                Some(_) => "anomaly",
                None => "–",
            };
            let _ = write!(
                body,
                r#"<tr><td class="num">{}</td><td>{}</td><td class="num">{}</td><td>{label}</td><td>{}</td></tr>"#,
                rank + 1,
                escape(&row.row),
                number(f64::from(row.score)),
                escape(&features)
            );
        }
        body.push_str("</tbody></table></div>");
    }
    let importance: Vec<(String, Vec<ColumnImportance>)> =
        std::fs::read(state.store().run_dir(&id).join(IMPORTANCE))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
    if !importance.is_empty() {
        let _ = write!(
            body,
            r#"<h2>Feature importance</h2><p class="muted">{}</p><div class="charts">"#,
            escape(IMPORTANCE_NOTE)
        );
        for chart in importance_charts(&importance) {
            let _ = write!(
                body,
                "<figure>{}<figcaption>{}</figcaption></figure>",
                chart.svg,
                escape(&chart.caption)
            );
        }
        let _ = write!(
            body,
            r#"</div><div class="card scroll">{}</div>"#,
            importance_table(&importance)
        );
    }
    let history: Vec<deviant_core::detector::EpochRecord> = run
        .history
        .clone()
        .and_then(|h| serde_json::from_value(h).ok())
        .unwrap_or_default();
    if let (Some(t), Some(e)) = (&scores, &evaluation) {
        let split = ScoredSplit {
            name: &run.detector,
            colour: series_colour(0),
            scores: &t.scores,
            labels: &t.labels,
            evaluation: e,
            history: &history,
            explained: &[],
        };
        let charts = split_charts(&split, &ChartOptions::default())?;
        body.push_str(r#"<h2>Charts</h2><div class="charts">"#);
        for chart in &charts {
            let _ = write!(
                body,
                "<figure>{}<figcaption>{}</figcaption></figure>",
                chart.svg,
                escape(&chart.caption)
            );
        }
        body.push_str("</div>");
    }
    Ok(layout(&format!("Run {id}"), &body))
}

#[derive(Deserialize)]
struct CompareQuery {
    ids: String,
}

async fn compare_page(
    State(state): State<AppState>,
    Query(query): Query<CompareQuery>,
) -> Result<Html<String>, PageError> {
    let mut roc = Vec::new();
    let mut pr = Vec::new();
    let mut prevalence = 0.0;
    let mut missing = Vec::new();
    for (i, id) in query.ids.split(',').filter(|s| !s.is_empty()).enumerate() {
        let run = state.find_run(id)?;
        let Some(t) = test_scores(&state, id) else {
            missing.push(format!("{} ({id})", run.detector));
            continue;
        };
        let e = Evaluation::new(&t.scores, &t.labels, t.threshold)?;
        let colour = series_colour(i);
        let name = format!("{} {}", run.detector, &id[..6]);
        roc.push(Curve::roc(
            format!("{name} (AUC {:.4})", e.roc_auc),
            colour,
            &deviant_core::metrics::roc_curve(&t.scores, &t.labels)?,
            Some(&e.confusion),
        ));
        pr.push(Curve::pr(
            format!("{name} (AP {:.4})", e.average_precision),
            colour,
            &deviant_core::metrics::pr_curve(&t.scores, &t.labels)?,
            Some(&e.confusion),
        ));
        prevalence = t.labels.iter().filter(|&&l| l == 1).count() as f64 / t.labels.len() as f64;
    }
    let mut body = String::new();
    if !missing.is_empty() {
        let _ = write!(
            body,
            r#"<p class="muted">Without labelled test rows, not drawn: {}</p>"#,
            escape(&missing.join(", "))
        );
    }
    if !roc.is_empty() {
        let _ = write!(
            body,
            r#"<p class="muted">Each run on its own held-out test rows; runs on the same dataset and seed share them.</p><div class="charts"><figure>{}</figure><figure>{}</figure></div>"#,
            roc_chart("ROC curves", &roc),
            pr_chart("Precision–recall curves", &pr, prevalence)
        );
    }
    Ok(layout("Compare runs", &body))
}

async fn predict_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Html<String>, PageError> {
    let run = state.find_run(&id)?;
    if run.status != RunStatus::Succeeded {
        return Ok(layout(
            "Predict",
            &format!(r#"<p>Run <a href="/runs/{id}">{id}</a> has no model to score with.</p>"#),
        ));
    }
    let columns: Vec<String> = state
        .store()
        .dataset(&run.dataset_id)?
        .map(|d| d.columns.into_iter().map(|c| c.name).collect())
        .unwrap_or_default();
    let label = run.request["label"].as_str().map(String::from);
    let ignore: Vec<String> =
        serde_json::from_value(run.request["ignore"].clone()).unwrap_or_default();
    let features: Vec<&String> = columns
        .iter()
        .filter(|c| Some(*c) != label.as_ref() && !ignore.contains(c))
        .collect();
    let header = features
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let body = format!(
        r#"<p class="muted">Model of run <a href="/runs/{id}">{id}</a> ({detector}). Paste rows as CSV with a header row or as a JSON array of objects; columns: {columns}.</p>
<div class="card"><form id="predict" class="grid" data-init="predict" data-id="{id}">
<label class="wide">Rows<textarea name="rows" spellcheck="false">{header}
</textarea></label>
<label>…or a CSV file<input type="file" name="file" accept=".csv,.txt,.json"></label>
<div class="wide"><button type="submit">Score</button></div>
<p class="error wide"></p></form></div>
<div id="predictions" class="card scroll" hidden><p><a id="download" class="button" download="scores.csv">Download as CSV</a></p>
<table><thead><tr><th class="num">row</th><th class="num">score</th><th>flag</th><th>top features</th></tr></thead><tbody></tbody></table></div>"#,
        detector = escape(&run.detector),
        columns = escape(&header.replace(',', ", ")),
        header = escape(&header),
    );
    Ok(layout("Predict", &body))
}

/// A selection run's leaderboard: the server's table once it has ended, else one the page
/// refreshes as attempts end.
fn leaderboard_section(state: &AppState, id: &str, finished: bool) -> String {
    let path = state.store().run_dir(id).join(LEADERBOARD);
    let board: serde_json::Value = std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let mut out = String::from(r#"<h2>Leaderboard</h2><div class="card">"#);
    for reason in board["reasons"].as_array().into_iter().flatten() {
        let _ = write!(
            out,
            "<p>{}</p>",
            escape(reason.as_str().unwrap_or_default())
        );
    }
    let live = match finished {
        true => String::new(),
        false => format!(r#" data-init="leaderboard" data-id="{id}""#),
    };
    let _ = write!(
        out,
        r#"<div class="scroll"><table id="leaderboard"{live}><thead><tr><th>configuration</th><th>status</th><th>labels</th><th class="num">predicted</th><th class="num">validation ROC AUC</th><th class="num">rows</th><th class="num">fit s</th></tr></thead><tbody>"#
    );
    let number = |v: &serde_json::Value, digits: usize| {
        v.as_f64()
            .map_or(String::new(), |v| format!("{v:.digits$}"))
    };
    for a in board["attempts"].as_array().into_iter().flatten() {
        let chosen = a["chosen"].as_bool().unwrap_or(false);
        let _ = write!(
            out,
            r#"<tr{class}><td>{label}{mark}</td><td>{status}</td><td>{labels}</td><td class="num">{predicted}</td><td class="num">{auc}</td><td class="num">{rows}</td><td class="num">{fit}</td></tr>"#,
            class = if chosen { r#" class="chosen""# } else { "" },
            label = escape(a["label"].as_str().unwrap_or_default()),
            mark = if chosen { " ✓" } else { "" },
            status = escape(a["status"].as_str().unwrap_or_default()),
            labels = match a["supervised"].as_bool() {
                Some(true) => "yes",
                _ => "no",
            },
            predicted = number(&a["predicted"], 4),
            auc = number(&a["select_roc_auc"], 4),
            rows = a["rows"],
            fit = number(&a["fit_seconds"], 2),
        );
    }
    out.push_str("</tbody></table></div></div>");
    out
}
