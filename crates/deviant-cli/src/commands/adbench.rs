//! `deviant bench adbench`: ADBench's unsupervised protocol (Han et al., NeurIPS 2022) over a
//! folder of `.npz` tabular sets, every detector on every set within a time budget.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use deviant_core::metrics::{Evaluation, average_precision, quantile, roc_auc};
use deviant_core::{Dataset, FitContext};
use deviant_data::fsutil::write_bytes_atomic;
use deviant_data::npz::read_npz;
use deviant_data::split::{rng, split_stratified};
use deviant_data::{MatrixScaler, Scaling};
use deviant_detectors::AnyConfig;
use rand::Rng;
use rand::seq::index::sample;
use serde::Serialize;

use super::bench::{BenchRecord, detectors_with_sets, mean_std, parse_seeds};

/// ADBench resamples sets under this many rows up to it (with replacement)…
const MIN_ROWS: usize = 1_000;
/// …and subsamples sets over this many rows down to it.
const MAX_ROWS: usize = 10_000;
const TRAIN_SHARE: f64 = 0.7;
/// Without labels, the flags in each record come from this share of the training scores.
const CONTAMINATION: f64 = 0.1;

#[derive(Debug, Args, Clone)]
pub struct AdbenchArgs {
    /// Folder of ADBench `.npz` files (arrays `X`, `y`), or one holding them under `npz/`.
    /// Default: $DEVIANT_DATASETS/tabular-odds-adbench.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Detector kinds, comma-separated (default: every registered detector).
    #[arg(long, value_delimiter = ',')]
    pub detectors: Vec<String>,
    /// Only these sets (names without the number prefix, e.g. `cardio,thyroid`).
    #[arg(long, value_delimiter = ',')]
    pub datasets: Vec<String>,
    /// A count N (seeds 1..=N) or a list such as 1,2,3.
    #[arg(long, default_value = "3")]
    pub seeds: String,
    /// Detector parameter as KIND.KEY=VALUE (repeatable).
    #[arg(long = "set", value_name = "KIND.KEY=VALUE")]
    pub sets: Vec<String>,
    /// Seconds one detector may train on one set and seed; longer runs are cancelled and
    /// reported as skipped.
    #[arg(long, default_value_t = 300)]
    pub budget: u64,
    /// Write the records, skipped runs and leaderboard as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the leaderboard as Markdown here.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
}

/// A run that produced no scores, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub dataset: String,
    pub detector: String,
    pub seed: u64,
    pub reason: String,
}

/// Mean over seeds of one detector on one set.
#[derive(Debug, Clone, Serialize)]
struct Cell {
    dataset: String,
    detector: String,
    runs: usize,
    roc_auc: f64,
    roc_auc_std: f64,
    average_precision: f64,
}

/// Mean over sets of one detector's per-set means.
#[derive(Debug, Clone, Serialize)]
struct Overall {
    detector: String,
    datasets: usize,
    roc_auc: f64,
    average_precision: f64,
}

#[derive(Serialize)]
struct Report<'a> {
    protocol: &'static str,
    records: &'a [BenchRecord],
    skipped: &'a [Skipped],
    per_dataset: Vec<Cell>,
    overall: Vec<Overall>,
}

