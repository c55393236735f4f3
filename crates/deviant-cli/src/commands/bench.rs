//! `deviant bench`: detectors × protocol × seeds → one record per run and a leaderboard.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use deviant_core::detector::EpochRecord;
use deviant_core::metrics::quantile;
use deviant_core::{FitContext, Progress, ThresholdRule};
use deviant_data::fsutil::write_bytes_atomic;
use deviant_data::kdd99::{self, Protocol, ProtocolSplits};
use deviant_data::nslkdd;
use deviant_data::schema_options_for_label;
use deviant_data::{
    PreprocessOptions, Preprocessor, ReadOptions, Scaling, TableReader, infer_schema,
};
use deviant_detectors::{AnyConfig, Model, TrainSpec};
use deviant_report::{BenchRecord, ComparisonReport, ScoredRun, distinct, leaderboard};
use serde::{Deserialize, Serialize};

use crate::args::{params_from_sets, parse_scaling};
use crate::progress::Bars;
use crate::reporting::{ReportArgs, explain_top, write_report};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// KDD Cup 99 under the cloudera, dagmm, alad or alibi protocol.
    Kdd99(Kdd99BenchArgs),
    /// NSL-KDD: train on normal rows, threshold on validation, test on KDDTest+ and KDDTest-21.
    Nslkdd(NslkddBenchArgs),
    /// ADBench's unsupervised protocol on a folder of `.npz` tabular sets.
    Adbench(super::adbench::AdbenchArgs),
    /// ECG5000 heartbeats (one row per sequence): class 1 normal, trained on 80 % of it,
    /// tested on the rest and every other class.
    Ecg5000(NslkddBenchArgs),
    /// NAB streams: window detectors against the rolling z-score, AUC ROC per file over
    /// points labelled by NAB's anomaly windows.
    Nab(super::series::NabBenchArgs),
    /// One digit normal, the others anomalies: MNIST test images or the 8 × 8 digits.
    Mnist(super::images::MnistBenchArgs),
    /// Training and scoring speed of one detector on seeded synthetic rows.
    Perf(PerfArgs),
}

#[derive(Debug, Args, Clone)]
pub struct PerfArgs {
    #[arg(long, short, default_value = "ae")]
    pub detector: String,
    #[arg(long, default_value_t = 200_000)]
    pub rows: usize,
    #[arg(long, default_value_t = 121)]
    pub features: usize,
    /// Detector parameter over the perf defaults (for `ae`: relu, hidden [64,32,8], batch
    /// 1,024, 5 epochs, no validation split, no early stopping), e.g. `--set training.epochs=3`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Scoring passes over all rows; the fastest is reported.
    #[arg(long, default_value_t = 3)]
    pub score_repeats: usize,
    /// Rows scored one call at a time, as `serve` scores them (0 = skip).
    #[arg(long, default_value_t = 10_000)]
    pub single_rows: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also write the rows as an f32 `.npy` file, for a peer implementation to time on the
    /// same data (see bench/peers/).
    #[arg(long)]
    pub export: Option<PathBuf>,
    /// Write the measurements as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// What `bench perf` measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PerfRecord {
    pub detector: String,
    pub params: serde_json::Value,
    pub rows: usize,
    pub features: usize,
    pub threads: usize,
    pub fit_seconds: f64,
    /// Wall time of each training epoch (deep detectors).
    pub epoch_seconds: Vec<f64>,
    pub median_epoch_seconds: Option<f64>,
    pub score_seconds: f64,
    pub score_rows_per_second: f64,
    /// Rows per second when each row is its own `score` call.
    pub single_row_rows_per_second: Option<f64>,
    /// Peak resident memory of the whole process (data included).
    pub peak_rss_bytes: u64,
    /// The best rate of a 1,024² matrix product on this machine: the arithmetic ceiling.
    pub matmul_flops_per_second: f64,
    /// Multiply-adds × 2 of one row's forward pass (dense autoencoder only).
    pub forward_flops_per_row: Option<f64>,
    /// The epoch time and full scoring pass at the ceiling rate: forward FLOPs × rows ÷ rate,
    /// × 3 when training (the backward pass costs about twice the forward).
    pub floor_epoch_seconds: Option<f64>,
    pub floor_score_seconds: Option<f64>,
}

