//! Model selection: which detector, with which hyper-parameters, alone or in an ensemble,
//! for a dataset, within a wall-clock budget, from the fit rows and (when some are labelled)
//! the selection rows only ([`Splits::selection_rows`]). The report rows are never read:
//! [`select`] refuses splits whose report rows are also fit, threshold or select rows.
//!
//! - **No labels**: the corpus of past benchmark results predicts each candidate's
//!   advantage from the dataset's meta-features; the best predicted of distinct kinds are
//!   fitted, in that order, until the ensemble is full or the budget is spent.
//! - **Labelled select rows**: successive halving (Jamieson & Talwalkar 2016) over rows:
//!   every candidate on a subsample, the best third on all fit rows, each scored by ROC AUC
//!   on the labelled rows; then the best single candidate, rank-averaged ensembles of the
//!   best few, and a stack whose weights are learned from the labels compete on that
//!   objective (the stack by cross-validation, since its weights saw the labels).
//!
//! Each round of candidate fits is independent work ([`CandidateFit`] over [`SearchRows`]):
//! [`select_with`] can hand rounds to a [`FitRunner`] that runs them elsewhere (Spark tasks,
//! from Python).

mod candidates;
mod corpus;
mod fits;
mod meta;
mod search;
mod stack;

pub use candidates::{Candidate, candidates, learners};
pub use corpus::{CORPUS_VERSION, Corpus, CorpusSet};
pub use fits::{CandidateFit, FitResult, FitRunner, RowShare, SearchRows};
pub use meta::{META_FEATURES, meta_features};

use std::collections::HashSet;
use std::time::{Duration, Instant};

use deviant_core::{Dataset, Error, FitContext, Result};
use deviant_data::{Preprocessor, Table};
use deviant_detectors::AnyConfig;
use deviant_detectors::catalogue::{Cost, Layout};
use serde::Serialize;

use crate::model::{Model, TrainSpec};
use crate::protocol::{Splits, shares_rows};
use search::{Choice, Search};

/// What a selection may do.
#[derive(Debug, Clone)]
pub struct SelectOptions {
    pub layout: Layout,
    /// The wall-clock limit of the whole selection: no trial starts past it and a running
    /// one stops at it.
    pub budget: Duration,
    /// The most members an ensemble gets.
    pub members: usize,
    /// Whether deep kinds are candidates.
    pub deep: bool,
    /// What predicts candidates' results without labels (`None`: a fixed order).
    pub corpus: Option<Corpus>,
    /// Corpus sets not to learn from: the set being selected for, in a leave-one-dataset-out
    /// evaluation.
    pub leave_out: Vec<String>,
}

impl Default for SelectOptions {
    fn default() -> Self {
        Self {
            layout: Layout::Tabular,
            budget: Duration::from_secs(600),
            members: 5,
            deep: true,
            corpus: None,
            leave_out: Vec::new(),
        }
    }
}

/// One line of the leaderboard: a candidate or a combination, and how it did.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub label: String,
    pub config: AnyConfig,
    pub cost: Cost,
    /// Whether it trained on labels (a supervised learner).
    pub supervised: bool,
    /// The corpus's predicted ROC AUC above a set's mean (selection without labels).
    pub predicted: Option<f64>,
    /// ROC AUC on the labelled select rows (cross-validated for a learned stack).
    pub select_roc_auc: Option<f64>,
    pub select_average_precision: Option<f64>,
    /// Fit rows this attempt was trained on (a subsample in the first round of halving).
    pub rows: usize,
    pub fit_seconds: f64,
    /// `fitted`, `not tried: …`, `stopped: …` or `failed: …`.
    pub status: String,
    pub chosen: bool,
}

impl Attempt {
    /// `candidate` before any work.
    fn of(candidate: &Candidate, predicted: Option<f64>) -> Self {
        Self {
            label: candidate.label.clone(),
            config: candidate.config.clone(),
            cost: candidate.cost,
            supervised: candidate.config.needs_labels(),
            predicted,
            select_roc_auc: None,
            select_average_precision: None,
            rows: 0,
            fit_seconds: 0.0,
            status: String::new(),
            chosen: false,
        }
    }
}

/// What a selection chose, as a saveable model, and why.
pub struct Selection {
    pub model: Model,
    /// `corpus`, `fixed order` or `labelled rows`.
    pub strategy: &'static str,
    pub leaderboard: Vec<Attempt>,
    pub reasons: Vec<String>,
    pub seconds: f64,
}

impl Selection {
    /// The leaderboard as the CLI writes it and the server serves it: the strategy, the
    /// reasons, the chosen configuration and every attempt, `finished`.
    pub fn leaderboard_json(&self) -> serde_json::Value {
        serde_json::json!({
            "finished": true,
            "strategy": self.strategy,
            "reasons": self.reasons,
            "seconds": self.seconds,
            "model": self.model.manifest.detector,
            "attempts": self.leaderboard,
        })
    }
}

/// Hears about each attempt as it ends.
pub trait SelectObserver {
    fn attempted(&mut self, _attempt: &Attempt) {}
}

impl SelectObserver for crate::NoObserver {}

/// Without a corpus, the order kinds are tried in: one kind of each family, strongest first
/// on the ADBench means in BENCHMARKS.md (then the sequence and image models).
const FIXED_ORDER: &[&str] = &[
    "iforest",
    "realnvp",
    "mahalanobis",
    "loda",
    "copod",
    "seq2seq",
    "conv_ae",
    "hbos",
    "pca",
    "knn",
];

