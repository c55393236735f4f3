//! Cross-validation on a protocol's labelled training rows: how a benchmark chooses among
//! configurations with labels without looking at a report set.

use deviant_core::metrics::roc_auc;
use deviant_core::split::{rng, stratified_folds};
use deviant_core::{Error, FitContext, Result, ThresholdRule};
use deviant_detectors::AnyConfig;

use crate::model::{Model, TrainSpec};
use crate::protocol::Splits;

/// The mean ROC AUC of `config` over `folds` stratified folds of `splits.labelled`: each
/// fold is scored by a model fitted (with its own preprocessor) on the other folds. Folds
/// are drawn from `cx.seed`.
pub fn cross_validated_auc(
    splits: &Splits,
    config: &AnyConfig,
    folds: usize,
    cx: &FitContext,
) -> Result<f64> {
    let rows = splits.labelled.as_ref().ok_or_else(|| {
        Error::config(
            "folds",
            "cross-validation needs labelled training rows, and this protocol has none",
        )
    })?;
    let labels = rows.labels.as_deref().unwrap_or_default();
    let anomalies = labels.iter().filter(|&&l| l == 1).count();
    if folds < 2 || anomalies < folds || labels.len() - anomalies < folds {
        return Err(Error::config(
            "folds",
            format!(
                "{folds} folds need at least 2 and as many rows of each class, and {} has {} \
                 anomalies among {} rows",
                rows.source,
                anomalies,
                labels.len()
            ),
        ));
    }
    let all: Vec<usize> = (0..labels.len()).collect();
    let dealt = stratified_folds(&all, labels, folds, &mut rng(cx.seed));
    let mut total = 0.0;
    for (k, held) in dealt.iter().enumerate() {
        let rest: Vec<usize> = dealt
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != k)
            .flat_map(|(_, fold)| fold.iter().copied())
            .collect();
        let model = Model::train(
            TrainSpec {
                config,
                schema: &splits.schema,
                preprocess: splits.preprocess,
                fit: &rows.select(&rest),
                threshold_rows: None,
                // The threshold plays no part in a ROC AUC; this rule needs no labels.
                threshold: ThresholdRule::default_for(false),
            },
            cx,
        )?;
        let held = rows.select(held);
        let scores = model.score_raw(&model.prepare(&held)?)?;
        let held_labels = held.labels.as_deref().expect("selected from labelled rows");
        total += roc_auc(&scores, held_labels)?;
    }
    Ok(total / folds as f64)
}
