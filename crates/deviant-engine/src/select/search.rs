//! The search itself: fitting candidates round by round, here or through a [`FitRunner`],
//! and choosing among them with or without labels.

use std::time::{Duration, Instant};

use deviant_core::metrics::roc_auc;
use deviant_core::{Detector, Error, FitContext, Result};
use deviant_detectors::AnyConfig;
use deviant_detectors::catalogue::Cost;
use deviant_detectors::ensemble::EnsembleConfig;

use super::{
    Attempt, Candidate, CandidateFit, FIXED_ORDER, FOLDS, FitResult, FitRunner, RowShare,
    SearchRows, SelectObserver, SelectOptions, fits, meta_features, stack,
};

/// `candidate` on `share` of its rows, with `seed`, due at `deadline`.
fn candidate_fit(candidate: &Candidate, share: RowShare, seed: u64, deadline: f64) -> CandidateFit {
    CandidateFit {
        config: candidate.config.clone(),
        rows: share,
        seed,
        deadline,
    }
}

/// A fitted candidate.
struct Fitted {
    candidate: Candidate,
    /// The rows it was fitted on.
    share: RowShare,
    /// `None` when it was fitted elsewhere (by a [`FitRunner`]).
    detector: Option<Box<dyn Detector>>,
    /// Its scores of the labelled rows (selection with labels).
    scores: Vec<f32>,
    auc: f64,
}

pub(super) struct Search<'a> {
    deadline: Instant,
    /// The longest fit of each kind so far.
    kind_seconds: std::collections::HashMap<&'static str, f64>,
    budget: Duration,
    rows: &'a SearchRows,
    runner: Option<&'a mut dyn FitRunner>,
    cx: &'a FitContext,
    observer: &'a mut dyn SelectObserver,
    pub(super) leaderboard: Vec<Attempt>,
}

/// What a strategy chose, and why.
pub(super) struct Choice {
    pub(super) strategy: &'static str,
    pub(super) detector: Box<dyn Detector>,
    pub(super) config: AnyConfig,
    pub(super) reasons: Vec<String>,
}

/// One way of combining fitted candidates on the labelled rows.
struct Combination {
    /// ROC AUC on the labelled rows (cross-validated for a learned stack).
    objective: f64,
    /// Indices into the fitted candidates.
    members: Vec<usize>,
    weights: Option<Vec<f64>>,
    name: String,
}

impl<'a> Search<'a> {
    /// A search over `rows` that stops fitting at `deadline`, within `budget` in all.
    pub(super) fn new(
        deadline: Instant,
        budget: Duration,
        rows: &'a SearchRows,
        runner: Option<&'a mut dyn FitRunner>,
        cx: &'a FitContext,
        observer: &'a mut dyn SelectObserver,
    ) -> Self {
        Self {
            deadline,
            kind_seconds: Default::default(),
            budget,
            rows,
            runner,
            cx,
            observer,
            leaderboard: Vec::new(),
        }
    }

    fn record(&mut self, attempt: Attempt) {
        self.observer.attempted(&attempt);
        self.leaderboard.push(attempt);
    }

    fn not_tried(&mut self, candidate: &Candidate, predicted: Option<f64>, why: &str) {
        self.record(Attempt {
            status: format!("not tried: {why}"),
            ..Attempt::of(candidate, predicted)
        });
    }

    /// Fits each of `picks` (a candidate, its rows, its predicted advantage): one after
    /// another here, or as one round handed to the runner. `None` (recorded) for each that
    /// failed or found the budget spent.
    fn fit_round(
        &mut self,
        picks: &[(&Candidate, RowShare, Option<f64>)],
    ) -> Result<Vec<Option<Fitted>>> {
        let Some(runner) = self.runner.as_deref_mut() else {
            return picks
                .iter()
                .map(|&(candidate, share, predicted)| self.fit_here(candidate, share, predicted))
                .collect();
        };
        let deadline = fits::deadline_in(self.deadline.saturating_duration_since(Instant::now()));
        let fits: Vec<CandidateFit> = picks
            .iter()
            .map(|&(candidate, share, _)| candidate_fit(candidate, share, self.cx.seed, deadline))
            .collect();
        let results = runner.run(self.rows, &fits)?;
        if results.len() != fits.len() {
            return Err(Error::internal(format!(
                "the fit runner returned {} results for {} fits",
                results.len(),
                fits.len()
            )));
        }
        Ok(picks
            .iter()
            .zip(results)
            .map(|(&(candidate, share, predicted), result)| {
                self.keep(candidate, share, predicted, None, result)
            })
            .collect())
    }

