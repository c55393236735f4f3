//! Real-time scoring: records from a [`Source`] are parsed under the model's schema, scored in
//! micro-batches with the model's fixed threshold, written to a [`Sink`] as NDJSON, and only
//! then acknowledged, so a crash loses no row and repeats none that was acknowledged. A bad
//! row goes to the error sink with its reason and the stream goes on. Online detectors learn
//! from each batch after scoring it; a drift monitor watches the scores and may refit the
//! model on recent normal rows, saving each refit as a new version beside the one in use.

pub mod brokers;
pub mod drift;
mod rows;
pub mod sink;
pub mod source;
mod windows;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use deviant_core::fsutil::write_bytes_atomic;
use deviant_core::{Dataset, Error, FitContext, Result, Scoring, ThresholdRule};
use deviant_data::Header;
use deviant_engine::{Manifest, Model};
use ndarray::{Array2, Axis};
use rayon::prelude::*;
use serde::Serialize;

pub use drift::{DriftEvent, DriftMonitor};
pub use sink::{Sink, WriterSink};
pub use source::{Ack, LineFormat, LineSource, Location, Payload, Record, Source};
pub use windows::WindowOptions;

/// How a stream batches, learns, explains and watches itself.
#[derive(Debug, Clone)]
pub struct StreamOptions {
    /// Rows scored together at most.
    pub max_batch: usize,
    /// The longest a row waits for others to join its batch.
    pub max_delay: Duration,
    /// Online detectors learn from each batch after scoring it.
    pub learn: bool,
    /// Features named per row, largest contribution first (0: none).
    pub explain: usize,
    /// A column echoed as each row's `id` and not scored.
    pub id_column: Option<String>,
    pub drift: Option<DriftOptions>,
    pub refit: Option<RefitOptions>,
    /// Rows are points of series, gathered into the windows a windowed model reads.
    pub windows: Option<WindowOptions>,
    /// A JSON file rewritten (atomically) about once a second with the stream's counts.
    pub status: Option<PathBuf>,
}

impl Default for StreamOptions {
    fn default() -> Self {
        Self {
            max_batch: 1024,
            max_delay: Duration::ZERO,
            learn: true,
            explain: 3,
            id_column: None,
            drift: None,
            refit: None,
            windows: None,
            status: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct DriftOptions {
    /// Scores per compared window.
    pub window: usize,
    /// The KS test's level: a window whose p-value is below it is a drift event.
    pub alpha: f64,
}

/// Refitting on drift: a new model of the same kind on the most recent `rows` rows the model
/// did not flag, saved as `dir/v1`, `dir/v2`, … and used once it is saved whole.
#[derive(Debug, Clone)]
pub struct RefitOptions {
    pub dir: PathBuf,
    pub rows: usize,
}

/// What a stream did, as the status file and the final summary report it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StreamStatus {
    pub source: String,
    pub sink: String,
    pub rows: u64,
    pub flagged: u64,
    pub errors: u64,
    pub batches: u64,
    pub seconds: f64,
    pub rows_per_second: f64,
    /// The model in use: the one given, or the latest refit.
    pub model: String,
    pub drift_events: Vec<DriftEvent>,
    pub refits: Vec<String>,
    /// Whether the stream has ended (its source ended or it was stopped).
    pub finished: bool,
}

/// One scored row as written to the sink.
#[derive(Serialize)]
struct ScoredRow<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    line: u64,
    /// The series whose window ended at this row (windowed models).
    #[serde(skip_serializing_if = "Option::is_none")]
    series: Option<&'a str>,
    score: f32,
    is_anomaly: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    top: Vec<Contribution<'a>>,
}

#[derive(Serialize)]
struct Contribution<'a> {
    feature: &'a str,
    contribution: f32,
}

/// A row refused, as written to the error sink.
#[derive(Serialize)]
struct RefusedRow<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    line: u64,
    error: String,
}

