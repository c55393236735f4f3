//! The leaderboard over evaluation records, as Markdown and as table cells.

use deviant_core::record::{EvalRecord, Group, Metrics, groups, mean_std};

/// The leaderboard's columns after dataset, protocol and detector: whether it trained on
/// labels, then the test metrics.
pub const LEADERBOARD_COLUMNS: [&str; 12] = [
    "labels",
    "seeds",
    "ROC AUC",
    "AP",
    "precision",
    "recall",
    "F1",
    "F2",
    "accuracy",
    "fit s",
    "epoch s",
    "score s",
];

/// The columns that follow where records have metrics on their labelled training rows.
pub const TRAIN_COLUMNS: [&str; 7] = [
    "train ROC AUC",
    "train AP",
    "train precision",
    "train recall",
    "train F1",
    "train F2",
    "train accuracy",
];

/// The leaderboard's columns for `records`: [`TRAIN_COLUMNS`] too when any has them.
pub fn leaderboard_columns(records: &[EvalRecord]) -> Vec<&'static str> {
    let mut columns = LEADERBOARD_COLUMNS.to_vec();
    if records.iter().any(|r| r.train.is_some()) {
        columns.extend(TRAIN_COLUMNS);
    }
    columns
}

/// The cells of one group under `columns` (from [`leaderboard_columns`]), as "mean ± std".
pub fn leaderboard_cells(group: &Group<'_>, columns: &[&str]) -> Vec<String> {
    let cell = |field: &dyn Fn(&EvalRecord) -> f64, digits: usize| {
        let values: Vec<f64> = group.runs.iter().map(|r| field(r)).collect();
        let (m, s) = mean_std(&values);
        format!("{m:.digits$} ± {s:.digits$}")
    };
    // A train metric is "–" for a group without train metrics.
    let train = |field: fn(&Metrics) -> f64| match group.runs.iter().all(|r| r.train.is_some()) {
        true => cell(
            &|r: &EvalRecord| field(r.train.as_ref().expect("checked")),
            4,
        ),
        false => "–".to_string(),
    };
    columns
        .iter()
        .map(|&column| match column {
            "labels" => match group.runs.iter().any(|r| r.supervised) {
                true => "yes".to_string(),
                false => "no".to_string(),
            },
            "seeds" => group.runs.len().to_string(),
            "ROC AUC" => cell(&|r| r.roc_auc, 4),
            "AP" => cell(&|r| r.average_precision, 4),
            "precision" => cell(&|r| r.precision, 4),
            "recall" => cell(&|r| r.recall, 4),
            "F1" => cell(&|r| r.f1, 4),
            "F2" => cell(&|r| r.f2, 4),
            "accuracy" => cell(&|r| r.accuracy, 4),
            "fit s" => cell(&|r| r.fit_seconds, 2),
            "epoch s" if group.runs.iter().all(|r| r.epochs == 0) => "–".to_string(),
            "epoch s" => cell(&|r| r.epoch_seconds, 3),
            "score s" => cell(&|r| r.score_seconds, 3),
            "train ROC AUC" => train(|m| m.roc_auc),
            "train AP" => train(|m| m.average_precision),
            "train precision" => train(|m| m.precision),
            "train recall" => train(|m| m.recall),
            "train F1" => train(|m| m.f1),
            "train F2" => train(|m| m.f2),
            "train accuracy" => train(|m| m.accuracy),
            other => unreachable!("no leaderboard column {other}"),
        })
        .collect()
}

/// A Markdown table, one row per (dataset, protocol, detector), mean ± std over seeds.
pub fn leaderboard(records: &[EvalRecord]) -> String {
    let columns = leaderboard_columns(records);
    let mut out = format!(
        "| dataset | protocol | detector | {} |\n|---|---|---|{}\n",
        columns.join(" | "),
        "---|".repeat(columns.len())
    );
    for group in groups(records) {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            group.dataset,
            group.protocol,
            group.detector,
            leaderboard_cells(&group, &columns).join(" | ")
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
            table.contains("| d | p | pca | no | 2 | 0.9000 ± 0.1414 |"),
            "{table}"
        );
    }
}
