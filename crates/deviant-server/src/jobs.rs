//! Training runs: the request, its checks, the queue and the recipe a worker follows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use deviant_core::detector::EpochRecord;
use deviant_core::fsutil::write_bytes_atomic;
use deviant_core::record::ColumnImportance;
use deviant_core::schema::LabelSpec;
use deviant_core::{Error, FitContext, Progress, Result, ThresholdRule};
use deviant_data::{
    PreprocessOptions, ReadOptions, Scaling, SchemaOptions, TableReader, infer_schema,
};
use deviant_detectors::AnyConfig;
use deviant_engine::importance::permutation_importance;
use deviant_engine::protocols::HoldOut;
use deviant_engine::select::{Attempt, Corpus, SelectObserver, SelectOptions, select};
use deviant_engine::{Model, Protocol, Splits, Trial, TrialOutcome, run_trial};
use deviant_report::ExplainedRow;
use deviant_store::{DatasetRecord, RunOutcome, RunRecord, RunStatus, new_id};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::api::{ApiError, ApiResult};
use crate::{AppState, LiveRun, RunEvent, lock};

fn default_normal() -> Vec<String> {
    vec!["0".into()]
}

fn default_validation_share() -> f64 {
    0.2
}

fn default_test_share() -> f64 {
    0.2
}

fn default_seed() -> u64 {
    42
}

/// The file in a run's folder with its test rows' scores.
pub(crate) const TEST_SCORES: &str = "test-scores.json";

/// A run's scores on its held-out test rows, for charts and threshold exploration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestScores {
    pub scores: Vec<f32>,
    pub labels: Vec<u8>,
    /// The threshold the model applies.
    pub threshold: f64,
}

/// The file in a run's folder with its explained test rows.
pub(crate) const EXPLAINED: &str = "explained.json";
/// Highest-scoring test rows explained per run.
const EXPLAINED_ROWS: usize = 20;
/// The `Retry-After` of a run refused because the queue is full: about the time a queued
/// run takes to start when workers are busy with short fits.
const QUEUE_RETRY_SECONDS: u64 = 30;
/// Flagged rows averaged into the feature importance, at most.
const IMPORTANCE_ROWS: usize = 20_000;

/// Why a run's model flags what it flags, on its test rows.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Explained {
    /// The highest-scoring test rows, named by their line in the uploaded file.
    pub rows: Vec<ExplainedRow>,
    /// Mean contribution of each feature over the flagged test rows, largest first.
    pub importance: Vec<(String, f64)>,
}

/// The explanations of a run's test rows; empty when the detector cannot explain.
fn explain(
    model: &Model,
    data: &deviant_core::Dataset,
    scores: &TestScores,
    flags: &[bool],
    lines: &[u64],
) -> Result<Explained> {
    let names = &model.manifest.feature_names;
    let rows = model
        .explain_top(data, &scores.scores, EXPLAINED_ROWS)?
        .into_iter()
        .map(|(i, values)| {
            ExplainedRow::new(
                format!("line {}", lines[i]),
                scores.scores[i],
                Some(scores.labels[i]),
                names,
                &values,
            )
        })
        .collect();
    let flagged: Vec<usize> = (0..flags.len())
        .filter(|&i| flags[i])
        .take(IMPORTANCE_ROWS)
        .collect();
    let mut importance: Vec<(String, f64)> = match model.explain_rows(data, &flagged) {
        Some(contributions) if !flagged.is_empty() => {
            let means = contributions?.mean_axis(ndarray::Axis(0)).expect("rows");
            names
                .iter()
                .cloned()
                .zip(means.iter().map(|&v| f64::from(v)))
                .collect()
        }
        _ => Vec::new(),
    };
    importance.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(Explained { rows, importance })
}

