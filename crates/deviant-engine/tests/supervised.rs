//! Supervised learners in the engine: they train on the labelled rows and keep a share back
//! for their threshold, records say they used labels and carry train metrics, feature
//! importance finds a planted column, and cross-validation measures on training rows only.

use deviant_core::{Dataset, FitContext};
use deviant_engine::classes::ClassModels;
use deviant_engine::crossval::cross_validated_auc;
use deviant_engine::importance::permutation_importance;
use deviant_engine::{Protocol, Splits, TrainSpec, Trial, TrialOutcome, run_trial};
use ndarray::{Array1, Array2};
use rand::Rng;
use serde_json::json;

mod common;

use common::{config, holdout, planted};

/// Six columns of noise but one, `x2`, which alone tells the anomalies (a tenth) apart.
fn one_informative_column(n: usize, seed: u64) -> Dataset {
    let mut rng = deviant_core::split::rng(seed);
    let labels = Array1::from_shape_fn(n, |i| u8::from(i % 10 == 0));
    let x = Array2::from_shape_fn((n, 6), |(i, j)| {
        let noise: f32 = rng.random::<f32>() * 2.0 - 1.0;
        match j == 2 && labels[i] == 1 {
            true => noise + 2.5,
            false => noise,
        }
    });
    Dataset::new(x, Some(labels))
}

/// `kind` at its defaults fitted on seed 1 of `splits`.
fn trial(splits: &Splits, kind: &str) -> deviant_core::Result<TrialOutcome> {
    let config = config(kind, json!({}));
    let trial = Trial {
        config: &config,
        seed: 1,
        budget: None,
    };
    run_trial(splits, &trial, &FitContext::new(0))
}

#[test]
fn permutation_importance_ranks_the_planted_column_first_on_train_and_test() {
    let data = one_informative_column(1500, 1);
    let splits = holdout(&data, None)
        .splits(1, &deviant_core::NoProgress)
        .unwrap();
    for kind in ["gbt", "random_forest", "logistic"] {
        let outcome = trial(&splits, kind).unwrap();
        let train = splits.labelled.as_ref().unwrap();
        let test = &splits.report[0].rows;
        for (name, rows) in [("train", train), ("test", test)] {
            let importance = permutation_importance(&outcome.model, rows, 3, 7).unwrap();
            assert_eq!(importance.len(), 6);
            assert_eq!(
                importance[0].column, "x2",
                "{kind} on {name}: {importance:?}"
            );
            assert!(
                importance[0].roc_auc_drop > 0.2,
                "{kind} on {name}: {importance:?}"
            );
            assert!(
                importance[1].roc_auc_drop < 0.05,
                "{kind} on {name}: {importance:?}"
            );
            let own = importance[0]
                .own
                .expect("these learners have their own importances");
            assert!(own > 0.5, "{kind}: own importance of x2 {own}");
        }
    }
}

#[test]
fn importance_needs_rows_of_both_classes() {
    let data = one_informative_column(300, 2);
    let splits = holdout(&data, None)
        .splits(1, &deviant_core::NoProgress)
        .unwrap();
    let outcome = trial(&splits, "gbt").unwrap();
    let normal = splits.fit.clone();
    let err = permutation_importance(&outcome.model, &normal, 1, 1).unwrap_err();
    assert!(err.to_string().contains("both classes"), "{err}");
}

#[test]
fn a_learner_trains_on_labels_and_its_record_says_so_beside_a_detector() {
    let data = planted(800, 5, 3);
    let splits = holdout(&data, None)
        .splits(1, &deviant_core::NoProgress)
        .unwrap();
    for (kind, supervised) in [("gbt", true), ("iforest", false)] {
        let outcome = trial(&splits, kind).unwrap();
        let record = &outcome.records("holdout", kind)[0];
        assert_eq!(record.supervised, supervised, "{kind}");
        let train = record
            .train
            .as_ref()
            .expect("labelled training rows are measured");
        assert!(train.roc_auc > 0.9, "{kind}: {train:?}");
        assert!(record.roc_auc > 0.9, "{kind}: {}", record.roc_auc);
        // A learner's training rows hold anomalies; a detector's hold none.
        let rows = outcome.model.manifest.training.rows;
        let normal = splits.fit.n_rows();
        assert_eq!(rows != normal, supervised, "{kind}: trained on {rows} rows");
    }
}

