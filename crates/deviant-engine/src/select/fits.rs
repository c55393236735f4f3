//! A selection's candidate fits as self-contained work: the rows they train on and are
//! judged by ([`SearchRows`], shippable as bytes), one fit's description ([`CandidateFit`])
//! and what it came to ([`FitResult`]). The fits of one round are independent, so a
//! [`FitRunner`] may run them anywhere (the Python package hands them to Spark tasks); the
//! detectors a selection keeps are then fitted again where it runs, on the same rows with
//! the same seed.

use std::io::Cursor;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use deviant_core::metrics::{average_precision, roc_auc};
use deviant_core::{Dataset, Detector, Error, FitContext, Result};
use deviant_detectors::AnyConfig;
use ndarray::{Array1, Array2};
use ndarray_npy::{NpzReader, NpzWriter};
use serde::{Deserialize, Serialize};

/// Above this many rows, the first round of halving fits on a subsample of this size.
pub(super) const FIRST_ROUND_ROWS: usize = 4096;

/// Which of a candidate's rows a fit trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowShare {
    All,
    /// At most `FIRST_ROUND_ROWS` evenly spaced rows (all of them when there are fewer).
    Sample,
}

/// The rows a selection's candidates fit on and are judged by, preprocessed.
pub struct SearchRows {
    /// The fit rows (detectors train on them).
    pub(super) train: Dataset,
    /// Labelled rows of both classes that supervised learners train on.
    pub(super) labelled: Option<Dataset>,
    /// The labelled select rows and their labels, when there are enough to choose by.
    pub(super) valid: Option<(Dataset, Vec<u8>)>,
    train_sample: Option<Dataset>,
    labelled_sample: Option<Dataset>,
}

/// One candidate fit: what to fit, on which rows, with which seed, until when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateFit {
    pub config: AnyConfig,
    pub rows: RowShare,
    pub seed: u64,
    /// Seconds since the Unix epoch past which the fit is not started, and stops if running
    /// (a wall-clock time, so that a fit queued on another machine keeps the budget).
    pub deadline: f64,
}

/// What one candidate fit came to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitResult {
    /// Rows it trained on.
    pub rows: usize,
    pub fit_seconds: f64,
    /// Its scores of the labelled select rows (empty without them).
    pub scores: Vec<f32>,
    pub roc_auc: Option<f64>,
    pub average_precision: Option<f64>,
    /// Why it has no detector (`stopped: …`, `failed: …`, `not tried: …`); `None` when
    /// fitted.
    pub failure: Option<String>,
}

/// Runs a round of independent candidate fits elsewhere, returning their results in the
/// order of `fits`. A fit that fails is a result with a `failure`; an `Err` ends the
/// selection.
pub trait FitRunner {
    fn run(&mut self, rows: &SearchRows, fits: &[CandidateFit]) -> Result<Vec<FitResult>>;
}

/// Seconds since the Unix epoch, now.
pub(super) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The wall-clock time `left` from now, as a [`CandidateFit::deadline`].
pub(super) fn deadline_in(left: Duration) -> f64 {
    unix_now() + left.as_secs_f64()
}

impl SearchRows {
    pub(super) fn new(
        train: Dataset,
        labelled: Option<Dataset>,
        valid: Option<(Dataset, Vec<u8>)>,
    ) -> Self {
        let largest = train
            .n_rows()
            .max(labelled.as_ref().map_or(0, Dataset::n_rows));
        let thin = |data: &Dataset| {
            let step = data.n_rows().div_ceil(FIRST_ROUND_ROWS).max(1);
            let rows: Vec<usize> = (0..data.n_rows()).step_by(step).collect();
            data.select(&rows)
        };
        // Both are thinned when either is large, so a round compares like with like.
        let (train_sample, labelled_sample) = match largest > FIRST_ROUND_ROWS {
            true => (Some(thin(&train)), labelled.as_ref().map(thin)),
            false => (None, None),
        };
        Self {
            train,
            labelled,
            valid,
            train_sample,
            labelled_sample,
        }
    }

    /// Whether a first round on a subsample is worth it (there are more rows than it takes).
    pub(super) fn has_sample(&self) -> bool {
        self.train_sample.is_some()
    }

    /// The rows `config` trains on: supervised learners the labelled rows, detectors the
    /// fit rows.
    pub(super) fn for_config(&self, config: &AnyConfig, share: RowShare) -> &Dataset {
        let (all, sample) = match (config.needs_labels(), &self.labelled) {
            (true, Some(labelled)) => (labelled, &self.labelled_sample),
            _ => (&self.train, &self.train_sample),
        };
        match (share, sample) {
            (RowShare::Sample, Some(sample)) => sample,
            _ => all,
        }
    }

