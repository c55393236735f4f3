//! What `eval --report` and `bench --report` share: the flags, the explained top rows and
//! the atomic write of a report folder.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use deviant_core::Dataset;
use deviant_core::fsutil::write_dir_atomic;
use deviant_engine::Model;
use deviant_report::{ChartOptions, ExplainedRow, HistogramOptions, ReportFiles, ScoreScale};

/// Where and how to draw a report.
#[derive(Debug, Args, Clone)]
pub struct ReportArgs {
    /// Write an HTML report with SVG charts into this folder (replaced if it exists).
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Score histogram bins.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub bins: u16,
    /// Score axis of the histogram and threshold chart: auto, linear or log (auto: log when
    /// all scores are positive and span more than two decades).
    #[arg(long, default_value = "auto")]
    pub score_scale: ScoreScale,
    /// Row counts of the histogram on a log axis (keeps a small class visible).
    #[arg(long)]
    pub log_counts: bool,
    /// Highest-scoring rows to explain feature by feature (detectors with `explain`).
    #[arg(long, default_value_t = 5)]
    pub explain_rows: usize,
}

impl ReportArgs {
    pub fn chart_options(&self) -> ChartOptions {
        ChartOptions {
            histogram: HistogramOptions {
                bins: usize::from(self.bins),
                scale: self.score_scale,
                log_counts: self.log_counts,
            },
            ..ChartOptions::default()
        }
    }
}

/// The `n` highest-scoring rows with their per-feature contributions, or none when the
/// detector cannot explain. `row_name(i)` says how a user finds row `i` again.
pub fn explain_top(
    model: &Model,
    data: &Dataset,
    scores: &[f32],
    n: usize,
    row_name: impl Fn(usize) -> String,
) -> Result<Vec<ExplainedRow>> {
    let names = &model.manifest.feature_names;
    let labels = data.labels.as_ref();
    Ok(model
        .explain_top(data, scores, n)?
        .into_iter()
        .map(|(i, values)| {
            ExplainedRow::new(row_name(i), scores[i], labels.map(|l| l[i]), names, &values)
        })
        .collect())
}

/// Writes the report's files into `dir` atomically (a fresh folder renamed into place).
pub fn write_report(dir: &Path, files: &ReportFiles) -> Result<PathBuf> {
    write_dir_atomic(dir, |tmp| {
        for (name, bytes) in files {
            let path = tmp.join(name);
            std::fs::write(&path, bytes).map_err(|e| deviant_core::Error::io(&path, e))?;
        }
        Ok(())
    })?;
    Ok(dir.join("report.html"))
}
