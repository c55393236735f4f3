use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use deviant_data::TableReader;
use deviant_data::fsutil::write_bytes_atomic;
use deviant_detectors::Model;

use crate::args::ReadArgs;
use crate::progress::Bars;

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A model directory written by `deviant fit`.
    pub model: PathBuf,
    /// A labelled table (the label column the model was trained with).
    pub data: PathBuf,
    /// Also write the metrics as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    #[command(flatten)]
    pub read: ReadArgs,
}

pub fn run(args: EvalArgs, quiet: bool) -> Result<()> {
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
    let scored = model.score(&data)?;
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
        eval.threshold, t.rule, t.chosen_on
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
    if let Some(path) = &args.json {
        write_bytes_atomic(path, &serde_json::to_vec_pretty(&eval)?)?;
        println!("metrics written to {}", path.display());
    }
    Ok(())
}
