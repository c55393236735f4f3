//! The two reports: one model evaluated on one labelled table (`eval --report`), and a
//! comparison of detectors over seeds (`bench --report`). Both render to files in memory;
//! the caller writes them (atomically) where it wants.

use std::collections::BTreeMap;

use deviant_core::detector::EpochRecord;
use deviant_core::metrics::{ClassResult, Evaluation, pr_curve, roc_curve};
use deviant_core::record::{ColumnImportance, EvalRecord, distinct, groups};
use deviant_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::chart::{ANOMALY_COLOUR, NORMAL_COLOUR, series_colour};
use crate::charts::{
    Curve, HistogramOptions, confusion_chart, horizontal_bars, loss_charts, metric_bars, pr_chart,
    roc_chart, score_histogram, short, threshold_chart,
};
use crate::html::{Page, slug, table_html, table_with};
use crate::record::{leaderboard_cells, leaderboard_columns};
use crate::svg::escape;

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

/// One detector's scores on one test set (one seed), kept for the comparison's curves.
#[derive(Debug, Clone)]
pub struct ScoredRun {
    pub detector: String,
    pub dataset: String,
    pub seed: u64,
    pub scores: Vec<f32>,
    pub labels: Vec<u8>,
    pub evaluation: Evaluation,
    pub history: Vec<EpochRecord>,
    pub explained: Vec<ExplainedRow>,
}

/// A table a benchmark adds above the leaderboard (e.g. ADBench's means and ranks).
#[derive(Debug, Clone)]
pub struct SummaryTable {
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// `bench --report`: the leaderboard over all records, ROC and PR overlays per test set,
/// and one page per detector.
pub struct ComparisonReport<'a> {
    pub title: String,
    pub facts: Vec<(String, String)>,
    pub summaries: Vec<SummaryTable>,
    pub records: &'a [EvalRecord],
    /// The runs drawn as curves (one seed per detector and test set).
    pub runs: &'a [ScoredRun],
    /// Every chart of every run on the detector pages; without it they hold the per-seed
    /// table only (benchmarks over dozens of sets would otherwise write hundreds of charts).
    pub detector_charts: bool,
    pub options: ChartOptions,
}

