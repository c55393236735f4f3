//! The reports: one model evaluated on one labelled table (`eval --report`) here, and in
//! `comparison` those over many models (`bench --report`, `select --report`). Each renders
//! to files in memory; the caller writes them (atomically) where it wants.

mod comparison;

pub use comparison::{ComparisonReport, ScoredRun, SelectionReport, SummaryTable};

use std::collections::BTreeMap;

use deviant_core::detector::EpochRecord;
use deviant_core::metrics::{ClassResult, Evaluation, pr_curve, roc_curve};
use deviant_core::record::ColumnImportance;
use deviant_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::chart::{ANOMALY_COLOUR, NORMAL_COLOUR};
use crate::charts::{
    Curve, HistogramOptions, confusion_chart, horizontal_bars, loss_charts, metric_bars, pr_chart,
    roc_chart, score_histogram, short, threshold_chart,
};
use crate::html::{Page, slug, table_html};

/// Files of a report: (relative file name, contents).
pub type ReportFiles = Vec<(String, Vec<u8>)>;

/// One row's per-feature contributions, from the detector's `explain`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExplainedRow {
    /// How the user finds the row again, e.g. "line 1234".
    pub row: String,
    pub score: f32,
    pub label: Option<u8>,
    /// (feature, contribution) for every feature.
    pub contributions: Vec<(String, f64)>,
}

impl ExplainedRow {
    /// A row named `row` whose features `names` contributed `values`.
    pub fn new(
        row: String,
        score: f32,
        label: Option<u8>,
        names: &[String],
        values: &[f32],
    ) -> Self {
        Self {
            row,
            score,
            label,
            contributions: names
                .iter()
                .cloned()
                .zip(values.iter().map(|&v| f64::from(v)))
                .collect(),
        }
    }

    /// The `n` features contributing most, largest first.
    pub fn top(&self, n: usize) -> Vec<(String, f64)> {
        let mut sorted = self.contributions.clone();
        sorted.sort_by(|a, b| b.1.total_cmp(&a.1));
        sorted.truncate(n);
        sorted
    }
}

/// Chart settings shared by both reports.
#[derive(Debug, Clone, Copy)]
pub struct ChartOptions {
    pub histogram: HistogramOptions,
    /// Features shown per explained row.
    pub top_features: usize,
}

impl Default for ChartOptions {
    fn default() -> Self {
        Self {
            histogram: HistogramOptions::default(),
            top_features: 10,
        }
    }
}

/// One model's scores on one labelled split, with what training recorded.
#[derive(Debug, Clone, Copy)]
pub struct ScoredSplit<'a> {
    /// The detector's name in legends.
    pub name: &'a str,
    pub colour: &'a str,
    pub scores: &'a [f32],
    pub labels: &'a [u8],
    pub evaluation: &'a Evaluation,
    pub history: &'a [EpochRecord],
    pub explained: &'a [ExplainedRow],
}

/// One chart: the file it is saved as, its caption, the SVG.
pub struct Chart {
    pub file: String,
    pub caption: String,
    pub svg: String,
}

fn prevalence(labels: &[u8]) -> f64 {
    labels.iter().filter(|&&l| l != 0).count() as f64 / labels.len().max(1) as f64
}

