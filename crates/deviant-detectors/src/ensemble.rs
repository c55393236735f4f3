//! An ensemble of detectors: each member is fitted on the same rows, its scores are put on
//! one scale by the empirical distribution of its own training scores, and the ensemble's
//! score is the weighted mean of those. This is what `deviant select` saves when a
//! combination beats every single detector; the members are saved inside the model.
//!
//! The scale is a rank, not a z-score, so that one member with a heavy tail cannot outvote
//! the others (Aggarwal & Sathe 2015 on score normalisation), and it is fixed at training
//! time, so one row scores the same alone as in a batch.

use std::path::Path;

use deviant_core::dataset::check_input;
use deviant_core::detector::FitSummary;
use deviant_core::{Dataset, Detector, DetectorConfig, Error, FitContext, Result};
use ndarray::{Array1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::catalogue::{About, Cost, Entry, ParamRange};
use crate::registry::AnyConfig;
use crate::{read_json, write_json};

/// The members and, when learned from labels, their weights (default: equal).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnsembleConfig {
    pub members: Vec<AnyConfig>,
    /// One finite weight per member; the score is Σ wᵢ·rankᵢ / Σ |wᵢ|. A negative weight
    /// reads a member's scale upside down (a stacker learned on labels may want that).
    pub weights: Option<Vec<f64>>,
}

impl Default for EnsembleConfig {
    /// Four fast detectors of different families: trees, histograms, a copula, a distance.
    fn default() -> Self {
        use crate::classic::{copod, hbos, iforest, mahalanobis};
        Self {
            members: vec![
                AnyConfig::Iforest(iforest::IforestConfig::default()),
                AnyConfig::Hbos(hbos::HbosConfig::default()),
                AnyConfig::Copod(copod::CopodConfig::default()),
                AnyConfig::Mahalanobis(mahalanobis::MahalanobisConfig::default()),
            ],
            weights: None,
        }
    }
}

/// How many points of each member's training-score distribution are kept.
const QUANTILES: usize = 1001;
const STATE: &str = "ensemble.json";

/// A member's training scores at evenly spaced quantiles: its scale.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Scale {
    quantiles: Vec<f32>,
}

impl Scale {
    pub(crate) fn of(scores: &[f32]) -> Self {
        let mut sorted = scores.to_vec();
        sorted.sort_by(f32::total_cmp);
        let last = sorted.len() - 1;
        let quantiles = (0..QUANTILES)
            .map(|i| sorted[(i * last + (QUANTILES - 1) / 2) / (QUANTILES - 1)])
            .collect();
        Self { quantiles }
    }

