//! One trial: a configuration fitted on one seed's splits under a budget, scored on every
//! report set.

use std::time::{Duration, Instant};

use deviant_core::metrics::Evaluation;
use deviant_core::record::{EvalRecord, Metrics};
use deviant_core::{Dataset, FitContext, Result, Scoring};
use deviant_data::Table;
use deviant_detectors::AnyConfig;

use crate::model::{Model, Scored, TrainSpec};
use crate::protocol::Splits;

/// A configuration on one seed, with the longest its fit may take.
#[derive(Debug, Clone)]
pub struct Trial<'a> {
    pub config: &'a AnyConfig,
    pub seed: u64,
    /// Past it the fit stops cooperatively with `Error::BudgetExceeded`: every detector
    /// checks between steps, so no work is left running.
    pub budget: Option<Duration>,
}

/// The model's result on one report set.
pub struct TestResult {
    pub dataset: String,
    /// The rows as the model sees them (for explanations), with their labels.
    pub data: Dataset,
    /// Each row's line in its source, for messages and reports.
    pub lines: Vec<u64>,
    pub scored: Scored,
    /// Metrics at the model's threshold, when the set is labelled with both classes.
    pub evaluation: Option<Evaluation>,
    pub score_seconds: f64,
}

/// What a trial produced: the whole pipeline as a saveable [`Model`] and its test results.
pub struct TrialOutcome {
    pub model: Model,
    pub tests: Vec<TestResult>,
    /// Metrics on the labelled training rows (see [`EvalRecord::train`]), when the splits
    /// have them with both classes.
    pub train: Option<Evaluation>,
    /// Peak resident memory of the process during the trial (0 where unknown).
    pub peak_rss_bytes: u64,
}

impl TrialOutcome {
    /// One record per evaluated test set; `detector` is the configuration's name in tables.
    pub fn records(&self, protocol: &str, detector: &str) -> Vec<EvalRecord> {
        let m = &self.model.manifest;
        let summary = &m.training.summary;
        let params = serde_json::to_value(&m.detector)
            .map(|v| v["params"].clone())
            .unwrap_or_default();
        self.tests
            .iter()
            .filter_map(|test| {
                let evaluation = test.evaluation.as_ref()?;
                Some(EvalRecord {
                    dataset: test.dataset.clone(),
                    detector: detector.into(),
                    kind: m.detector.kind().into(),
                    params: params.clone(),
                    protocol: protocol.into(),
                    seed: m.training.seed,
                    threshold_rule: format!(
                        "{} on {}",
                        m.threshold.rule(),
                        m.threshold.chosen_on()
                    ),
                    fit_seconds: m.training.fit_seconds,
                    epochs: summary.history.last().map_or(0, |last| last.epoch),
                    epoch_seconds: summary.median_epoch_seconds().unwrap_or(0.0),
                    final_loss: summary.final_loss(),
                    score_seconds: test.score_seconds,
                    peak_rss_bytes: self.peak_rss_bytes,
                    supervised: m.detector.needs_labels(),
                    train: self.train.as_ref().map(Metrics::from),
                    ..EvalRecord::from_evaluation(evaluation)
                })
            })
            .collect()
    }
}

/// Fits `trial.config` with its preprocessor on its training rows
/// ([`Splits::training_rows`]: the fit rows, or the labelled rows for a supervised learner),
/// chooses the threshold on the threshold rows (or the fit rows' scores), scores every
/// report set as one batch and measures the labelled training rows. `cx` carries the
/// seed-independent parts (progress, cancel flag); the trial sets its seed
/// and budget.
pub fn run_trial(splits: &Splits, trial: &Trial<'_>, cx: &FitContext) -> Result<TrialOutcome> {
    reset_peak_rss();
    let mut cx = cx.clone();
    cx.seed = trial.seed;
    if let Some(budget) = trial.budget {
        cx = cx.with_budget(budget);
    }
    let rows = splits.training_rows(trial.config.needs_labels(), trial.seed)?;
    let model = Model::train(
        TrainSpec {
            config: trial.config,
            schema: &splits.schema,
            preprocess: splits.preprocess,
            fit: &rows.fit,
            threshold_rows: rows.threshold.as_deref(),
            threshold: splits.threshold_rule,
        },
        &cx,
    )?;
    // What a learner fitted; for a detector, its training split with the anomalies back.
    let train_rows = match trial.config.needs_labels() {
        true => Some(&*rows.fit),
        false => splits.labelled.as_ref(),
    };
    let mut outcome = TrialOutcome::test(model, splits)?;
    if let Some(rows) = train_rows {
        outcome.train = measure(&outcome.model, rows)?.evaluation;
    }
    Ok(outcome)
}

impl TrialOutcome {
    /// Scores every report set of `splits` with `model` as one batch each, and measures it
    /// where the set is labelled with both classes.
    pub fn test(model: Model, splits: &Splits) -> Result<Self> {
        let mut tests = Vec::with_capacity(splits.report.len());
        for set in &splits.report {
            let Measured {
                data,
                scored,
                evaluation,
                score_seconds,
            } = measure(&model, &set.rows)?;
            tests.push(TestResult {
                dataset: set.dataset.clone(),
                data,
                lines: set.rows.lines.clone(),
                scored,
                evaluation,
                score_seconds,
            });
        }
        Ok(TrialOutcome {
            model,
            tests,
            train: None,
            peak_rss_bytes: peak_rss(),
        })
    }
}

/// Rows as a model scored them.
struct Measured {
    data: Dataset,
    scored: Scored,
    evaluation: Option<Evaluation>,
    score_seconds: f64,
}

/// `rows` prepared and scored by `model` as one batch, with the metrics at its threshold
/// where the rows are labelled with both classes.
fn measure(model: &Model, rows: &Table) -> Result<Measured> {
    let data = model.prepare(rows)?;
    let started = Instant::now();
    let scores = model.score_raw(&data)?;
    let score_seconds = started.elapsed().as_secs_f64();
    let scored = model.flag(scores, Scoring::Batch)?;
    let evaluation = match data.labels.as_ref().map(|l| l.as_slice()) {
        Some(Some(labels)) if labels.contains(&0) && labels.contains(&1) => {
            Some(scored.evaluate(labels)?)
        }
        _ => None,
    };
    Ok(Measured {
        data,
        scored,
        evaluation,
        score_seconds,
    })
}

/// Resets the kernel's peak-RSS counter so the next reading covers one trial (Linux).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident memory of this process in bytes since the last reset (0 where unknown).
pub fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}
