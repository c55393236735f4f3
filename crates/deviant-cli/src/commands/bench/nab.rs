//! `deviant bench nab`: window detectors on NAB's streams beside the rolling z-score.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use clap::Args;
use deviant_core::FitContext;
use deviant_core::fsutil::write_bytes_atomic;
use deviant_core::metrics::roc_auc;
use deviant_core::record::{distinct, mean_std};
use deviant_data::download::{dataset_dirs, find_dir};
use deviant_data::series::{Cover, point_scores, read_nab, rolling_zscore};
use deviant_engine::protocols::NabWindows;
use deviant_engine::{Observer, Protocol, Study, TrialOutcome};
use serde::Serialize;

use crate::args::{detectors_with_sets, parse_seeds};
use crate::progress::Bars;

#[derive(Debug, Args, Clone)]
pub struct NabBenchArgs {
    /// NAB folder holding `data/<category>/*.csv` and `labels/combined_windows.json`.
    /// Default: $DEVIANT_DATASETS/timeseries/nab
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Window detectors, comma-separated; the rolling z-score baseline always runs.
    #[arg(long, value_delimiter = ',', default_value = "seq2seq")]
    pub detectors: Vec<String>,
    /// A count N (seeds 1..=N) or a list such as 1,2,3 (one seed alone: 7,).
    #[arg(long, default_value = "1")]
    pub seeds: String,
    /// Detector parameter as KIND.KEY=VALUE (repeatable).
    #[arg(long = "set", value_name = "KIND.KEY=VALUE")]
    pub sets: Vec<String>,
    /// Window length in steps (also the z-score baseline's look-back).
    #[arg(long, default_value_t = 32)]
    pub window: usize,
    /// Steps between the starts of training windows (scoring uses every window).
    #[arg(long, default_value_t = 4)]
    pub train_stride: usize,
    /// A point's score from the windows covering it: max or mean.
    #[arg(long, default_value = "max")]
    pub cover: Cover,
    /// Write the per-file records as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the per-file table as Markdown here.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
}

/// One detector's point-level result on one NAB file and seed.
#[derive(Debug, Clone, Serialize)]
pub struct NabRecord {
    pub file: String,
    pub detector: String,
    pub seed: u64,
    pub points: usize,
    pub anomalous_points: usize,
    pub roc_auc: f64,
    pub fit_seconds: f64,
}

/// The baseline's name in records and tables.
const ZSCORE: &str = "rolling z-score";

/// Every NAB file with labelled anomalies: each series standardised on itself, every detector
/// fitted (unsupervised) on its windows and scoring every window, window scores turned into
/// point scores, AUC ROC over the points; the rolling z-score beside them.
pub fn run(args: &NabBenchArgs, quiet: bool) -> Result<()> {
    let root = find_dir(
        &dataset_dirs(args.data.as_deref(), "timeseries/nab"),
        "a NAB folder",
        "--data",
    )?;
    let configs = detectors_with_sets(&args.detectors, &args.sets)?;
    let seeds = parse_seeds(&args.seeds)?;
    let bars = Arc::new(Bars::new(quiet));
    let mut records = Vec::new();
    for series in read_nab(&root)? {
        let anomalous = series.labels.iter().filter(|&&l| l == 1).count();
        if anomalous == 0 {
            eprintln!(
                "{}: no labelled anomaly, AUC undefined; skipped",
                series.name
            );
            continue;
        }
        let zscore = rolling_zscore(&series.values, args.window);
        records.push(NabRecord {
            file: series.name.clone(),
            detector: ZSCORE.into(),
            seed: 0,
            points: series.values.len(),
            anomalous_points: anomalous,
            roc_auc: roc_auc(&zscore, &series.labels)?,
            fit_seconds: 0.0,
        });
        let protocol = NabWindows::new(series, args.window, args.train_stride)?;
        let mut study = Study::new(vec![&protocol], &configs, &seeds);
        study.context = FitContext::new(0).with_progress(bars.clone());
        study.run(&mut PointScores {
            windows: &protocol,
            cover: args.cover,
            quiet,
            records: &mut records,
        })?;
    }
    let mut kinds = vec![ZSCORE.to_string()];
    kinds.extend(deviant_engine::config_labels(&configs));
    let table = nab_table(&records, &kinds);
    println!("{table}");
    if let Some(path) = &args.json {
        write_bytes_atomic(path, &serde_json::to_vec_pretty(&records)?)?;
        println!("records written to {}", path.display());
    }
    if let Some(path) = &args.markdown {
        write_bytes_atomic(path, table.as_bytes())?;
        println!("table written to {}", path.display());
    }
    Ok(())
}

/// Turns each trial's window scores on one series into point scores and records their AUC.
struct PointScores<'a> {
    windows: &'a NabWindows,
    cover: Cover,
    quiet: bool,
    records: &'a mut Vec<NabRecord>,
}

impl Observer for PointScores<'_> {
    fn finished(
        &mut self,
        _protocol: &dyn Protocol,
        detector: &str,
        outcome: &TrialOutcome,
    ) -> deviant_core::Result<()> {
        let windows = self.windows;
        let series = &windows.series;
        let scored = &outcome.tests[0].scored;
        let points = point_scores(
            &scored.scores,
            windows.starts(),
            windows.window,
            series.values.len(),
            self.cover,
        );
        let training = &outcome.model.manifest.training;
        let record = NabRecord {
            file: series.name.clone(),
            detector: detector.into(),
            seed: training.seed,
            points: series.values.len(),
            anomalous_points: series.labels.iter().filter(|&&l| l == 1).count(),
            roc_auc: roc_auc(&points, &series.labels)?,
            fit_seconds: training.fit_seconds,
        };
        if !self.quiet {
            eprintln!(
                "{} {:<8} seed {}: roc_auc {:.4}  fit {:.1} s",
                record.file, record.detector, record.seed, record.roc_auc, record.fit_seconds
            );
        }
        self.records.push(record);
        Ok(())
    }
}

/// Files down, detectors across: mean ± std AUC ROC over seeds, best per file in bold, and a
/// mean row.
fn nab_table(records: &[NabRecord], kinds: &[String]) -> String {
    let files: Vec<&str> = distinct(records.iter().map(|r| r.file.as_str()));
    let auc = |file: Option<&str>, kind: &str| -> Vec<f64> {
        records
            .iter()
            .filter(|r| r.detector == kind && file.is_none_or(|f| r.file == f))
            .map(|r| r.roc_auc)
            .collect()
    };
    let mut out = format!("| file | points | anomalous | {} |\n", kinds.join(" | "));
    out += &format!("|---|---|---|{}\n", "---|".repeat(kinds.len()));
    let row = |label: String, extra: String, file: Option<&str>| -> String {
        let means: Vec<f64> = kinds.iter().map(|k| mean_std(&auc(file, k)).0).collect();
        let best = means.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let cells: Vec<String> = kinds
            .iter()
            .zip(&means)
            .map(|(k, &m)| {
                let (_, sd) = mean_std(&auc(file, k));
                let cell = format!("{m:.4} ± {sd:.4}");
                if m == best {
                    format!("**{cell}**")
                } else {
                    cell
                }
            })
            .collect();
        format!("| {label} | {extra} | {} |\n", cells.join(" | "))
    };
    for file in &files {
        let r = records
            .iter()
            .find(|r| r.file == *file)
            .expect("file has records");
        out += &row(
            file.to_string(),
            format!("{} | {}", r.points, r.anomalous_points),
            Some(file),
        );
    }
    out += &row("mean over files".into(), " | ".into(), None);
    out
}
