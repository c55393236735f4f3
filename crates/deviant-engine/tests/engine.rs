//! The engine end to end: old models still load, thresholds behave as their type says,
//! budgets stop fits without leaving threads, and every protocol's trial is a saveable model.

use std::path::Path;

use deviant_core::record::EvalRecord;
use deviant_core::{Error, FitContext, Scoring, Threshold, ThresholdRule};
use deviant_data::{ReadOptions, TableReader};
use deviant_engine::protocols::Adbench;
use deviant_engine::{Model, NoObserver, Protocol, Splits, Study, Trial, run_trial};
use serde_json::json;

mod common;

use common::{config, holdout, planted};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

#[test]
fn a_format_1_model_loads_scores_as_it_did_and_is_saved_in_the_current_format() {
    let dir = Path::new(FIXTURES).join("pca-top20-format1");
    let model = Model::load(&dir).unwrap();
    assert_eq!(
        model.manifest.threshold,
        Threshold::PerBatch { percent: 20.0 }
    );
    let rows = Path::new(FIXTURES).join("pca-top20-format1-rows.csv");
    let table = TableReader::open(&rows, &ReadOptions::default(), &model.manifest.schema)
        .unwrap()
        .read_all()
        .unwrap();
    let data = model.prepare(&table).unwrap();
    let scored = model.score(&data, Scoring::Batch).unwrap();
    // What the version that wrote the model printed for these rows.
    let expected =
        std::fs::read_to_string(Path::new(FIXTURES).join("pca-top20-format1-scores.csv")).unwrap();
    for ((line, score), flag) in expected
        .lines()
        .skip(1)
        .zip(&scored.scores)
        .zip(&scored.flags)
    {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields[1].parse::<f32>().unwrap(), *score, "{line}");
        assert_eq!(fields[2] == "1", *flag, "{line}");
    }
    let err = model.score(&data, Scoring::Rows).unwrap_err().to_string();
    assert!(
        err.contains("top:20") && err.contains("contamination:0.2"),
        "{err}"
    );

    let copy = tempfile::tempdir().unwrap();
    model.save(copy.path()).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(copy.path().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["format_version"], 2);
    assert_eq!(manifest["threshold"]["mode"], "per_batch");
    let again = Model::load(copy.path()).unwrap();
    assert_eq!(again.score_raw(&data).unwrap(), scored.scores);
}

#[test]
fn a_hand_edited_threshold_is_a_format_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let source = Path::new(FIXTURES).join("pca-top20-format1");
    for name in ["manifest.json", "pca.json"] {
        std::fs::copy(source.join(name), dir.path().join(name)).unwrap();
    }
    let path = dir.path().join("manifest.json");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace(r#""rule": "top_percent""#, r#""rule": "best_f1""#);
    std::fs::write(&path, text).unwrap();
    let err = Model::load(dir.path()).err().expect("refused");
    assert!(matches!(err, Error::Format { .. }), "{err}");
    assert!(err.to_string().contains("has no value"), "{err}");
}

#[test]
fn a_fixed_threshold_flags_rows_alone_as_in_their_batch() {
    let data = planted(300, 4, 1);
    let protocol = holdout(&data, Some(ThresholdRule::Contamination { fraction: 0.1 }));
    let splits = protocol.splits(1, &deviant_core::NoProgress).unwrap();
    let iforest = config("iforest", json!({"n_trees": 50}));
    let trial = Trial {
        config: &iforest,
        seed: 1,
        budget: None,
    };
    let outcome = run_trial(&splits, &trial, &FitContext::new(0)).unwrap();
    let test = &outcome.tests[0];
    let model = &outcome.model;
    let alone: Vec<bool> = (0..test.data.n_rows())
        .map(|i| {
            let row = test.data.select(&[i]);
            model.score(&row, Scoring::Rows).unwrap().flags[0]
        })
        .collect();
    assert_eq!(alone, test.scored.flags);
    assert!(test.evaluation.as_ref().unwrap().roc_auc > 0.9);
}

#[test]
fn an_adbench_trial_is_a_model_that_saves_loads_and_scores_the_same() {
    let data = planted(400, 5, 3);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("7_planted.npz");
    let mut npz = ndarray_npy::NpzWriter::new(std::fs::File::create(&path).unwrap());
    npz.add_array("X", &data.x.mapv(f64::from)).unwrap();
    npz.add_array("y", &data.labels.as_ref().unwrap().mapv(i64::from))
        .unwrap();
    npz.finish().unwrap();
    let protocol = Adbench::open("planted", &path).unwrap();
    let splits: Splits = protocol.splits(1, &deviant_core::NoProgress).unwrap();
    assert!(
        splits.fit.labels.is_none(),
        "the detector fits without labels"
    );
    let ecod = config("ecod", json!({}));
    let trial = Trial {
        config: &ecod,
        seed: 1,
        budget: None,
    };
    let outcome = run_trial(&splits, &trial, &FitContext::new(0)).unwrap();
    let saved = dir.path().join("model");
    outcome.model.save(&saved).unwrap();
    let loaded = Model::load(&saved).unwrap();
    let test = &outcome.tests[0];
    let again = loaded
        .score(
            &loaded.prepare(&splits.report[0].rows).unwrap(),
            Scoring::Rows,
        )
        .unwrap();
    assert_eq!(again.scores, test.scored.scores);
    assert_eq!(again.flags, test.scored.flags);
    let records = outcome.records("adbench", "ecod");
    assert_eq!(records[0].threshold_rule, "contamination:0.1 on train");
}

#[test]
fn a_study_names_configurations_apart_keeps_their_parameters_and_skips_failures() {
    let data = planted(300, 4, 4);
    let protocol = holdout(&data, None);
    let configs = [
        config("knn", json!({"k": 3})),
        config("knn", json!({"k": 8})),
        config("lof", json!({"k": 100000})),
    ];
    let seeds = [1, 2];
    let run = |workers| {
        let mut study = Study::new(vec![&protocol as &dyn Protocol], &configs, &seeds);
        study.skip_failures = true;
        study.workers = workers;
        study.run(&mut NoObserver).unwrap()
    };
    let one = run(1);
    assert_eq!(
        deviant_engine::config_labels(&configs),
        vec!["knn (k=3)", "knn (k=8)", "lof"]
    );
    let names: Vec<&str> = one.records.iter().map(|r| r.detector.as_str()).collect();
    assert_eq!(names, ["knn (k=3)", "knn (k=8)", "knn (k=3)", "knn (k=8)"]);
    assert_eq!(one.records[1].params["k"], 8);
    assert_eq!(one.skipped.len(), 2);
    assert!(
        one.skipped[0].reason.contains("k = 100000"),
        "{}",
        one.skipped[0].reason
    );
    let two = run(2);
    let aucs = |records: &[EvalRecord]| records.iter().map(|r| r.roc_auc).collect::<Vec<_>>();
    assert_eq!(aucs(&one.records), aucs(&two.records));
}
