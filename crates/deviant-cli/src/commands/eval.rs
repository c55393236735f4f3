use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use deviant_core::Scoring;
use deviant_core::fsutil::write_bytes_atomic;
use deviant_core::metrics::per_class;
use deviant_core::record::ColumnImportance;
use deviant_data::{Table, TableReader};
use deviant_engine::Model;
use deviant_engine::classes::ClassModels;
use deviant_engine::importance::permutation_importance;
use deviant_report::{EvalReport, ScoredSplit, series_colour};

use crate::args::ReadArgs;
use crate::progress::Bars;
use crate::reporting::{ReportArgs, explain_top, write_report};

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A model directory written by `deviant fit`.
    pub model: PathBuf,
    /// A labelled table (the label column the model was trained with).
    pub data: PathBuf,
    /// Also write the metrics as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Measure each column's permutation importance (the drop in ROC AUC when it is
    /// shuffled) on the data, and on `--train` when given; printed, and charted in the
    /// report.
    #[arg(long)]
    pub importance: bool,
    /// The labelled training table, to measure importance on train beside the data.
    #[arg(long, value_name = "FILE", requires = "importance")]
    pub train: Option<PathBuf>,
    /// Shuffles per column for the importance.
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    #[command(flatten)]
    pub read: ReadArgs,
    #[command(flatten)]
    pub report: ReportArgs,
}

pub fn run(args: EvalArgs, quiet: bool) -> Result<()> {
    if ClassModels::is_in(&args.model) {
        return per_class_models(&args, quiet);
    }
    let model = Model::load(&args.model)?;
    let schema = &model.manifest.schema;
    let label = schema.label.as_ref().with_context(
        || "the model was trained without --label, so it does not know which column holds labels",
    )?;
    let reader = TableReader::open(&args.data, &args.read.options()?, schema)?;
    anyhow::ensure!(
        reader.has_labels(),
        "{} has no label column `{}`",
        args.data.display(),
        label.column
    );
    let table = reader.read_all_with_progress(&Bars::new(quiet))?;
    let data = model.prepare(&table)?;
    let scored = model.score(&data, Scoring::Batch)?;
    let labels = data.labels.as_ref().expect("labels were read").to_vec();
    let eval = scored.evaluate(&labels)?;
    let t = &model.manifest.threshold;
    println!(
        "rows: {} ({} anomalies)",
        labels.len(),
        labels.iter().filter(|&&l| l == 1).count()
    );
    println!(
        "threshold: {:.6} ({}, chosen on {})",
        eval.threshold,
        t.rule(),
        t.chosen_on()
    );
    println!("{:<18} {:>8}", "metric", "value");
    for (name, value) in [
        ("roc_auc", eval.roc_auc),
        ("average_precision", eval.average_precision),
        ("precision", eval.precision),
        ("recall", eval.recall),
        ("f1", eval.f1),
        ("f2", eval.f2),
        ("accuracy", eval.accuracy),
    ] {
        println!("{name:<18} {value:>8.4}");
    }
    let c = eval.confusion;
    println!(
        "confusion: tp {} fp {} tn {} fn {}",
        c.tp, c.fp, c.tn, c.fn_
    );
    // Per value of the label column (attack names, categories), when it has more than the
    // two a binary label needs.
    let classes = table
        .classes
        .as_deref()
        .map(|classes| per_class(classes, &labels, &scored.flags))
        .filter(|classes| classes.len() > 2)
        .unwrap_or_default();
    if !classes.is_empty() {
        println!(
            "{:<24} {:>8} {:>8} {:>10} {:>12}",
            "label value", "rows", "flagged", "% flagged", "% of flagged"
        );
        for c in &classes {
            println!(
                "{:<24} {:>8} {:>8} {:>9.2}% {:>11.2}%{}",
                c.class,
                c.rows,
                c.flagged,
                100.0 * c.flagged_share,
                100.0 * c.share_of_flagged,
                if c.normal { "  (normal)" } else { "" }
            );
        }
    }
    let mut importance = Vec::new();
    if args.importance {
        if let Some(train) = &args.train {
            let rows = TableReader::open(train, &args.read.options()?, schema)?.read_all()?;
            importance.push((
                "train".to_string(),
                measure_importance(&model, &rows, &args)?,
            ));
        }
        importance.push((
            file_name(&args.data),
            measure_importance(&model, &table, &args)?,
        ));
        print_importance(&importance);
    }
    if let Some(path) = &args.json {
        // The metrics at the top, as without the extras.
        let mut json = serde_json::to_value(&eval)?;
        if !importance.is_empty() {
            json["importance"] = serde_json::to_value(&importance)?;
        }
        if !classes.is_empty() {
            json["classes"] = serde_json::to_value(&classes)?;
        }
        write_bytes_atomic(path, &serde_json::to_vec_pretty(&json)?)?;
        println!("metrics written to {}", path.display());
    }
    if let Some(dir) = &args.report.report {
        let scores = &scored.scores;
        let explained = explain_top(&model, &data, scores, args.report.explain_rows, |i| {
            format!("line {}", table.lines[i])
        })?;
        let m = &model.manifest;
        let kind = m.detector.kind();
        let facts = vec![
            ("model".to_string(), args.model.display().to_string()),
            ("detector".to_string(), kind.to_string()),
            (
                "parameters".to_string(),
                serde_json::to_string(&serde_json::to_value(&m.detector)?["params"])?,
            ),
            ("data".to_string(), args.data.display().to_string()),
            (
                "rows".to_string(),
                format!(
                    "{} ({} anomalies)",
                    labels.len(),
                    labels.iter().filter(|&&l| l == 1).count()
                ),
            ),
            (
                "threshold".to_string(),
                format!(
                    "{:.6} ({}, chosen on {})",
                    eval.threshold,
                    t.rule(),
                    t.chosen_on()
                ),
            ),
            (
                "trained on".to_string(),
                format!(
                    "{} rows, seed {}, {:.1} s",
                    m.training.rows, m.training.seed, m.training.fit_seconds
                ),
            ),
            ("deviant".to_string(), m.deviant_version.clone()),
        ];
        let report = EvalReport {
            title: format!("deviant evaluation: {kind} on {}", file_name(&args.data)),
            facts,
            split: ScoredSplit {
                name: kind,
                colour: series_colour(0),
                scores,
                labels: &labels,
                evaluation: &eval,
                history: &m.training.summary.history,
                explained: &explained,
            },
            importance: &importance,
            classes: &classes,
            options: args.report.chart_options(),
        };
        let page = write_report(dir, &report.render()?)?;
        println!("report written to {}", page.display());
    }
    Ok(())
}

