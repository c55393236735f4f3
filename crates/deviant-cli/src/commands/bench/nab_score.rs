//! `deviant bench nab-score`: NAB's own score (anomaly windows, the scaled sigmoid, the three
//! cost profiles, normalised against the null and perfect detectors) for deviant's online
//! detectors run as NAB prescribes — each point scored before it is learned from — beside
//! NAB's published results, and the published detectors' own rows scored again as a check.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use deviant_core::fsutil::write_bytes_atomic;
use deviant_core::nab::{CostProfile, NabFile, optimise_threshold, probation_rows};
use deviant_core::{Dataset, FitContext};
use deviant_data::download::{dataset_dirs, find_dir};
use deviant_data::series::{NabSeries, read_nab};
use ndarray::Array2;

use crate::args::detectors_with_sets;

#[derive(Debug, Args, Clone)]
pub struct NabScoreArgs {
    /// NAB folder (data/, labels/, results/). Default: $DEVIANT_DATASETS/timeseries/nab
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Detectors, comma-separated: each is fitted on a file's probationary rows (which NAB
    /// does not score), then scores every later point before learning from it (online kinds)
    /// or as fitted (the others).
    #[arg(long, value_delimiter = ',', default_value = "hst,robust_zscore")]
    pub detectors: Vec<String>,
    /// Detector parameter as KIND.KEY=VALUE (repeatable).
    #[arg(long = "set", value_name = "KIND.KEY=VALUE")]
    pub sets: Vec<String>,
    /// Each point's features: its value and the `lags` values before it, standardised on
    /// the probationary rows.
    #[arg(long, default_value_t = 8)]
    pub lags: usize,
    /// Report each point's anomaly likelihood rather than its raw score: how far the mean of
    /// the last `short` raw scores lies in the tail of a normal fitted to the raw scores of
    /// the last `long` points (Ahmad et al. 2017, as NAB's numenta detector does).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub likelihood: bool,
    /// Raw scores averaged for the likelihood.
    #[arg(long, default_value_t = 10)]
    pub short: usize,
    /// Raw scores the likelihood's normal is fitted to.
    #[arg(long, default_value_t = 8640)]
    pub long: usize,
    /// Published detectors whose per-row results (results/DET/*/DET_*.csv.gz) are scored
    /// again beside ours, as a check of the scorer.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "numenta,windowedGaussian"
    )]
    pub rescore: Vec<String>,
    /// Write the table as Markdown here.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
}

pub fn run(args: &NabScoreArgs, quiet: bool) -> Result<()> {
    let root = find_dir(
        &dataset_dirs(args.data.as_deref(), "timeseries/nab"),
        "a NAB folder",
        "--data",
    )?;
    let series = read_nab(&root)?;
    let profiles = CostProfile::all();
    let mut table = format!(
        "| detector | {} |\n|---|{}\n",
        profiles.map(|p| p.name).join(" | "),
        "---|".repeat(profiles.len())
    );
    let mut row = |name: String, scores: &[Vec<f64>]| {
        let files: Vec<NabFile> = series
            .iter()
            .zip(scores)
            .map(|(s, scores)| NabFile {
                scores,
                windows: &s.windows,
            })
            .collect();
        let cells: Vec<String> = profiles
            .iter()
            .map(|p| {
                let best = optimise_threshold(&files, p);
                format!(
                    "{:.1} (threshold {:.4})",
                    best.normalised_score, best.threshold
                )
            })
            .collect();
        let line = format!("| {name} | {} |\n", cells.join(" | "));
        if !quiet {
            eprint!("{line}");
        }
        table += &line;
    };
    for detector in args.rescore.iter().filter(|d| !d.is_empty()) {
        let scores = published_scores(&root, detector, &series)?;
        row(format!("{detector} (published rows, rescored)"), &scores);
    }
    for config in detectors_with_sets(&args.detectors, &args.sets)? {
        let mut scores = Vec::with_capacity(series.len());
        for s in &series {
            let raw = score_as_nab_prescribes(s, &config, args.lags)?;
            scores.push(match args.likelihood {
                true => likelihood(&raw, probation_rows(raw.len()).max(args.lags + 2), args),
                false => raw,
            });
        }
        let name = match args.likelihood {
            true => format!("deviant {} (likelihood)", config.kind()),
            false => format!("deviant {}", config.kind()),
        };
        row(name, &scores);
    }
    let published = published_finals(&root)?;
    for (detector, finals) in &published {
        let cells: Vec<String> = profiles
            .iter()
            .map(|p| finals.get(p.name).map_or("—".into(), |v| format!("{v:.1}")))
            .collect();
        table += &format!("| published: {detector} | {} |\n", cells.join(" | "));
    }
    println!("{table}");
    if let Some(path) = &args.markdown {
        write_bytes_atomic(path, table.as_bytes())?;
        println!("table written to {}", path.display());
    }
    Ok(())
}

