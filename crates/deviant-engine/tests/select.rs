//! Model selection end to end: what it may read, what it chooses, its budget, and that the
//! chosen model is an ordinary model directory.

use std::time::Duration;

use deviant_core::metrics::roc_auc;
use deviant_core::{FitContext, NoProgress, Scoring};
use deviant_detectors::AnyConfig;
use deviant_engine::select::{
    CandidateFit, FitResult, FitRunner, SearchRows, SelectOptions, select, select_with,
};
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

/// Fits as a cluster's tasks would: from the rows' bytes, each round's fits in any order.
struct Elsewhere {
    rounds: usize,
    fits: usize,
}

impl FitRunner for Elsewhere {
    fn run(
        &mut self,
        rows: &SearchRows,
        fits: &[CandidateFit],
    ) -> deviant_core::Result<Vec<FitResult>> {
        let shipped = SearchRows::from_bytes(&rows.to_bytes()?)?;
        self.rounds += 1;
        self.fits += fits.len();
        let mut results: Vec<(usize, FitResult)> = fits
            .iter()
            .enumerate()
            .rev()
            .map(|(i, fit)| Ok((i, shipped.fit(fit, &FitContext::new(99))?.1)))
            .collect::<deviant_core::Result<_>>()?;
        results.sort_by_key(|&(i, _)| i);
        Ok(results.into_iter().map(|(_, r)| r).collect())
    }
}

#[test]
fn fits_run_elsewhere_choose_what_fits_run_here_choose() {
    // With labels (two rounds of halving) and without (rounds of the best-placed kinds).
    let labelled = splits(12_000, 5);
    assert!(
        labelled.fit.lines.len() > 4_096,
        "a first round on a subsample"
    );
    let mut unlabelled = splits(1_500, 5);
    unlabelled.threshold = None;
    unlabelled.threshold_rule = deviant_core::ThresholdRule::Contamination { fraction: 0.1 };
    for (splits, rounds) in [(labelled, 2), (unlabelled, 1)] {
        let options = options(Duration::from_secs(300));
        let cx = FitContext::new(7);
        let here = select(&splits, &options, &cx, &mut NoObserver).unwrap();
        let mut elsewhere = Elsewhere { rounds: 0, fits: 0 };
        let there = select_with(
            &splits,
            &options,
            &cx,
            &mut NoObserver,
            Some(&mut elsewhere),
        )
        .unwrap();
        assert_eq!(elsewhere.rounds, rounds);
        assert!(elsewhere.fits >= 3);
        assert_eq!(here.strategy, there.strategy);
        assert_eq!(here.model.manifest.detector, there.model.manifest.detector);
        let chosen = |s: &deviant_engine::select::Selection| -> Vec<(String, Option<f64>)> {
            let mut c: Vec<_> = s
                .leaderboard
                .iter()
                .filter(|a| a.chosen)
                .map(|a| (a.label.clone(), a.select_roc_auc))
                .collect();
            c.sort_by(|a, b| a.0.cmp(&b.0));
            c
        };
        assert_eq!(chosen(&here), chosen(&there));
        let rows = &splits.report[0].rows;
        let score = |m: &Model| m.score(&m.prepare(rows).unwrap(), Scoring::Batch).unwrap();
        assert_eq!(score(&here.model).scores, score(&there.model).scores);
    }
}

#[test]
fn a_label_column_of_one_class_selects_as_if_unlabelled() {
    let mut data = common::planted(500, 3, 2);
    data.labels = Some(ndarray::Array1::zeros(500));
    let table = deviant_data::Table::from_dataset(&data, "normal.csv");
    let schema = deviant_core::Schema::numeric(&data.feature_names);
    let preprocess = deviant_data::PreprocessOptions::default();
    let splits = Splits::for_selection(schema, preprocess, None, table, 0.2, 1).unwrap();
    assert!(splits.select.is_none() && splits.threshold.is_none());
    assert_eq!(splits.fit.n_rows(), 500);
    assert_eq!(
        splits.threshold_rule,
        deviant_core::ThresholdRule::default_for(false)
    );
}

#[test]
fn rows_of_a_partly_labelled_file_with_an_empty_label_only_train() {
    let data = common::planted(500, 3, 2);
    let mut table = deviant_data::Table::from_dataset(&data, "partly.csv");
    let labels = table.labels.clone().unwrap();
    // Every fifth row keeps its label; the others' label cells are empty.
    table.classes = Some(
        (0..500)
            .map(|r| match (r % 5, labels[r]) {
                (0, 1) => "attack".to_string(),
                (0, _) => "normal".to_string(),
                _ => String::new(),
            })
            .collect(),
    );
    let labelled: Vec<u64> = (0..500)
        .filter(|r| r % 5 == 0)
        .map(|r| table.lines[r])
        .collect();
    let schema = deviant_core::Schema::numeric(&data.feature_names);
    let preprocess = deviant_data::PreprocessOptions::default();
    let splits = Splits::for_selection(schema, preprocess, None, table, 0.5, 1).unwrap();
    let select = splits.select.as_ref().expect("labelled rows choose");
    let learners = splits.labelled.as_ref().unwrap();
    assert_eq!(
        select.n_rows() + learners.n_rows(),
        100,
        "only labelled rows choose or teach"
    );
    assert!(
        select
            .lines
            .iter()
            .chain(&learners.lines)
            .all(|l| labelled.contains(l))
    );
    assert_eq!(
        splits.fit.n_rows(),
        500 - select.n_rows(),
        "every row that does not choose trains"
    );
    assert!(splits.fit.lines.iter().all(|l| !select.lines.contains(l)));
    assert!(splits.fit.labels.is_none());
}