#[test]
fn a_learner_on_splits_without_labels_is_refused_with_the_remedy() {
    let mut data = planted(200, 3, 4);
    data.labels = None;
    let splits = holdout(&data, None)
        .splits(1, &deviant_core::NoProgress)
        .unwrap();
    let err = trial(&splits, "gbt").err().unwrap();
    assert!(err.to_string().contains("--label"), "{err}");
}

#[test]
fn cross_validation_measures_a_learner_on_the_training_rows() {
    let data = one_informative_column(1000, 5);
    let splits = holdout(&data, None)
        .splits(1, &deviant_core::NoProgress)
        .unwrap();
    let gbt = config("gbt", json!({}));
    let auc = cross_validated_auc(&splits, &gbt, 3, &FitContext::new(1)).unwrap();
    assert!(auc > 0.9, "cv auc {auc}");
    let err = cross_validated_auc(&splits, &gbt, 1000, &FitContext::new(1)).unwrap_err();
    assert!(err.to_string().contains("folds"), "{err}");
}

/// Three values of a label column: normal rows near 0, `dos` rows shifted in the first
/// column, `probe` rows in the second.
fn three_classes(n: usize, seed: u64) -> deviant_data::Table {
    let mut rng = deviant_core::split::rng(seed);
    let classes: Vec<String> = (0..n)
        .map(|i| ["normal", "normal", "dos", "probe"][i % 4].to_string())
        .collect();
    let x = Array2::from_shape_fn((n, 4), |(i, j)| {
        let noise: f32 = rng.random::<f32>() * 2.0 - 1.0;
        match (classes[i].as_str(), j) {
            ("dos", 0) | ("probe", 1) => noise + 3.0,
            _ => noise,
        }
    });
    let labels = Array1::from_iter(classes.iter().map(|c| u8::from(c != "normal")));
    let mut table = deviant_data::Table::from_dataset(&Dataset::new(x, Some(labels)), "three");
    table.classes = Some(classes);
    table
}

#[test]
fn one_learner_per_class_predicts_each_value_and_reloads() {
    let train = three_classes(1200, 6);
    let test = three_classes(400, 7);
    let schema =
        deviant_core::Schema::numeric(&(0..4).map(|j| format!("x{j}")).collect::<Vec<_>>());
    let forest = config("random_forest", json!({"n_trees": 30}));
    let spec = |config| TrainSpec {
        config,
        schema: &schema,
        preprocess: deviant_data::PreprocessOptions::default(),
        fit: &train,
        threshold_rows: None,
        threshold: deviant_core::ThresholdRule::default_for(false),
    };
    let models = ClassModels::train(spec(&forest), &FitContext::new(1)).unwrap();
    assert_eq!(models.classes, ["dos", "normal", "probe"]);
    let metrics = models.evaluate(&test).unwrap();
    for m in &metrics {
        assert!(m.f1 > 0.9, "{m:?}");
    }
    assert_eq!(metrics.iter().map(|m| m.support).sum::<usize>(), 400);
    let dir = tempfile::tempdir().unwrap();
    models.save(&dir.path().join("m")).unwrap();
    assert!(ClassModels::is_in(&dir.path().join("m")));
    let loaded = ClassModels::load(&dir.path().join("m")).unwrap();
    assert_eq!(
        loaded.predict(&test).unwrap(),
        models.predict(&test).unwrap()
    );

    // An unsupervised detector, or a label of two values, is refused with the remedy.
    let iforest = config("iforest", json!({}));
    let err = ClassModels::train(spec(&iforest), &FitContext::new(1))
        .err()
        .unwrap();
    assert!(err.to_string().contains("supervised learner"), "{err}");
    let mut binary = train.clone();
    binary.classes = binary
        .labels
        .as_ref()
        .map(|l| l.iter().map(u8::to_string).collect());
    let err = ClassModels::train(
        TrainSpec {
            fit: &binary,
            ..spec(&forest)
        },
        &FitContext::new(1),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("without --per-class"), "{err}");
}
