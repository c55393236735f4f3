//! The reports over many models: `bench --report`'s comparison of detectors over seeds and
//! `select --report`'s leaderboard.

use deviant_core::Result;
use deviant_core::detector::EpochRecord;
use deviant_core::metrics::{Evaluation, pr_curve, roc_curve};
use deviant_core::record::{EvalRecord, distinct, groups};

use super::{
    ChartOptions, ExplainedRow, ReportFiles, ScoredSplit, prevalence, split_charts, split_sections,
    to_json,
};
use crate::chart::series_colour;
use crate::charts::{Curve, pr_chart, roc_chart, short};
use crate::html::{Page, slug, table_with};
use crate::record::{leaderboard_cells, leaderboard_columns};
use crate::svg::escape;

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
        let header = [
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
        ];
        let numeric: Vec<&str> = header
            .into_iter()
            .filter(|c| !matches!(*c, "dataset" | "rule"))
            .collect();
        page.table(&header, &rows, &numeric);
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
