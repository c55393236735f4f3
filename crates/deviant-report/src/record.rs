//! The record every benchmark writes, and the leaderboard over records.

use serde::{Deserialize, Serialize};

/// One benchmark run; every benchmark writes this shape.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchRecord {
    pub dataset: String,
    pub detector: String,
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
}

/// Mean ± sample standard deviation.
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

/// The leaderboard's columns after dataset, protocol and detector.
pub const LEADERBOARD_COLUMNS: [&str; 10] = [
    "seeds",
    "ROC AUC",
    "AP",
    "precision",
    "recall",
    "F1",
    "F2",
    "fit s",
    "epoch s",
    "score s",
];

/// The runs of one detector on one dataset under one protocol, over seeds.
pub struct Group<'a> {
    pub dataset: &'a str,
    pub protocol: &'a str,
    pub detector: &'a str,
    pub runs: Vec<&'a BenchRecord>,
}

impl Group<'_> {
    /// Mean ± sample standard deviation of one field over the runs.
    pub fn mean_std(&self, field: fn(&BenchRecord) -> f64) -> (f64, f64) {
        mean_std(&self.runs.iter().map(|r| field(r)).collect::<Vec<_>>())
    }

    /// The [`LEADERBOARD_COLUMNS`] cells, as "mean ± std".
    pub fn cells(&self) -> Vec<String> {
        let cell = |field: fn(&BenchRecord) -> f64, digits: usize| {
            let (m, s) = self.mean_std(field);
            format!("{m:.digits$} ± {s:.digits$}")
        };
        vec![
            self.runs.len().to_string(),
            cell(|r| r.roc_auc, 4),
            cell(|r| r.average_precision, 4),
            cell(|r| r.precision, 4),
            cell(|r| r.recall, 4),
            cell(|r| r.f1, 4),
            cell(|r| r.f2, 4),
            cell(|r| r.fit_seconds, 2),
            if self.runs.iter().all(|r| r.epochs == 0) {
                "–".to_string()
            } else {
                cell(|r| r.epoch_seconds, 3)
            },
            cell(|r| r.score_seconds, 3),
        ]
    }
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

/// The records grouped by (dataset, protocol, detector), in order of first appearance.
pub fn groups(records: &[BenchRecord]) -> Vec<Group<'_>> {
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

/// A Markdown table, one row per (dataset, protocol, detector), mean ± std over seeds.
pub fn leaderboard(records: &[BenchRecord]) -> String {
    let mut out = format!(
        "| dataset | protocol | detector | {} |\n|---|---|---|{}\n",
        LEADERBOARD_COLUMNS.join(" | "),
        "---|".repeat(LEADERBOARD_COLUMNS.len())
    );
    for group in groups(records) {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            group.dataset,
            group.protocol,
            group.detector,
            group.cells().join(" | ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaderboard_averages_over_seeds() {
        let record = |seed, auc| BenchRecord {
            dataset: "d".into(),
            detector: "pca".into(),
            protocol: "p".into(),
            seed,
            roc_auc: auc,
            average_precision: 0.0,
            precision: 0.0,
            recall: 0.0,
            f1: 0.0,
            f2: 0.0,
            accuracy: 0.0,
            threshold: 0.0,
            threshold_rule: String::new(),
            fit_seconds: 0.0,
            epochs: 0,
            epoch_seconds: 0.0,
            final_loss: None,
            score_seconds: 0.0,
            peak_rss_bytes: 0,
        };
        let table = leaderboard(&[record(1, 0.8), record(2, 1.0)]);
        assert!(
            table.contains("| d | p | pca | 2 | 0.9000 ± 0.1414 |"),
            "{table}"
        );
    }
}