/// What `POST /api/v1/runs` takes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// The dataset's id.
    pub dataset: String,
    /// A detector kind from `GET /api/v1/detectors`, or `select` to let model selection
    /// choose (on the validation rows when labelled, else without labels).
    pub detector: String,
    /// Parameters over the detector's defaults.
    #[serde(default)]
    pub params: serde_json::Value,
    /// The label column (1/anomaly vs the `normal` values); without it nothing is measured.
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default = "default_normal")]
    pub normal: Vec<String>,
    /// Columns to leave out.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Share of rows that choose the threshold.
    #[serde(default = "default_validation_share")]
    pub validation_share: f64,
    /// Share of rows held out to measure the model (labelled datasets only).
    #[serde(default = "default_test_share")]
    pub test_share: f64,
    /// A threshold rule in the CLI's spelling (`best-f1`, `contamination:0.1`, …); default
    /// best-f1 with labels, else contamination:0.1.
    #[serde(default)]
    pub threshold: Option<String>,
    #[serde(default)]
    pub scaling: Scaling,
    /// Train on anomalous rows too (by default only normal rows are used).
    #[serde(default)]
    pub keep_anomalies: bool,
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// With `detector: "select"`: the selection's wall-clock limit in seconds.
    #[serde(default = "default_select_budget")]
    pub budget_seconds: f64,
}

/// The detector name that asks for model selection instead of one kind.
pub const SELECT: &str = "select";

fn default_select_budget() -> f64 {
    600.0
}