impl ComparisonReport<'_> {
    fn detectors(&self) -> Vec<&str> {
        distinct(self.records.iter().map(|r| r.detector.as_str()))
    }

    fn datasets(&self) -> Vec<&str> {
        distinct(self.runs.iter().map(|r| r.dataset.as_str()))
    }

    fn colour(&self, detector: &str) -> &'static str {
        series_colour(
            self.detectors()
                .iter()
                .position(|&d| d == detector)
                .unwrap_or(0),
        )
    }

    fn page_name(detector: &str) -> String {
        format!("detector-{}.html", slug(detector))
    }

    /// `report.html`, `roc-<set>.svg` and `pr-<set>.svg` per test set, and
    /// `detector-<kind>.html` per detector.
    pub fn render(&self) -> Result<ReportFiles> {
        let mut files: ReportFiles = Vec::new();
        let mut page = Page::new(&self.title);
        page.facts(&self.facts);
        let detectors = self.detectors();
        page.raw(&format!(
            "<nav>Detector pages: {}</nav>",
            detectors
                .iter()
                .map(|d| format!(r#"<a href="{}">{}</a>"#, Self::page_name(d), escape(d)))
                .collect::<Vec<_>>()
                .join(" ")
        ));
        for table in &self.summaries {
            page.heading(&table.title, &slug(&table.title));
            let header: Vec<&str> = table.header.iter().map(String::as_str).collect();
            page.table(&header, &table.rows, &header[1..]);
        }
        page.heading("Leaderboard", "leaderboard");
        page.paragraph(
            "Mean ± standard deviation over seeds; the best mean ROC AUC per test set is in bold.",
        );
        page.raw(&self.leaderboard_html());
        for dataset in self.datasets() {
            let runs: Vec<&ScoredRun> = self.runs.iter().filter(|r| r.dataset == dataset).collect();
            let seed = runs.first().map_or(0, |r| r.seed);
            let mut roc = Vec::new();
            let mut pr = Vec::new();
            for run in &runs {
                let colour = self.colour(&run.detector);
                let e = &run.evaluation;
                roc.push(Curve::roc(
                    format!("{} (AUC {:.4})", run.detector, e.roc_auc),
                    colour,
                    &roc_curve(&run.scores, &run.labels)?,
                    Some(&e.confusion),
                ));
                pr.push(Curve::pr(
                    format!("{} (AP {:.4})", run.detector, e.average_precision),
                    colour,
                    &pr_curve(&run.scores, &run.labels)?,
                    Some(&e.confusion),
                ));
            }
            let labels = &runs[0].labels;
            let roc_svg = roc_chart(&format!("ROC curves, {dataset}, seed {seed}"), &roc);
            let pr_svg = pr_chart(
                &format!("Precision–recall curves, {dataset}, seed {seed}"),
                &pr,
                prevalence(labels),
            );
            page.heading(&format!("Curves on {dataset}"), &slug(dataset));
            page.charts([
                (
                    "ROC curves of every detector (seed shown); dots mark each one's chosen threshold.",
                    roc_svg.as_str(),
                ),
                (
                    "Precision–recall curves of every detector; dots mark the chosen thresholds.",
                    pr_svg.as_str(),
                ),
            ]);
            files.push((format!("roc-{}.svg", slug(dataset)), roc_svg.into_bytes()));
            files.push((format!("pr-{}.svg", slug(dataset)), pr_svg.into_bytes()));
        }
        files.insert(0, ("report.html".into(), page.finish().into_bytes()));
        for detector in detectors {
            files.push((Self::page_name(detector), self.detector_page(detector)?));
        }
        Ok(files)
    }

    fn leaderboard_html(&self) -> String {
        let groups = groups(self.records);
        let best: Vec<bool> = groups
            .iter()
            .map(|g| {
                let mean = g.mean_std(|r| r.roc_auc).0;
                groups
                    .iter()
                    .filter(|o| o.dataset == g.dataset && o.protocol == g.protocol)
                    .all(|o| o.mean_std(|r| r.roc_auc).0 <= mean)
            })
            .collect();
        let columns = leaderboard_columns(self.records);
        let mut header = vec!["dataset", "protocol", "detector"];
        header.extend(&columns);
        let rows: Vec<Vec<String>> = groups
            .iter()
            .map(|g| {
                let mut row = vec![g.dataset.into(), g.protocol.into(), g.detector.into()];
                row.extend(leaderboard_cells(g, &columns));
                row
            })
            .collect();
        table_with(
            &header,
            &rows,
            &columns[1..],
            |i| best[i],
            |_, j, text| {
                let text_html = escape(text);
                if j == 2 {
                    format!(r#"<a href="{}">{text_html}</a>"#, Self::page_name(text))
                } else {
                    text_html
                }
            },
        )
    }

    fn detector_page(&self, detector: &str) -> Result<Vec<u8>> {
        let mut page = Page::new(&format!("{}: {detector}", self.title));
        page.raw(r#"<nav><a href="report.html">← comparison</a></nav>"#);
        page.facts(&self.facts);
        let own: Vec<EvalRecord> = self
            .records
            .iter()
            .filter(|r| r.detector == detector)
            .cloned()
            .collect();
        page.heading("Every seed", "seeds");
        let rows: Vec<Vec<String>> = own
            .iter()
            .map(|r| {
                vec![
                    r.dataset.clone(),
                    r.seed.to_string(),
                    format!("{:.4}", r.roc_auc),
                    format!("{:.4}", r.average_precision),
                    format!("{:.4}", r.precision),
                    format!("{:.4}", r.recall),
                    format!("{:.4}", r.f1),
                    short(r.threshold),
                    r.threshold_rule.clone(),
                    format!("{:.2}", r.fit_seconds),
                ]
            })
            .collect();
        page.table(
            &[
                "dataset",
                "seed",
                "ROC AUC",
                "AP",
                "precision",
                "recall",
                "F1",
                "threshold",
                "rule",
                "fit s",
            ],
            &rows,
            &[
                "seed",
                "ROC AUC",
                "AP",
                "precision",
                "recall",
                "F1",
                "threshold",
                "fit s",
            ],
        );
        let drawn = self
            .runs
            .iter()
            .filter(|r| self.detector_charts && r.detector == detector);
        for run in drawn {
            let split = ScoredSplit {
                name: &run.detector,
                colour: self.colour(detector),
                scores: &run.scores,
                labels: &run.labels,
                evaluation: &run.evaluation,
                history: &run.history,
                explained: &run.explained,
            };
            let charts = split_charts(&split, &self.options)?;
            page.raw(&format!(
                r#"<h2 id="{}">{}, seed {}</h2>"#,
                slug(&run.dataset),
                escape(&run.dataset),
                run.seed
            ));
            split_sections(
                &mut page,
                &split,
                &charts,
                &format!("{}-", slug(&run.dataset)),
            );
        }
        Ok(page.finish().into_bytes())
    }
}

/// `select --report`: why a model was chosen, and every candidate's line.
pub struct SelectionReport {
    pub title: String,
    pub facts: Vec<(String, String)>,
    /// The selection's reasons, in the order it made its choices.
    pub reasons: Vec<String>,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// The leaderboard as JSON, written beside the page.
    pub leaderboard: serde_json::Value,
}

impl SelectionReport {
    /// `report.html` and `leaderboard.json`.
    pub fn render(&self) -> Result<ReportFiles> {
        let mut page = Page::new(&self.title);
        page.facts(&self.facts);
        page.heading("Why this model", "why");
        for reason in &self.reasons {
            page.paragraph(reason);
        }
        page.heading("Leaderboard", "leaderboard");
        let header: Vec<&str> = self.header.iter().map(String::as_str).collect();
        // The first three columns (configuration, status, labels) are text.
        page.table(&header, &self.rows, &header[3..]);
        Ok(vec![
            ("report.html".into(), page.finish().into_bytes()),
            ("leaderboard.json".into(), to_json(&self.leaderboard)?),
        ])
    }
}
