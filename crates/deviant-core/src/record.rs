//! The record every evaluation writes, and the aggregates over records that leaderboards and
//! model selection rank by: mean ± std per (dataset, configuration), mean ranks.

use serde::{Deserialize, Serialize};

use crate::metrics::Evaluation;

/// One trial's result on one report split; every benchmark, fit and server run writes this
/// shape. `detector` names the configuration for tables (the kind, plus the settings that
/// tell it apart from other configurations of that kind in the same study); `kind` and
/// `params` are the full configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalRecord {
    pub dataset: String,
    pub detector: String,
    /// The detector kind (records written before it existed read as empty).
    #[serde(default)]
    pub kind: String,
    /// Every hyper-parameter of the configuration, defaults included.
    #[serde(default)]
    pub params: serde_json::Value,
    pub protocol: String,
    pub seed: u64,
    pub roc_auc: f64,
    pub average_precision: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub f2: f64,
    pub accuracy: f64,
    pub threshold: f64,
    pub threshold_rule: String,
    pub fit_seconds: f64,
    /// Epochs trained (0 for detectors without a training loop).
    #[serde(default)]
    pub epochs: usize,
    /// Median wall time of one training epoch (0 without a training loop).
    #[serde(default)]
    pub epoch_seconds: f64,
    /// The last epoch's total loss: on the held-out validation rows when there were some,
    /// else on the training rows (none without a training loop).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_loss: Option<f64>,
    pub score_seconds: f64,
    /// Peak resident memory of the process during this run (0 where unknown).
    pub peak_rss_bytes: u64,
    /// Whether the configuration trained on labels (a supervised learner).
    #[serde(default)]
    pub supervised: bool,
    /// The same metrics, at the same threshold, on the labelled training rows: the rows a
    /// supervised learner fitted, or for a detector the training split with its anomalies
    /// (None where the protocol has no labelled training rows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train: Option<Metrics>,
}

/// The threshold-free and thresholded metrics of one set of scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub roc_auc: f64,
    pub average_precision: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub f2: f64,
    pub accuracy: f64,
}

impl From<&Evaluation> for Metrics {
    fn from(e: &Evaluation) -> Self {
        Self {
            roc_auc: e.roc_auc,
            average_precision: e.average_precision,
            precision: e.precision,
            recall: e.recall,
            f1: e.f1,
            f2: e.f2,
            accuracy: e.accuracy,
        }
    }
}

impl EvalRecord {
    /// The metric fields of `evaluation`, everything else empty or zero for the caller to
    /// fill in.
    pub fn from_evaluation(evaluation: &Evaluation) -> Self {
        Self {
            dataset: String::new(),
            detector: String::new(),
            kind: String::new(),
            params: serde_json::Value::Null,
            protocol: String::new(),
            seed: 0,
            roc_auc: evaluation.roc_auc,
            average_precision: evaluation.average_precision,
            precision: evaluation.precision,
            recall: evaluation.recall,
            f1: evaluation.f1,
            f2: evaluation.f2,
            accuracy: evaluation.accuracy,
            threshold: evaluation.threshold,
            threshold_rule: String::new(),
            fit_seconds: 0.0,
            epochs: 0,
            epoch_seconds: 0.0,
            final_loss: None,
            score_seconds: 0.0,
            peak_rss_bytes: 0,
            supervised: false,
            train: None,
        }
    }
}

/// One user column's importance to a model on some labelled rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnImportance {
    pub column: String,
    /// The mean drop in ROC AUC when the column is shuffled (permutation importance).
    pub roc_auc_drop: f64,
    /// The sample standard deviation of that drop over the shuffles (0 for one shuffle).
    pub std: f64,
    /// The learner's own importance of the column, where it has one (they sum to 1).
    pub own: Option<f64>,
}

/// A trial that produced no record, and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Skipped {
    pub dataset: String,
    pub detector: String,
    pub seed: u64,
    pub reason: String,
}

/// Mean ± sample standard deviation (NaN for no values).
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = if values.len() > 1 {
        values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

/// The distinct values of `items`, in order of first appearance.
pub fn distinct<'a>(items: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen: Vec<&str> = Vec::new();
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen
}

/// The runs of one configuration on one dataset under one protocol, over seeds.
pub struct Group<'a> {
    pub dataset: &'a str,
    pub protocol: &'a str,
    pub detector: &'a str,
    pub runs: Vec<&'a EvalRecord>,
}

impl Group<'_> {
    /// Mean ± sample standard deviation of one field over the runs.
    pub fn mean_std(&self, field: fn(&EvalRecord) -> f64) -> (f64, f64) {
        mean_std(&self.runs.iter().map(|r| field(r)).collect::<Vec<_>>())
    }
}

/// The records grouped by (dataset, protocol, detector), in order of first appearance.
pub fn groups(records: &[EvalRecord]) -> Vec<Group<'_>> {
    let mut groups: Vec<Group<'_>> = Vec::new();
    for r in records {
        match groups.iter_mut().find(|g| {
            g.dataset == r.dataset && g.protocol == r.protocol && g.detector == r.detector
        }) {
            Some(group) => group.runs.push(r),
            None => groups.push(Group {
                dataset: &r.dataset,
                protocol: &r.protocol,
                detector: &r.detector,
                runs: vec![r],
            }),
        }
    }
    groups
}