/// Every chart of one scored split, in reading order.
pub fn split_charts(split: &ScoredSplit<'_>, options: &ChartOptions) -> Result<Vec<Chart>> {
    let e = split.evaluation;
    let scale = options.histogram.scale.resolve(split.scores)?;
    let roc = roc_curve(split.scores, split.labels)?;
    let pr = pr_curve(split.scores, split.labels)?;
    let mut charts = vec![
        Chart {
            file: "histogram.svg".into(),
            caption: "Scores of normal and anomalous rows; rows at or right of the dashed \
                      threshold are flagged."
                .into(),
            svg: score_histogram(split.scores, split.labels, e.threshold, &options.histogram)?,
        },
        Chart {
            file: "roc.svg".into(),
            caption: "ROC curve; the dot is the chosen threshold.".into(),
            svg: roc_chart(
                "ROC curve",
                &[Curve::roc(
                    format!("{} (AUC {:.4})", split.name, e.roc_auc),
                    split.colour,
                    &roc,
                    Some(&e.confusion),
                )],
            ),
        },
        Chart {
            file: "pr.svg".into(),
            caption: "Precision–recall curve; the dot is the chosen threshold.".into(),
            svg: pr_chart(
                "Precision–recall curve",
                &[Curve::pr(
                    format!("{} (AP {:.4})", split.name, e.average_precision),
                    split.colour,
                    &pr,
                    Some(&e.confusion),
                )],
                prevalence(split.labels),
            ),
        },
        Chart {
            file: "threshold.svg".into(),
            caption: "What each threshold would give; the dashed line is the one chosen.".into(),
            svg: threshold_chart(&pr, e.threshold, scale)?,
        },
        Chart {
            file: "confusion.svg".into(),
            caption: "Rows by actual class and by what the threshold flagged.".into(),
            svg: confusion_chart(&e.confusion),
        },
        Chart {
            file: "metrics.svg".into(),
            caption: "Metrics at the chosen threshold (ROC AUC and AP need none).".into(),
            svg: metric_bars(
                "Metrics",
                &[
                    ("ROC AUC", e.roc_auc),
                    ("AP", e.average_precision),
                    ("accuracy", e.accuracy),
                    ("precision", e.precision),
                    ("recall", e.recall),
                    ("F1", e.f1),
                    ("F2", e.f2),
                ],
            ),
        },
    ];
    for (name, svg) in loss_charts(split.history) {
        charts.push(Chart {
            file: if name == "loss" {
                "loss.svg".into()
            } else {
                format!("loss-{}.svg", slug(&name))
            },
            caption: format!("Mean {name} per epoch while training."),
            svg,
        });
    }
    for (i, row) in split.explained.iter().enumerate() {
        let label = match row.label {
            Some(0) => ", labelled normal",
            Some(_) => ", labelled anomaly",
            None => "",
        };
        charts.push(Chart {
            file: format!("anomaly-{}.svg", i + 1),
            caption: format!(
                "Top-{} scoring row: {} (score {}{label}), its {} largest feature contributions.",
                i + 1,
                row.row,
                short(f64::from(row.score)),
                options.top_features
            ),
            svg: horizontal_bars(
                &format!("Why {} scores {}", row.row, short(f64::from(row.score))),
                "contribution to the score",
                &row.top(options.top_features),
                if row.label == Some(0) {
                    NORMAL_COLOUR
                } else {
                    ANOMALY_COLOUR
                },
            ),
        });
    }
    Ok(charts)
}

fn metric_rows(e: &Evaluation) -> Vec<Vec<String>> {
    let c = e.confusion;
    [
        ("ROC AUC", format!("{:.4}", e.roc_auc)),
        ("average precision", format!("{:.4}", e.average_precision)),
        ("precision", format!("{:.4}", e.precision)),
        ("recall", format!("{:.4}", e.recall)),
        ("F1", format!("{:.4}", e.f1)),
        ("F2", format!("{:.4}", e.f2)),
        ("accuracy", format!("{:.4}", e.accuracy)),
        ("threshold", short(e.threshold)),
        ("true / false positives", format!("{} / {}", c.tp, c.fp)),
        ("true / false negatives", format!("{} / {}", c.tn, c.fn_)),
    ]
    .into_iter()
    .map(|(k, v)| vec![k.to_string(), v])
    .collect()
}

