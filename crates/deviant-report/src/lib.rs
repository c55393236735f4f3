//! Charts and reports for deviant: score histograms, ROC and precision–recall curves,
//! threshold curves, confusion matrices, metric bars, loss curves and per-feature
//! explanations as standalone SVG, gathered into self-contained HTML pages and JSON.
//!
//! Everything renders to strings and bytes in memory ([`ReportFiles`]); writing them is the
//! caller's job, so this crate does no I/O.
//!
//! ```
//! use deviant_core::metrics::Evaluation;
//! use deviant_report::{ChartOptions, EvalReport, ScoredSplit};
//!
//! let scores = [0.1, 0.2, 0.3, 0.9, 0.8];
//! let labels = [0, 0, 0, 1, 1];
//! let evaluation = Evaluation::new(&scores, &labels, 0.5).unwrap();
//! let report = EvalReport {
//!     title: "example".into(),
//!     facts: vec![("data".into(), "five rows".into())],
//!     split: ScoredSplit {
//!         name: "pca",
//!         colour: "#4477AA",
//!         scores: &scores,
//!         labels: &labels,
//!         evaluation: &evaluation,
//!         history: &[],
//!         explained: &[],
//!     },
//!     importance: &[],
//!     classes: &[],
//!     options: ChartOptions::default(),
//! };
//! let files = report.render().unwrap();
//! assert!(files.iter().any(|(name, _)| name == "report.html"));
//! ```

mod chart;
pub mod charts;
mod html;
pub mod record;
mod report;
mod svg;

pub use chart::{Scale, series_colour};
pub use charts::{HistogramOptions, ScoreScale};
pub use record::{
    LEADERBOARD_COLUMNS, TRAIN_COLUMNS, leaderboard, leaderboard_cells, leaderboard_columns,
};
pub use report::{
    Chart, ChartOptions, ComparisonReport, EvalReport, ExplainedRow, IMPORTANCE_NOTE, ReportFiles,
    ScoredRun, ScoredSplit, SelectionReport, SummaryTable, importance_charts, importance_table,
    split_charts,
};
pub use svg::escape;