/// Mean over seeds of one configuration on one dataset.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub dataset: String,
    pub detector: String,
    pub runs: usize,
    pub roc_auc: f64,
    pub roc_auc_std: f64,
    pub average_precision: f64,
    pub fit_seconds: f64,
    /// A published ROC AUC for this detector and dataset, when the caller has one.
    pub published: Option<f64>,
}

/// The per-(dataset, detector) means, in order of first appearance; `published` looks up a
/// reference value by (dataset, detector).
pub fn cells(records: &[EvalRecord], published: impl Fn(&str, &str) -> Option<f64>) -> Vec<Cell> {
    groups(records)
        .into_iter()
        .map(|g| {
            let (roc_auc, roc_auc_std) = g.mean_std(|r| r.roc_auc);
            Cell {
                dataset: g.dataset.into(),
                detector: g.detector.into(),
                runs: g.runs.len(),
                roc_auc,
                roc_auc_std,
                average_precision: g.mean_std(|r| r.average_precision).0,
                fit_seconds: g.mean_std(|r| r.fit_seconds).0,
                published: published(g.dataset, g.detector),
            }
        })
        .collect()
}

/// How [`mean_ranks`] ranks, for the line printed under a table of ranks.
pub const MEAN_RANK_RULE: &str = "rank by mean ROC AUC on each set among all listed \
     detectors (1 = best, ties share the mean of their places); a detector with no result on \
     a set (skipped, over budget or failed) is ranked last there";

/// Each detector's mean rank by ROC AUC over every dataset in `cells` (see
/// [`MEAN_RANK_RULE`]); NaN when there is no dataset.
pub fn mean_ranks(cells: &[Cell], detectors: &[String], datasets: &[&str]) -> Vec<f64> {
    let mut totals = vec![0.0; detectors.len()];
    for &dataset in datasets {
        // A missing result counts as worse than any score.
        let aucs: Vec<f64> = detectors
            .iter()
            .map(|d| {
                cells
                    .iter()
                    .find(|c| c.dataset == dataset && &c.detector == d)
                    .map_or(f64::NEG_INFINITY, |c| c.roc_auc)
            })
            .collect();
        for (total, &auc) in totals.iter_mut().zip(&aucs) {
            let better = aucs.iter().filter(|&&a| a > auc).count() as f64;
            let tied = aucs.iter().filter(|&&a| a == auc).count() as f64;
            *total += better + (tied + 1.0) / 2.0;
        }
    }
    totals.iter().map(|t| t / datasets.len() as f64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(dataset: &str, detector: &str, roc_auc: f64) -> Cell {
        Cell {
            dataset: dataset.into(),
            detector: detector.into(),
            runs: 1,
            roc_auc,
            roc_auc_std: 0.0,
            average_precision: 0.0,
            fit_seconds: 0.0,
            published: None,
        }
    }

    #[test]
    fn ranks_share_ties_and_rank_a_missing_result_last() {
        let detectors = vec!["a".to_string(), "b".into(), "c".into()];
        let cells = vec![
            cell("x", "a", 0.9),
            cell("x", "b", 0.8),
            cell("x", "c", 0.8),
            cell("y", "a", 0.5),
            cell("y", "b", 0.7),
            cell("y", "c", 0.6),
            cell("z", "a", 0.1),
        ];
        // On z, b and c share the last two places (2.5 each) behind a's 0.1.
        let ranks = mean_ranks(&cells, &detectors, &["x", "y", "z"]);
        assert_eq!(ranks, vec![5.0 / 3.0, 6.0 / 3.0, 7.0 / 3.0]);
    }

    #[test]
    fn a_detector_that_ran_on_one_set_only_does_not_lead_the_ranks() {
        // The case of a leaderboard that ranked over the sets every detector finished.
        let detectors = vec!["alad".to_string(), "iforest".into()];
        let mut cells = vec![cell("s1", "alad", 0.55), cell("s1", "iforest", 0.5)];
        for set in ["s2", "s3", "s4"] {
            cells.push(cell(set, "iforest", 0.94));
        }
        let ranks = mean_ranks(&cells, &detectors, &["s1", "s2", "s3", "s4"]);
        assert!(ranks[1] < ranks[0], "{ranks:?}");
    }

    #[test]
    fn groups_average_over_seeds() {
        let record = |seed, auc| EvalRecord {
            dataset: "d".into(),
            detector: "pca".into(),
            protocol: "p".into(),
            seed,
            roc_auc: auc,
            ..EvalRecord::from_evaluation(&Evaluation::new(&[0.1, 0.9], &[0, 1], 0.5).unwrap())
        };
        let records = [record(1, 0.8), record(2, 1.0)];
        let groups = groups(&records);
        assert_eq!(groups.len(), 1);
        let (mean, std) = groups[0].mean_std(|r| r.roc_auc);
        assert!((mean - 0.9).abs() < 1e-12 && (std - 0.1414).abs() < 1e-4);
    }
}