/// Each point's score: the detector fitted on the probationary rows' lag features, then
/// every later point scored before it is learned from. Probationary points score 0 (NAB
/// does not score them).
fn score_as_nab_prescribes(
    series: &NabSeries,
    config: &deviant_detectors::AnyConfig,
    lags: usize,
) -> Result<Vec<f64>> {
    let n = series.values.len();
    let probation = probation_rows(n).max(lags + 2);
    let (mean, sd) = {
        let head = &series.values[..probation];
        let mean = head.iter().map(|&v| f64::from(v)).sum::<f64>() / head.len() as f64;
        let var = head
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / head.len() as f64;
        (mean, var.sqrt().max(1e-9))
    };
    // Row t: the standardised values at t, t − 1, …, t − lags (the first value repeated
    // before the start).
    let rows = Array2::from_shape_fn((n, lags + 1), |(t, k)| {
        let v = f64::from(series.values[t.saturating_sub(k)]);
        ((v - mean) / sd) as f32
    });
    let train = Dataset::new(rows.slice(ndarray::s![..probation, ..]).to_owned(), None);
    let mut detector = config
        .fit(&train, &FitContext::new(1))
        .with_context(|| format!("{} on {}", config.kind(), series.name))?;
    let mut scores = vec![0.0; n];
    for (t, score) in scores.iter_mut().enumerate().skip(probation) {
        let row = rows.slice(ndarray::s![t..t + 1, ..]);
        *score = f64::from(detector.score(row)?[0]);
        if let Some(learned) = detector.partial_fit(row) {
            learned?;
        }
    }
    Ok(scores)
}

/// Each scored point's anomaly likelihood from the raw scores up to it, as −log10 of the
/// normal tail beyond the mean of the last `short` raw scores, under a normal fitted to the
/// last `long` and fitted again every 100 points, as Numenta's likelihood is. The first 100
/// scored points, too few to fit it, get −log10 0.5.
fn likelihood(raw: &[f64], start: usize, args: &NabScoreArgs) -> Vec<f64> {
    const REFIT_EVERY: usize = 100;
    let mut out = vec![0.0; raw.len()];
    let (mut mean, mut sd) = (0.0, 1.0);
    for t in start..raw.len() {
        let seen = t + 1 - start;
        if seen < REFIT_EVERY {
            out[t] = -(0.5f64).log10();
            continue;
        }
        if seen.is_multiple_of(REFIT_EVERY) {
            let history = &raw[(t + 1).saturating_sub(args.long).max(start)..=t];
            let n = history.len() as f64;
            mean = history.iter().sum::<f64>() / n;
            let var = history.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
            sd = var.sqrt().max(1e-6);
        }
        let recent = &raw[(t + 1).saturating_sub(args.short).max(start)..=t];
        let average = recent.iter().sum::<f64>() / recent.len() as f64;
        // −log10 of the tail rather than 1 − tail, which rounds to 1 far out and ties there.
        let tail = 0.5 * libm::erfc((average - mean) / sd / std::f64::consts::SQRT_2);
        out[t] = -tail.max(f64::MIN_POSITIVE).log10();
    }
    out
}

/// A published detector's per-row anomaly scores, file by file in `series`' order.
fn published_scores(root: &Path, detector: &str, series: &[NabSeries]) -> Result<Vec<Vec<f64>>> {
    series
        .iter()
        .map(|s| {
            let (category, file) = s.name.split_once('/').expect("category/file");
            let path = root
                .join("results")
                .join(detector)
                .join(category)
                .join(format!("{detector}_{file}.gz"));
            let mut text = String::new();
            flate2::read::GzDecoder::new(
                std::fs::File::open(&path).with_context(|| path.display().to_string())?,
            )
            .read_to_string(&mut text)
            .with_context(|| path.display().to_string())?;
            let mut reader = csv::Reader::from_reader(text.as_bytes());
            let column = reader
                .headers()?
                .iter()
                .position(|h| h == "anomaly_score")
                .context("no anomaly_score column")?;
            reader
                .records()
                .map(|r| Ok(r?[column].parse::<f64>()?))
                .collect()
        })
        .collect()
}

/// results/final_results.json: detector → profile → normalised score.
fn published_finals(root: &Path) -> Result<BTreeMap<String, BTreeMap<String, f64>>> {
    let path = root.join("results").join("final_results.json");
    let text = std::fs::read_to_string(&path).with_context(|| path.display().to_string())?;
    serde_json::from_str(&text).with_context(|| path.display().to_string())
}
