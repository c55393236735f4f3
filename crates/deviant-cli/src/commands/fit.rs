use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use deviant_core::FitContext;
use deviant_data::{TableReader, infer_schema};
use deviant_engine::classes::ClassModels;
use deviant_engine::{FitTable, TrainSpec, Trial, run_trial};

use crate::args::{PipelineArgs, ReadArgs, SchemaArgs, detector_config};
use crate::progress::Bars;

#[derive(Debug, Args)]
pub struct FitArgs {
    /// Training table: CSV or TSV (optionally gzipped), or an `.npz` with arrays `X` and `y`.
    pub data: PathBuf,
    /// Detector kind (see `deviant models`).
    #[arg(long, short)]
    pub detector: Option<String>,
    /// Detector config file, JSON or TOML: {"kind": …, "params": {…}}.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Detector parameter, e.g. `--set training.epochs=30` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Where to write the model directory.
    #[arg(long, short)]
    pub out: PathBuf,
    /// Validation table, read like the training table; chooses the threshold.
    #[arg(long)]
    pub validation: Option<PathBuf>,
    /// Also train on rows labelled anomalous (by default only normal rows are used).
    #[arg(long)]
    pub keep_anomalies: bool,
    /// One supervised learner per value of a multi-valued label column (attack names or
    /// categories), each that value against the rest; `eval` then gives precision, recall
    /// and F1 per value.
    #[arg(long, requires = "label")]
    pub per_class: bool,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    #[command(flatten)]
    pub read: ReadArgs,
    #[command(flatten)]
    pub schema: SchemaArgs,
}

pub fn run(args: FitArgs, quiet: bool) -> Result<()> {
    let detector = detector_config(args.detector.as_deref(), args.config.as_ref(), &args.sets)?;
    let read = args.read.options()?;
    let schema = infer_schema(&args.data, &read, &args.schema.options())?;
    let bars = Arc::new(Bars::new(quiet));
    let table = TableReader::open(&args.data, &read, &schema)?.read_all_with_progress(&*bars)?;
    let validation = match &args.validation {
        Some(path) => {
            Some(TableReader::open(path, &read, &schema)?.read_all_with_progress(&*bars)?)
        }
        None => None,
    };
    let splits = FitTable {
        schema,
        preprocess: args.pipeline.preprocess(),
        threshold_rule: args.pipeline.threshold,
        keep_anomalies: args.keep_anomalies,
        // Supervised learners train on every labelled row, detectors on the normal ones.
        learns_labels: detector.needs_labels() || args.per_class,
    }
    .splits(table, validation);
    let cx = FitContext::new(args.pipeline.seed).with_progress(bars);
    if args.per_class {
        let rows = splits.training_rows(true, args.pipeline.seed)?;
        let spec = TrainSpec {
            config: &detector,
            schema: &splits.schema,
            preprocess: splits.preprocess,
            fit: &rows.fit,
            threshold_rows: rows.threshold.as_deref(),
            threshold: splits.threshold_rule,
        };
        let models = ClassModels::train(spec, &cx)?;
        models
            .save(&args.out)
            .with_context(|| format!("saving the models to {}", args.out.display()))?;
        println!(
            "trained {} models of {} (each value of the label against the rest): {}",
            models.classes.len(),
            detector.kind(),
            models.classes.join(", ")
        );
        println!("models saved to {}", args.out.display());
        return Ok(());
    }
    let trial = Trial {
        config: &detector,
        seed: args.pipeline.seed,
        budget: None,
    };
    let model = run_trial(&splits, &trial, &cx)?.model;
    model
        .save(&args.out)
        .with_context(|| format!("saving the model to {}", args.out.display()))?;
    let m = &model.manifest;
    println!(
        "trained {} on {} rows x {} features in {:.2} s",
        detector.kind(),
        m.training.rows,
        m.feature_names.len(),
        m.training.fit_seconds
    );
    if let Some(last) = m.training.summary.history.last() {
        println!(
            "epochs: {}, final training loss {:.6}",
            last.epoch,
            last.train.get("loss").copied().unwrap_or(f64::NAN)
        );
    }
    for note in &m.training.summary.notes {
        println!("note: {note}");
    }
    match m.threshold.fixed() {
        Some(v) => println!(
            "threshold: {v:.6} ({}, chosen on {})",
            m.threshold.rule(),
            m.threshold.chosen_on()
        ),
        None => println!(
            "threshold: {}, applied to each scored batch",
            m.threshold.rule()
        ),
    }
    println!("model saved to {}", args.out.display());
    Ok(())
}