    /// Fits `candidate` in this process with what is left of the budget.
    fn fit_here(
        &mut self,
        candidate: &Candidate,
        share: RowShare,
        predicted: Option<f64>,
    ) -> Result<Option<Fitted>> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            self.not_tried(candidate, predicted, "budget spent");
            return Ok(None);
        }
        // Some fits can only stop between steps (a kernel solve is one step): a kind that
        // already took longer than what is left is not started.
        let kind = candidate.config.kind();
        if self
            .kind_seconds
            .get(kind)
            .is_some_and(|&s| s > left.as_secs_f64())
        {
            self.not_tried(
                candidate,
                predicted,
                "its kind took longer than the budget left",
            );
            return Ok(None);
        }
        let fit = candidate_fit(candidate, share, self.cx.seed, fits::deadline_in(left));
        let (detector, result) = self.rows.fit(&fit, self.cx)?;
        let slowest = self.kind_seconds.entry(kind).or_insert(0.0);
        *slowest = slowest.max(result.fit_seconds);
        Ok(self.keep(candidate, share, predicted, detector, result))
    }

    /// Records a fit's attempt, and keeps the candidate unless it failed.
    fn keep(
        &mut self,
        candidate: &Candidate,
        share: RowShare,
        predicted: Option<f64>,
        detector: Option<Box<dyn Detector>>,
        result: FitResult,
    ) -> Option<Fitted> {
        self.record(Attempt {
            rows: result.rows,
            fit_seconds: result.fit_seconds,
            status: result.failure.clone().unwrap_or_else(|| "fitted".into()),
            select_roc_auc: result.roc_auc,
            select_average_precision: result.average_precision,
            ..Attempt::of(candidate, predicted)
        });
        result.failure.is_none().then(|| Fitted {
            candidate: candidate.clone(),
            share,
            detector,
            auc: result.roc_auc.unwrap_or(0.0),
            scores: result.scores,
        })
    }

    pub(super) fn without_labels(
        &mut self,
        pool: &[Candidate],
        options: &SelectOptions,
    ) -> Result<Choice> {
        let configs: Vec<AnyConfig> = pool.iter().map(|c| c.config.clone()).collect();
        let predicted = match &options.corpus {
            Some(corpus) => corpus.predict(
                &meta_features(self.rows.train.view()),
                &configs,
                &options.leave_out,
            ),
            None => vec![None; pool.len()],
        };
        let by_corpus = predicted.iter().any(Option::is_some);
        let mut order: Vec<usize> = (0..pool.len()).collect();
        match by_corpus {
            true => order.sort_by(|&a, &b| {
                let key = |i: usize| predicted[i].unwrap_or(f64::NEG_INFINITY);
                key(b).total_cmp(&key(a))
            }),
            false => {
                let defaults: Vec<AnyConfig> =
                    AnyConfig::kinds().into_iter().map(|k| k.defaults).collect();
                let rank = |i: usize| {
                    let config = &pool[i].config;
                    FIXED_ORDER
                        .iter()
                        .position(|&k| k == config.kind() && defaults.contains(config))
                        .unwrap_or(usize::MAX)
                };
                order.sort_by_key(|&i| rank(i));
            }
        }
        let unusable = |i: usize| !by_corpus && !FIXED_ORDER.contains(&pool[i].config.kind());
        // In rounds, each of the best-placed untried candidates of kinds not yet in, as many
        // as places are free: what fitting them one by one in order would choose, when
        // every fit of a round may run at once.
        let mut members: Vec<(usize, Fitted)> = Vec::new();
        let mut tried = vec![false; pool.len()];
        while members.len() < options.members {
            let mut kinds: Vec<&str> = members
                .iter()
                .map(|(_, m)| m.candidate.config.kind())
                .collect();
            let mut round = Vec::new();
            for (place, &i) in order.iter().enumerate() {
                let kind = pool[i].config.kind();
                if round.len() + members.len() == options.members {
                    break;
                }
                if !tried[i] && !unusable(i) && !kinds.contains(&kind) {
                    kinds.push(kind);
                    round.push(place);
                }
            }
            if round.is_empty() {
                break;
            }
            let picks: Vec<_> = round
                .iter()
                .map(|&place| {
                    let i = order[place];
                    tried[i] = true;
                    (&pool[i], RowShare::All, predicted[i])
                })
                .collect();
            let fitted = self.fit_round(&picks)?;
            members.extend(
                round
                    .into_iter()
                    .zip(fitted)
                    .filter_map(|(p, f)| Some((p, f?))),
            );
        }
        members.sort_by_key(|&(place, _)| place);
        let members: Vec<Fitted> = members.into_iter().map(|(_, m)| m).collect();
        for &i in &order {
            if tried[i] {
                continue;
            }
            let why = if members.len() >= options.members {
                "the ensemble is full"
            } else if unusable(i) {
                "not in the fixed order used without a corpus"
            } else {
                "a better-placed configuration of its kind is in"
            };
            self.not_tried(&pool[i], predicted[i], why);
        }
        let strategy = if by_corpus { "corpus" } else { "fixed order" };
        let names: Vec<&str> = members.iter().map(|m| m.candidate.label.as_str()).collect();
        let mut reasons = vec![match by_corpus {
            true => format!(
                "no labelled rows: the corpus, weighted towards the sets most like this one, \
                 predicts {} best (one configuration per kind)",
                names.join(", ")
            ),
            false => format!(
                "no labelled rows and no corpus: the fixed order of kinds gives {}",
                names.join(", ")
            ),
        }];
        let (detector, config) = self.combine(members, None, &mut reasons)?;
        Ok(Choice {
            strategy,
            detector,
            config,
            reasons,
        })
    }

    pub(super) fn with_labels(&mut self, pool: &[Candidate], members: usize) -> Result<Choice> {
        let rows = self.rows;
        let (_, labels) = rows.valid.as_ref().expect("labelled select rows");
        let mut reasons = vec![format!(
            "{} labelled rows ({} anomalies): candidates compete on their ROC AUC",
            labels.len(),
            labels.iter().filter(|&&l| l == 1).count()
        )];
        let mut fitted = Vec::new();
        if rows.has_sample() {
            let picks: Vec<_> = pool.iter().map(|c| (c, RowShare::Sample, None)).collect();
            let mut first: Vec<Fitted> = self.fit_round(&picks)?.into_iter().flatten().collect();
            first.sort_by(|a, b| b.auc.total_cmp(&a.auc));
            let keep = (first.len() / 3).max(members).min(first.len());
            reasons.push(format!(
                "first round on {} of {} rows: the best {keep} of {} go on",
                rows.for_config(&pool[0].config, RowShare::Sample).n_rows(),
                rows.train.n_rows(),
                pool.len()
            ));
            first.truncate(keep);
            let finalists: Vec<Candidate> = first.iter().map(|f| f.candidate.clone()).collect();
            let picks: Vec<_> = finalists.iter().map(|c| (c, RowShare::All, None)).collect();
            // A finalist the budget cuts short keeps its first-round fit.
            let full = self.fit_round(&picks)?;
            fitted.extend(
                first
                    .into_iter()
                    .zip(full)
                    .map(|(early, full)| full.unwrap_or(early)),
            );
        } else {
            let picks: Vec<_> = pool.iter().map(|c| (c, RowShare::All, None)).collect();
            fitted.extend(self.fit_round(&picks)?.into_iter().flatten());
        }
        if fitted.is_empty() {
            return Err(self.nothing_fitted());
        }
        fitted.sort_by(|a, b| b.auc.total_cmp(&a.auc));
        // The best of each kind, so an ensemble mixes families.
        let mut diverse: Vec<usize> = Vec::new();
        for (i, f) in fitted.iter().enumerate() {
            if diverse.len() < members
                && !diverse
                    .iter()
                    .any(|&j| fitted[j].candidate.config.kind() == f.candidate.config.kind())
            {
                diverse.push(i);
            }
        }
        let columns: Vec<Vec<f64>> = diverse
            .iter()
            .map(|&i| stack::ranks(&fitted[i].scores))
            .collect();
        let mut options = vec![Combination {
            objective: fitted[0].auc,
            members: vec![0],
            weights: None,
            name: fitted[0].candidate.label.clone(),
        }];
        for k in 2..=diverse.len() {
            let mean: Vec<f32> = (0..labels.len())
                .map(|r| (columns[..k].iter().map(|c| c[r]).sum::<f64>() / k as f64) as f32)
                .collect();
            options.push(Combination {
                objective: roc_auc(&mean, labels)?,
                members: diverse[..k].to_vec(),
                weights: None,
                name: format!("mean of the best {k}"),
            });
        }
        if diverse.len() >= 2
            && let Some(objective) = stack::cross_validated_auc(&columns, labels, FOLDS)
        {
            options.push(Combination {
                objective,
                members: diverse.clone(),
                weights: Some(stack::fit_weights(&columns, labels)),
                name: format!("stack of {}", diverse.len()),
            });
        }
        for option in &options[1..] {
            let labels_of: Vec<&str> = option
                .members
                .iter()
                .map(|&i| fitted[i].candidate.label.as_str())
                .collect();
            let attempt = Attempt {
                label: format!("{}: {}", option.name, labels_of.join(" + ")),
                config: AnyConfig::Ensemble(EnsembleConfig {
                    members: option
                        .members
                        .iter()
                        .map(|&i| fitted[i].candidate.config.clone())
                        .collect(),
                    weights: option.weights.clone(),
                }),
                cost: Cost::Members,
                supervised: option
                    .members
                    .iter()
                    .any(|&i| fitted[i].candidate.config.needs_labels()),
                predicted: None,
                select_roc_auc: Some(option.objective),
                select_average_precision: None,
                rows: rows.train.n_rows(),
                fit_seconds: 0.0,
                status: "combined".into(),
                chosen: false,
            };
            self.record(attempt);
        }
        // The simplest of the best: a combination must beat a single detector outright.
        let best = options
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.objective.total_cmp(&b.1.objective).then(b.0.cmp(&a.0)))
            .map(|(i, _)| i)
            .expect("one option at least");
        let chosen = options.swap_remove(best);
        reasons.push(format!(
            "chosen: {}, ROC AUC {:.4} on the labelled rows",
            chosen.name, chosen.objective
        ));
        let mut by_index: Vec<Option<Fitted>> = fitted.into_iter().map(Some).collect();
        let members: Vec<Fitted> = chosen
            .members
            .iter()
            .map(|&i| by_index[i].take().expect("distinct"))
            .collect();
        let (detector, config) = self.combine(members, chosen.weights, &mut reasons)?;
        Ok(Choice {
            strategy: "labelled rows",
            detector,
            config,
            reasons,
        })
    }

    /// One fitted candidate alone, or an ensemble of several.
    fn combine(
        &mut self,
        members: Vec<Fitted>,
        weights: Option<Vec<f64>>,
        reasons: &mut Vec<String>,
    ) -> Result<(Box<dyn Detector>, AnyConfig)> {
        match members.len() {
            0 => Err(self.nothing_fitted()),
            1 => {
                let only = members.into_iter().next().expect("one");
                let config = only.candidate.config.clone();
                Ok((self.detector_of(only)?, config))
            }
            n => {
                let config = EnsembleConfig {
                    members: members.iter().map(|m| m.candidate.config.clone()).collect(),
                    weights,
                };
                reasons.push(format!(
                    "an ensemble of {n}, each member's score ranked among its training scores"
                ));
                let detectors = members
                    .into_iter()
                    .map(|m| self.detector_of(m))
                    .collect::<Result<_>>()?;
                let ensemble = config.assemble(detectors, &self.rows.train)?;
                Ok((Box::new(ensemble), AnyConfig::Ensemble(config)))
            }
        }
    }

    /// `fitted`'s detector: the one fitted here, or (fitted elsewhere) the same fit again
    /// here, on the same rows with the same seed. The fit already finished within its
    /// budget, so it is not cut short now.
    fn detector_of(&self, fitted: Fitted) -> Result<Box<dyn Detector>> {
        match fitted.detector {
            Some(detector) => Ok(detector),
            None => {
                let rows = self.rows.for_config(&fitted.candidate.config, fitted.share);
                fitted.candidate.config.fit(rows, self.cx)
            }
        }
    }

    /// Why no candidate is left: the budget, or (when none was cut short) the first
    /// candidate's failure.
    fn nothing_fitted(&self) -> Error {
        let failure = self
            .leaderboard
            .iter()
            .find(|a| a.status.starts_with("failed"));
        let cut_short = self.leaderboard.iter().any(|a| a.status.contains("budget"));
        match failure {
            Some(a) if !cut_short => Error::input(
                "model selection",
                format!(
                    "every candidate failed; the first, {}: {}",
                    a.label, a.status
                ),
            ),
            _ => Error::BudgetExceeded {
                what: "model selection (no candidate finished)".into(),
                seconds: self.budget.as_secs_f64(),
            },
        }
    }
}
