//! A study: every configuration on every seed of every protocol, under one budget per trial,
//! on a bounded number of workers, reported to an [`Observer`] as trials end.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use deviant_core::record::{EvalRecord, Skipped};
use deviant_core::{Error, FitContext, Progress, Result};
use deviant_detectors::AnyConfig;

use crate::protocol::{Protocol, Splits};
use crate::trial::{Trial, TrialOutcome, run_trial};

/// Hears about a study's trials as they start and end. Every method runs on the study's
/// calling thread, whatever thread ran the trial.
pub trait Observer {
    fn started(&mut self, _protocol: &dyn Protocol, _detector: &str, _seed: u64) {}

    /// A trial ended; its records are already counted. Keep scores or the model here.
    fn finished(
        &mut self,
        _protocol: &dyn Protocol,
        _detector: &str,
        _outcome: &TrialOutcome,
    ) -> Result<()> {
        Ok(())
    }

    fn skipped(&mut self, _skipped: &Skipped) {}
}

/// An observer that keeps nothing.
pub struct NoObserver;
impl Observer for NoObserver {}

/// Protocols × configurations × seeds.
pub struct Study<'a> {
    pub protocols: Vec<&'a dyn Protocol>,
    pub configs: &'a [AnyConfig],
    /// Each configuration's name in records (see [`config_labels`]).
    pub labels: Vec<String>,
    pub seeds: &'a [u64],
    /// The longest one fit may take.
    pub budget: Option<Duration>,
    /// Trials of one protocol and seed run on at most this many threads at once.
    pub workers: usize,
    /// A failed trial is recorded as skipped and the study goes on; otherwise it ends the
    /// study with that error.
    pub skip_failures: bool,
    /// Progress and cancellation shared by every trial.
    pub context: FitContext,
}

/// The records of every trial that finished, and the trials that did not.
#[derive(Debug, Default)]
pub struct StudyResult {
    pub records: Vec<EvalRecord>,
    pub skipped: Vec<Skipped>,
}

impl<'a> Study<'a> {
    /// A study of `configs` on `seeds` of each protocol: no budget, one worker, failures
    /// end it.
    pub fn new(
        protocols: Vec<&'a dyn Protocol>,
        configs: &'a [AnyConfig],
        seeds: &'a [u64],
    ) -> Self {
        Self {
            protocols,
            configs,
            labels: config_labels(configs),
            seeds,
            budget: None,
            workers: 1,
            skip_failures: false,
            context: FitContext::new(0),
        }
    }

    /// Runs every trial; records come in protocol, seed, configuration order whatever order
    /// the workers finish in.
    pub fn run(&self, observer: &mut dyn Observer) -> Result<StudyResult> {
        let mut result = StudyResult::default();
        let progress: &dyn Progress = self.context.progress.as_ref();
        for &protocol in &self.protocols {
            for &seed in self.seeds {
                self.context.check_cancelled()?;
                let splits = protocol.splits(seed, progress)?;
                let mut ended: Vec<(usize, Ended)> = Vec::new();
                self.each_trial(&splits, protocol, seed, observer, |i, outcome| {
                    ended.push((i, outcome))
                });
                ended.sort_by_key(|(i, _)| *i);
                for (i, outcome) in ended {
                    match outcome {
                        Ended::Done(outcome) => {
                            result
                                .records
                                .extend(outcome.records(protocol.name(), &self.labels[i]));
                        }
                        Ended::Skipped(skipped) => result.skipped.push(skipped),
                        Ended::Failed(error) => return Err(error),
                    }
                }
            }
        }
        Ok(result)
    }

    /// Runs the trials of one seed on up to `workers` threads; `observer` hears of each as it
    /// ends (on this thread) and `keep` gets its outcome.
    fn each_trial(
        &self,
        splits: &Splits,
        protocol: &dyn Protocol,
        seed: u64,
        observer: &mut dyn Observer,
        mut keep: impl FnMut(usize, Ended),
    ) {
        let next = AtomicUsize::new(0);
        let run = |i: usize| {
            let trial = Trial {
                config: &self.configs[i],
                seed,
                budget: self.budget,
            };
            run_trial(splits, &trial, &self.context)
        };
        std::thread::scope(|scope| {
            let (send, events) = std::sync::mpsc::channel();
            for _ in 0..self.workers.clamp(1, self.configs.len().max(1)) {
                let send = send.clone();
                let (next, run) = (&next, &run);
                scope.spawn(move || {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= self.configs.len() {
                            break;
                        }
                        // The receiver outlives every worker, so a send cannot fail.
                        let _ = send.send(Event::Started(i));
                        let _ = send.send(Event::Ended(i, run(i).map(Box::new)));
                    }
                });
            }
            drop(send);
            for event in events {
                let (i, outcome) = match event {
                    Event::Started(i) => {
                        observer.started(protocol, &self.labels[i], seed);
                        continue;
                    }
                    Event::Ended(i, outcome) => (i, outcome),
                };
                let outcome = outcome.and_then(|outcome| {
                    observer
                        .finished(protocol, &self.labels[i], &outcome)
                        .map(|()| outcome)
                });
                let ended = match outcome {
                    Ok(outcome) => Ended::Done(outcome),
                    // A cancelled study stops; a budget or any other failure is one skipped
                    // trial when failures are skipped.
                    Err(error) if self.skip_failures && !matches!(error, Error::Cancelled) => {
                        let skipped = Skipped {
                            dataset: protocol.dataset().into(),
                            detector: self.labels[i].clone(),
                            seed,
                            reason: error.to_string(),
                        };
                        observer.skipped(&skipped);
                        Ended::Skipped(skipped)
                    }
                    Err(error) => Ended::Failed(error),
                };
                keep(i, ended);
            }
        });
    }
}

/// What workers tell the study's thread.
enum Event {
    Started(usize),
    Ended(usize, Result<Box<TrialOutcome>>),
}

/// How one trial ended.
enum Ended {
    /// Boxed: an outcome holds the model and every test set's rows.
    Done(Box<TrialOutcome>),
    Skipped(Skipped),
    Failed(Error),
}

/// Names for tables: each configuration's kind, and where a study has several of one kind,
/// the parameters that tell them apart (`ae (hidden=[32,4])`).
pub fn config_labels(configs: &[AnyConfig]) -> Vec<String> {
    let flat: Vec<Vec<(String, String)>> = configs
        .iter()
        .map(|c| {
            let mut out = Vec::new();
            if let Ok(value) = serde_json::to_value(c) {
                flatten("", &value["params"], &mut out);
            }
            out
        })
        .collect();
    configs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let kind = c.kind();
            let same: Vec<usize> = (0..configs.len())
                .filter(|&j| configs[j].kind() == kind)
                .collect();
            let differing: Vec<String> = flat[i]
                .iter()
                .filter(|(key, value)| {
                    same.iter().any(|&j| {
                        flat[j]
                            .iter()
                            .find(|(k, _)| k == key)
                            .is_none_or(|(_, v)| v != value)
                    })
                })
                .map(|(key, value)| format!("{key}={value}"))
                .collect();
            match differing.is_empty() {
                true => kind.to_string(),
                false => format!("{kind} ({})", differing.join(", ")),
            }
        })
        .collect()
}

/// `{"a": {"b": 1}}` → `[("a.b", "1")]`.
fn flatten(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                let key = match prefix.is_empty() {
                    true => key.clone(),
                    false => format!("{prefix}.{key}"),
                };
                flatten(&key, v, out);
            }
        }
        other => out.push((prefix.into(), other.to_string())),
    }
}
