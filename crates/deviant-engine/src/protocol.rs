//! What a protocol hands a trial: one seed's rows, each in its role.

use deviant_core::{Progress, Result, Schema, ThresholdRule};
use deviant_data::{PreprocessOptions, Table};

/// One seed's rows in the roles of an experiment. Only the fit rows train the preprocessor
/// and the detector; only the threshold rows (or, without them, the fit rows' scores) choose
/// the threshold; select rows are held out for choosing among configurations; report rows
/// are scored and evaluated, never used to choose anything.
pub struct Splits {
    pub schema: Schema,
    pub preprocess: PreprocessOptions,
    pub threshold_rule: ThresholdRule,
    pub fit: Table,
    pub threshold: Option<Table>,
    /// Rows for model selection (`select`), apart from the report rows; protocols without a
    /// selection step leave it empty.
    pub select: Option<Table>,
    pub report: Vec<ReportSet>,
}

impl Splits {
    /// The rows a model selection chooses by: the select rows, or without them the
    /// threshold rows when they are labelled (both are chosen on, never reported).
    pub fn selection_rows(&self) -> Option<&Table> {
        self.select
            .as_ref()
            .or(self.threshold.as_ref().filter(|t| t.labels.is_some()))
    }
}

/// A named test set of a protocol.
pub struct ReportSet {
    /// The dataset name records carry, e.g. "kddcup99" or "nsl-kdd test-21".
    pub dataset: String,
    pub rows: Table,
}

/// A seeded recipe of splits: KDD Cup 99 under a protocol, an ADBench set, a hold-out of a
/// user's table. The same seed gives the same splits.
pub trait Protocol: Send + Sync {
    /// The name records carry in their `protocol` field.
    fn name(&self) -> &str;

    /// A name for messages and skipped runs: the dataset, or the protocol when it has several.
    fn dataset(&self) -> &str {
        self.name()
    }

    fn splits(&self, seed: u64, progress: &dyn Progress) -> Result<Splits>;
}
