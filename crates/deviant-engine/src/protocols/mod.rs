//! The protocols deviant ships: each recipe of `deviant-data` as a [`Protocol`](crate::Protocol).

mod adbench;
mod ecg5000;
mod holdout;
mod images;
mod kdd;
mod nab;

pub use adbench::Adbench;
pub use ecg5000::Ecg5000;
pub use holdout::HoldOut;
pub use images::{DigitImages, ImageSet};
pub use kdd::{Kdd99, NslKdd};
pub use nab::NabWindows;

use deviant_core::schema::LabelSpec;
use deviant_core::{Dataset, Schema, ThresholdRule};
use deviant_data::{PreprocessOptions, Scaling, Table};

use crate::protocol::{ReportSet, Splits};

/// Flags for protocols without labels to choose by: the top 10 % of the training scores.
const UNSUPERVISED_RULE: ThresholdRule = ThresholdRule::Contamination { fraction: 0.1 };

/// Splits of matrices that never were a table: the detector fits `fit` unlabelled, the
/// threshold comes from its training scores, and `report` is scored as `dataset`. `label`
/// names the column files of this kind hold the label in, so the saved model reads them.
fn matrix_splits(
    fit: &Dataset,
    report: Vec<(String, Dataset)>,
    scaling: Scaling,
    label: Option<LabelSpec>,
) -> Splits {
    Splits {
        schema: Schema {
            label,
            ..Schema::numeric(&fit.feature_names)
        },
        preprocess: PreprocessOptions {
            scaling,
            impute: false,
        },
        threshold_rule: UNSUPERVISED_RULE,
        fit: Table::from_dataset(
            &Dataset {
                labels: None,
                ..fit.clone()
            },
            "training rows",
        ),
        threshold: None,
        select: None,
        labelled: None,
        report: report
            .into_iter()
            .map(|(dataset, data)| ReportSet {
                rows: Table::from_dataset(&data, &dataset),
                dataset,
            })
            .collect(),
    }
}
