//! `deviant bench adbench`: ADBench's unsupervised protocol (Han et al., NeurIPS 2022) over a
//! folder of `.npz` tabular sets, every detector on every set within a time budget.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use deviant_core::metrics::{Evaluation, average_precision, quantile, roc_auc};
use deviant_core::{Dataset, FitContext, Progress};
use deviant_data::fsutil::write_bytes_atomic;
use deviant_data::npz::read_npz;
use deviant_data::numpy_random::{RandomState, train_test_split_stratified};
use deviant_data::{MatrixScaler, Scaling};
use deviant_detectors::AnyConfig;
use deviant_report::{
    BenchRecord, ChartOptions, ComparisonReport, ScoredRun, SummaryTable, mean_std,
};
use serde::Serialize;

use super::bench::{detectors_with_sets, parse_seeds};
use crate::progress::Bars;
use crate::reporting::write_report;

/// ADBench resamples sets under this many rows up to it (with replacement)…
const MIN_ROWS: usize = 1_000;
/// …and subsamples sets over this many rows down to it.
const MAX_ROWS: usize = 10_000;
/// ADBench's `test_size` (written as it is there: 1 − 0.7 rounds to one more test row).
const TEST_SHARE: f64 = 0.3;
/// Without labels, the flags in each record come from this share of the training scores.
const CONTAMINATION: f64 = 0.1;
const REFERENCE_FILE: &str = "reference_aucroc.md";
/// How long a cancelled fit gets to notice and return before the run moves on without it.
const CANCEL_GRACE: Duration = Duration::from_secs(10);

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
    /// A count N (seeds 1..=N) or a list such as 1,2,3 (one seed alone: 7,). They are NumPy
    /// seeds: each draws the same rows ADBench's code draws for it.
    #[arg(long, default_value = "3")]
    pub seeds: String,
    /// Detector parameter as KIND.KEY=VALUE (repeatable).
    #[arg(long = "set", value_name = "KIND.KEY=VALUE")]
    pub sets: Vec<String>,
    /// Seconds one detector may train on one set and seed; longer runs are cancelled and
    /// reported as skipped.
    #[arg(long, default_value_t = 300)]
    pub budget: u64,
    /// Print the published ADBench ROC AUC beside ours, read from `reference_aucroc.md` in
    /// the data folder, and count the sets within ±0.02 of it.
    #[arg(long)]
    pub published: bool,
    /// Write the records, skipped runs and leaderboard as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the leaderboard as Markdown here.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Write an HTML comparison report into this folder: means and ranks, the per-set
    /// leaderboard, and each set's ROC and PR curves of every detector on the first seed.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
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
    fit_seconds: f64,
    /// ADBench's published ROC AUC for this detector and set, with `--published`.
    published: Option<f64>,
}

/// Mean over sets of one detector's per-set means.
#[derive(Debug, Clone, Serialize)]
struct Overall {
    detector: String,
    datasets: usize,
    roc_auc: f64,
    average_precision: f64,
    /// Mean rank by ROC AUC (1 = best) over the sets every detector ran on.
    mean_rank: f64,
    fit_seconds: f64,
    score_seconds: f64,
    /// Sets with a published value, and how many of those we are within ±0.02 of.
    published_sets: usize,
    within_tolerance: usize,
}