#[derive(Debug, Args, Clone)]
pub struct Kdd99BenchArgs {
    #[arg(long, default_value = "cloudera")]
    pub protocol: Protocol,
    #[command(flatten)]
    pub run: ProtocolBenchArgs,
}

#[derive(Debug, Args, Clone)]
pub struct NslkddBenchArgs {
    #[command(flatten)]
    pub run: ProtocolBenchArgs,
}

/// What every benchmark over a dataset recipe takes.
#[derive(Debug, Args, Clone)]
pub struct ProtocolBenchArgs {
    /// Detector kinds, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "ae,pca,iforest")]
    pub detectors: Vec<String>,
    /// A count N (seeds 1..=N) or a list such as 1,2,3 (one seed alone: 7,).
    #[arg(long, default_value = "3")]
    pub seeds: String,
    /// Detector parameter as KIND.KEY=VALUE, e.g. `--set ae.training.epochs=10` (repeatable).
    #[arg(long = "set", value_name = "KIND.KEY=VALUE")]
    pub sets: Vec<String>,
    /// Write the records as a JSON array here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the leaderboard as Markdown here.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Where the protocol's CSVs go (default: a temporary folder).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Folder holding the dataset's files (see `deviant data … --help`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Column scaling fitted on the training rows (standard, minmax, none), in place of the
    /// protocol's own (min-max; standard for KDD's `alibi`).
    #[arg(long, value_parser = parse_scaling)]
    pub scaling: Option<Scaling>,
    #[command(flatten)]
    pub report: ReportArgs,
}

/// What a benchmark over a recipe produced: one record per (detector, seed, test set), and
/// the first seed's scores for the report's curves (kept only when a report is asked for).
pub struct BenchOutcome {
    pub protocol: String,
    pub records: Vec<BenchRecord>,
    pub runs: Vec<ScoredRun>,
}

pub fn run(command: BenchCommand, quiet: bool) -> Result<()> {
    match command {
        BenchCommand::Kdd99(args) => {
            let outcome = kdd99_bench(&args, quiet)?;
            report(&outcome, &args.run)
        }
        BenchCommand::Nslkdd(args) => {
            let outcome = nslkdd_bench(&args.run, quiet)?;
            report(&outcome, &args.run)
        }
        BenchCommand::Adbench(args) => super::adbench::run(&args, quiet),
        BenchCommand::Ecg5000(args) => {
            let outcome = super::series::ecg5000_bench(&args.run)?;
            report(&outcome, &args.run)
        }
        BenchCommand::Nab(args) => super::series::nab_bench(&args),
        BenchCommand::Mnist(args) => {
            let outcome = super::images::mnist_bench(&args)?;
            report(&outcome, &args.run)
        }
        BenchCommand::Perf(args) => perf(&args, quiet),
    }
}

