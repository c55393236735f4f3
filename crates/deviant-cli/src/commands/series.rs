//! `deviant bench ecg5000` and `deviant bench nab`: detectors on whole sequences and on
//! sliding windows of streams.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use deviant_core::metrics::{Evaluation, roc_auc};
use deviant_core::{Dataset, FitContext};
use deviant_data::fsutil::write_bytes_atomic;
use deviant_data::series::{
    Cover, point_scores, read_nab, read_ucr, rolling_zscore, sliding_windows,
};
use deviant_data::split::{rng, split_fraction};
use deviant_report::{ScoredRun, mean_std};
use ndarray::Array2;
use serde::Serialize;

use super::adbench::run_one;
use super::bench::{BenchOutcome, ProtocolBenchArgs, detectors_with_sets, parse_seeds};

/// No fit in these benchmarks should come near this; it only keeps a stuck run from
/// hanging the whole benchmark.
const BUDGET: Duration = Duration::from_secs(3600);

/// The folder `name` under `$DEVIANT_DATASETS`, unless `given`.
fn dataset_dir(given: Option<&Path>, name: &str, flag: &str) -> Result<PathBuf> {
    match given {
        Some(dir) => Ok(dir.to_path_buf()),
        None => std::env::var_os("DEVIANT_DATASETS")
            .map(|d| PathBuf::from(d).join(name))
            .with_context(|| {
                format!("no {name} folder: pass {flag} <folder> or set DEVIANT_DATASETS")
            }),
    }
}

/// ECG5000 (UCR): class 1 heartbeats are normal. Per seed, 80 % of them train; the other
/// 20 % and every other class are the test set. Flags: the top 10 % of training scores.
pub fn ecg5000_bench(args: &ProtocolBenchArgs) -> Result<BenchOutcome> {
    let dir = dataset_dir(
        args.data_dir.as_deref(),
        "timeseries/ecg5000-train",
        "--data-dir",
    )?;
    let path = ["ECG5000_TRAIN.txt.gz", "ECG5000_TRAIN.txt"]
        .iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
        .with_context(|| {
            format!(
                "{} holds neither ECG5000_TRAIN.txt.gz nor ECG5000_TRAIN.txt (the UCR archive's \
                 ECG5000 training file); pass its folder with --data-dir",
                dir.display()
            )
        })?;
    let (x, classes) = read_ucr(&path)?;
    let anomalous: Vec<u8> = classes.iter().map(|c| u8::from(c != "1")).collect();
    let normal: Vec<usize> = (0..x.nrows()).filter(|&i| anomalous[i] == 0).collect();
    let detectors = detectors_with_sets(&args.detectors, &args.sets)?;
    let seeds = parse_seeds(&args.seeds)?;
    let (mut records, mut runs) = (Vec::new(), Vec::new());
    for &seed in &seeds {
        let (held_out, train_rows) = split_fraction(normal.clone(), 0.2, &mut rng(seed));
        let test_rows: Vec<usize> = held_out
            .into_iter()
            .chain((0..x.nrows()).filter(|&i| anomalous[i] == 1))
            .collect();
        let labels: Vec<u8> = test_rows.iter().map(|&i| anomalous[i]).collect();
        let train = Dataset::new(x.select(ndarray::Axis(0), &train_rows), None);
        let test = Dataset::new(x.select(ndarray::Axis(0), &test_rows), None);
        for detector in &detectors {
            let (mut record, scores) = run_one(
                "ecg5000", detector, &train, &test, &labels, seed, BUDGET,
            )
            .map_err(|e| anyhow::anyhow!("{} on ECG5000, seed {seed}: {e}", detector.kind()))?;
            record.dataset = "ecg5000".into();
            eprintln!(
                "ecg5000 {:<8} seed {seed}: roc_auc {:.4}  fit {:.1} s",
                record.detector, record.roc_auc, record.fit_seconds
            );
            if args.report.report.is_some() && seed == seeds[0] {
                runs.push(ScoredRun {
                    detector: record.detector.clone(),
                    dataset: record.dataset.clone(),
                    seed,
                    evaluation: Evaluation::new(&scores, &labels, record.threshold)?,
                    scores,
                    labels: labels.clone(),
                    history: Vec::new(),
                    explained: Vec::new(),
                });
            }
            records.push(record);
        }
    }
    Ok(BenchOutcome {
        protocol: "ecg5000".into(),
        records,
        runs,
    })
}

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
pub fn nab_bench(args: &NabBenchArgs) -> Result<()> {
    let root = dataset_dir(args.data.as_deref(), "timeseries/nab", "--data")?;
    let detectors = detectors_with_sets(&args.detectors, &args.sets)?;
    let seeds = parse_seeds(&args.seeds)?;
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
        let record =
            |detector: &str, seed: u64, scores: &[f32], fit_seconds: f64| -> Result<NabRecord> {
                Ok(NabRecord {
                    file: series.name.clone(),
                    detector: detector.into(),
                    seed,
                    points: series.values.len(),
                    anomalous_points: anomalous,
                    roc_auc: roc_auc(scores, &series.labels)?,
                    fit_seconds,
                })
            };
        records.push(record(
            ZSCORE,
            0,
            &rolling_zscore(&series.values, args.window),
            0.0,
        )?);
        let values = standardised(&series.values);
        let column = Array2::from_shape_vec((values.len(), 1), values).expect("one column");
        let (all, starts) = sliding_windows(column.view(), args.window, 1)?;
        let (train, _) = sliding_windows(column.view(), args.window, args.train_stride)?;
        let train = Dataset::new(train, None);
        for detector in &detectors {
            for &seed in &seeds {
                let started = Instant::now();
                let fitted = detector.fit(&train, &FitContext::new(seed))?;
                let fit_seconds = started.elapsed().as_secs_f64();
                let window_scores = fitted.score(all.view())?.to_vec();
                let points = point_scores(
                    &window_scores,
                    &starts,
                    args.window,
                    series.values.len(),
                    args.cover,
                );
                let r = record(detector.kind(), seed, &points, fit_seconds)?;
                eprintln!(
                    "{} {:<8} seed {seed}: roc_auc {:.4}  fit {:.1} s",
                    r.file, r.detector, r.roc_auc, fit_seconds
                );
                records.push(r);
            }
        }
    }
    let mut kinds = vec![ZSCORE.to_string()];
    kinds.extend(args.detectors.iter().cloned());
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

/// (v − mean) / std of one series (a constant series becomes zeros).
fn standardised(values: &[f32]) -> Vec<f32> {
    let n = values.len().max(1) as f64;
    let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let std = (values
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();
    values
        .iter()
        .map(|&v| ((f64::from(v) - mean) / std.max(1e-12)) as f32)
        .collect()
}

/// Files down, detectors across: mean ± std AUC ROC over seeds, best per file in bold, and a
/// mean row.
fn nab_table(records: &[NabRecord], kinds: &[String]) -> String {
    let files: Vec<&str> = deviant_report::distinct(records.iter().map(|r| r.file.as_str()));
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