fn history_table(history: &[EpochRecord]) -> String {
    let names: Vec<String> = history
        .first()
        .map(|e| e.train.keys().cloned().collect())
        .unwrap_or_default();
    let has_valid = history.iter().any(|e| e.valid.is_some());
    let mut header: Vec<String> = vec!["epoch".into(), "seconds".into()];
    header.extend(names.iter().map(|n| format!("train {n}")));
    if has_valid {
        header.extend(names.iter().map(|n| format!("valid {n}")));
    }
    let rows: Vec<Vec<String>> = history
        .iter()
        .map(|e| {
            let mut row = vec![e.epoch.to_string(), format!("{:.2}", e.seconds)];
            row.extend(
                names
                    .iter()
                    .map(|n| e.train.get(n).map_or("–".into(), |v| short(*v))),
            );
            if has_valid {
                row.extend(names.iter().map(|n| {
                    e.valid
                        .as_ref()
                        .and_then(|v| v.get(n))
                        .map_or("–".into(), |v| short(*v))
                }));
            }
            row
        })
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    format!(
        "<details><summary>Per-epoch losses and times</summary>{}</details>",
        table_html(&header, &rows, &header, |_| false)
    )
}

fn explained_table(rows: &[ExplainedRow]) -> String {
    let body: Vec<Vec<String>> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            vec![
                (i + 1).to_string(),
                r.row.clone(),
                short(f64::from(r.score)),
                match r.label {
                    Some(0) => "normal".into(),
                    Some(_) => "anomaly".into(),
                    None => "–".into(),
                },
                r.top(3)
                    .iter()
                    .map(|(f, v)| format!("{f} ({})", short(*v)))
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    table_html(
        &["rank", "row", "score", "label", "top features"],
        &body,
        &["rank", "score"],
        |_| false,
    )
}

/// The sections every page about one scored split has: metrics, charts, rows, history.
/// `prefix` keeps the section ids unique on pages with several splits.
fn split_sections(page: &mut Page, split: &ScoredSplit<'_>, charts: &[Chart], prefix: &str) {
    page.heading("Metrics", &format!("{prefix}metrics"));
    page.table(
        &["metric", "value"],
        &metric_rows(split.evaluation),
        &["value"],
    );
    page.heading("Charts", &format!("{prefix}charts"));
    page.charts(charts.iter().map(|c| (c.caption.as_str(), c.svg.as_str())));
    if !split.explained.is_empty() {
        page.heading("Highest-scoring rows", &format!("{prefix}rows"));
        page.raw(&explained_table(split.explained));
    }
    if !split.history.is_empty() {
        page.heading("Training", &format!("{prefix}training"));
        page.raw(&history_table(split.history));
    }
}

/// `eval --report`: one model on one labelled table.
pub struct EvalReport<'a> {
    pub title: String,
    /// What the reader needs to know first: model, data, threshold rule, …
    pub facts: Vec<(String, String)>,
    pub split: ScoredSplit<'a>,
    /// Permutation importance on named sets of rows ("train", "test"), most important
    /// first; empty when not asked for.
    pub importance: &'a [(String, Vec<ColumnImportance>)],
    /// Results per value of a label column with more values than normal and anomaly.
    pub classes: &'a [ClassResult],
    pub options: ChartOptions,
}

#[derive(Serialize)]
struct EvalMetrics<'a> {
    facts: BTreeMap<&'a str, &'a str>,
    rows: usize,
    anomalies: usize,
    evaluation: &'a Evaluation,
    top_rows: &'a [ExplainedRow],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    importance: &'a [(String, Vec<ColumnImportance>)],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    classes: &'a [ClassResult],
}

/// Columns drawn in an importance chart.
const IMPORTANCE_BARS: usize = 20;

/// What an importance section says before its charts.
pub const IMPORTANCE_NOTE: &str = "Permutation importance: the drop in ROC AUC when one of \
     your columns is shuffled among the rows (a one-hot group moves as one column), mean ± \
     spread over shuffles. \"own\" is the learner's own share (impurity decrease, gain or \
     |weight|) where it has one.";

/// One chart per named set of rows: the largest drops in ROC AUC when a column is shuffled.
pub fn importance_charts(sets: &[(String, Vec<ColumnImportance>)]) -> Vec<Chart> {
    sets.iter()
        .map(|(name, rows)| {
            let items: Vec<(String, f64)> = rows
                .iter()
                .take(IMPORTANCE_BARS)
                .map(|c| (c.column.clone(), c.roc_auc_drop))
                .collect();
            let caption = format!("Permutation importance on {name}");
            Chart {
                file: format!("importance-{}.svg", slug(name)),
                svg: horizontal_bars(&caption, "drop in ROC AUC", &items, NORMAL_COLOUR),
                caption,
            }
        })
        .collect()
}

