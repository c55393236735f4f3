//! Model selection end to end: what it may read, what it chooses, its budget, and that the
//! chosen model is an ordinary model directory.

use std::time::Duration;

use deviant_core::metrics::roc_auc;
use deviant_core::{FitContext, NoProgress, Scoring};
use deviant_detectors::AnyConfig;
use deviant_engine::select::{SelectOptions, select};
use deviant_engine::{Model, NoObserver, Protocol, Splits};

mod common;

use common::{holdout, planted};

fn splits(rows: usize, features: usize) -> Splits {
    holdout(&planted(rows, features, 5), None)
        .splits(1, &NoProgress)
        .unwrap()
}

fn options(budget: Duration) -> SelectOptions {
    SelectOptions {
        budget,
        members: 3,
        deep: false,
        ..SelectOptions::default()
    }
}

fn test_auc(model: &Model, splits: &Splits) -> f64 {
    let rows = &splits.report[0].rows;
    let scores = model
        .score(&model.prepare(rows).unwrap(), Scoring::Batch)
        .unwrap()
        .scores;
    roc_auc(&scores, rows.labels.as_ref().unwrap()).unwrap()
}

/// The message `select` refuses `splits` with.
fn refusal(splits: &Splits) -> String {
    let options = options(Duration::from_secs(30));
    match select(splits, &options, &FitContext::new(1), &mut NoObserver) {
        Ok(_) => panic!("a leak is refused"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn selection_refuses_splits_whose_report_rows_it_could_read() {
    let mut leaky = splits(600, 4);
    leaky.select = Some(leaky.report[0].rows.clone());
    let err = refusal(&leaky);
    assert!(err.contains("report row and also a select row"), "{err}");

    let mut leaky = splits(600, 4);
    let report = leaky.report[0].rows.clone();
    leaky.fit = report.select(&[0, 1, 2]);
    leaky.fit.source = report.source.clone();
    let err = refusal(&leaky);
    assert!(err.contains("also a fit row"), "{err}");

    // Learners train on the labelled rows: report rows there are a leak too.
    let mut leaky = splits(600, 4);
    leaky.labelled = Some(leaky.report[0].rows.clone());
    let err = refusal(&leaky);
    assert!(err.contains("also a labelled training row"), "{err}");
}

#[test]
fn without_labels_an_ensemble_is_chosen_and_scores_the_same_after_reload() {
    let mut splits = splits(1_500, 6);
    splits.threshold = None;
    splits.threshold_rule = deviant_core::ThresholdRule::Contamination { fraction: 0.1 };
    let selection = select(
        &splits,
        &options(Duration::from_secs(120)),
        &FitContext::new(1),
        &mut NoObserver,
    )
    .unwrap();
    assert_eq!(selection.strategy, "fixed order");
    let AnyConfig::Ensemble(ensemble) = &selection.model.manifest.detector else {
        panic!("an ensemble, not {:?}", selection.model.manifest.detector)
    };
    assert_eq!(ensemble.members.len(), 3);
    assert_eq!(selection.leaderboard.iter().filter(|a| a.chosen).count(), 3);
    assert!(test_auc(&selection.model, &splits) > 0.95);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model");
    selection.model.save(&path).unwrap();
    let loaded = Model::load(&path).unwrap();
    let rows = &splits.report[0].rows;
    let before = selection
        .model
        .score(&selection.model.prepare(rows).unwrap(), Scoring::Batch);
    let after = loaded.score(&loaded.prepare(rows).unwrap(), Scoring::Batch);
    assert_eq!(before.unwrap().scores, after.unwrap().scores);
}

#[test]
fn with_labelled_select_rows_candidates_compete_on_them() {
    // The labelled validation rows choose (and set the threshold).
    let splits = splits(1_500, 6);
    let selection = select(
        &splits,
        &options(Duration::from_secs(120)),
        &FitContext::new(1),
        &mut NoObserver,
    )
    .unwrap();
    assert_eq!(selection.strategy, "labelled rows");
    let scored: Vec<f64> = selection
        .leaderboard
        .iter()
        .filter_map(|a| a.select_roc_auc)
        .collect();
    assert!(scored.len() > 10, "{} candidates scored", scored.len());
    let best = scored.iter().copied().fold(f64::MIN, f64::max);
    let chosen = selection
        .leaderboard
        .iter()
        .filter(|a| a.chosen)
        .filter_map(|a| a.select_roc_auc)
        .fold(f64::MIN, f64::max);
    assert_eq!(chosen, best, "the chosen model has the best objective");
    assert!(test_auc(&selection.model, &splits) > 0.95);
    // The labelled training rows are apart from the validation rows that choose, so the
    // supervised learners compete beside the detectors, each marked as using labels.
    let learners: Vec<&str> = selection
        .leaderboard
        .iter()
        .filter(|a| a.supervised && a.select_roc_auc.is_some())
        .map(|a| a.config.kind())
        .collect();
    for kind in ["gbt", "random_forest", "logistic"] {
        assert!(learners.contains(&kind), "{kind} not among {learners:?}");
    }
    assert!(
        selection
            .leaderboard
            .iter()
            .any(|a| !a.supervised && a.select_roc_auc.is_some())
    );
}

#[test]
fn without_labelled_training_rows_no_learner_is_tried() {
    let mut splits = splits(1_000, 4);
    splits.labelled = None;
    let selection = select(
        &splits,
        &options(Duration::from_secs(60)),
        &FitContext::new(1),
        &mut NoObserver,
    )
    .unwrap();
    assert!(selection.leaderboard.iter().all(|a| !a.supervised));
}
