//! `deviant bench perf`: training and scoring speed of one detector on seeded synthetic rows.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use deviant_core::FitContext;
use deviant_core::fsutil::write_bytes_atomic;
use deviant_detectors::AnyConfig;
use serde::{Deserialize, Serialize};

use crate::progress::Bars;

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
    /// Where the deep detectors ran (`--device`), with the GPU adapter's name.
    pub device: String,
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
    /// The best rate of a 1,024² matrix product on the device (4,096² on a GPU, which a
    /// small product leaves idle): the arithmetic ceiling.
    pub matmul_flops_per_second: f64,
    /// Multiply-adds × 2 of one row's forward pass (dense autoencoder only).
    pub forward_flops_per_row: Option<f64>,
    /// The epoch time and full scoring pass at the ceiling rate: forward FLOPs × rows ÷ rate,
    /// × 3 when training (the backward pass costs about twice the forward).
    pub floor_epoch_seconds: Option<f64>,
    pub floor_score_seconds: Option<f64>,
    /// FLOPs per second the median epoch reached (forward × 3 × rows ÷ time), to set
    /// against the matrix product's rate or a GPU's published peak.
    pub epoch_flops_per_second: Option<f64>,
}

pub fn run(args: &PerfArgs, quiet: bool) -> Result<()> {
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
    deviant_detectors::registry::merge_params(
        &mut params,
        &deviant_detectors::registry::params_from_sets(&args.sets)?,
    );
    let config = AnyConfig::from_params(&args.detector, &params)?;
    // Uniform in [0, 1), like min-max scaled features.
    let mut rng = deviant_core::split::rng(args.seed);
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
    let summary = detector.fit_summary();
    let history = &summary.history;
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
    let peak_rss_bytes = deviant_engine::trial::peak_rss();
    let runtime = deviant_detectors::runtime::runtime()?;
    let matmul_flops_per_second = deviant_detectors::deep::tensor::matmul_flops_per_second(
        &runtime.device(),
        if runtime.on_gpu() { 4096 } else { 1024 },
        5,
    );
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
    let median_epoch_seconds = summary.median_epoch_seconds();
    let epoch_flops_per_second = forward_flops_per_row
        .zip(median_epoch_seconds)
        .map(|(f, seconds)| 3.0 * f * args.rows as f64 / seconds);
    let record = PerfRecord {
        detector: args.detector.clone(),
        params: serde_json::to_value(&config)?["params"].clone(),
        rows: args.rows,
        features: args.features,
        threads: std::thread::available_parallelism().map_or(1, usize::from),
        device: runtime.describe().to_string(),
        fit_seconds,
        median_epoch_seconds,
        epoch_seconds,
        score_seconds,
        score_rows_per_second: args.rows as f64 / score_seconds,
        single_row_rows_per_second,
        peak_rss_bytes,
        matmul_flops_per_second,
        forward_flops_per_row,
        floor_epoch_seconds: floor(3.0),
        floor_score_seconds: floor(1.0),
        epoch_flops_per_second,
    };
    println!("{}", serde_json::to_string_pretty(&record)?);
    if let Some(path) = &args.json {
        write_bytes_atomic(path, &serde_json::to_vec_pretty(&record)?)?;
    }
    Ok(())
}
