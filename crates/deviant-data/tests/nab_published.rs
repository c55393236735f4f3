//! NAB's published results reproduced by `deviant_core::nab`. NAB publishes per-row results
//! for `numenta` and `windowedGaussian`: for each, at the thresholds of NAB's
//! `config/thresholds.json`, every row's score contribution must equal the file's
//! `S(t)_<profile>` column, every file's raw score and row tallies its
//! `<detector>_<profile>_scores.csv` line, and the corpus's normalised score
//! `results/final_results.json`. The files come from `$DEVIANT_DATASETS/timeseries/nab` or
//! the project's `shared/datasets` folder beside the checkout; without them the test says so
//! and passes.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use deviant_core::nab::{
    CostProfile, FileScore, NabFile, corpus_score, optimise_threshold, score_file_by_row,
};
use deviant_data::series::{NabSeries, read_nab};
use flate2::read::MultiGzDecoder;
use serde_json::Value;

/// Per-row contributions and raw scores are printed by NAB with 12 significant digits, so
/// they are compared to 1e-9, tighter than needed to tell the cut of the false-alarm cost at
/// three window widths (`> 3`, as published) from a `>= 3` cut, which moves a row by 7e-8.
const ROW_TOLERANCE: f64 = 1e-9;
/// How close the normalised corpus score must come to NAB's final table.
const FINAL_TOLERANCE: f64 = 0.1;

fn nab_root() -> Option<PathBuf> {
    let root = std::env::var_os("DEVIANT_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets"));
    let dir = root.join("timeseries").join("nab");
    if dir.join("results").join("final_results.json").is_file() {
        Some(dir)
    } else {
        eprintln!("skipped: no NAB results in {}", dir.display());
        None
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_reader(File::open(path).unwrap()).unwrap()
}

/// One detector's per-row result file: its timestamps, anomaly scores and, per profile name,
/// the `S(t)_<profile>` column.
struct RowResults {
    timestamps: Vec<String>,
    scores: Vec<f64>,
    contributions: BTreeMap<&'static str, Vec<f64>>,
}

fn read_row_results(path: &Path) -> RowResults {
    let file = File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = csv::Reader::from_reader(MultiGzDecoder::new(file));
    let header = reader.headers().unwrap().clone();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("{}: no column {name}", path.display()))
    };
    let (timestamp_at, score_at) = (column("timestamp"), column("anomaly_score"));
    let profile_columns: Vec<(&'static str, usize)> = CostProfile::all()
        .iter()
        .map(|profile| (profile.name, column(&format!("S(t)_{}", profile.name))))
        .collect();
    let mut results = RowResults {
        timestamps: Vec::new(),
        scores: Vec::new(),
        contributions: BTreeMap::new(),
    };
    for record in reader.records() {
        let record = record.unwrap();
        let number = |at: usize| -> f64 { record[at].parse().unwrap() };
        results.timestamps.push(record[timestamp_at].to_owned());
        results.scores.push(number(score_at));
        for &(profile, at) in &profile_columns {
            results
                .contributions
                .entry(profile)
                .or_default()
                .push(number(at));
        }
    }
    results
}

/// `results/<detector>/<detector>_<profile>_scores.csv`, by file, without the totals line.
fn published_file_scores(dir: &Path, detector: &str, profile: &str) -> BTreeMap<String, FileScore> {
    let path = dir.join(format!("{detector}_{profile}_scores.csv"));
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let header = reader.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (file_at, score_at) = (column("File"), column("Score"));
    let counts_at = ["TP", "TN", "FP", "FN"].map(column);
    let mut scores = BTreeMap::new();
    for record in reader.records() {
        let record = record.unwrap();
        if record[file_at].is_empty() {
            continue;
        }
        let [tp, tn, fp, fn_] = counts_at.map(|at| record[at].parse::<usize>().unwrap());
        let score = FileScore {
            raw_score: record[score_at].parse().unwrap(),
            tp,
            tn,
            fp,
            fn_,
        };
        scores.insert(record[file_at].to_owned(), score);
    }
    scores
}

