//! NSL-KDD (Tavallaee, Bagheri, Lu & Ghorbani, CISDA 2009): the de-duplicated revision of
//! KDD Cup 99, with the same 41 features.
//!
//! Protocol `nslkdd`: attacks (every label but `normal`) are the anomalies. 20 % of
//! `KDDTrain+_20Percent` (both classes, seeded) → validation, where the threshold is picked by
//! best F1; the normal rows of the rest → train (all of the rest → `train-labelled.csv`, for
//! supervised learners); `KDDTest+` → `test.csv` and `KDDTest-21`
//! (its records that not all 21 reference learners got right) → `test-21.csv`.
//!
//! The files have no stable public archive URL with a checksum, so they are never
//! downloaded: they are found in `--data-dir`, `$DEVIANT_DATA_DIR` or
//! `$DEVIANT_DATASETS/nsl-kdd`, gzipped (checked against the known checksums) or plain.

use std::path::{Path, PathBuf};

use deviant_core::{Error, Progress, Result, ThresholdRule};
use serde::{Deserialize, Serialize};

use crate::download::{dataset_dirs, verify};
use crate::kdd99::{FEATURES, SplitCount, read_records, write_split};
use crate::preprocess::Scaling;
use deviant_core::fsutil::write_bytes_atomic;
use deviant_core::split::{rng, split_fraction};

/// A file of the release: its name without `.gz`, and the sha256 of its gzip level-9 copy.
struct Release {
    name: &'static str,
    gz_sha256: &'static str,
}

const TRAIN_20_PERCENT: Release = Release {
    name: "KDDTrain+_20Percent.txt",
    gz_sha256: "fc113da7acc7e3006f0c3bf00c9ba5c052be44b00af3b1951beff90694bf66ff",
};
const TEST_PLUS: Release = Release {
    name: "KDDTest+.txt",
    gz_sha256: "1ebe1079af669e3c35ef7be25b5bafde1e47951244d1b4834682b14a22238da1",
};
const TEST_21: Release = Release {
    name: "KDDTest-21.txt",
    gz_sha256: "cf79d2eab7d8cc749e7c088260c0297cbb26d95062d27d1f8c761f4eeac3327a",
};

const NORMAL: &str = "normal";
/// Share of the training file held out for choosing the threshold.
const VALIDATION_SHARE: f64 = 0.2;

/// Where the three files are on this machine.
#[derive(Debug, Clone)]
pub struct Sources {
    pub train: PathBuf,
    pub test_plus: PathBuf,
    pub test_21: PathBuf,
}

/// What [`write_protocol`] wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Splits {
    pub seed: u64,
    pub train: SplitCount,
    /// Every row of the training file outside the validation share, both classes: what
    /// supervised learners train on.
    pub train_labelled: SplitCount,
    pub validation: SplitCount,
    pub test_plus: SplitCount,
    pub test_21: SplitCount,
    pub threshold_rule: ThresholdRule,
    pub scaling: Scaling,
}

impl Splits {
    pub const TRAIN: &'static str = "train.csv";
    pub const TRAIN_LABELLED: &'static str = "train-labelled.csv";
    pub const VALIDATION: &'static str = "validation.csv";
    pub const TEST_PLUS: &'static str = "test.csv";
    pub const TEST_21: &'static str = "test-21.csv";
    pub const THRESHOLD_RULE: ThresholdRule = ThresholdRule::BestF1;
    pub const SCALING: Scaling = Scaling::MinMax;
}

pub fn locate(data_dir: Option<&Path>) -> Result<Sources> {
    let dirs = dataset_dirs(data_dir, "nsl-kdd");
    Ok(Sources {
        train: find(&TRAIN_20_PERCENT, &dirs)?,
        test_plus: find(&TEST_PLUS, &dirs)?,
        test_21: find(&TEST_21, &dirs)?,
    })
}

