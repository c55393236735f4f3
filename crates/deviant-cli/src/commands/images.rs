//! `deviant bench mnist`: one digit as the normal class, every other digit an anomaly.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use deviant_core::Dataset;
use deviant_core::metrics::Evaluation;
use deviant_data::images::{read_digits_csv, read_idx_images, read_idx_labels};
use deviant_data::split::{rng, split_stratified};
use deviant_report::ScoredRun;
use ndarray::{Array2, Axis};

use super::adbench::run_one;
use super::bench::{BenchOutcome, ProtocolBenchArgs, detectors_with_sets, parse_seeds};

/// No fit here should come near this; it only keeps a stuck run from hanging the benchmark.
const BUDGET: Duration = Duration::from_secs(3600);
/// Share of the images that trains (the rest tests), stratified by digit.
const TRAIN_SHARE: f64 = 0.8;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ImageSet {
    /// MNIST's 10,000 test images, 28 × 28 (`t10k-images-idx3-ubyte.gz` and labels).
    Mnist,
    /// scikit-learn's 1,797 digits, 8 × 8 (`digits.csv.gz`).
    Digits,
}

#[derive(Debug, Args, Clone)]
pub struct MnistBenchArgs {
    /// Which images: the MNIST test images or the 8 × 8 digits.
    #[arg(long, value_enum, default_value = "mnist")]
    pub images: ImageSet,
    /// Digits to take in turn as the normal class, comma-separated (default: all ten).
    #[arg(long, value_delimiter = ',')]
    pub digits: Vec<u8>,
    #[command(flatten)]
    pub run: ProtocolBenchArgs,
}

/// The images as rows of pixels in [0, 1], and each image's digit.
fn load(args: &MnistBenchArgs) -> Result<(Array2<f32>, Vec<u8>, &'static str)> {
    let (folder, name) = match args.images {
        ImageSet::Mnist => ("images/mnist-test", "mnist"),
        ImageSet::Digits => ("images/sklearn-digits", "digits"),
    };
    let dir = match &args.run.data_dir {
        Some(dir) => dir.clone(),
        None => std::env::var_os("DEVIANT_DATASETS")
            .map(|d| PathBuf::from(d).join(folder))
            .context("no image folder: pass --data-dir <folder> or set DEVIANT_DATASETS")?,
    };
    let find = |names: &[&str]| -> Result<PathBuf> {
        names
            .iter()
            .map(|n| dir.join(n))
            .find(|p| p.is_file())
            .with_context(|| format!("{} holds none of {}", dir.display(), names.join(", ")))
    };
    Ok(match args.images {
        ImageSet::Mnist => {
            let x = read_idx_images(&find(&[
                "t10k-images-idx3-ubyte.gz",
                "t10k-images-idx3-ubyte",
            ])?)?;
            let y = read_idx_labels(&find(&[
                "t10k-labels-idx1-ubyte.gz",
                "t10k-labels-idx1-ubyte",
            ])?)?;
            anyhow::ensure!(
                x.nrows() == y.len(),
                "{} images but {} labels",
                x.nrows(),
                y.len()
            );
            (x, y, name)
        }
        ImageSet::Digits => {
            let (x, y) = read_digits_csv(&find(&["digits.csv.gz", "digits.csv"])?)?;
            (x, y, name)
        }
    })
}

/// Per seed, the images split 80/20 stratified by digit; for each normal digit, detectors
/// train on its training images and score the whole test part (that digit normal, the rest
/// anomalies). Flags: the top 10 % of training scores.
pub fn mnist_bench(args: &MnistBenchArgs) -> Result<BenchOutcome> {
    let (x, digits, name) = load(args)?;
    let normals: Vec<u8> = if args.digits.is_empty() {
        (0..10).collect()
    } else {
        args.digits.clone()
    };
    if let Some(d) = normals.iter().find(|&&d| d > 9) {
        anyhow::bail!("--digits: {d} is not a digit 0–9");
    }
    let detectors = detectors_with_sets(&args.run.detectors, &args.run.sets)?;
    let seeds = parse_seeds(&args.run.seeds)?;
    let all: Vec<usize> = (0..x.nrows()).collect();
    let (mut records, mut runs) = (Vec::new(), Vec::new());
    for &seed in &seeds {
        let (train_rows, test_rows) = split_stratified(&all, &digits, TRAIN_SHARE, &mut rng(seed));
        let test = Dataset::new(x.select(Axis(0), &test_rows), None);
        for &normal in &normals {
            let own: Vec<usize> = train_rows
                .iter()
                .copied()
                .filter(|&i| digits[i] == normal)
                .collect();
            let train = Dataset::new(x.select(Axis(0), &own), None);
            let labels: Vec<u8> = test_rows
                .iter()
                .map(|&i| u8::from(digits[i] != normal))
                .collect();
            let dataset = format!("{name} digit {normal}");
            for detector in &detectors {
                let (mut record, scores) =
                    run_one(name, detector, &train, &test, &labels, seed, BUDGET).map_err(|e| {
                        anyhow::anyhow!("{} on {dataset}, seed {seed}: {e}", detector.kind())
                    })?;
                record.dataset = dataset.clone();
                eprintln!(
                    "{dataset} {:<8} seed {seed}: roc_auc {:.4}  fit {:.1} s",
                    record.detector, record.roc_auc, record.fit_seconds
                );
                if args.run.report.report.is_some() && seed == seeds[0] {
                    runs.push(ScoredRun {
                        detector: record.detector.clone(),
                        dataset: dataset.clone(),
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
    }
    Ok(BenchOutcome {
        protocol: name.into(),
        records,
        runs,
    })
}