/// How far from the published value still counts as reproducing it (issue 5's criterion).
const PUBLISHED_TOLERANCE: f64 = 0.02;

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
    let seeds: Vec<u32> = parse_seeds(&args.seeds)?
        .into_iter()
        .map(|seed| {
            u32::try_from(seed).map_err(|_| {
                anyhow::anyhow!(
                    "seed {seed}: ADBench draws its splits with NumPy, whose seeds run from \
                     0 to 4294967295"
                )
            })
        })
        .collect::<Result<_>>()?;
    let files = dataset_files(args)?;
    let budget = Duration::from_secs(args.budget);
    let published = if args.published {
        Some(published_aucs(&data_root(args)?)?)
    } else {
        None
    };
    let bars = Bars::new(quiet);
    bars.begin(
        "adbench",
        (files.len() * seeds.len() * detectors.len()) as u64,
    );
    let (mut records, mut skipped, mut runs) = (Vec::new(), Vec::new(), Vec::new());
    for (name, path) in &files {
        let data = read_npz(path)?;
        for &numpy_seed in &seeds {
            let seed = u64::from(numpy_seed);
            let (train, test) = protocol_split(&data, numpy_seed);
            let labels = test
                .labels
                .as_ref()
                .expect("npz sets are labelled")
                .to_vec();
            for detector in &detectors {
                bars.message(&format!("{name} / {} / seed {seed}", detector.kind()));
                let keep_scores = args.report.is_some() && numpy_seed == seeds[0];
                match run_one("adbench", detector, &train, &test, &labels, seed, budget) {
                    Ok((mut record, scores)) => {
                        record.dataset = name.clone();
                        if keep_scores {
                            runs.push(ScoredRun {
                                detector: record.detector.clone(),
                                dataset: name.clone(),
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
                    Err(reason) => {
                        skipped.push(Skipped {
                            dataset: name.clone(),
                            detector: detector.kind().into(),
                            seed,
                            reason,
                        });
                    }
                }
                bars.advance(1);
            }
        }
    }
    bars.finish();
    let per_dataset = cells(&records, published.as_ref());
    let overall = overall(&per_dataset, &records, &kinds);
    let table = markdown(&per_dataset, &overall, &kinds, &skipped);
    println!("{table}");
    if let Some(dir) = &args.report {
        let mut header: Vec<String> = [
            "detector",
            "sets",
            "mean ROC AUC",
            "mean AP",
            "mean rank",
            "fit s",
            "score s",
        ]
        .map(String::from)
        .to_vec();
        if published.is_some() {
            header.push(format!("within ±{PUBLISHED_TOLERANCE} of ADBench"));
        }
        let rows = overall
            .iter()
            .map(|o| {
                let mut row = vec![
                    o.detector.clone(),
                    o.datasets.to_string(),
                    format!("{:.4}", o.roc_auc),
                    format!("{:.4}", o.average_precision),
                    format!("{:.2}", o.mean_rank),
                    format!("{:.3}", o.fit_seconds),
                    format!("{:.3}", o.score_seconds),
                ];
                if published.is_some() {
                    row.push(format!("{} of {}", o.within_tolerance, o.published_sets));
                }
                row
            })
            .collect();
        let report = ComparisonReport {
            title: "deviant bench: ADBench, unsupervised protocol".into(),
            facts: vec![
                ("sets".into(), files.len().to_string()),
                ("detectors".into(), kinds.join(", ")),
                ("seeds".into(), args.seeds.clone()),
                (
                    "protocol".into(),
                    format!(
                        "stratified {:.0}/{:.0} split, min-max scaled on train, fit \
                         unlabelled; threshold contamination:{CONTAMINATION} on train",
                        (1.0 - TEST_SHARE) * 100.0,
                        TEST_SHARE * 100.0
                    ),
                ),
                (
                    "skipped runs".into(),
                    format!("{} (listed in the JSON and Markdown output)", skipped.len()),
                ),
            ],
            summaries: vec![SummaryTable {
                title: "Over all sets".into(),
                header,
                rows,
            }],
            records: &records,
            runs: &runs,
            detector_charts: false,
            options: ChartOptions::default(),
        };
        let page = write_report(dir, &report.render()?)?;
        println!("report written to {}", page.display());
    }
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

/// The folder given with `--data`, or the ADBench folder under $DEVIANT_DATASETS.
fn data_root(args: &AdbenchArgs) -> Result<PathBuf> {
    match &args.data {
        Some(dir) => Ok(dir.clone()),
        None => std::env::var_os("DEVIANT_DATASETS")
            .map(|d| PathBuf::from(d).join("tabular-odds-adbench"))
            .context(
                "no ADBench folder: pass --data <folder of .npz files> or set DEVIANT_DATASETS",
            ),
    }
}

/// The `.npz` sets to run, named by file stem without ADBench's number prefix, in file order.
fn dataset_files(args: &AdbenchArgs) -> Result<Vec<(String, PathBuf)>> {
    let root = data_root(args)?;
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

/// Published ROC AUCs keyed by (set, detector kind), both lower-case, from the ADBench table
/// of `reference_aucroc.md` (beside `npz/`, or in its parent when `--data` is `npz/`). Its
/// column names are matched to kinds without case or underscores: `DeepSVDD` = `deep_svdd`.
fn published_aucs(root: &Path) -> Result<HashMap<(String, String), f64>> {
    let path = [
        root.join(REFERENCE_FILE),
        root.join("..").join(REFERENCE_FILE),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .with_context(|| {
        format!(
            "--published needs {REFERENCE_FILE} in {} (it ships with the ADBench folder); \
                 run without --published",
            root.display()
        )
    })?;
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    // The section from its `## ADBench` heading to the next heading of that level.
    let section = format!("\n{text}")
        .split("\n## ")
        .find(|s| s.starts_with("ADBench"))
        .map(str::to_string)
        .with_context(|| format!("{}: no `## ADBench` section", path.display()))?;
    let mut rows = section.lines().filter(|l| l.starts_with('|')).map(|l| {
        l.trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect::<Vec<_>>()
    });
    let header = rows
        .next()
        .with_context(|| format!("{}: the ADBench table has no header", path.display()))?;
    let kinds: Vec<String> = header
        .iter()
        .map(|h| h.to_lowercase().replace('_', ""))
        .collect();
    let mut out = HashMap::new();
    for row in rows.filter(|r| !r[0].starts_with("---")) {
        for (kind, cell) in kinds.iter().zip(&row).skip(1) {
            if let Ok(value) = cell.parse::<f64>() {
                out.insert((row[0].to_lowercase(), kind.clone()), value);
            }
        }
    }
    Ok(out)
}

fn published_key(dataset: &str, kind: &str) -> (String, String) {
    (dataset.to_lowercase(), kind.replace('_', ""))
}

/// ADBench's rows for one seed, as its data generator draws them with NumPy and
/// scikit-learn: sets under 1,000 rows resampled with replacement to 1,000, sets over 10,000
/// subsampled to 10,000, then a stratified 70/30 split. Returns the training and test rows
/// as indices into `labels`, in ADBench's order; repeated rows appear repeatedly.
fn protocol_rows(labels: &[u8], seed: u32) -> (Vec<usize>, Vec<usize>) {
    // ADBench seeds NumPy's global generator with the run's seed before each of these
    // draws; reseeding before the first changes nothing, so one generator serves.
    let mut rng = RandomState::new(seed);
    let n = labels.len();
    let rows: Vec<usize> = if n < MIN_ROWS {
        rng.randint(n, MIN_ROWS)
    } else if n > MAX_ROWS {
        rng.permutation(n)[..MAX_ROWS].to_vec()
    } else {
        (0..n).collect()
    };
    let drawn: Vec<u8> = rows.iter().map(|&i| labels[i]).collect();
    let (train, test) = train_test_split_stratified(&drawn, TEST_SHARE, &mut rng);
    (
        train.iter().map(|&i| rows[i]).collect(),
        test.iter().map(|&i| rows[i]).collect(),
    )
}

/// The protocol's training and test sets for one seed, min-max scaled on the training part;
/// the training part loses its labels (the detectors fit unsupervised).
fn protocol_split(data: &Dataset, seed: u32) -> (Dataset, Dataset) {
    let labels = data.labels.as_ref().expect("npz sets are labelled");
    let (train, test) = protocol_rows(labels.as_slice().expect("contiguous"), seed);
    let (train, test) = (data.select(&train), data.select(&test));
    let scaler = MatrixScaler::fit(train.view(), Scaling::MinMax);
    (
        Dataset::new(scaler.transform(train.view()), None),
        Dataset::new(scaler.transform(test.view()), test.labels),
    )
}

/// Fits one detector on a thread of its own and waits at most `budget`: then deep detectors
/// are cancelled, and a fit that cannot be cancelled is left to finish in the background
/// while the run is recorded as skipped. A failure comes back as the reason for skipping.
pub(crate) fn run_one(
    protocol: &str,
    detector: &AnyConfig,
    train: &Dataset,
    test: &Dataset,
    labels: &[u8],
    seed: u64,
    budget: Duration,
) -> std::result::Result<(BenchRecord, Vec<f32>), String> {
    let cx = FitContext::new(seed);
    let cancel = cx.cancel_flag();
    let (send, receive) = mpsc::channel();
    let (config, rows) = (detector.clone(), train.clone());
    let started = Instant::now();
    std::thread::spawn(move || {
        let _ = send.send(config.fit(&rows, &cx));
    });
    let over_budget = |e: String| format!("over the {} s budget ({e})", budget.as_secs());
    let fitted = match receive.recv_timeout(budget) {
        Ok(fitted) => fitted.map_err(|e| e.to_string())?,
        Err(_) => {
            cancel.store(true, std::sync::atomic::Ordering::Relaxed);
            return Err(match receive.recv_timeout(CANCEL_GRACE) {
                Ok(result) => over_budget(
                    result
                        .err()
                        .map_or("finished late".into(), |e| e.to_string()),
                ),
                Err(_) => {
                    over_budget("cannot be cancelled; left to finish in the background".into())
                }
            });
        }
    };
    let fit_seconds = started.elapsed().as_secs_f64();
    let run = || -> deviant_core::Result<(BenchRecord, Vec<f32>)> {
        let started = Instant::now();
        let scores = fitted.score(test.view())?.to_vec();
        let score_seconds = started.elapsed().as_secs_f64();
        let train_scores = fitted.score(train.view())?.to_vec();
        let threshold = quantile(&train_scores, 1.0 - CONTAMINATION);
        let eval = Evaluation::new(&scores, labels, threshold)?;
        let summary = fitted.fit_summary();
        let history = &summary.history;
        let record = BenchRecord {
            dataset: String::new(),
            detector: detector.kind().into(),
            protocol: protocol.into(),
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
            epoch_seconds: super::bench::median_epoch_seconds(history).unwrap_or(0.0),
            final_loss: summary.final_loss(),
            score_seconds,
            peak_rss_bytes: 0,
        };
        Ok((record, scores))
    };
    run().map_err(|e| e.to_string())
}

fn cells(records: &[BenchRecord], published: Option<&HashMap<(String, String), f64>>) -> Vec<Cell> {
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
        let mean =
            |f: fn(&BenchRecord) -> f64| mean_std(&runs.iter().map(|s| f(s)).collect::<Vec<_>>());
        let (roc_auc, roc_auc_std) = mean(|s| s.roc_auc);
        out.push(Cell {
            dataset: r.dataset.clone(),
            detector: r.detector.clone(),
            runs: runs.len(),
            roc_auc,
            roc_auc_std,
            average_precision: mean(|s| s.average_precision).0,
            fit_seconds: mean(|s| s.fit_seconds).0,
            published: published
                .and_then(|p| p.get(&published_key(&r.dataset, &r.detector)).copied()),
        });
    }
    out
}

fn overall(cells: &[Cell], records: &[BenchRecord], kinds: &[String]) -> Vec<Overall> {
    let ranks = mean_ranks(cells, kinds);
    kinds
        .iter()
        .zip(ranks)
        .map(|(kind, mean_rank)| {
            let own: Vec<&Cell> = cells.iter().filter(|c| &c.detector == kind).collect();
            let runs: Vec<&BenchRecord> = records.iter().filter(|r| &r.detector == kind).collect();
            let mean =
                |f: fn(&Cell) -> f64| mean_std(&own.iter().map(|c| f(c)).collect::<Vec<_>>()).0;
            let run_mean = |f: fn(&BenchRecord) -> f64| {
                mean_std(&runs.iter().map(|r| f(r)).collect::<Vec<_>>()).0
            };
            let gaps: Vec<f64> = own
                .iter()
                .filter_map(|c| c.published.map(|p| c.roc_auc - p))
                .collect();
            Overall {
                detector: kind.clone(),
                datasets: own.len(),
                roc_auc: mean(|c| c.roc_auc),
                average_precision: mean(|c| c.average_precision),
                mean_rank,
                fit_seconds: run_mean(|r| r.fit_seconds),
                score_seconds: run_mean(|r| r.score_seconds),
                published_sets: gaps.len(),
                within_tolerance: gaps
                    .iter()
                    .filter(|g| g.abs() <= PUBLISHED_TOLERANCE + 1e-12)
                    .count(),
            }
        })
        .collect()
}

/// Each kind's mean rank by ROC AUC (1 = best, ties share the mean of their places), over
/// the sets on which every kind produced a score; NaN when there is no such set.
fn mean_ranks(cells: &[Cell], kinds: &[String]) -> Vec<f64> {
    let mut datasets: Vec<&str> = cells.iter().map(|c| c.dataset.as_str()).collect();
    datasets.dedup();
    let mut totals = vec![0.0; kinds.len()];
    let mut counted = 0usize;
    for dataset in datasets {
        let aucs: Option<Vec<f64>> = kinds
            .iter()
            .map(|k| {
                cells
                    .iter()
                    .find(|c| c.dataset == dataset && &c.detector == k)
                    .map(|c| c.roc_auc)
            })
            .collect();
        let Some(aucs) = aucs else { continue };
        counted += 1;
        for (total, &auc) in totals.iter_mut().zip(&aucs) {
            let better = aucs.iter().filter(|&&a| a > auc).count() as f64;
            let tied = aucs.iter().filter(|&&a| a == auc).count() as f64;
            *total += better + (tied + 1.0) / 2.0;
        }
    }
    totals.iter().map(|t| t / counted as f64).collect()
}

/// Two tables (ROC AUC, with the published value in brackets where asked for, then AP),
/// sets × detectors, mean over seeds; the summary per detector; the sets off the published
/// value by more than the tolerance; the skipped runs.
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
    let cell = |dataset: &str, kind: &String| {
        cells
            .iter()
            .find(|c| c.dataset == dataset && &c.detector == kind)
    };
    let header = |first: &str| {
        format!(
            "| {first} | {} |\n|---|{}\n",
            kinds.join(" | "),
            "---|".repeat(kinds.len())
        )
    };
    let mut out = String::new();
    let with_published = cells.iter().any(|c| c.published.is_some());
    for (title, metric) in [
        (
            if with_published {
                "ROC AUC on test, mean over seeds (published ADBench value in brackets)"
            } else {
                "ROC AUC on test, mean over seeds"
            },
            (|c: &Cell| c.roc_auc) as fn(&Cell) -> f64,
        ),
        ("AP on test, mean over seeds", |c: &Cell| {
            c.average_precision
        }),
    ] {
        out.push_str(&format!("{title}\n\n{}", header("dataset")));
        for dataset in &datasets {
            let row: Vec<String> = kinds
                .iter()
                .map(|kind| match cell(dataset, kind) {
                    Some(c) => match c.published {
                        Some(p) if metric(c) == c.roc_auc => format!("{:.4} ({p:.4})", c.roc_auc),
                        _ => format!("{:.4}", metric(c)),
                    },
                    None => "skipped".into(),
                })
                .collect();
            out.push_str(&format!("| {dataset} | {} |\n", row.join(" | ")));
        }
        out.push('\n');
    }
    out.push_str(
        "Per detector (mean over sets; rank among these detectors by ROC AUC, 1 = best; \
         seconds per run)\n\n| detector | sets | ROC AUC | AP | mean rank | fit s | score s |",
    );
    out.push_str(if with_published {
        " within ±0.02 of published |\n|---|---|---|---|---|---|---|---|\n"
    } else {
        "\n|---|---|---|---|---|---|---|\n"
    });
    for o in overall {
        out.push_str(&format!(
            "| {} | {} | {:.4} | {:.4} | {:.2} | {:.3} | {:.3} |",
            o.detector,
            o.datasets,
            o.roc_auc,
            o.average_precision,
            o.mean_rank,
            o.fit_seconds,
            o.score_seconds
        ));
        if with_published {
            out.push_str(&format!(
                " {} of {} |",
                o.within_tolerance, o.published_sets
            ));
        }
        out.push('\n');
    }
    if with_published {
        out.push_str(&format!(
            "\nMore than {PUBLISHED_TOLERANCE} from the published value (ours − published):\n\n"
        ));
        for kind in kinds {
            let gaps: Vec<String> = cells
                .iter()
                .filter(|c| &c.detector == kind)
                .filter_map(|c| {
                    let gap = c.roc_auc - c.published?;
                    (gap.abs() > PUBLISHED_TOLERANCE + 1e-12)
                        .then(|| format!("{} {gap:+.3}", c.dataset))
                })
                .collect();
            if !gaps.is_empty() {
                out.push_str(&format!("- {kind}: {}\n", gaps.join(", ")));
            }
        }
    }
    if !skipped.is_empty() {
        out.push_str("\nSkipped runs:\n\n");
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
    fn rows_are_the_ones_adbench_draws() {
        // ADBench's data generator on labels 0…0 1…1 (`a` anomalies of `n`): sizes, first
        // rows and index sums of the training and test parts as NumPy 2.4 and scikit-learn
        // 1.9 draw them, for a resampled set, one kept as is and a subsampled one.
        type Part = (usize, [usize; 4], usize);
        let cases: [(usize, usize, u32, Part, Part); 3] = [
            (
                100,
                10,
                1,
                (700, [33, 20, 2, 15], 33_502),
                (300, [29, 76, 78, 44], 15_572),
            ),
            (
                1001,
                500,
                1,
                (700, [455, 324, 453, 329], 350_339),
                (301, [928, 202, 115, 109], 150_161),
            ),
            (
                12000,
                35,
                3,
                (7000, [2433, 5000, 8780, 10919], 41_998_249),
                (3000, [1136, 7696, 4712, 3530], 17_900_820),
            ),
        ];
        for (n, a, seed, want_train, want_test) in cases {
            let labels: Vec<u8> = (0..n).map(|i| u8::from(i >= n - a)).collect();
            let (train, test) = protocol_rows(&labels, seed);
            for (rows, (len, head, sum)) in [(train, want_train), (test, want_test)] {
                assert_eq!(rows.len(), len, "n = {n}");
                assert_eq!(rows[..4], head, "n = {n}");
                assert_eq!(rows.iter().sum::<usize>(), sum, "n = {n}");
            }
        }
    }

    fn cell(dataset: &str, detector: &str, roc_auc: f64) -> Cell {
        Cell {
            dataset: dataset.into(),
            detector: detector.into(),
            runs: 1,
            roc_auc,
            roc_auc_std: 0.0,
            average_precision: 0.0,
            fit_seconds: 0.0,
            published: None,
        }
    }

    #[test]
    fn ranks_share_ties_and_skip_sets_a_detector_missed() {
        let kinds = vec!["a".to_string(), "b".into(), "c".into()];
        let cells = vec![
            cell("x", "a", 0.9),
            cell("x", "b", 0.8),
            cell("x", "c", 0.8),
            cell("y", "a", 0.5),
            cell("y", "b", 0.7),
            cell("y", "c", 0.6),
            cell("z", "a", 0.1),
        ];
        assert_eq!(mean_ranks(&cells, &kinds), vec![2.0, 1.75, 2.25]);
    }

    #[test]
    fn published_values_are_read_from_the_adbench_table() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("npz")).unwrap();
        std::fs::write(
            dir.path().join(REFERENCE_FILE),
            "# refs\n\n## ADBench (x)\n\n| dataset | PCA | DeepSVDD | IForest |\n\
             |---|---|---|---|\n| Hepatitis | 0.75 | 0.5 |  |\n\n## PyOD\n\n\
             | Data | PCA |\n|---|---|\n| glass | 0.1 |\n",
        )
        .unwrap();
        let published = published_aucs(&dir.path().join("npz")).unwrap();
        assert_eq!(
            published.get(&published_key("Hepatitis", "deep_svdd")),
            Some(&0.5)
        );
        assert_eq!(
            published.get(&published_key("hepatitis", "pca")),
            Some(&0.75)
        );
        assert_eq!(published.get(&published_key("Hepatitis", "iforest")), None);
        assert_eq!(
            published.get(&published_key("glass", "pca")),
            None,
            "PyOD table ignored"
        );
        let err = published_aucs(&dir.path().join("npz").join("none")).unwrap_err();
        assert!(err.to_string().contains("run without --published"), "{err}");
    }

    #[test]
    fn set_names_drop_the_number_prefix() {
        assert_eq!(set_name(Path::new("a/10_cover.npz")), "cover");
        assert_eq!(set_name(Path::new("22_magic.gamma.npz")), "magic.gamma");
        assert_eq!(set_name(Path::new("my_set.npz")), "my_set");
    }
}