/// Labelled rows needed of each class to select on them; with fewer, selection is
/// unsupervised.
const MIN_PER_CLASS: usize = 5;
/// The share of the budget candidates may fit in; the rest is left for assembling the
/// chosen model (scoring the training rows for an ensemble's scales, the threshold).
const FITTING_SHARE: f64 = 0.9;
/// Folds of the stack's cross-validation.
const FOLDS: usize = 5;

/// Chooses a model for `splits` under `options` (see the module's documentation), fitting
/// every candidate in this process.
pub fn select(
    splits: &Splits,
    options: &SelectOptions,
    cx: &FitContext,
    observer: &mut dyn SelectObserver,
) -> Result<Selection> {
    select_with(splits, options, cx, observer, None)
}

/// [`select`], with each round of candidate fits handed to `runner` when one is given (the
/// chosen ones are then fitted again here, on the same rows with the same seed).
pub fn select_with(
    splits: &Splits,
    options: &SelectOptions,
    cx: &FitContext,
    observer: &mut dyn SelectObserver,
    runner: Option<&mut dyn FitRunner>,
) -> Result<Selection> {
    let started = Instant::now();
    refuse_leaks(splits)?;
    if options.members == 0 {
        return Err(Error::config("members", "must be at least 1"));
    }
    let preprocessor = Preprocessor::fit(&splits.schema, &splits.fit, splits.preprocess)?;
    let train = preprocessor.dataset(&splits.fit)?;
    let mut pool = candidates(options.layout);
    let labelled = match splits.selection_rows() {
        Some(rows) => labelled_rows(&preprocessor, rows)?,
        None => None,
    };
    // Supervised learners compete when they have labelled rows of their own to train on,
    // apart from the rows the selection chooses by.
    let learner_rows = match (&labelled, &splits.labelled, splits.selection_rows()) {
        (Some(_), Some(rows), Some(chosen_by)) if !shares_rows(rows, chosen_by) => {
            let data = preprocessor.dataset(rows)?;
            let both = data
                .labels
                .as_ref()
                .is_some_and(|l| l.iter().any(|&v| v == 0) && l.iter().any(|&v| v == 1));
            both.then_some(data)
        }
        _ => None,
    };
    if learner_rows.is_some() {
        pool.extend(learners(options.layout));
    }
    pool.retain(|c| options.deep || c.cost != Cost::Deep);
    let rows = SearchRows::new(train, learner_rows, labelled);
    let mut search = Search::new(
        started + options.budget.mul_f64(FITTING_SHARE),
        options.budget,
        &rows,
        // Shortened to the search's lifetime.
        runner.map(|r| -> &mut dyn FitRunner { r }),
        cx,
        observer,
    );
    let Choice {
        strategy,
        detector,
        config,
        reasons,
    } = match rows.valid.is_some() {
        true => search.with_labels(&pool, options.members)?,
        false => search.without_labels(&pool, options)?,
    };
    let fit_seconds = started.elapsed().as_secs_f64();
    let model = Model::assemble(
        TrainSpec {
            config: &config,
            schema: &splits.schema,
            preprocess: splits.preprocess,
            fit: &splits.fit,
            threshold_rows: splits.threshold.as_ref(),
            threshold: splits.threshold_rule,
        },
        preprocessor,
        &rows.train,
        detector,
        fit_seconds,
        cx.seed,
    )?;
    let members = match &config {
        AnyConfig::Ensemble(e) => e.members.clone(),
        single => vec![single.clone()],
    };
    // The last fit of each member (a finalist cut short keeps its first-round fit), and
    // the combination itself.
    for member in &members {
        let fits = search.leaderboard.iter_mut().rev();
        if let Some(a) = fits
            .filter(|a| a.status == "fitted")
            .find(|a| a.config == *member)
        {
            a.chosen = true;
        }
    }
    if let Some(a) = search
        .leaderboard
        .iter_mut()
        .find(|a| a.config == config && a.status == "combined")
    {
        a.chosen = true;
    }
    Ok(Selection {
        model,
        strategy,
        leaderboard: search.leaderboard,
        reasons,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Refuses splits whose report rows (by source and line) are also rows of another role:
/// whatever chose the model would have seen the rows it is judged on.
fn refuse_leaks(splits: &Splits) -> Result<()> {
    let reported: HashSet<(&str, u64)> = splits
        .report
        .iter()
        .flat_map(|set| {
            set.rows
                .lines
                .iter()
                .map(|&l| (set.rows.source.as_str(), l))
        })
        .collect();
    let roles = [
        ("fit", Some(&splits.fit)),
        ("threshold", splits.threshold.as_ref()),
        ("select", splits.select.as_ref()),
        ("labelled training", splits.labelled.as_ref()),
    ];
    for (role, table) in roles {
        let Some(table) = table else { continue };
        if let Some(line) = table
            .lines
            .iter()
            .find(|&&l| reported.contains(&(table.source.as_str(), l)))
        {
            return Err(Error::config(
                "select",
                format!(
                    "line {line} of {} is a report row and also a {role} row: a selection \
                     must not see the rows it is reported on; give it disjoint splits",
                    table.source
                ),
            ));
        }
    }
    Ok(())
}

/// The select rows as the model sees them with their labels, when they hold enough of each
/// class to choose by.
fn labelled_rows(preprocessor: &Preprocessor, rows: &Table) -> Result<Option<(Dataset, Vec<u8>)>> {
    let Some(labels) = rows.labels.clone() else {
        return Ok(None);
    };
    let anomalies = labels.iter().filter(|&&l| l == 1).count();
    if anomalies < MIN_PER_CLASS || labels.len() - anomalies < MIN_PER_CLASS {
        return Ok(None);
    }
    Ok(Some((preprocessor.dataset(rows)?, labels)))
}