pub fn run(args: &AdbenchArgs, quiet: bool) -> Result<()> {
    let kinds: Vec<String> = if args.detectors.is_empty() {
        AnyConfig::kinds()
            .iter()
            .map(|k| k.kind.to_string())
            .collect()
    } else {
        args.detectors.clone()
    };
    let detectors = detectors_with_sets(&kinds, &args.sets)?;
    let seeds = parse_seeds(&args.seeds)?;
    let files = dataset_files(args)?;
    let budget = Duration::from_secs(args.budget);
    let (mut records, mut skipped) = (Vec::new(), Vec::new());
    for (name, path) in &files {
        let data = read_npz(path)?;
        for &seed in &seeds {
            let (train, test) = protocol_split(&data, seed);
            let labels = test
                .labels
                .as_ref()
                .expect("npz sets are labelled")
                .to_vec();
            for detector in &detectors {
                match run_one(detector, &train, &test, &labels, seed, budget) {
                    Ok(mut record) => {
                        record.dataset = name.clone();
                        if !quiet {
                            eprintln!(
                                "{name:<16} {:<12} seed {seed}: roc_auc {:.4}  fit {:.2} s",
                                detector.kind(),
                                record.roc_auc,
                                record.fit_seconds
                            );
                        }
                        records.push(record);
                    }
                    Err(reason) => {
                        eprintln!(
                            "{name:<16} {:<12} seed {seed}: skipped: {reason}",
                            detector.kind()
                        );
                        skipped.push(Skipped {
                            dataset: name.clone(),
                            detector: detector.kind().into(),
                            seed,
                            reason,
                        });
                    }
                }
            }
        }
    }
    let per_dataset = cells(&records);
    let overall = overall(&per_dataset, &kinds);
    let table = markdown(&per_dataset, &overall, &kinds, &skipped);
    println!("{table}");
    if let Some(path) = &args.json {
        let report = Report {
            protocol: "adbench-unsupervised",
            records: &records,
            skipped: &skipped,
            per_dataset,
            overall,
        };
        write_bytes_atomic(path, &serde_json::to_vec_pretty(&report)?)?;
        println!("records written to {}", path.display());
    }
    if let Some(path) = &args.markdown {
        write_bytes_atomic(path, table.as_bytes())?;
        println!("leaderboard written to {}", path.display());
    }
    Ok(())
}

/// The `.npz` sets to run, named by file stem without ADBench's number prefix, in file order.
fn dataset_files(args: &AdbenchArgs) -> Result<Vec<(String, PathBuf)>> {
    let root = match &args.data {
        Some(dir) => dir.clone(),
        None => std::env::var_os("DEVIANT_DATASETS")
            .map(|d| PathBuf::from(d).join("tabular-odds-adbench"))
            .context(
                "no ADBench folder: pass --data <folder of .npz files> or set DEVIANT_DATASETS",
            )?,
    };
    let dir = if root.join("npz").is_dir() {
        root.join("npz")
    } else {
        root.clone()
    };
    let mut files: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading the ADBench folder {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "npz"))
        .map(|p| (set_name(&p), p))
        .filter(|(name, _)| args.datasets.is_empty() || args.datasets.contains(name))
        .collect();
    files.sort_by_key(|(name, _)| name.to_lowercase());
    if let Some(missing) = args
        .datasets
        .iter()
        .find(|d| !files.iter().any(|(name, _)| name == *d))
    {
        anyhow::bail!(
            "no set `{missing}` in {}; names are file stems without the number prefix",
            dir.display()
        );
    }
    anyhow::ensure!(!files.is_empty(), "no .npz files in {}", dir.display());
    Ok(files)
}

/// `10_cover.npz` → `cover`.
fn set_name(path: &Path) -> String {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    match stem.split_once('_') {
        Some((number, rest)) if number.chars().all(|c| c.is_ascii_digit()) => rest.to_string(),
        _ => stem.into_owned(),
    }
}

/// Resample to [1,000, 10,000] rows, split 70/30 by class, min-max scale on the training
/// part; the training part loses its labels (the detectors fit unsupervised).
fn protocol_split(data: &Dataset, seed: u64) -> (Dataset, Dataset) {
    let mut rng = rng(seed);
    let n = data.n_rows();
    let rows: Vec<usize> = if n < MIN_ROWS {
        (0..MIN_ROWS).map(|_| rng.random_range(0..n)).collect()
    } else if n > MAX_ROWS {
        sample(&mut rng, n, MAX_ROWS).into_vec()
    } else {
        (0..n).collect()
    };
    let data = data.select(&rows);
    let labels = data.labels.as_ref().expect("npz sets are labelled");
    let all: Vec<usize> = (0..data.n_rows()).collect();
    let (train, test) = split_stratified(
        &all,
        labels.as_slice().expect("contiguous"),
        TRAIN_SHARE,
        &mut rng,
    );
    let (train, test) = (data.select(&train), data.select(&test));
    let scaler = MatrixScaler::fit(train.view(), Scaling::MinMax);
    (
        Dataset::new(scaler.transform(train.view()), None),
        Dataset::new(scaler.transform(test.view()), test.labels),
    )
}

