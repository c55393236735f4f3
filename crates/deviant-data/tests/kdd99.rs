//! The KDD Cup 99 recipes on the real files: row and class counts of every split. The files
//! come from `$DEVIANT_DATASETS/kddcup99` or the project's `shared/datasets` folder beside the
//! checkout; without them the test says so and passes.

use std::path::{Path, PathBuf};

use deviant_core::NoProgress;
use deviant_data::kdd99::{Protocol, ProtocolSplits, Sources, SplitCount, write_protocol};

fn sources() -> Option<Sources> {
    let root = std::env::var_os("DEVIANT_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets"));
    let dir = root.join("kddcup99");
    let sources = Sources {
        train_10_percent: dir.join("kddcup.data_10_percent.gz"),
        corrected: dir.join("corrected.gz"),
    };
    if sources.train_10_percent.is_file() && sources.corrected.is_file() {
        Some(sources)
    } else {
        eprintln!("skipped: no KDD Cup 99 files in {}", dir.display());
        None
    }
}

/// Counts the rows and `1` labels of a written CSV, checking its column count.
fn count_csv(path: &Path, columns: usize) -> SplitCount {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header.len(), columns, "{}", path.display());
    assert_eq!(header.last(), Some(&"label"));
    let (mut rows, mut anomalies) = (0, 0);
    for line in lines {
        rows += 1;
        match line.rsplit_once(',').unwrap().1 {
            "1" => anomalies += 1,
            "0" => {}
            other => panic!("label {other} in {}", path.display()),
        }
    }
    SplitCount { rows, anomalies }
}

fn write(protocol: Protocol, seed: u64) -> Option<(tempfile::TempDir, ProtocolSplits)> {
    let sources = sources()?;
    let dir = tempfile::tempdir().unwrap();
    let splits = write_protocol(&sources, protocol, seed, dir.path(), &NoProgress).unwrap();
    Some((dir, splits))
}

#[test]
fn cloudera_trains_on_normal_rows_and_tests_on_8000_plus_2000() {
    let Some((dir, splits)) = write(Protocol::Cloudera, 1) else {
        return;
    };
    // 18 features and the label.
    let count = |name| count_csv(&dir.path().join(name), 19);
    let train = SplitCount {
        rows: 97_278,
        anomalies: 0,
    };
    // 20 % of each class of `corrected` (60,593 normal, 250,436 attack rows).
    let validation = SplitCount {
        rows: 12_119 + 50_087,
        anomalies: 50_087,
    };
    let test = SplitCount {
        rows: 10_000,
        anomalies: 2_000,
    };
    assert_eq!(
        (splits.train, splits.validation, splits.test),
        (train, Some(validation), test)
    );
    assert_eq!(count(ProtocolSplits::TRAIN), train);
    assert_eq!(count(ProtocolSplits::VALIDATION), validation);
    assert_eq!(count(ProtocolSplits::TEST), test);
}

#[test]
fn dagmm_halves_the_10_percent_file_and_trains_on_attack_rows_only() {
    let Some((dir, splits)) = write(Protocol::Dagmm, 1) else {
        return;
    };
    let count = |name| count_csv(&dir.path().join(name), 42);
    assert_eq!(splits.validation, None);
    assert_eq!(splits.train.anomalies, 0);
    assert_eq!(splits.test.rows, 247_010);
    // The 97,278 `normal.` rows are the anomalies: those not in test were in the train half
    // (247,011 rows) and were removed from it.
    let normal_in_train_half = 97_278 - splits.test.anomalies;
    assert_eq!(splits.train.rows, 247_011 - normal_in_train_half);
    assert!((0.18..0.22).contains(&(splits.test.anomalies as f64 / 247_010.0)));
    assert_eq!(count(ProtocolSplits::TRAIN), splits.train);
    assert_eq!(count(ProtocolSplits::TEST), splits.test);
    assert!(!dir.path().join(ProtocolSplits::VALIDATION).exists());

    // Seeded: the same seed gives the same split, another seed another.
    let (_, again) = write(Protocol::Dagmm, 1).unwrap();
    assert_eq!(again, splits);
    let (_, other) = write(Protocol::Dagmm, 2).unwrap();
    assert_ne!(other.test, splits.test);
}

#[test]
fn alad_splits_80_20_and_holds_out_a_quarter_of_training_for_validation() {
    let Some((dir, splits)) = write(Protocol::Alad, 1) else {
        return;
    };
    let count = |name| count_csv(&dir.path().join(name), 42);
    let validation = splits.validation.unwrap();
    assert_eq!(splits.test.rows, 98_804);
    assert_eq!((splits.train.anomalies, validation.anomalies), (0, 0));
    // 395,217 training-part rows less their `normal.` rows, split 75/25.
    let attacks_in_training_part = 395_217 - (97_278 - splits.test.anomalies);
    assert_eq!(
        splits.train.rows + validation.rows,
        attacks_in_training_part
    );
    let held_out = validation.rows as f64 / attacks_in_training_part as f64;
    assert!((0.24..0.26).contains(&held_out), "{held_out}");
    assert_eq!(count(ProtocolSplits::TRAIN), splits.train);
    assert_eq!(count(ProtocolSplits::VALIDATION), validation);
    assert_eq!(count(ProtocolSplits::TEST), splits.test);
}

#[test]
fn alibi_tests_on_1000_row_batches_with_5_and_10_percent_attacks() {
    let Some((dir, splits)) = write(Protocol::Alibi, 1) else {
        return;
    };
    let count = |name| count_csv(&dir.path().join(name), 19);
    let train = SplitCount {
        rows: 97_278 - 950 - 900,
        anomalies: 0,
    };
    let validation = SplitCount {
        rows: 1_000,
        anomalies: 50,
    };
    let test = SplitCount {
        rows: 1_000,
        anomalies: 100,
    };
    assert_eq!(
        (splits.train, splits.validation, splits.test),
        (train, Some(validation), test)
    );
    assert_eq!(count(ProtocolSplits::TRAIN), train);
    assert_eq!(count(ProtocolSplits::VALIDATION), validation);
    assert_eq!(count(ProtocolSplits::TEST), test);
}