impl RunRequest {
    /// Every check that needs no training, so a bad request fails at once with its reason.
    /// The config is `None` for a selection.
    pub fn check(
        &self,
        dataset: &DatasetRecord,
    ) -> Result<(Option<AnyConfig>, Option<ThresholdRule>)> {
        let params = if self.params.is_null() {
            serde_json::json!({})
        } else {
            self.params.clone()
        };
        let config = match self.detector == SELECT {
            true => {
                if !(self.budget_seconds > 0.0 && self.budget_seconds <= 86_400.0) {
                    return Err(Error::config(
                        "budget_seconds",
                        "must be above 0 and at most 86400 (a day)",
                    ));
                }
                None
            }
            false => Some(AnyConfig::from_params(&self.detector, &params)?),
        };
        let threshold = self
            .threshold
            .as_deref()
            .map(str::parse::<ThresholdRule>)
            .transpose()?;
        for (field, share) in [
            ("validation_share", self.validation_share),
            ("test_share", self.test_share),
        ] {
            if !(0.0..=0.8).contains(&share) {
                return Err(Error::config(field, format!("{share} is not in [0, 0.8]")));
            }
        }
        if self.validation_share + self.test_share > 0.8 {
            return Err(Error::config(
                "test_share",
                "validation and test shares together must leave at least 20 % to train on",
            ));
        }
        let known = |name: &str| dataset.columns.iter().any(|c| c.name == name);
        let named = self.label.iter().map(|c| ("label", c));
        for (field, column) in named.chain(self.ignore.iter().map(|c| ("ignore", c))) {
            if !known(column) {
                return Err(Error::config(
                    field,
                    format!(
                        "the dataset has no column `{column}`; its columns are {}",
                        dataset
                            .columns
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        if self.label.is_some() && self.normal.is_empty() {
            return Err(Error::config(
                "normal",
                "name the label values that mean normal",
            ));
        }
        if self.label.is_none() && threshold.is_some_and(|t| t.needs_labels()) {
            return Err(Error::config(
                "threshold",
                "best-f1 and best-accuracy need a label column",
            ));
        }
        Ok((config, threshold))
    }
}

impl AppState {
    /// Registers a run as queued and hands it to the workers.
    pub(crate) fn enqueue(
        &self,
        request: &RunRequest,
        dataset: &DatasetRecord,
    ) -> ApiResult<RunRecord> {
        request.check(dataset)?;
        let record = RunRecord::queued(
            new_id(),
            dataset.id.clone(),
            request.detector.clone(),
            serde_json::to_value(request).expect("requests serialise"),
        );
        // The place in the queue is taken before the run is registered, so that two requests
        // at once cannot both take the last one.
        {
            let mut live = lock(&self.inner.live);
            let waiting = live
                .values()
                .filter(|run| run.last.status == RunStatus::Queued)
                .count();
            if waiting >= self.inner.config.max_queued_runs {
                return Err(ApiError::too_many(
                    format!(
                        "{waiting} runs are waiting for a worker, the most this server queues \
                         (`deviant serve --max-queued-runs`); try again when one has started"
                    ),
                    QUEUE_RETRY_SECONDS,
                ));
            }
            let (events, _) = broadcast::channel(64);
            live.insert(
                record.id.clone(),
                LiveRun {
                    cancel: Arc::new(AtomicBool::new(false)),
                    events,
                    last: RunEvent::new(RunStatus::Queued, "queued", String::new()),
                },
            );
        }
        if let Err(e) = self.store().insert_run(&record) {
            lock(&self.inner.live).remove(&record.id);
            return Err(e.into());
        }
        lock(&self.inner.jobs)
            .send(record.id.clone())
            .map_err(|_| Error::internal("the training workers have stopped"))?;
        Ok(record)
    }

    /// Asks a queued or running run to stop; false when it is not live.
    pub(crate) fn cancel(&self, id: &str) -> bool {
        match lock(&self.inner.live).get(id) {
            Some(live) => {
                live.cancel.store(true, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// The run's latest event and a receiver of the next ones, while it is live.
    pub(crate) fn subscribe(&self, id: &str) -> Option<(RunEvent, broadcast::Receiver<RunEvent>)> {
        lock(&self.inner.live)
            .get(id)
            .map(|live| (live.last.clone(), live.events.subscribe()))
    }

    fn publish(&self, id: &str, update: impl FnOnce(&mut RunEvent)) {
        if let Some(live) = lock(&self.inner.live).get_mut(id) {
            update(&mut live.last);
            let _ = live.events.send(live.last.clone());
        }
    }
}

/// Forwards training progress to the run's event stream.
struct RunProgress {
    state: AppState,
    id: String,
}

impl Progress for RunProgress {
    fn begin(&self, phase: &str, total: u64) {
        self.state.publish(&self.id, |e| {
            e.phase = phase.into();
            e.done = 0;
            e.total = total;
        });
    }

    fn advance(&self, n: u64) {
        self.state.publish(&self.id, |e| e.done += n);
    }

    fn message(&self, text: &str) {
        self.state.publish(&self.id, |e| e.message = text.into());
    }

    fn epoch(&self, record: &EpochRecord) {
        self.state.publish(&self.id, |e| {
            e.epoch = Some(record.epoch);
            e.loss = record.train.get("loss").copied();
            e.valid_loss = record.valid.as_ref().and_then(|v| v.get("loss").copied());
        });
    }
}

/// A worker's whole handling of run `id`: train, save, measure, record, tell listeners.
pub(crate) fn run(state: &AppState, id: &str) {
    let cancel = lock(&state.inner.live)
        .get(id)
        .map(|l| l.cancel.clone())
        .unwrap_or_default();
    let outcome = if cancel.load(Ordering::Relaxed) {
        Err(Error::Cancelled)
    } else {
        let started = state.store().start_run(id);
        state.publish(id, |e| {
            e.status = RunStatus::Running;
            e.phase = "reading".into();
        });
        started.and_then(|()| train(state, id, cancel))
    };
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(error) => {
            // Never leave half a model behind a failed run.
            let _ = std::fs::remove_dir_all(state.store().model_dir(id));
            RunOutcome {
                status: if matches!(error, Error::Cancelled) {
                    RunStatus::Cancelled
                } else {
                    RunStatus::Failed
                },
                error: Some(error.to_string()),
                fit_seconds: None,
                metrics: None,
                history: None,
                has_model: false,
            }
        }
    };
    if let Err(e) = state.store().finish_run(id, &outcome) {
        tracing::error!("recording the end of run {id}: {e}");
    }
    state.publish(id, |e| {
        e.status = outcome.status;
        e.phase = "finished".into();
        e.message = outcome.error.clone().unwrap_or_default();
    });
    // Dropping the sender ends every listener's stream after the final event.
    lock(&state.inner.live).remove(id);
}

/// The recipe: split the dataset (test and validation stratified when labelled), fit the
/// preprocessor and detector on the training rows, choose the threshold on validation,
/// save the model, measure it on the test rows.
fn train(state: &AppState, id: &str, cancel: Arc<AtomicBool>) -> Result<RunOutcome> {
    let (record, dataset) = {
        let store = state.store();
        let record = store
            .run(id)?
            .ok_or_else(|| Error::internal(format!("run {id} vanished")))?;
        let dataset = store.dataset(&record.dataset_id)?.ok_or_else(|| {
            Error::input("the run", "its dataset was deleted before training started")
        })?;
        (record, dataset)
    };
    let request: RunRequest = serde_json::from_value(record.request.clone())
        .map_err(|e| Error::internal(format!("stored run request: {e}")))?;
    let (config, threshold) = request.check(&dataset)?;
    let path = state.store().dataset_dir(&dataset.id).join(&dataset.file);
    let read = ReadOptions {
        ignore: request.ignore.clone(),
        ..state.read_options()
    };
    let schema_options = SchemaOptions {
        label: request.label.as_ref().map(|column| LabelSpec {
            column: column.clone(),
            normal_values: request.normal.clone(),
        }),
        ..SchemaOptions::default()
    };
    let schema = infer_schema(&path, &read, &schema_options)?;
    let table = TableReader::open(&path, &read, &schema)?.read_all()?;
    let protocol = HoldOut {
        name: dataset.name.clone(),
        schema,
        table,
        test: None,
        test_share: request.test_share,
        validation_share: request.validation_share,
        keep_anomalies: request.keep_anomalies,
        preprocess: PreprocessOptions {
            scaling: request.scaling,
            impute: false,
        },
        threshold,
    };
    let progress = Arc::new(RunProgress {
        state: state.clone(),
        id: id.into(),
    });
    let splits = protocol.splits(request.seed, progress.as_ref())?;
    let cx = FitContext::new(request.seed)
        .with_progress(progress)
        .with_cancel(cancel);
    let outcome = match &config {
        Some(config) => {
            let trial = Trial {
                config,
                seed: request.seed,
                budget: None,
            };
            run_trial(&splits, &trial, &cx)?
        }
        None => selection(state, id, &request, &splits, &cx)?,
    };
    let model = &outcome.model;
    model.save(&state.store().model_dir(id))?;
    let metrics = match outcome.tests.first() {
        None => None,
        Some(test) => {
            let labels = test.data.labels.as_ref().expect("labelled table").to_vec();
            let dir = state.store().run_dir(id);
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            let scores = TestScores {
                scores: test.scored.scores.clone(),
                labels: labels.clone(),
                threshold: test.scored.threshold,
            };
            write_bytes_atomic(
                &dir.join(TEST_SCORES),
                &serde_json::to_vec(&scores).expect("scores serialise"),
            )?;
            let explained = explain(model, &test.data, &scores, &test.scored.flags, &test.lines)?;
            write_bytes_atomic(
                &dir.join(EXPLAINED),
                &serde_json::to_vec(&explained).expect("explanations serialise"),
            )?;
            let importance = importance(model, &splits, request.seed);
            write_bytes_atomic(
                &dir.join(IMPORTANCE),
                &serde_json::to_vec(&importance).expect("importance serialises"),
            )?;
            test.evaluation.as_ref().map(|evaluation| {
                serde_json::json!({
                    "split": "test",
                    "rows": labels.len(),
                    "anomalies": labels.iter().filter(|&&l| l == 1).count(),
                    "threshold_rule": model.manifest.threshold.rule().to_string(),
                    "threshold_chosen_on": model.manifest.threshold.chosen_on(),
                    "evaluation": evaluation,
                    "supervised": model.manifest.detector.needs_labels(),
                    "train": outcome.train,
                })
            })
        }
    };
    let training = &model.manifest.training;
    Ok(RunOutcome {
        status: RunStatus::Succeeded,
        error: None,
        fit_seconds: Some(training.fit_seconds),
        metrics,
        history: Some(serde_json::to_value(&training.summary.history).expect("history")),
        has_model: true,
    })
}

/// The file with a run's permutation importance on its labelled training and test rows.
pub(crate) const IMPORTANCE: &str = "importance.json";
/// At most this many rows of each set are shuffled: importance scores them once per column
/// and shuffle.
const PERMUTED_ROWS: usize = 2000;
/// Fewer rows than this say too little; a model too slow to score them in time is left out.
const FEWEST_PERMUTED_ROWS: usize = 200;
const IMPORTANCE_SHUFFLES: usize = 2;
/// Scoring time one set's importance may take, estimated from one pass over its sample (a
/// k-NN model of a large table scores slowly, and the run waits for this).
const IMPORTANCE_SECONDS: f64 = 15.0;

/// The model's permutation importance on a seeded sample of the labelled training rows and
/// of the test rows, sized to the time budget; a set without both classes, or too slow to
/// measure, is left out.
fn importance(model: &Model, splits: &Splits, seed: u64) -> Vec<(String, Vec<ColumnImportance>)> {
    let sets = [
        ("train", splits.labelled.as_ref()),
        ("test", splits.report.first().map(|r| &r.rows)),
    ];
    let passes = (model.manifest.schema.features.len() * IMPORTANCE_SHUFFLES + 1) as f64;
    let mut measured = Vec::new();
    for (name, rows) in sets {
        let Some(rows) = rows.filter(|r| {
            r.labels
                .as_ref()
                .is_some_and(|l| l.contains(&0) && l.contains(&1))
        }) else {
            continue;
        };
        let all: Vec<usize> = (0..rows.n_rows()).collect();
        let mut sample = deviant_core::split::shuffled(all, &mut deviant_core::split::rng(seed));
        sample.truncate(PERMUTED_ROWS);
        let started = std::time::Instant::now();
        let Ok(scored) = model
            .prepare(&rows.select(&sample))
            .and_then(|d| model.score_raw(&d))
        else {
            continue;
        };
        let per_row = started.elapsed().as_secs_f64() / scored.len() as f64;
        let affordable = (IMPORTANCE_SECONDS / (per_row * passes)) as usize;
        if affordable < FEWEST_PERMUTED_ROWS {
            tracing::info!("{name} rows left out of the importance: scoring them is too slow");
            continue;
        }
        sample.truncate(affordable);
        // A sample can lose a rare class; the set is then left out.
        if let Ok(columns) =
            permutation_importance(model, &rows.select(&sample), IMPORTANCE_SHUFFLES, seed)
        {
            measured.push((name.to_string(), columns));
        }
    }
    measured
}

/// The leaderboard of a selection run, rewritten after every attempt.
pub(crate) const LEADERBOARD: &str = "leaderboard.json";

/// A selection run: the labelled validation rows (if any) choose, the test rows only
/// measure (see `Splits::selection_rows`); each attempt goes to the event stream and the leaderboard file.
fn selection(
    state: &AppState,
    id: &str,
    request: &RunRequest,
    splits: &Splits,
    cx: &FitContext,
) -> Result<TrialOutcome> {
    let options = SelectOptions {
        budget: Duration::from_secs_f64(request.budget_seconds),
        corpus: Some(Corpus::shipped()?),
        ..SelectOptions::default()
    };
    let dir = state.store().run_dir(id);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let mut live = LiveLeaderboard {
        state,
        id,
        path: dir.join(LEADERBOARD),
        attempts: Vec::new(),
    };
    let selection = select(splits, &options, cx, &mut live)?;
    let board = serde_json::to_vec(&selection.leaderboard_json()).expect("serialises");
    write_bytes_atomic(&live.path, &board)?;
    TrialOutcome::test(selection.model, splits)
}

struct LiveLeaderboard<'a> {
    state: &'a AppState,
    id: &'a str,
    path: std::path::PathBuf,
    attempts: Vec<Attempt>,
}

impl SelectObserver for LiveLeaderboard<'_> {
    fn attempted(&mut self, attempt: &Attempt) {
        let auc = attempt
            .select_roc_auc
            .map_or(String::new(), |v| format!(", ROC AUC {v:.4} on validation"));
        let text = format!("{}: {}{auc}", attempt.label, attempt.status);
        self.state.publish(self.id, |e| {
            e.phase = "selecting".into();
            e.message = text;
        });
        self.attempts.push(attempt.clone());
        let board = serde_json::json!({ "finished": false, "attempts": self.attempts });
        if let Err(e) =
            write_bytes_atomic(&self.path, &serde_json::to_vec(&board).expect("serialises"))
        {
            tracing::warn!("writing the live leaderboard of run {}: {e}", self.id);
        }
    }
}
