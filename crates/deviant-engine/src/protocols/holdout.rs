//! A user's table split in three: the server's runs and `deviant compare`.

use deviant_core::split::{rng, split_fraction, split_stratified};
use deviant_core::{Progress, Result, Schema, ThresholdRule};
use deviant_data::{PreprocessOptions, Table};

use crate::protocol::{Protocol, ReportSet, Splits};

/// One table held out by seed: with labels, test and validation rows drawn stratified by
/// class and the rest trains (its normal rows only, unless `keep_anomalies`); without
/// labels, validation rows and training rows and nothing to report.
pub struct HoldOut {
    /// The dataset's name in records.
    pub name: String,
    pub schema: Schema,
    pub table: Table,
    /// A separate labelled test table: it is the report set, and `test_share` is unused.
    pub test: Option<Table>,
    pub test_share: f64,
    pub validation_share: f64,
    pub keep_anomalies: bool,
    pub preprocess: PreprocessOptions,
    /// The rule asked for; by default best F1 when labelled validation rows exist, else
    /// contamination 0.1 of the training scores.
    pub threshold: Option<ThresholdRule>,
}

impl Protocol for HoldOut {
    fn name(&self) -> &str {
        "holdout"
    }

    fn dataset(&self) -> &str {
        &self.name
    }

    fn splits(&self, seed: u64, _progress: &dyn Progress) -> Result<Splits> {
        let all: Vec<usize> = (0..self.table.n_rows()).collect();
        let mut rng = rng(seed);
        let test_share = match self.test {
            Some(_) => 0.0,
            None => self.test_share,
        };
        let (test, validation, train) = match &self.table.labels {
            Some(labels) => {
                let (test, rest) = split_stratified(&all, labels, test_share, &mut rng);
                let share = self.validation_share / (1.0 - test_share);
                let (validation, train) = split_stratified(&rest, labels, share, &mut rng);
                (test, validation, train)
            }
            None => {
                let (validation, train) = split_fraction(all, self.validation_share, &mut rng);
                (Vec::new(), validation, train)
            }
        };
        let labelled = self
            .table
            .labels
            .is_some()
            .then(|| self.table.select(&train));
        let mut fit = self.table.select(&train);
        if !self.keep_anomalies {
            fit = fit.normal_rows();
        }
        let labelled_validation = self.table.labels.is_some() && !validation.is_empty();
        Ok(Splits {
            schema: self.schema.clone(),
            preprocess: self.preprocess,
            threshold_rule: self
                .threshold
                .unwrap_or(ThresholdRule::default_for(labelled_validation)),
            fit,
            threshold: (!validation.is_empty()).then(|| self.table.select(&validation)),
            select: None,
            labelled,
            report: match (&self.test, test.is_empty()) {
                (Some(rows), _) => vec![ReportSet {
                    dataset: self.name.clone(),
                    rows: rows.clone(),
                }],
                (None, true) => Vec::new(),
                (None, false) => vec![ReportSet {
                    dataset: self.name.clone(),
                    rows: self.table.select(&test),
                }],
            },
        })
    }
}
