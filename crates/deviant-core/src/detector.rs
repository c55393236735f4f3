use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ndarray::{Array1, Array2, ArrayView2};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{Dataset, Error, NoProgress, Progress, Result};

/// Hyperparameters of one detector kind: plain data, validated before any work.
pub trait DetectorConfig: Clone + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The stable name of the kind: "ae", "pca", "iforest", …
    const KIND: &'static str;
    type Fitted: Detector + 'static;

    /// Cross-field checks; called by `fit` and when a config is read.
    fn validate(&self) -> Result<()>;

    /// Trains on `train` (its labels, if any, are ignored: detectors are unsupervised).
    fn fit(&self, train: &Dataset, cx: &FitContext) -> Result<Self::Fitted>;

    /// Reads what [`Detector::save`] wrote into `dir`.
    fn load(&self, dir: &Path) -> Result<Self::Fitted>;
}

/// A fitted detector. It exists only after `fit`, so there is no "not fitted" state.
pub trait Detector: Send + Sync {
    fn n_features(&self) -> usize;

    /// One finite score per row; higher means more anomalous.
    fn score(&self, x: ArrayView2<f32>) -> Result<Array1<f32>>;

    /// Per-feature contributions to each row's score, where the detector has them.
    fn explain(&self, _x: ArrayView2<f32>) -> Option<Result<Array2<f32>>> {
        None
    }

    /// The learner's own importance of each input column (impurity decrease, gain, |weight|),
    /// summing to 1, where it has one.
    fn feature_importances(&self) -> Option<Vec<f64>> {
        None
    }

    /// Learns from rows as they arrive, after they were scored (online kinds); `None` when
    /// the kind learns only in `fit`. Seeded and reproducible like `fit`.
    fn partial_fit(&mut self, _x: ArrayView2<f32>) -> Option<Result<()>> {
        None
    }

    /// Writes the fitted state into the existing directory `dir`.
    fn save(&self, dir: &Path) -> Result<()>;

    /// What training did: per-epoch losses for deep models, notes for the others.
    fn fit_summary(&self) -> FitSummary {
        FitSummary::default()
    }
}

/// What every `fit` receives besides the data. The device is not here: deep models train
/// and score on the process's runtime device (`deviant_detectors::runtime`).
#[derive(Clone)]
pub struct FitContext {
    pub seed: u64,
    pub progress: Arc<dyn Progress>,
    cancel: Arc<AtomicBool>,
    budget: Option<Budget>,
}

/// A time limit counted from when it was set.
#[derive(Debug, Clone, Copy)]
struct Budget {
    deadline: Instant,
    limit: Duration,
}

impl FitContext {
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            progress: Arc::new(NoProgress),
            cancel: Arc::new(AtomicBool::new(false)),
            budget: None,
        }
    }

    /// Gives the work done under this context `limit` from now: past it,
    /// [`check_cancelled`](Self::check_cancelled) returns [`Error::BudgetExceeded`].
    pub fn with_budget(mut self, limit: Duration) -> Self {
        self.budget = Some(Budget {
            deadline: Instant::now() + limit,
            limit,
        });
        self
    }

    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Self {
        self.progress = progress;
        self
    }

    /// Shares `flag` as the cancel flag, so that whoever holds it can stop this fit.
    pub fn with_cancel(mut self, flag: Arc<AtomicBool>) -> Self {
        self.cancel = flag;
        self
    }

    /// A flag that, once set, makes training stop with [`Error::Cancelled`].
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    /// Long loops call this between steps: it stops them when the flag is set or the
    /// budget has run out, so a stopped fit returns promptly and leaves no work behind.
    pub fn check_cancelled(&self) -> Result<()> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        match self.budget {
            Some(budget) if Instant::now() >= budget.deadline => Err(Error::BudgetExceeded {
                what: "the fit".into(),
                seconds: budget.limit.as_secs_f64(),
            }),
            _ => Ok(()),
        }
    }
}

/// One epoch of a training history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    /// Mean training losses over the epoch's batches, by name ("loss" is the total).
    pub train: BTreeMap<String, f64>,
    /// Mean validation losses, when a validation split was held out.
    pub valid: Option<BTreeMap<String, f64>>,
    pub seconds: f64,
}

/// What fitting recorded, kept in the saved model's manifest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FitSummary {
    pub history: Vec<EpochRecord>,
    pub stopped_early: bool,
    pub notes: Vec<String>,
}

/// The most epoch records a history holds. A longer training keeps every second epoch, then
/// every fourth, and so on (and always its latest), so that its curve stays evenly spaced
/// and a run of any length holds bounded memory.
pub const MAX_HISTORY: usize = 1024;

impl FitSummary {
    /// Adds `record` to the history: every `stride`-th epoch is kept (the stride doubles each
    /// time the history would pass [`MAX_HISTORY`]), and the latest until the next arrives.
    /// `stride` starts at 1 and is the caller's to keep between epochs.
    pub fn record_epoch(&mut self, record: EpochRecord, stride: &mut usize) {
        let history = &mut self.history;
        if history.last().is_some_and(|last| last.epoch % *stride != 0) {
            history.pop();
        }
        if history.len() >= MAX_HISTORY {
            *stride *= 2;
            history.retain(|kept| kept.epoch % *stride == 0);
        }
        history.push(record);
    }

    /// The median wall time of one epoch (None without a training loop).
    pub fn median_epoch_seconds(&self) -> Option<f64> {
        let seconds: Vec<f64> = self.history.iter().map(|e| e.seconds).collect();
        (!seconds.is_empty()).then(|| crate::metrics::quantile(&seconds, 0.5))
    }

    /// The last epoch's total loss: on the held-out validation rows when there were some,
    /// else on the training rows (none without a training loop).
    pub fn final_loss(&self) -> Option<f64> {
        let last = self.history.last()?;
        last.valid
            .as_ref()
            .unwrap_or(&last.train)
            .get("loss")
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_history_is_thinned_evenly_and_keeps_its_latest_epoch() {
        let mut summary = FitSummary::default();
        let mut stride = 1;
        for epoch in 1..=5001 {
            let record = EpochRecord {
                epoch,
                train: BTreeMap::from([("loss".to_string(), epoch as f64)]),
                valid: None,
                seconds: 0.1,
            };
            summary.record_epoch(record, &mut stride);
        }
        let epochs: Vec<usize> = summary.history.iter().map(|r| r.epoch).collect();
        // 5,001 epochs past three doublings: every eighth, then the latest.
        assert_eq!(stride, 8);
        assert!(epochs.len() <= MAX_HISTORY);
        let (latest, kept) = epochs.split_last().unwrap();
        assert_eq!(*latest, 5001);
        assert_eq!(kept.first(), Some(&8));
        assert!(kept.windows(2).all(|w| w[1] - w[0] == 8), "{kept:?}");
        assert_eq!(summary.final_loss(), Some(5001.0));
    }
}