/// Fits one detector with a watchdog that cancels training after `budget`; a failure or
/// cancellation comes back as the reason for skipping.
fn run_one(
    detector: &AnyConfig,
    train: &Dataset,
    test: &Dataset,
    labels: &[u8],
    seed: u64,
    budget: Duration,
) -> std::result::Result<BenchRecord, String> {
    let cx = FitContext::new(seed);
    let cancel = cx.cancel_flag();
    let (done, wait) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if wait.recv_timeout(budget) == Err(mpsc::RecvTimeoutError::Timeout) {
            cancel.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
    let started = Instant::now();
    let fitted = detector.fit(train, &cx);
    let fit_seconds = started.elapsed().as_secs_f64();
    let _ = done.send(());
    let _ = watchdog.join();
    let fitted = fitted.map_err(|e| {
        if fit_seconds >= budget.as_secs_f64() {
            format!("over the {} s budget ({e})", budget.as_secs())
        } else {
            e.to_string()
        }
    })?;
    let run = || -> deviant_core::Result<BenchRecord> {
        let started = Instant::now();
        let scores = fitted.score(test.view())?.to_vec();
        let score_seconds = started.elapsed().as_secs_f64();
        let train_scores = fitted.score(train.view())?.to_vec();
        let threshold = quantile(&train_scores, 1.0 - CONTAMINATION);
        let eval = Evaluation::new(&scores, labels, threshold)?;
        let history = fitted.fit_summary().history;
        Ok(BenchRecord {
            dataset: String::new(),
            detector: detector.kind().into(),
            protocol: "adbench".into(),
            seed,
            roc_auc: roc_auc(&scores, labels)?,
            average_precision: average_precision(&scores, labels)?,
            precision: eval.precision,
            recall: eval.recall,
            f1: eval.f1,
            f2: eval.f2,
            accuracy: eval.accuracy,
            threshold,
            threshold_rule: format!("contamination:{CONTAMINATION} on train"),
            fit_seconds,
            epochs: history.len(),
            epoch_seconds: super::bench::median_epoch_seconds(&history).unwrap_or(0.0),
            score_seconds,
            peak_rss_bytes: 0,
        })
    };
    run().map_err(|e| e.to_string())
}

fn cells(records: &[BenchRecord]) -> Vec<Cell> {
    let mut out: Vec<Cell> = Vec::new();
    for r in records {
        if out
            .iter()
            .any(|c| c.dataset == r.dataset && c.detector == r.detector)
        {
            continue;
        }
        let runs: Vec<&BenchRecord> = records
            .iter()
            .filter(|s| s.dataset == r.dataset && s.detector == r.detector)
            .collect();
        let (roc_auc, roc_auc_std) = mean_std(&runs.iter().map(|s| s.roc_auc).collect::<Vec<_>>());
        let (average_precision, _) =
            mean_std(&runs.iter().map(|s| s.average_precision).collect::<Vec<_>>());
        out.push(Cell {
            dataset: r.dataset.clone(),
            detector: r.detector.clone(),
            runs: runs.len(),
            roc_auc,
            roc_auc_std,
            average_precision,
        });
    }
    out
}

fn overall(cells: &[Cell], kinds: &[String]) -> Vec<Overall> {
    kinds
        .iter()
        .map(|kind| {
            let own: Vec<&Cell> = cells.iter().filter(|c| &c.detector == kind).collect();
            let mean =
                |f: fn(&Cell) -> f64| mean_std(&own.iter().map(|c| f(c)).collect::<Vec<_>>()).0;
            Overall {
                detector: kind.clone(),
                datasets: own.len(),
                roc_auc: mean(|c| c.roc_auc),
                average_precision: mean(|c| c.average_precision),
            }
        })
        .collect()
}

/// Two tables (ROC AUC, then AP), sets × detectors, mean over seeds; a last row with the mean
/// over sets; then the skipped runs.
fn markdown(cells: &[Cell], overall: &[Overall], kinds: &[String], skipped: &[Skipped]) -> String {
    let mut datasets: Vec<&str> = Vec::new();
    for c in cells
        .iter()
        .map(|c| c.dataset.as_str())
        .chain(skipped.iter().map(|s| s.dataset.as_str()))
    {
        if !datasets.contains(&c) {
            datasets.push(c);
        }
    }
    let mut out = String::new();
    for (title, metric, total) in [
        (
            "ROC AUC",
            (|c: &Cell| c.roc_auc) as fn(&Cell) -> f64,
            (|o: &Overall| o.roc_auc) as fn(&Overall) -> f64,
        ),
        (
            "AP",
            |c: &Cell| c.average_precision,
            |o: &Overall| o.average_precision,
        ),
    ] {
        out.push_str(&format!(
            "{title} on test, mean over seeds\n\n| dataset | {} |\n|---|{}\n",
            kinds.join(" | "),
            "---|".repeat(kinds.len())
        ));
        for dataset in &datasets {
            let row: Vec<String> = kinds
                .iter()
                .map(|kind| {
                    match cells
                        .iter()
                        .find(|c| c.dataset == *dataset && &c.detector == kind)
                    {
                        Some(c) => format!("{:.4}", metric(c)),
                        None => "skipped".into(),
                    }
                })
                .collect();
            out.push_str(&format!("| {dataset} | {} |\n", row.join(" | ")));
        }
        let row: Vec<String> = overall
            .iter()
            .map(|o| match o.datasets {
                0 => "–".into(),
                n if n == datasets.len() => format!("**{:.4}**", total(o)),
                n => format!("**{:.4}** ({n} sets)", total(o)),
            })
            .collect();
        out.push_str(&format!("| **mean** | {} |\n\n", row.join(" | ")));
    }
    if !skipped.is_empty() {
        out.push_str("Skipped runs:\n\n");
        for s in skipped {
            out.push_str(&format!(
                "- {} / {} / seed {}: {}\n",
                s.dataset, s.detector, s.seed, s.reason
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array1, Array2};

    #[test]
    fn small_sets_are_resampled_and_split_by_class() {
        let x = Array2::from_shape_fn((100, 3), |(i, j)| (i * 3 + j) as f32);
        let y = Array1::from_shape_fn(100, |i| u8::from(i < 10));
        let (train, test) = protocol_split(&Dataset::new(x, Some(y)), 1);
        assert_eq!(train.n_rows() + test.n_rows(), MIN_ROWS);
        assert!(train.labels.is_none(), "training rows are unlabelled");
        let anomalies = test
            .labels
            .as_ref()
            .unwrap()
            .iter()
            .filter(|&&l| l == 1)
            .count();
        assert!(
            (20..=40).contains(&anomalies),
            "{anomalies} of {}",
            test.n_rows()
        );
        let (lo, hi) = train
            .view()
            .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        assert_eq!((lo, hi), (0.0, 1.0), "min-max scaled on train");
    }

    #[test]
    fn set_names_drop_the_number_prefix() {
        assert_eq!(set_name(Path::new("a/10_cover.npz")), "cover");
        assert_eq!(set_name(Path::new("22_magic.gamma.npz")), "magic.gamma");
        assert_eq!(set_name(Path::new("my_set.npz")), "my_set");
    }
}
