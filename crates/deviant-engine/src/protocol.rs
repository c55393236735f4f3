//! What a protocol hands a trial: one seed's rows, each in its role.

use std::borrow::Cow;
use std::collections::HashSet;

use deviant_core::split::{rng, split_stratified};
use deviant_core::{Error, Progress, Result, Schema, ThresholdRule};
use deviant_data::{PreprocessOptions, Table};

/// The share of the labelled rows a supervised learner leaves for its threshold when the
/// protocol's threshold rows are those same rows (or there are none).
const LEARNER_THRESHOLD_SHARE: f64 = 0.2;

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
    /// Labelled rows of both classes that supervised learners train on instead of `fit`
    /// (whose anomalies protocols usually drop), apart from the report and select rows;
    /// `None` where the protocol has no labels to train on.
    pub labelled: Option<Table>,
    pub report: Vec<ReportSet>,
}

/// The rows one configuration trains on and chooses its threshold on.
pub struct TrainingRows<'a> {
    pub fit: Cow<'a, Table>,
    pub threshold: Option<Cow<'a, Table>>,
}

/// How `fit` (the CLI's and the Python package's) turns one table into splits.
pub struct FitTable {
    pub schema: Schema,
    pub preprocess: PreprocessOptions,
    /// The rule asked for; `None` takes the default for whether labelled rows choose it.
    pub threshold_rule: Option<ThresholdRule>,
    /// Detectors train on the anomalous rows too (by default only on the normal ones).
    pub keep_anomalies: bool,
    /// Whether the model learns from labels (a supervised learner, or one model per class):
    /// then every labelled row is training material.
    pub learns_labels: bool,
}

impl FitTable {
    /// Splits of `table`, with `validation` (when given) choosing the threshold; no report
    /// rows.
    pub fn splits(self, table: Table, validation: Option<Table>) -> Splits {
        let labelled = (self.learns_labels && table.labels.is_some()).then(|| table.clone());
        let fit = match self.keep_anomalies {
            true => table,
            false => table.normal_rows(),
        };
        // A learner without a validation table keeps a labelled fifth of its rows back, so a
        // labelled rule chooses its threshold either way.
        let labelled_validation =
            validation.as_ref().is_some_and(|v| v.labels.is_some()) || labelled.is_some();
        Splits {
            schema: self.schema,
            preprocess: self.preprocess,
            threshold_rule: self
                .threshold_rule
                .unwrap_or(ThresholdRule::default_for(labelled_validation)),
            fit,
            threshold: validation,
            select: None,
            labelled,
            report: Vec::new(),
        }
    }
}

impl Splits {
    /// Splits for model selection on one table: with labels, a stratified `labelled_share`
    /// of the labelled rows (drawn by `seed`) chooses among the candidates and their
    /// threshold, supervised learners train on the other labelled rows with their labels,
    /// and detectors train on every row that does not choose. A row whose label cell is
    /// empty is unlabelled (a partly labelled file): it only trains. Without labels of both
    /// classes every row is fit material. `rule: None` takes the default for whether
    /// labelled rows choose it.
    pub fn for_selection(
        schema: Schema,
        preprocess: PreprocessOptions,
        rule: Option<ThresholdRule>,
        table: Table,
        labelled_share: f64,
        seed: u64,
    ) -> Result<Splits> {
        if !(labelled_share > 0.0 && labelled_share < 1.0) {
            return Err(Error::config(
                "labelled share",
                "must be above 0 and below 1",
            ));
        }
        let all: Vec<usize> = (0..table.n_rows()).collect();
        let (labelled_rows, unlabelled_rows): (Vec<usize>, Vec<usize>) = match &table.classes {
            Some(classes) => all.iter().partition(|&&r| !classes[r].trim().is_empty()),
            None => (all.clone(), Vec::new()),
        };
        // Labels of one class choose nothing: the table is then as if unlabelled.
        let both_classes = |labels: &[u8]| {
            let mut seen = labelled_rows.iter().map(|&r| labels[r]);
            let first = seen.next();
            first.is_some() && seen.any(|l| Some(l) != first)
        };
        let unlabelled = |table: Table| Table {
            labels: None,
            classes: None,
            ..table
        };
        let (fit, select, labelled) = match &table.labels {
            Some(labels) if both_classes(labels) => {
                let (chosen, rest) =
                    split_stratified(&labelled_rows, labels, labelled_share, &mut rng(seed));
                let training: Vec<usize> = rest.iter().chain(&unlabelled_rows).copied().collect();
                (
                    unlabelled(table.select(&training)),
                    Some(table.select(&chosen)),
                    Some(table.select(&rest)),
                )
            }
            _ => (unlabelled(table), None, None),
        };
        Ok(Splits {
            schema,
            preprocess,
            threshold_rule: rule.unwrap_or(ThresholdRule::default_for(select.is_some())),
            fit,
            threshold: select.clone(),
            select,
            labelled,
            report: Vec::new(),
        })
    }

    /// The rows a model selection chooses by: the select rows, or without them the
    /// threshold rows when they are labelled (both are chosen on, never reported).
    pub fn selection_rows(&self) -> Option<&Table> {
        self.select
            .as_ref()
            .or(self.threshold.as_ref().filter(|t| t.labels.is_some()))
    }

    /// Detectors train on the fit rows and take the threshold rows as they are. Supervised
    /// learners (`needs_labels`) train on the labelled rows; when the threshold rows are
    /// among those (or absent), a stratified fifth of the labelled rows, drawn by `seed`, is
    /// kept back for the threshold, so it is never chosen on the rows a learner fitted.
    pub fn training_rows(&self, needs_labels: bool, seed: u64) -> Result<TrainingRows<'_>> {
        if !needs_labels {
            return Ok(TrainingRows {
                fit: Cow::Borrowed(&self.fit),
                threshold: self.threshold.as_ref().map(Cow::Borrowed),
            });
        }
        let labelled = self
            .labelled
            .as_ref()
            .filter(|t| t.labels.is_some())
            .ok_or_else(|| {
                Error::config(
                    "label",
                    "a supervised learner needs labelled training rows, and these splits have \
                 none; name the label column (--label COLUMN) or choose a detector",
                )
            })?;
        let separate = self
            .threshold
            .as_ref()
            .filter(|t| !shares_rows(t, labelled));
        if let Some(threshold) = separate {
            return Ok(TrainingRows {
                fit: Cow::Borrowed(labelled),
                threshold: Some(Cow::Borrowed(threshold)),
            });
        }
        let labels = labelled.labels.as_deref().expect("filtered on labels");
        let all: Vec<usize> = (0..labelled.n_rows()).collect();
        let (held, fit) = split_stratified(&all, labels, LEARNER_THRESHOLD_SHARE, &mut rng(seed));
        Ok(TrainingRows {
            fit: Cow::Owned(labelled.select(&fit)),
            threshold: Some(Cow::Owned(labelled.select(&held))),
        })
    }
}

/// Whether `a` and `b` hold a row in common (by source and line).
pub fn shares_rows(a: &Table, b: &Table) -> bool {
    let lines: HashSet<u64> = a.lines.iter().copied().collect();
    a.source == b.source && b.lines.iter().any(|l| lines.contains(l))
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