fn find(file: &Release, dirs: &[PathBuf]) -> Result<PathBuf> {
    for dir in dirs {
        let gz = dir.join(format!("{}.gz", file.name));
        if gz.is_file() {
            verify(&gz, file.gz_sha256)?;
            return Ok(gz);
        }
        let plain = dir.join(file.name);
        if plain.is_file() {
            return Ok(plain);
        }
    }
    let looked = if dirs.is_empty() {
        "nowhere: no --data-dir, DEVIANT_DATA_DIR or DEVIANT_DATASETS".to_string()
    } else {
        dirs.iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(Error::config(
        "data_dir",
        format!(
            "NSL-KDD file {name} (or {name}.gz) not found (looked in {looked}); it is not \
         downloaded automatically: get KDDTrain+_20Percent.txt, KDDTest+.txt and \
         KDDTest-21.txt from the Canadian Institute for Cybersecurity's NSL-KDD page, put them \
         into a folder and pass --data-dir FOLDER",
            name = file.name
        ),
    ))
}

/// Writes `train.csv`, `validation.csv`, `test.csv`, `test-21.csv` and `protocol.json`.
pub fn write_protocol(
    sources: &Sources,
    seed: u64,
    out: &Path,
    progress: &dyn Progress,
) -> Result<Splits> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    progress.begin("nslkdd: reading", 0);
    // Each row ends in the difficulty level, which is not a feature.
    let train = read_records(&sources.train, 1)?;
    let test_plus = read_records(&sources.test_plus, 1)?;
    let test_21 = read_records(&sources.test_21, 1)?;
    progress.finish();
    let columns: Vec<usize> = (0..FEATURES.len()).collect();
    let is_anomaly = |label: &str| label != NORMAL;
    let (validation, fit) =
        split_fraction((0..train.len()).collect(), VALIDATION_SHARE, &mut rng(seed));
    let mut labelled = fit;
    labelled.sort_unstable();
    let fit: Vec<usize> = labelled
        .iter()
        .copied()
        .filter(|&i| train[i].label == NORMAL)
        .collect();
    let mut validation = validation;
    validation.sort_unstable();
    let all = |n: usize| (0..n).collect::<Vec<_>>();
    let splits = Splits {
        seed,
        train: write_split(&out.join(Splits::TRAIN), &columns, &train, &fit, is_anomaly)?,
        train_labelled: write_split(
            &out.join(Splits::TRAIN_LABELLED),
            &columns,
            &train,
            &labelled,
            is_anomaly,
        )?,
        validation: write_split(
            &out.join(Splits::VALIDATION),
            &columns,
            &train,
            &validation,
            is_anomaly,
        )?,
        test_plus: write_split(
            &out.join(Splits::TEST_PLUS),
            &columns,
            &test_plus,
            &all(test_plus.len()),
            is_anomaly,
        )?,
        test_21: write_split(
            &out.join(Splits::TEST_21),
            &columns,
            &test_21,
            &all(test_21.len()),
            is_anomaly,
        )?,
        threshold_rule: Splits::THRESHOLD_RULE,
        scaling: Splits::SCALING,
    };
    let json = serde_json::to_vec_pretty(&splits).map_err(Error::internal)?;
    write_bytes_atomic(&out.join("protocol.json"), &json)?;
    Ok(splits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use deviant_core::NoProgress;

    fn row(label: &str, i: usize) -> String {
        let mut fields: Vec<String> = (0..41).map(|j| ((i * 7 + j) % 13).to_string()).collect();
        fields[1] = "tcp".into();
        fields[2] = "http".into();
        fields[3] = "SF".into();
        fields.push(label.into());
        fields.push("21".into());
        fields.join(",")
    }

    #[test]
    fn writes_the_protocol_from_plain_files() {
        let dir = tempfile::tempdir().unwrap();
        let lines = |n: usize| -> String {
            (0..n)
                .map(|i| row(if i % 3 == 0 { "neptune" } else { NORMAL }, i) + "\n")
                .collect()
        };
        for (name, n) in [
            (TRAIN_20_PERCENT.name, 100),
            (TEST_PLUS.name, 30),
            (TEST_21.name, 12),
        ] {
            std::fs::write(dir.path().join(name), lines(n)).unwrap();
        }
        let sources = locate(Some(dir.path())).unwrap();
        let out = dir.path().join("out");
        let splits = write_protocol(&sources, 1, &out, &NoProgress).unwrap();
        assert_eq!(splits.validation.rows, 20);
        assert_eq!(splits.train.anomalies, 0, "train keeps only normal rows");
        assert_eq!(
            splits.train.rows + splits.validation.rows - splits.validation.anomalies,
            66
        );
        assert_eq!(
            (splits.test_plus.rows, splits.test_plus.anomalies),
            (30, 10)
        );
        assert_eq!(splits.test_21.rows, 12);
        let header = std::fs::read_to_string(out.join(Splits::TEST_21)).unwrap();
        let header = header.lines().next().unwrap();
        assert!(header.starts_with("duration,protocol_type") && header.ends_with(",label"));
        assert_eq!(header.split(',').count(), 42, "difficulty dropped");
    }

    #[test]
    fn missing_files_name_the_file_and_the_remedy() {
        let dir = tempfile::tempdir().unwrap();
        let err = locate(Some(dir.path())).unwrap_err().to_string();
        assert!(
            err.contains("KDDTrain+_20Percent.txt") && err.contains("--data-dir"),
            "{err}"
        );
    }

    #[test]
    fn rows_of_the_wrong_width_are_refused_with_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TEST_PLUS.name);
        std::fs::write(&path, format!("{}\n1,2,3\n", row(NORMAL, 0))).unwrap();
        let err = read_records(&path, 1).err().unwrap().to_string();
        assert!(err.contains("line 2 has 3 fields where 43"), "{err}");
    }
}