/// `eval` of the models `fit --per-class` wrote: each row gets the value whose model scores
/// it highest; precision, recall and F1 per value, their macro mean and the accuracy.
fn per_class_models(args: &EvalArgs, quiet: bool) -> Result<()> {
    anyhow::ensure!(
        args.report.report.is_none() && !args.importance,
        "{} holds one model per class: eval prints and writes (--json) their per-class \
         results; --report and --importance take one model (one of its class-N folders)",
        args.model.display()
    );
    let models = ClassModels::load(&args.model)?;
    let schema = &models.models[0].manifest.schema;
    let table = TableReader::open(&args.data, &args.read.options()?, schema)?
        .read_all_with_progress(&Bars::new(quiet))?;
    let classes = models.evaluate(&table)?;
    let measured: usize = classes.iter().map(|c| c.support).sum();
    let hits: f64 = classes.iter().map(|c| c.recall * c.support as f64).sum();
    let macro_f1 = classes.iter().map(|c| c.f1).sum::<f64>() / classes.len() as f64;
    println!(
        "rows: {} ({} of a value the models know)",
        table.n_rows(),
        measured
    );
    println!(
        "{:<24} {:>8} {:>9} {:>9} {:>8} {:>8}",
        "label value", "rows", "predicted", "precision", "recall", "f1"
    );
    for c in &classes {
        println!(
            "{:<24} {:>8} {:>9} {:>9.4} {:>8.4} {:>8.4}",
            c.class, c.support, c.predicted, c.precision, c.recall, c.f1
        );
    }
    // Rows of a value no model knows are wrong whatever they are given.
    let accuracy = hits / table.n_rows() as f64;
    println!("macro f1 {macro_f1:.4}, accuracy {accuracy:.4}");
    if let Some(path) = &args.json {
        let json = serde_json::json!({
            "classes": classes,
            "macro_f1": macro_f1,
            "accuracy": accuracy,
        });
        write_bytes_atomic(path, &serde_json::to_vec_pretty(&json)?)?;
        println!("metrics written to {}", path.display());
    }
    Ok(())
}

/// Permutation importance of every column of `rows`, seeded by the model's training seed.
fn measure_importance(
    model: &Model,
    rows: &Table,
    args: &EvalArgs,
) -> Result<Vec<ColumnImportance>> {
    permutation_importance(model, rows, args.repeats, model.manifest.training.seed)
        .with_context(|| "measuring feature importance")
}

/// One line per column: the drop on each set of rows, and the learner's own share.
fn print_importance(sets: &[(String, Vec<ColumnImportance>)]) {
    let Some((_, first)) = sets.first() else {
        return;
    };
    let names: Vec<String> = sets
        .iter()
        .map(|(name, _)| format!("drop on {name}"))
        .collect();
    print!("{:<24}", "column");
    for name in &names {
        print!(" {name:>22}");
    }
    println!(" {:>8}", "own");
    for column in first {
        print!("{:<24}", column.column);
        for (_, set) in sets {
            match set.iter().find(|c| c.column == column.column) {
                Some(c) => print!(" {:>13.4} ± {:<6.4}", c.roc_auc_drop, c.std),
                None => print!(" {:>22}", "–"),
            }
        }
        match column.own {
            Some(own) => println!(" {own:>8.4}"),
            None => println!(" {:>8}", "–"),
        }
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