    /// Fits `fit` and scores the labelled select rows with it: the detector (none when it
    /// failed, was stopped or was not started) and its result. `Err` only when `cx` was
    /// cancelled.
    pub fn fit(
        &self,
        fit: &CandidateFit,
        cx: &FitContext,
    ) -> Result<(Option<Box<dyn Detector>>, FitResult)> {
        let rows = self.for_config(&fit.config, fit.rows);
        let mut result = FitResult {
            rows: rows.n_rows(),
            fit_seconds: 0.0,
            scores: Vec::new(),
            roc_auc: None,
            average_precision: None,
            failure: None,
        };
        let left = fit.deadline - unix_now();
        if left.is_nan() || left <= 0.0 {
            result.failure = Some("not tried: budget spent".into());
            return Ok((None, result));
        }
        // A deadline further than a year is none; capped so that clock arithmetic cannot
        // overflow.
        let left = Duration::from_secs_f64(left.min(365.0 * 86_400.0));
        let mut cx = cx.clone().with_budget(left);
        cx.seed = fit.seed;
        let started = Instant::now();
        let fitted = fit.config.fit(rows, &cx).and_then(|detector| {
            if let Some((valid, labels)) = &self.valid {
                result.scores = detector.score(valid.view())?.to_vec();
                result.roc_auc = Some(roc_auc(&result.scores, labels)?);
                result.average_precision = Some(average_precision(&result.scores, labels)?);
            }
            Ok(detector)
        });
        result.fit_seconds = started.elapsed().as_secs_f64();
        match fitted {
            Ok(detector) => Ok((Some(detector), result)),
            Err(Error::Cancelled) => Err(Error::Cancelled),
            Err(e) => {
                result.failure = Some(match e {
                    Error::BudgetExceeded { .. } => "stopped: budget spent".into(),
                    e => format!("failed: {e}"),
                });
                result.scores.clear();
                result.roc_auc = None;
                result.average_precision = None;
                Ok((None, result))
            }
        }
    }

    /// These rows as the bytes of an NPZ archive, for shipping to where fits run.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        // Writing to memory fails only on a broken invariant.
        let npz_error = Error::internal;
        let mut npz = NpzWriter::new(Cursor::new(Vec::new()));
        let names = serde_json::to_vec(&self.train.feature_names).map_err(Error::internal)?;
        npz.add_array("feature_names", &Array1::from(names))
            .map_err(npz_error)?;
        let mut add = |name: &str, data: Option<&Dataset>| -> Result<()> {
            let Some(data) = data else { return Ok(()) };
            npz.add_array(format!("{name}.x"), &data.x)
                .map_err(npz_error)?;
            if let Some(labels) = &data.labels {
                npz.add_array(format!("{name}.labels"), labels)
                    .map_err(npz_error)?;
            }
            Ok(())
        };
        add("train", Some(&self.train))?;
        add("labelled", self.labelled.as_ref())?;
        add("valid", self.valid.as_ref().map(|(d, _)| d))?;
        add("train_sample", self.train_sample.as_ref())?;
        add("labelled_sample", self.labelled_sample.as_ref())?;
        if let Some((_, labels)) = &self.valid {
            npz.add_array("valid.select_labels", &Array1::from(labels.clone()))
                .map_err(npz_error)?;
        }
        Ok(npz.finish().map_err(npz_error)?.into_inner())
    }

    /// Rows written by [`to_bytes`](Self::to_bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let bad = |e: &dyn std::fmt::Display| Error::format("selection rows", e.to_string());
        let mut npz = NpzReader::new(Cursor::new(bytes)).map_err(|e| bad(&e))?;
        let present = npz.names().map_err(|e| bad(&e))?;
        let names: Array1<u8> = npz.by_name("feature_names").map_err(|e| bad(&e))?;
        let feature_names: Vec<String> =
            serde_json::from_slice(&names.to_vec()).map_err(|e| bad(&e))?;
        let mut read = |name: &str| -> Result<Option<Dataset>> {
            let x_name = format!("{name}.x");
            if !present.contains(&x_name) {
                return Ok(None);
            }
            let x: Array2<f32> = npz.by_name(&x_name).map_err(|e| bad(&e))?;
            let labels_name = format!("{name}.labels");
            let labels = match present.contains(&labels_name) {
                true => Some(npz.by_name(&labels_name).map_err(|e| bad(&e))?),
                false => None,
            };
            Ok(Some(Dataset {
                x,
                labels,
                feature_names: feature_names.clone(),
            }))
        };
        let train = read("train")?.ok_or_else(|| bad(&"no training rows"))?;
        let labelled = read("labelled")?;
        let valid = read("valid")?;
        let train_sample = read("train_sample")?;
        let labelled_sample = read("labelled_sample")?;
        let valid = match valid {
            Some(rows) => {
                let labels: Array1<u8> = npz.by_name("valid.select_labels").map_err(|e| bad(&e))?;
                Some((rows, labels.to_vec()))
            }
            None => None,
        };
        Ok(Self {
            train,
            labelled,
            valid,
            train_sample,
            labelled_sample,
        })
    }
}