    /// The share of training scores below `score`, interpolated between quantiles; beyond
    /// the training range it keeps growing with the distance, in units of the range, so the
    /// most extreme rows stay ordered.
    pub(crate) fn rank(&self, score: f32) -> f64 {
        let q = &self.quantiles;
        let (low, high) = (f64::from(q[0]), f64::from(q[q.len() - 1]));
        let span = (high - low).max(f64::from(f32::EPSILON));
        let s = f64::from(score);
        if s < low {
            return (s - low) / span;
        }
        if s > high {
            return 1.0 + (s - high) / span;
        }
        let below = q.partition_point(|&v| v < score);
        let up_to = q.partition_point(|&v| v <= score);
        let position = match below < up_to {
            // Equal to some quantiles: the middle of them.
            true => (below + up_to - 1) as f64 / 2.0,
            false => {
                let (a, b) = (f64::from(q[below - 1]), f64::from(q[below]));
                (below - 1) as f64 + (s - a) / (b - a)
            }
        };
        position / (q.len() - 1) as f64
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct State {
    n_features: usize,
    scales: Vec<Scale>,
    weights: Vec<f64>,
    notes: Vec<String>,
}

pub struct Ensemble {
    members: Vec<Box<dyn Detector>>,
    state: State,
}

fn member_dir(dir: &Path, i: usize) -> std::path::PathBuf {
    dir.join(format!("member-{i}"))
}

/// Saves each fitted member into its own `member-N` folder of `dir`.
pub(crate) fn save_members(members: &[Box<dyn Detector>], dir: &Path) -> Result<()> {
    for (i, member) in members.iter().enumerate() {
        let sub = member_dir(dir, i);
        std::fs::create_dir_all(&sub).map_err(|e| Error::io(&sub, e))?;
        member.save(&sub)?;
    }
    Ok(())
}

/// Loads what [`save_members`] wrote, one member per config.
pub(crate) fn load_members(configs: &[AnyConfig], dir: &Path) -> Result<Vec<Box<dyn Detector>>> {
    configs
        .iter()
        .enumerate()
        .map(|(i, config)| config.load(&member_dir(dir, i)))
        .collect()
}

impl EnsembleConfig {
    fn weights(&self) -> Vec<f64> {
        self.weights
            .clone()
            .unwrap_or_else(|| vec![1.0; self.members.len()])
    }
}

impl EnsembleConfig {
    /// The ensemble of `members`, already fitted on `train` in the order of
    /// `self.members` (model selection fits them once, as candidates): each member's scale
    /// comes from its scores of `train`.
    pub fn assemble(&self, members: Vec<Box<dyn Detector>>, train: &Dataset) -> Result<Ensemble> {
        self.validate()?;
        check_input(train.view(), train.n_features(), "ensemble fit")?;
        if members.len() != self.members.len() {
            return Err(Error::internal(format!(
                "{} fitted members for {} configured",
                members.len(),
                self.members.len()
            )));
        }
        let mut scales = Vec::with_capacity(members.len());
        let mut notes = Vec::new();
        for (i, (config, fitted)) in self.members.iter().zip(&members).enumerate() {
            let scores = fitted.score(train.view())?;
            scales.push(Scale::of(&scores.to_vec()));
            notes.push(format!("member {i}: {}", config.kind()));
            let summary = fitted.fit_summary();
            notes.extend(summary.notes.iter().map(|n| format!("member {i}: {n}")));
        }
        Ok(Ensemble {
            members,
            state: State {
                n_features: train.n_features(),
                scales,
                weights: self.weights(),
                notes,
            },
        })
    }
}

impl DetectorConfig for EnsembleConfig {
    const KIND: &'static str = "ensemble";
    type Fitted = Ensemble;

    fn validate(&self) -> Result<()> {
        if self.members.is_empty() {
            return Err(Error::config(
                "members",
                "an ensemble needs at least one member",
            ));
        }
        for (i, member) in self.members.iter().enumerate() {
            if member.kind() == Self::KIND {
                return Err(Error::config(
                    format!("members[{i}]"),
                    "an ensemble cannot hold an ensemble; list its members instead",
                ));
            }
            member.validate()?;
        }
        if let Some(weights) = &self.weights {
            if weights.len() != self.members.len() {
                return Err(Error::config(
                    "weights",
                    format!(
                        "{} weights for {} members",
                        weights.len(),
                        self.members.len()
                    ),
                ));
            }
            if weights.iter().any(|w| !w.is_finite()) || weights.iter().all(|w| *w == 0.0) {
                return Err(Error::config("weights", "must be finite and not all zero"));
            }
        }
        Ok(())
    }

    fn fit(&self, train: &Dataset, cx: &FitContext) -> Result<Ensemble> {
        self.validate()?;
        let mut members = Vec::with_capacity(self.members.len());
        for config in &self.members {
            cx.check_cancelled()?;
            members.push(config.fit(train, cx)?);
        }
        self.assemble(members, train)
    }

    fn load(&self, dir: &Path) -> Result<Ensemble> {
        let state: State = read_json(&dir.join(STATE))?;
        if state.scales.len() != self.members.len() || state.weights.len() != self.members.len() {
            return Err(Error::format(
                dir.display(),
                "the ensemble's saved state does not match its members",
            ));
        }
        let members = load_members(&self.members, dir)?;
        Ok(Ensemble { members, state })
    }
}

impl Detector for Ensemble {
    fn n_features(&self) -> usize {
        self.state.n_features
    }

    fn score(&self, x: ArrayView2<f32>) -> Result<Array1<f32>> {
        check_input(x, self.state.n_features, "ensemble")?;
        let total: f64 = self.state.weights.iter().map(|w| w.abs()).sum();
        let mut combined = vec![0.0f64; x.nrows()];
        for ((member, scale), &weight) in self
            .members
            .iter()
            .zip(&self.state.scales)
            .zip(&self.state.weights)
        {
            let scores = member.score(x)?;
            for (sum, &s) in combined.iter_mut().zip(scores.iter()) {
                *sum += weight * scale.rank(s);
            }
        }
        Ok(combined.into_iter().map(|s| (s / total) as f32).collect())
    }

    fn save(&self, dir: &Path) -> Result<()> {
        save_members(&self.members, dir)?;
        write_json(&dir.join(STATE), &self.state)
    }

    fn fit_summary(&self) -> FitSummary {
        FitSummary {
            notes: self.state.notes.clone(),
            ..FitSummary::default()
        }
    }
}

impl Entry for EnsembleConfig {
    const ABOUT: About = About::new(
        "Ensemble of detectors; score = weighted mean of each member's rank among its own \
         training scores",
        Cost::Members,
    );
    const SEARCH: &'static [ParamRange] = &[];
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn rows() -> Dataset {
        let x = Array2::from_shape_fn((300, 3), |(i, j)| ((i * (j + 3)) % 17) as f32 * 0.1);
        Dataset::new(x, None)
    }

    #[test]
    fn ranks_are_monotone_and_keep_extremes_ordered() {
        let scale = Scale::of(&(0..100).map(|i| i as f32).collect::<Vec<_>>());
        let probes = [-50.0, -1.0, 0.0, 10.5, 50.0, 99.0, 120.0, 500.0];
        let ranks: Vec<f64> = probes.iter().map(|&s| scale.rank(s)).collect();
        assert!(ranks.windows(2).all(|w| w[0] < w[1]), "{ranks:?}");
        assert!((scale.rank(49.5) - 0.5).abs() < 0.01);
    }

    #[test]
    fn an_outlier_scores_highest_and_a_reload_scores_the_same() {
        let train = rows();
        let config = EnsembleConfig::default();
        let fitted = config.fit(&train, &FitContext::new(3)).unwrap();
        let mut probe = train.x.slice(ndarray::s![..4, ..]).to_owned();
        probe.row_mut(3).fill(9.0);
        let scores = fitted.score(probe.view()).unwrap();
        assert!(scores.iter().take(3).all(|&s| s < scores[3]), "{scores}");

        let dir = tempfile::tempdir().unwrap();
        fitted.save(dir.path()).unwrap();
        let loaded = config.load(dir.path()).unwrap();
        assert_eq!(loaded.score(probe.view()).unwrap(), scores);
        // One row alone scores as in the batch: the scale is fixed at training time.
        let alone = loaded.score(probe.slice(ndarray::s![3..4, ..])).unwrap();
        assert_eq!(alone[0], scores[3]);
    }

    #[test]
    fn bad_member_lists_and_weights_are_refused() {
        let nested = EnsembleConfig {
            members: vec![AnyConfig::Ensemble(EnsembleConfig::default())],
            weights: None,
        };
        assert!(
            nested
                .validate()
                .unwrap_err()
                .to_string()
                .contains("members[0]")
        );
        let wrong = EnsembleConfig {
            weights: Some(vec![1.0]),
            ..EnsembleConfig::default()
        };
        assert!(
            wrong
                .validate()
                .unwrap_err()
                .to_string()
                .contains("4 members")
        );
        let empty = EnsembleConfig {
            members: vec![],
            weights: None,
        };
        assert!(empty.validate().is_err());
    }
}
