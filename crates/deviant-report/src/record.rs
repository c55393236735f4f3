//! The leaderboard over evaluation records, as Markdown and as table cells.

use deviant_core::record::{EvalRecord, Group, groups};

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

/// The [`LEADERBOARD_COLUMNS`] cells of one group, as "mean ± std".
pub fn leaderboard_cells(group: &Group<'_>) -> Vec<String> {
    let cell = |field: fn(&EvalRecord) -> f64, digits: usize| {
        let (m, s) = group.mean_std(field);
        format!("{m:.digits$} ± {s:.digits$}")
    };
    vec![
        group.runs.len().to_string(),
        cell(|r| r.roc_auc, 4),
        cell(|r| r.average_precision, 4),
        cell(|r| r.precision, 4),
        cell(|r| r.recall, 4),
        cell(|r| r.f1, 4),
        cell(|r| r.f2, 4),
        cell(|r| r.fit_seconds, 2),
        if group.runs.iter().all(|r| r.epochs == 0) {
            "–".to_string()
        } else {
            cell(|r| r.epoch_seconds, 3)
        },
        cell(|r| r.score_seconds, 3),
    ]
}

/// A Markdown table, one row per (dataset, protocol, detector), mean ± std over seeds.
pub fn leaderboard(records: &[EvalRecord]) -> String {
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
            leaderboard_cells(&group).join(" | ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use deviant_core::metrics::Evaluation;

    #[test]
    fn leaderboard_averages_over_seeds() {
        let record = |seed, auc| EvalRecord {
            dataset: "d".into(),
            detector: "pca".into(),
            protocol: "p".into(),
            seed,
            roc_auc: auc,
            ..EvalRecord::from_evaluation(&Evaluation::new(&[0.1, 0.9], &[0, 1], 0.5).unwrap())
        };
        let table = leaderboard(&[record(1, 0.8), record(2, 1.0)]);
        assert!(
            table.contains("| d | p | pca | 2 | 0.9000 ± 0.1414 |"),
            "{table}"
        );
    }
}