fn perf(args: &PerfArgs, quiet: bool) -> Result<()> {
    use rand::Rng;
    anyhow::ensure!(
        args.rows > 0 && args.features > 0,
        "--rows and --features must be positive"
    );
    let mut params = match args.detector.as_str() {
        "ae" => serde_json::json!({
            "activation": "relu",
            "hidden": [64, 32, 8],
            "training": {"batch_size": 1024, "epochs": 5, "validation_fraction": 0.0, "patience": 0}
        }),
        _ => serde_json::json!({}),
    };
    deviant_detectors::registry::merge_params(&mut params, &params_from_sets(&args.sets)?);
    let config = AnyConfig::from_params(&args.detector, &params)?;
    // Uniform in [0, 1), like min-max scaled features.
    let mut rng = deviant_data::split::rng(args.seed);
    let x =
        ndarray::Array2::from_shape_simple_fn((args.rows, args.features), || rng.random::<f32>());
    if let Some(path) = &args.export {
        ndarray_npy::write_npy(path, &x).with_context(|| format!("writing {}", path.display()))?;
    }
    let data = deviant_core::Dataset::new(x, None);
    let bars = Arc::new(Bars::new(quiet));
    let cx = FitContext::new(args.seed).with_progress(bars);
    let started = Instant::now();
    let detector = config.fit(&data, &cx)?;
    let fit_seconds = started.elapsed().as_secs_f64();
    let history = detector.fit_summary().history;
    let epoch_seconds: Vec<f64> = history.iter().map(|e| e.seconds).collect();
    let mut score_seconds = f64::INFINITY;
    for _ in 0..args.score_repeats.max(1) {
        let started = Instant::now();
        detector.score(data.view())?;
        score_seconds = score_seconds.min(started.elapsed().as_secs_f64());
    }
    let single_rows = args.single_rows.min(args.rows);
    let single_row_rows_per_second = (single_rows > 0)
        .then(|| -> Result<f64> {
            let started = Instant::now();
            for row in data
                .view()
                .axis_chunks_iter(ndarray::Axis(0), 1)
                .take(single_rows)
            {
                detector.score(row)?;
            }
            Ok(single_rows as f64 / started.elapsed().as_secs_f64())
        })
        .transpose()?;
    let peak_rss_bytes = peak_rss();
    let matmul_flops_per_second = deviant_detectors::deep::tensor::matmul_flops_per_second(1024, 5);
    let forward_flops_per_row = match &config {
        AnyConfig::Ae(ae) => Some(
            ae.widths(args.features)
                .windows(2)
                .map(|w| 2.0 * (w[0] * w[1]) as f64)
                .sum::<f64>(),
        ),
        _ => None,
    };
    let floor = |passes: f64| {
        forward_flops_per_row.map(|f| passes * f * args.rows as f64 / matmul_flops_per_second)
    };
    let record = PerfRecord {
        detector: args.detector.clone(),
        params: serde_json::to_value(&config)?["params"].clone(),
        rows: args.rows,
        features: args.features,
        threads: std::thread::available_parallelism().map_or(1, usize::from),
        fit_seconds,
        median_epoch_seconds: median_epoch_seconds(&history),
        epoch_seconds,
        score_seconds,
        score_rows_per_second: args.rows as f64 / score_seconds,
        single_row_rows_per_second,
        peak_rss_bytes,
        matmul_flops_per_second,
        forward_flops_per_row,
        floor_epoch_seconds: floor(3.0),
        floor_score_seconds: floor(1.0),
    };
    println!("{}", serde_json::to_string_pretty(&record)?);
    if let Some(path) = &args.json {
        write_bytes_atomic(path, &serde_json::to_vec_pretty(&record)?)?;
    }
    Ok(())
}

/// The median wall time of the epochs in a training history (None without one).
pub(crate) fn median_epoch_seconds(history: &[EpochRecord]) -> Option<f64> {
    let seconds: Vec<f64> = history.iter().map(|e| e.seconds).collect();
    (!seconds.is_empty()).then(|| quantile(&seconds, 0.5))
}

/// Parses `--seeds`: a count N (seeds 1..=N), or a list (`4,9`; one seed alone as `7,`).
pub(crate) fn parse_seeds(spec: &str) -> Result<Vec<u64>> {
    if spec.contains(',') {
        return spec
            .strip_suffix(',')
            .unwrap_or(spec)
            .split(',')
            .map(|s| {
                s.trim()
                    .parse()
                    .with_context(|| format!("`{s}` in --seeds is not a number"))
            })
            .collect();
    }
    let n: u64 = spec
        .parse()
        .with_context(|| format!("--seeds `{spec}` is neither a count nor a list"))?;
    anyhow::ensure!(n > 0, "--seeds needs at least one seed");
    Ok((1..=n).collect())
}

/// The detectors named in `kinds` with their `KIND.KEY=VALUE` settings.
pub fn detectors_with_sets(kinds: &[String], sets: &[String]) -> Result<Vec<AnyConfig>> {
    let params = params_from_sets(sets)?;
    if let Some(unknown) = params
        .as_object()
        .and_then(|m| m.keys().find(|k| !kinds.contains(k)))
    {
        anyhow::bail!(
            "--set names `{unknown}`, which is not among --detectors {}",
            kinds.join(",")
        );
    }
    kinds
        .iter()
        .map(|kind| {
            let own = params
                .get(kind)
                .cloned()
                .unwrap_or_else(|| serde_json::json!({}));
            Ok(AnyConfig::from_params(kind, &own)?)
        })
        .collect()
}

pub fn kdd99_bench(args: &Kdd99BenchArgs, quiet: bool) -> Result<BenchOutcome> {
    let bars = Arc::new(Bars::new(quiet));
    let sources = kdd99::locate(args.run.data_dir.as_deref(), bars.as_ref())?;
    let protocol = args.protocol;
    bench_seeds(
        &args.run,
        protocol.name(),
        bars,
        quiet,
        |dir, seed, bars| {
            let splits = kdd99::write_protocol(&sources, protocol, seed, dir, bars)?;
            Ok(SplitFolder {
                has_validation: splits.validation.is_some(),
                scaling: protocol.scaling(),
                threshold: protocol.threshold_rule(),
                tests: vec![(ProtocolSplits::TEST, "kddcup99")],
            })
        },
    )
}

