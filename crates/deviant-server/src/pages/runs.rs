//! The pages of runs: the list, one run with its charts, leaderboard and importance, the
//! comparison of several, and the prediction form.

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::{Path, Query, State};
use axum::response::Html;
use deviant_core::metrics::Evaluation;
use deviant_core::record::ColumnImportance;
use deviant_report::charts::{Curve, horizontal_bars, pr_chart, roc_chart};
use deviant_report::{
    ChartOptions, IMPORTANCE_NOTE, ScoredSplit, escape, importance_charts, importance_table,
    series_colour, split_charts,
};
use deviant_store::{RunRecord, RunStatus};
use serde::Deserialize;

use super::{PageError, embedded_json, layout, number, when};
use crate::AppState;
use crate::jobs::{EXPLAINED, Explained, IMPORTANCE, LEADERBOARD, SELECT, TEST_SCORES, TestScores};

fn metric(run: &RunRecord, name: &str) -> Option<f64> {
    run.metrics.as_ref()?["evaluation"][name].as_f64()
}

/// A metric of the run's model on its labelled training rows.
fn train_metric(run: &RunRecord, name: &str) -> Option<f64> {
    run.metrics.as_ref()?["train"][name].as_f64()
}

#[derive(Deserialize)]
pub(super) struct RunsQuery {
    /// Only the runs on this dataset: its leaderboard.
    dataset: Option<String>,
}

pub(super) async fn runs_page(
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

pub(super) async fn run_page(
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
pub(super) struct CompareQuery {
    ids: String,
}

pub(super) async fn compare_page(
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

pub(super) async fn predict_page(
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