/// Checks one detector against everything NAB published for it; returns the lines that
/// differ, empty when it is reproduced.
fn check_detector(root: &Path, series: &[NabSeries], detector: &str) -> Vec<String> {
    let thresholds = read_json(&root.join("config/thresholds.json"));
    let final_results = read_json(&root.join("results/final_results.json"));
    let detector_dir = root.join("results").join(detector);
    let rows: Vec<RowResults> = series
        .iter()
        .map(|file| {
            let (category, name) = file.name.split_once('/').unwrap();
            read_row_results(
                &detector_dir
                    .join(category)
                    .join(format!("{detector}_{name}.gz")),
            )
        })
        .collect();
    let mut differences = Vec::new();
    for (file, results) in series.iter().zip(&rows) {
        if results.timestamps != file.timestamps {
            differences.push(format!(
                "{detector} {}: rows differ from the data file",
                file.name
            ));
        }
    }
    for profile in CostProfile::all() {
        let threshold = thresholds[detector][profile.name]["threshold"]
            .as_f64()
            .unwrap();
        let published = published_file_scores(&detector_dir, detector, profile.name);
        for (file, results) in series.iter().zip(&rows) {
            let (score, by_row) =
                score_file_by_row(&results.scores, &file.windows, threshold, &profile);
            let expected_by_row = &results.contributions[profile.name];
            for (row, (&ours, &theirs)) in by_row.iter().zip(expected_by_row).enumerate() {
                if (ours - theirs).abs() > ROW_TOLERANCE {
                    differences.push(format!(
                        "{detector} {} {}: row {row} scores {ours}, NAB {theirs}",
                        profile.name, file.name
                    ));
                }
            }
            let theirs = published[&file.name];
            let same_counts = (score.tp, score.tn, score.fp, score.fn_)
                == (theirs.tp, theirs.tn, theirs.fp, theirs.fn_);
            if !same_counts || (score.raw_score - theirs.raw_score).abs() > ROW_TOLERANCE {
                differences.push(format!(
                    "{detector} {} {}: {score:?}, NAB {theirs:?}",
                    profile.name, file.name
                ));
            }
        }
        let files: Vec<NabFile<'_>> = series
            .iter()
            .zip(&rows)
            .map(|(file, results)| NabFile {
                scores: &results.scores,
                windows: &file.windows,
            })
            .collect();
        let ours = corpus_score(&files, threshold, &profile).normalised_score;
        let theirs = final_results[detector][profile.name].as_f64().unwrap();
        let optimised = optimise_threshold(&files, &profile);
        eprintln!(
            "{detector} {}: {ours} at threshold {threshold} (NAB {theirs}); \
             optimised {} at threshold {}",
            profile.name, optimised.normalised_score, optimised.threshold
        );
        if (ours - theirs).abs() > FINAL_TOLERANCE {
            differences.push(format!(
                "{detector} {}: final score {ours}, NAB {theirs}",
                profile.name
            ));
        }
        // An exact sweep can only match or beat the threshold NAB's own search settled on.
        if optimised.normalised_score < ours - 1e-9 {
            differences.push(format!(
                "{detector} {}: the optimiser found {optimised:?}, below {ours} at {threshold}",
                profile.name
            ));
        }
    }
    differences
}

fn check_published(detector: &str) {
    let Some(root) = nab_root() else { return };
    let series = read_nab(&root).unwrap();
    assert_eq!(series.len(), 58);
    let differences = check_detector(&root, &series, detector);
    assert!(
        differences.is_empty(),
        "{} differences, the first:\n{}",
        differences.len(),
        differences[..differences.len().min(20)].join("\n")
    );
}

#[test]
fn numenta_scores_as_published() {
    check_published("numenta");
}

#[test]
fn windowed_gaussian_scores_as_published() {
    check_published("windowedGaussian");
}