pub fn nslkdd_bench(args: &ProtocolBenchArgs, quiet: bool) -> Result<BenchOutcome> {
    let sources = nslkdd::locate(args.data_dir.as_deref())?;
    let bars = Arc::new(Bars::new(quiet));
    bench_seeds(args, "nslkdd", bars, quiet, |dir, seed, bars| {
        nslkdd::write_protocol(&sources, seed, dir, bars)?;
        Ok(SplitFolder {
            has_validation: true,
            scaling: nslkdd::Splits::SCALING,
            threshold: nslkdd::Splits::THRESHOLD_RULE,
            tests: vec![
                (nslkdd::Splits::TEST_PLUS, "nsl-kdd test+"),
                (nslkdd::Splits::TEST_21, "nsl-kdd test-21"),
            ],
        })
    })
}

/// A recipe's CSVs for one seed: `train.csv`, maybe `validation.csv`, and test files with the
/// dataset name their records carry.
struct SplitFolder {
    has_validation: bool,
    scaling: Scaling,
    threshold: ThresholdRule,
    tests: Vec<(&'static str, &'static str)>,
}

/// For each seed: `write` lays out the recipe's CSVs in a folder, then every detector trains
/// on them (threshold per the recipe's rule) and scores every test file.
fn bench_seeds(
    args: &ProtocolBenchArgs,
    protocol: &str,
    bars: Arc<Bars>,
    quiet: bool,
    write: impl Fn(&Path, u64, &Bars) -> deviant_core::Result<SplitFolder>,
) -> Result<BenchOutcome> {
    let detectors = detectors_with_sets(&args.detectors, &args.sets)?;
    let seeds = parse_seeds(&args.seeds)?;
    let temp;
    let work_dir = match &args.work_dir {
        Some(dir) => dir.clone(),
        None => {
            temp = tempfile::tempdir().context("creating a temporary folder")?;
            temp.path().to_path_buf()
        }
    };
    let mut records = Vec::new();
    let mut runs = Vec::new();
    for &seed in &seeds {
        let dir = work_dir.join(format!("{protocol}-seed{seed}"));
        let folder = write(&dir, seed, bars.as_ref())?;
        let label_options = schema_options_for_label("label", &["0"]);
        let read = ReadOptions::default();
        let schema = infer_schema(&dir.join(ProtocolSplits::TRAIN), &read, &label_options)?;
        let load = |name: &str| -> Result<_> {
            Ok(TableReader::open(&dir.join(name), &read, &schema)?.read_all()?)
        };
        let train_table = load(ProtocolSplits::TRAIN)?;
        let options = PreprocessOptions {
            scaling: args.scaling.unwrap_or(folder.scaling),
            impute: false,
        };
        let preprocessor = Preprocessor::fit(&schema, &train_table, options)?;
        let train = preprocessor.dataset(&train_table)?;
        drop(train_table);
        let validation = match folder.has_validation {
            true => Some(preprocessor.dataset(&load(ProtocolSplits::VALIDATION)?)?),
            false => None,
        };
        let tests = folder
            .tests
            .iter()
            .map(|&(file, dataset)| {
                let table = load(file)?;
                Ok((preprocessor.dataset(&table)?, dataset, table.lines))
            })
            .collect::<Result<Vec<_>>>()?;
        for detector in &detectors {
            reset_peak_rss();
            let cx = FitContext::new(seed).with_progress(bars.clone());
            bars.message(&format!("{} seed {seed}", detector.kind()));
            let model = Model::train(
                TrainSpec {
                    detector,
                    schema: schema.clone(),
                    preprocessor: preprocessor.clone(),
                    train: &train,
                    validation: validation.as_ref(),
                    threshold: folder.threshold,
                },
                &cx,
            )?;
            for (test, dataset, lines) in &tests {
                let labels = test
                    .labels
                    .as_ref()
                    .expect("protocol files are labelled")
                    .to_vec();
                let started = Instant::now();
                let scored = model.score(test)?;
                let score_seconds = started.elapsed().as_secs_f64();
                let eval = scored.evaluate(&labels)?;
                let t = &model.manifest.threshold;
                let history = &model.manifest.training.summary.history;
                if args.report.report.is_some() && seed == seeds[0] {
                    let scores = scored.scores.to_vec();
                    let explained =
                        explain_top(&model, test, &scores, args.report.explain_rows, |i| {
                            format!("line {} of the test file", lines[i])
                        })?;
                    runs.push(ScoredRun {
                        detector: detector.kind().into(),
                        dataset: dataset.to_string(),
                        seed,
                        scores,
                        labels: labels.clone(),
                        evaluation: eval.clone(),
                        history: history.clone(),
                        explained,
                    });
                }
                records.push(BenchRecord {
                    dataset: dataset.to_string(),
                    detector: detector.kind().into(),
                    protocol: protocol.into(),
                    seed,
                    roc_auc: eval.roc_auc,
                    average_precision: eval.average_precision,
                    precision: eval.precision,
                    recall: eval.recall,
                    f1: eval.f1,
                    f2: eval.f2,
                    accuracy: eval.accuracy,
                    threshold: eval.threshold,
                    threshold_rule: format!("{} on {}", t.rule, t.chosen_on),
                    fit_seconds: model.manifest.training.fit_seconds,
                    epochs: history.len(),
                    epoch_seconds: median_epoch_seconds(history).unwrap_or(0.0),
                    final_loss: model.manifest.training.summary.final_loss(),
                    score_seconds,
                    peak_rss_bytes: peak_rss(),
                });
                if !quiet {
                    eprintln!(
                        "{dataset} {:<8} seed {seed}: roc_auc {:.4}  f1 {:.4}  fit {:.1} s",
                        detector.kind(),
                        eval.roc_auc,
                        eval.f1,
                        model.manifest.training.fit_seconds
                    );
                }
            }
        }
    }
    Ok(BenchOutcome {
        protocol: protocol.into(),
        records,
        runs,
    })
}

