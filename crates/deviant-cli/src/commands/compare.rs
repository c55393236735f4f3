//! `deviant compare`: every algorithm on one labelled table — supervised learners beside
//! unsupervised detectors — trained on part of it and tested on the rest (or on `--test`),
//! as one leaderboard with train and test metrics.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use deviant_core::FitContext;
use deviant_data::{TableReader, infer_schema};
use deviant_detectors::AnyConfig;
use deviant_detectors::catalogue::{Cost, Layout};
use deviant_engine::protocols::HoldOut;

use crate::args::{PipelineArgs, ReadArgs, SchemaArgs};
use crate::progress::Bars;
use crate::reporting::ReportArgs;
use crate::study::{Plan, Printer, ProtocolBenchArgs, report};

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// A labelled table (name its label column with --label): each algorithm trains on part
    /// of it, chooses its threshold on another part and is tested on the rest.
    pub data: PathBuf,
    /// A labelled test table read like the data; without it a stratified share of the data
    /// (--test-share) is the test set.
    #[arg(long)]
    pub test: Option<PathBuf>,
    #[arg(long, default_value_t = 0.3)]
    pub test_share: f64,
    /// The stratified share of the data that chooses thresholds.
    #[arg(long, default_value_t = 0.2)]
    pub validation_share: f64,
    /// Kinds to compare, comma-separated (default: every supervised learner and every
    /// detector of linear cost).
    #[arg(long, value_delimiter = ',')]
    pub detectors: Vec<String>,
    /// Detector parameter as KIND.KEY=VALUE (repeatable).
    #[arg(long = "set", value_name = "KIND.KEY=VALUE")]
    pub sets: Vec<String>,
    /// Seconds one algorithm may train; a longer, failed or refused fit is listed as
    /// skipped and the others go on.
    #[arg(long, default_value_t = 600)]
    pub budget: u64,
    /// Write the records (test and train metrics of each algorithm) as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the leaderboard as Markdown here.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Save every algorithm's model here, as DIR/SET/KIND-seedN (score, eval and serve load
    /// them; `eval --importance` measures their feature importance).
    #[arg(long, value_name = "DIR")]
    pub save_models: Option<PathBuf>,
    #[command(flatten)]
    pub report: ReportArgs,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    #[command(flatten)]
    pub read: ReadArgs,
    #[command(flatten)]
    pub schema: SchemaArgs,
}

/// Every supervised learner and every tabular detector of linear cost.
fn default_kinds() -> Vec<String> {
    AnyConfig::kinds()
        .into_iter()
        .filter(|k| k.layouts.contains(&Layout::Tabular))
        .filter(|k| k.needs_labels || k.cost == Cost::Linear)
        .map(|k| k.kind.to_string())
        .collect()
}

pub fn run(args: CompareArgs, quiet: bool) -> Result<()> {
    let read = args.read.options()?;
    let schema = infer_schema(&args.data, &read, &args.schema.options())?;
    anyhow::ensure!(
        schema.label.is_some(),
        "compare measures every algorithm against labels: name the label column of {} with \
         --label COLUMN",
        args.data.display()
    );
    for (flag, share) in [
        ("--test-share", args.test_share),
        ("--validation-share", args.validation_share),
    ] {
        anyhow::ensure!(
            (0.0..0.5).contains(&share),
            "{flag} {share}: give a share in [0, 0.5)"
        );
    }
    let bars = Arc::new(Bars::new(quiet));
    let table = TableReader::open(&args.data, &read, &schema)?.read_all_with_progress(&*bars)?;
    let test = match &args.test {
        Some(path) => Some(
            TableReader::open(path, &read, &schema)
                .and_then(|reader| reader.read_all_with_progress(&*bars))
                .with_context(|| format!("reading the test table {}", path.display()))?,
        ),
        None => None,
    };
    let name = args
        .data
        .file_stem()
        .map_or_else(|| "data".into(), |s| s.to_string_lossy().into_owned());
    let protocol = HoldOut {
        name,
        schema,
        table,
        test,
        test_share: args.test_share,
        validation_share: args.validation_share,
        keep_anomalies: false,
        preprocess: args.pipeline.preprocess(),
        threshold: args.pipeline.threshold,
    };
    let kinds = match args.detectors.is_empty() {
        true => default_kinds(),
        false => args.detectors.clone(),
    };
    let seeds = format!("{},", args.pipeline.seed);
    let plan = Plan::new(&kinds, &args.sets, &seeds)?;
    let keep = args
        .report
        .report
        .is_some()
        .then_some((args.pipeline.seed, args.report.explain_rows));
    let mut printer =
        Printer::new(bars.clone(), quiet, keep).saving_models(args.save_models.clone());
    let context = FitContext::new(0).with_progress(bars);
    let budget = Some(Duration::from_secs(args.budget));
    let outcome = plan.run(vec![&protocol], &mut printer, budget, 1, context)?;
    let shared = ProtocolBenchArgs {
        detectors: kinds,
        seeds,
        sets: args.sets,
        json: args.json,
        markdown: args.markdown,
        work_dir: None,
        data_dir: None,
        scaling: Some(args.pipeline.scaling),
        workers: 1,
        save_models: args.save_models,
        report: args.report,
    };
    report(&outcome, &shared)
}