/// Every column (in the first set's order) with each set's drop and the learner's own share.
pub fn importance_table(sets: &[(String, Vec<ColumnImportance>)]) -> String {
    let Some((_, first)) = sets.first() else {
        return String::new();
    };
    let mut header = vec!["column".to_string()];
    header.extend(sets.iter().map(|(name, _)| format!("drop on {name}")));
    header.push("own".into());
    let rows: Vec<Vec<String>> = first
        .iter()
        .map(|c| {
            let mut row = vec![c.column.clone()];
            for (_, set) in sets {
                row.push(match set.iter().find(|o| o.column == c.column) {
                    Some(o) => format!("{:.4} ± {:.4}", o.roc_auc_drop, o.std),
                    None => "–".into(),
                });
            }
            row.push(c.own.map_or_else(|| "–".into(), |v| format!("{v:.4}")));
            row
        })
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    table_html(&header, &rows, &header[1..], |_| false)
}

/// The importance section of a report page; returns its charts to be written as files.
fn importance_section(page: &mut Page, sets: &[(String, Vec<ColumnImportance>)]) -> Vec<Chart> {
    if sets.is_empty() {
        return Vec::new();
    }
    page.heading("Feature importance", "importance");
    page.paragraph(IMPORTANCE_NOTE);
    let charts = importance_charts(sets);
    page.charts(charts.iter().map(|c| (c.caption.as_str(), c.svg.as_str())));
    page.raw(&importance_table(sets));
    charts
}

impl EvalReport<'_> {
    /// `report.html` (charts inline), each chart as SVG, and `metrics.json`.
    pub fn render(&self) -> Result<ReportFiles> {
        let charts = split_charts(&self.split, &self.options)?;
        let mut page = Page::new(&self.title);
        page.facts(&self.facts);
        split_sections(&mut page, &self.split, &charts, "");
        if !self.classes.is_empty() {
            page.heading("Each label value", "classes");
            page.paragraph(
                "The anomaly score means \"not normal\": for each value of the label column, \
                 the share of its rows flagged (an attack's detection rate, a normal value's \
                 false-positive rate) and its share of all flagged rows.",
            );
            let rows: Vec<Vec<String>> = self
                .classes
                .iter()
                .map(|c| {
                    vec![
                        c.class.clone(),
                        if c.normal { "normal" } else { "anomaly" }.into(),
                        c.rows.to_string(),
                        c.flagged.to_string(),
                        format!("{:.2} %", 100.0 * c.flagged_share),
                        format!("{:.2} %", 100.0 * c.share_of_flagged),
                    ]
                })
                .collect();
            let numeric = ["rows", "flagged", "% flagged", "% of flagged"];
            let mut header = vec!["label value", "means"];
            header.extend(numeric);
            page.table(&header, &rows, &numeric);
        }
        let importance_charts = importance_section(&mut page, self.importance);
        let metrics = EvalMetrics {
            facts: self
                .facts
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
            rows: self.split.labels.len(),
            anomalies: self.split.labels.iter().filter(|&&l| l != 0).count(),
            evaluation: self.split.evaluation,
            top_rows: self.split.explained,
            importance: self.importance,
            classes: self.classes,
        };
        let mut files: ReportFiles = vec![
            ("report.html".into(), page.finish().into_bytes()),
            ("metrics.json".into(), to_json(&metrics)?),
        ];
        files.extend(
            charts
                .into_iter()
                .chain(importance_charts)
                .map(|c| (c.file, c.svg.into_bytes())),
        );
        Ok(files)
    }
}

fn to_json(value: &impl Serialize) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(value).map_err(|e| Error::internal(format!("writing JSON: {e}")))
}