/// Prints the leaderboard and writes the JSON, Markdown and HTML report asked for.
pub fn report(outcome: &BenchOutcome, args: &ProtocolBenchArgs) -> Result<()> {
    let records = &outcome.records;
    let table = leaderboard(records);
    println!("{table}");
    if let Some(path) = &args.json {
        write_bytes_atomic(path, &serde_json::to_vec_pretty(records)?)?;
        println!("records written to {}", path.display());
    }
    if let Some(path) = &args.markdown {
        write_bytes_atomic(path, table.as_bytes())?;
        println!("leaderboard written to {}", path.display());
    }
    if let Some(dir) = &args.report.report {
        let threshold_rules = distinct(records.iter().map(|r| r.threshold_rule.as_str()));
        let report = ComparisonReport {
            title: format!("deviant bench: {} protocol", outcome.protocol),
            facts: vec![
                ("protocol".into(), outcome.protocol.clone()),
                ("detectors".into(), args.detectors.join(", ")),
                ("seeds".into(), args.seeds.clone()),
                ("threshold".into(), threshold_rules.join("; ")),
                (
                    "settings".into(),
                    match args.sets.is_empty() {
                        true => "defaults".into(),
                        false => args.sets.join(" "),
                    },
                ),
                ("deviant".into(), env!("CARGO_PKG_VERSION").into()),
            ],
            summaries: Vec::new(),
            records,
            runs: &outcome.runs,
            detector_charts: true,
            options: args.report.chart_options(),
        };
        let page = write_report(dir, &report.render()?)?;
        println!("report written to {}", page.display());
    }
    Ok(())
}

/// Resets the kernel's peak-RSS counter so the next reading covers one run (Linux).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident memory in bytes since the last reset (0 where unknown).
fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_as_count_or_list() {
        assert_eq!(parse_seeds("3").unwrap(), vec![1, 2, 3]);
        assert_eq!(parse_seeds("4,9").unwrap(), vec![4, 9]);
        assert_eq!(parse_seeds("7,").unwrap(), vec![7]);
        assert!(parse_seeds(",").is_err());
        assert!(parse_seeds("0").is_err());
        assert!(parse_seeds("x").is_err());
    }

    #[test]
    fn sets_must_name_a_chosen_detector() {
        let kinds = vec!["pca".to_string()];
        assert!(detectors_with_sets(&kinds, &["ae.training.epochs=2".into()]).is_err());
        assert!(detectors_with_sets(&kinds, &["pca.variance=0.9".into()]).is_ok());
    }
}