/// A running stream: a model between a source and its sinks.
pub struct Streamer {
    model: Model,
    source: Box<dyn Source>,
    sink: Box<dyn Sink>,
    errors: Box<dyn Sink>,
    options: StreamOptions,
    stop: Arc<AtomicBool>,
    header: Option<Header>,
    /// Points gathered into windows, for windowed models.
    windows: Option<windows::Windows>,
    drift: Option<DriftMonitor>,
    /// Recent rows the model did not flag, preprocessed, for a refit.
    recent_normal: VecDeque<Vec<f32>>,
    refit_running: Option<Receiver<Result<(Model, PathBuf)>>>,
    status: StreamStatus,
    started: Instant,
    last_status: Instant,
    /// Called with each batch's scores, drift events, finished refits and broker notices.
    pub on_event: Option<EventHandler>,
}

/// A live view's ear.
pub type EventHandler = Box<dyn FnMut(&StreamEvent) + Send>;

/// What a live view hears: each scored batch, drift, refits and broker notices.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum StreamEvent {
    Drift(DriftEvent),
    /// A refitted model, saved whole, is now in use.
    Refit {
        model: String,
        rows: usize,
    },
    /// The source or a sink lost or regained its broker.
    Notice {
        message: String,
    },
    /// A batch written and acknowledged: its scores, the threshold, the rows flagged
    /// (their output lines, at most [`FLAGGED_PER_EVENT`]), the rows refused, and the
    /// milliseconds from the batch's first arrival to its acknowledgement.
    Batch {
        scores: Vec<f32>,
        threshold: f64,
        flagged: usize,
        flagged_rows: Vec<String>,
        refused: usize,
        lag_ms: f64,
    },
}

/// Flagged rows a batch event carries at most.
pub const FLAGGED_PER_EVENT: usize = 20;

impl Streamer {
    /// Refuses a model whose threshold is chosen per batch: a stream's batches are arbitrary.
    pub fn new(
        model: Model,
        model_name: &str,
        source: Box<dyn Source>,
        sink: Box<dyn Sink>,
        errors: Box<dyn Sink>,
        options: StreamOptions,
        stop: Arc<AtomicBool>,
    ) -> Result<Self> {
        model.manifest.threshold.value_for(&[], Scoring::Rows)?;
        if let Some(refit) = &options.refit {
            std::fs::create_dir_all(&refit.dir).map_err(|e| Error::io(&refit.dir, e))?;
        }
        let windows = options
            .windows
            .as_ref()
            .map(|w| windows::Windows::new(w, &model.manifest.schema))
            .transpose()?;
        let status = StreamStatus {
            source: source.describe(),
            sink: sink.describe(),
            model: model_name.into(),
            ..Default::default()
        };
        Ok(Self {
            drift: options
                .drift
                .as_ref()
                .map(|d| DriftMonitor::new(d.window, d.alpha)),
            model,
            source,
            sink,
            errors,
            options,
            stop,
            header: None,
            windows,
            recent_normal: VecDeque::new(),
            refit_running: None,
            status,
            started: Instant::now(),
            last_status: Instant::now(),
            on_event: None,
        })
    }

    /// Scores until the source ends or `stop` is set; every batch taken from the source is
    /// written and acknowledged before this returns.
    pub fn run(mut self) -> Result<StreamStatus> {
        const IDLE_WAIT: Duration = Duration::from_millis(100);
        while !self.stop.load(Ordering::Relaxed) {
            let mut batch = self.source.poll(self.options.max_batch, IDLE_WAIT)?;
            for message in self.source.take_notices() {
                self.emit(&StreamEvent::Notice { message });
            }
            if batch.is_empty() {
                if self.source.ended() {
                    break;
                }
                self.swap_in_refit(false)?;
                continue;
            }
            let arrived = Instant::now();
            let deadline = arrived + self.options.max_delay;
            source::poll_until(
                self.source.as_mut(),
                &mut batch,
                self.options.max_batch,
                deadline,
            )?;
            self.process(batch, arrived)?;
            self.swap_in_refit(false)?;
            if self.last_status.elapsed() >= Duration::from_secs(1) {
                self.write_status()?;
            }
        }
        // A refit in flight is finished and saved before the stream ends.
        self.swap_in_refit(true)?;
        self.status.finished = true;
        self.write_status()?;
        Ok(self.status)
    }

