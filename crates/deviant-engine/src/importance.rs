//! Feature importance in the user's own columns.
//!
//! - **Permutation importance** (Breiman 2001; Fisher, Rudin & Dominici 2019) for any model:
//!   one raw column at a time is shuffled among the rows (seeded), the rows go through the
//!   model's preprocessor and detector, and the drop in ROC AUC is the column's importance.
//!   Shuffling the raw column moves a one-hot group as one feature.
//! - **The learner's own** importances (impurity decrease, gain, |weight|), where it has
//!   them, summed over each user column's outputs.

use deviant_core::metrics::roc_auc;
use deviant_core::record::{ColumnImportance, mean_std};
use deviant_core::split::{rng, shuffled};
use deviant_core::{Error, Result};
use deviant_data::Table;
use deviant_data::table::ColumnData;

use crate::model::Model;

/// The importance of each of `model`'s input columns on the labelled `rows`, most important
/// first: `repeats` shuffles per column, drawn from `seed`.
pub fn permutation_importance(
    model: &Model,
    rows: &Table,
    repeats: usize,
    seed: u64,
) -> Result<Vec<ColumnImportance>> {
    let labels = rows
        .labels
        .as_deref()
        .filter(|l| l.contains(&0) && l.contains(&1))
        .ok_or_else(|| {
            Error::input(
                "feature importance",
                format!(
                    "{} needs labelled rows of both classes to measure a drop in ROC AUC",
                    rows.source
                ),
            )
        })?;
    let auc_of = |table: &Table| roc_auc(&model.score_raw(&model.prepare(table)?)?, labels);
    let base = auc_of(rows)?;
    let own = own_importances(model);
    let names = model
        .manifest
        .schema
        .features
        .iter()
        .map(|c| c.name.clone());
    let mut rng = rng(seed);
    // One copy whose column `j` is swapped for its shuffles and put back after them.
    let mut shuffled_rows = rows.clone();
    let mut out = Vec::with_capacity(rows.columns.len());
    for (j, name) in names.enumerate() {
        let mut drops = Vec::with_capacity(repeats.max(1));
        for _ in 0..repeats.max(1) {
            let order = shuffled((0..rows.n_rows()).collect(), &mut rng);
            shuffled_rows.columns[j] = match &rows.columns[j] {
                ColumnData::Numeric(v) => {
                    ColumnData::Numeric(order.iter().map(|&i| v[i]).collect())
                }
                ColumnData::Categorical(v) => {
                    ColumnData::Categorical(order.iter().map(|&i| v[i].clone()).collect())
                }
            };
            drops.push(base - auc_of(&shuffled_rows)?);
        }
        shuffled_rows.columns[j] = rows.columns[j].clone();
        let (mean, std) = mean_std(&drops);
        out.push(ColumnImportance {
            column: name,
            roc_auc_drop: mean,
            std,
            own: own.as_ref().map(|o| o[j]),
        });
    }
    out.sort_by(|a, b| b.roc_auc_drop.total_cmp(&a.roc_auc_drop));
    Ok(out)
}

/// The detector's own importances summed per input column, when it has them.
fn own_importances(model: &Model) -> Option<Vec<f64>> {
    let per_output = model.detector.feature_importances()?;
    let sources = model.manifest.preprocessor.output_sources();
    let mut per_column = vec![0.0; model.manifest.schema.features.len()];
    for (v, &column) in per_output.iter().zip(&sources) {
        per_column[column] += v;
    }
    Some(per_column)
}