    fn process(&mut self, batch: Vec<Record>, arrived: Instant) -> Result<()> {
        if self.header.is_none()
            && self.windows.is_none()
            && let Some(names) = self.source.header()
        {
            let ignore: Vec<String> = self.options.id_column.iter().cloned().collect();
            self.header = Some(Header::new(
                &self.source.describe(),
                names,
                &self.model.manifest.schema,
                &ignore,
            )?);
        }
        let (table, kept, mut refused, acks) = match &mut self.windows {
            Some(windows) => windows.read(
                batch,
                &self.model.manifest.schema,
                self.source.as_ref(),
                self.options.id_column.as_ref(),
            ),
            None => self.read_rows(batch),
        };
        let (data, kept) = self.prepare(&table, kept, &mut refused)?;
        let mut lines = Vec::new();
        let (mut scores, mut flags, mut threshold) = (Vec::new(), Vec::new(), f64::NAN);
        if let Some(data) = &data {
            let raw = self.model.score_raw(data)?;
            let scored = self.model.flag(raw, Scoring::Rows)?;
            let top = self.top_features(data)?;
            let names = &self.model.manifest.feature_names;
            lines = kept
                .par_iter()
                .enumerate()
                .with_min_len(256)
                .map(|(i, key)| {
                    let row = ScoredRow {
                        id: key.id.as_deref(),
                        line: key.line,
                        series: key.series.as_deref(),
                        score: scored.scores[i],
                        is_anomaly: scored.flags[i],
                        top: top
                            .get(i)
                            .map(|features| {
                                features
                                    .iter()
                                    .map(|&(j, c)| Contribution {
                                        feature: &names[j],
                                        contribution: c,
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                    };
                    serde_json::to_string(&row).map_err(Error::internal)
                })
                .collect::<Result<_>>()?;
            self.after_scoring(data, &scored.scores, &scored.flags)?;
            (scores, flags, threshold) = (scored.scores, scored.flags, scored.threshold);
        }
        let refused_lines: Vec<String> = refused
            .iter()
            .map(|(id, line, error)| {
                serde_json::to_string(&RefusedRow {
                    id: id.as_deref(),
                    line: *line,
                    error: error.clone(),
                })
                .map_err(Error::internal)
            })
            .collect::<Result<_>>()?;
        if !lines.is_empty() {
            self.sink.write(&lines)?;
        }
        if !refused_lines.is_empty() {
            self.errors.write(&refused_lines)?;
        }
        // Only now are the rows' scores (or refusals) written: hand them back.
        self.source.ack(acks)?;
        let flagged = flags.iter().filter(|&&f| f).count();
        self.status.rows += (kept.len() + refused.len()) as u64;
        self.status.flagged += flagged as u64;
        self.status.errors += refused.len() as u64;
        self.status.batches += 1;
        if self.on_event.is_some() {
            let flagged_rows = lines
                .iter()
                .zip(&flags)
                .filter(|(_, flag)| **flag)
                .map(|(line, _)| line.clone())
                .take(FLAGGED_PER_EVENT)
                .collect();
            self.emit(&StreamEvent::Batch {
                scores,
                threshold,
                flagged,
                flagged_rows,
                refused: refused.len(),
                lag_ms: arrived.elapsed().as_secs_f64() * 1e3,
            });
        }
        Ok(())
    }

    /// Each row's `explain` largest contributions as (feature, value), largest first.
    fn top_features(&self, data: &Dataset) -> Result<Vec<Vec<(usize, f32)>>> {
        if self.options.explain == 0 {
            return Ok(Vec::new());
        }
        let Some(contributions) = self.model.detector.explain(data.view()) else {
            return Ok(Vec::new());
        };
        let contributions = contributions?;
        Ok(contributions
            .axis_iter(Axis(0))
            .map(|row| {
                let mut order: Vec<(usize, f32)> = row.iter().copied().enumerate().collect();
                order.sort_by(|a, b| b.1.total_cmp(&a.1));
                order.truncate(self.options.explain);
                order
            })
            .collect())
    }

    /// Learning, drift watching and the refit window, once a batch is scored.
    fn after_scoring(&mut self, data: &Dataset, scores: &[f32], flags: &[bool]) -> Result<()> {
        if self.options.learn
            && let Some(learned) = self.model.detector.partial_fit(data.view())
        {
            learned?;
        }
        if let Some(refit) = &self.options.refit {
            for (row, &flag) in data.x.axis_iter(Axis(0)).zip(flags) {
                if !flag {
                    self.recent_normal.push_back(row.to_vec());
                }
            }
            while self.recent_normal.len() > refit.rows {
                self.recent_normal.pop_front();
            }
        }
        let events = match &mut self.drift {
            Some(monitor) => monitor.observe(scores, flags),
            None => Vec::new(),
        };
        for event in events {
            self.emit(&StreamEvent::Drift(event.clone()));
            self.start_refit();
            self.status.drift_events.push(event);
        }
        Ok(())
    }

    /// Fits the new model on a thread of its own; the stream goes on with the old one.
    fn start_refit(&mut self) {
        let Some(refit) = &self.options.refit else {
            return;
        };
        if self.refit_running.is_some() || self.recent_normal.len() < 2 {
            return;
        }
        let width = self.recent_normal[0].len();
        let values: Vec<f32> = self.recent_normal.iter().flatten().copied().collect();
        let rows = Array2::from_shape_vec((self.recent_normal.len(), width), values)
            .expect("rows of one width");
        let manifest: Manifest = self.model.manifest.clone();
        let version = self.status.refits.len() + 1;
        let dir = refit.dir.join(format!("v{version}"));
        // A rule chosen on labels cannot be chosen again on rows without them: the refit
        // flags the top 1 % of the recent normal rows' scores instead.
        let unlabelled = ThresholdRule::Contamination { fraction: 0.01 };
        let seed = manifest.training.seed + version as u64;
        let (send, receive) = std::sync::mpsc::sync_channel(1);
        std::thread::spawn(move || {
            let data = Dataset::new(rows, None);
            let refitted = Model::refit(&manifest, &data, unlabelled, &FitContext::new(seed))
                .and_then(|model| model.save(&dir).map(|()| (model, dir)));
            let _ = send.send(refitted);
        });
        self.refit_running = Some(receive);
    }

    /// Uses a finished refit from the next batch on; with `wait`, waits for one in flight.
    fn swap_in_refit(&mut self, wait: bool) -> Result<()> {
        let Some(running) = &self.refit_running else {
            return Ok(());
        };
        let done = match wait {
            true => running.recv().map_err(|_| TryRecvError::Disconnected),
            false => running.try_recv(),
        };
        let (model, dir) = match done {
            Err(TryRecvError::Empty) => return Ok(()),
            Err(TryRecvError::Disconnected) => {
                return Err(Error::internal("the refit thread ended without a result"));
            }
            Ok(done) => {
                self.refit_running = None;
                match done {
                    Ok(done) => done,
                    // The stream goes on with the model it has.
                    Err(e) => {
                        self.emit(&StreamEvent::Notice {
                            message: format!(
                                "the refit failed, scoring on with the model in use: {e}"
                            ),
                        });
                        return Ok(());
                    }
                }
            }
        };
        let rows = model.manifest.training.rows;
        self.model = model;
        self.status.model = dir.display().to_string();
        self.status.refits.push(self.status.model.clone());
        self.emit(&StreamEvent::Refit {
            model: self.status.model.clone(),
            rows,
        });
        Ok(())
    }

    fn emit(&mut self, event: &StreamEvent) {
        if let Some(on_event) = &mut self.on_event {
            on_event(event);
        }
    }

    fn write_status(&mut self) -> Result<()> {
        self.last_status = Instant::now();
        self.status.seconds = self.started.elapsed().as_secs_f64();
        self.status.rows_per_second = self.status.rows as f64 / self.status.seconds.max(1e-9);
        match &self.options.status {
            Some(path) => write_bytes_atomic(
                path,
                &serde_json::to_vec_pretty(&self.status).map_err(Error::internal)?,
            ),
            None => Ok(()),
        }
    }
}
