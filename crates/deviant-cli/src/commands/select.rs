//! `deviant select`: the engine's model selection on a user's table, saved as an ordinary
//! model directory with its leaderboard and a report of why it was chosen.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use deviant_core::FitContext;
use deviant_core::fsutil::write_bytes_atomic;
use deviant_data::{TableReader, infer_schema};
use deviant_detectors::catalogue::Layout;
use deviant_engine::select::{Attempt, Corpus, SelectObserver, SelectOptions, Selection, select};
use deviant_engine::{ReportSet, Splits, TrialOutcome};
use deviant_report::SelectionReport;

use crate::args::{PipelineArgs, ReadArgs, SchemaArgs, parse_budget};
use crate::progress::Bars;
use crate::reporting::write_report;

#[derive(Debug, Args)]
pub struct SelectArgs {
    /// The table to choose a detector for (any format `fit` reads).
    pub data: PathBuf,
    /// Where to write the chosen model directory.
    #[arg(long, short)]
    pub out: PathBuf,
    /// Wall-clock limit of the whole selection, e.g. 90s, 10m, 1h (a bare number is seconds).
    #[arg(long, value_parser = parse_budget, default_value = "10m")]
    pub budget: Duration,
    /// Share of the labelled rows (with `--label`) that choose among candidates, drawn
    /// stratified; the others train (supervised learners with their labels). Rows whose
    /// label cell is empty are unlabelled and only train, so a partly labelled file works
    /// as it is; on a fully labelled one this simulates a few labels.
    #[arg(long, default_value_t = 0.2)]
    pub labelled_share: f64,
    /// What a row is: tabular, windows (of a series) or images.
    #[arg(long, default_value = "tabular", value_parser = parse_layout)]
    pub layout: Layout,
    /// The most members of an ensemble (1: a single detector).
    #[arg(long, default_value_t = 5)]
    pub members: usize,
    /// Leave the deep kinds out of the candidates.
    #[arg(long)]
    pub no_deep: bool,
    /// A corpus file in place of the shipped one (`deviant bench select-corpus` writes it).
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// A separate labelled table the chosen model is tested on (never used to choose).
    #[arg(long)]
    pub test: Option<PathBuf>,
    /// Write the leaderboard as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write an HTML page explaining the choice into this folder.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    #[command(flatten)]
    pub read: ReadArgs,
    #[command(flatten)]
    pub schema: SchemaArgs,
}

fn parse_layout(s: &str) -> Result<Layout, String> {
    match s {
        "tabular" => Ok(Layout::Tabular),
        "windows" => Ok(Layout::Windows),
        "images" => Ok(Layout::Images),
        _ => Err(format!("`{s}` is not one of tabular, windows, images")),
    }
}

/// Prints each attempt as it ends.
struct Lines {
    quiet: bool,
}

impl SelectObserver for Lines {
    fn attempted(&mut self, attempt: &Attempt) {
        if self.quiet || attempt.status.starts_with("not tried") {
            return;
        }
        let auc = attempt
            .select_roc_auc
            .map_or(String::new(), |v| format!(" ROC AUC {v:.4}"));
        eprintln!(
            "{:<50} {}{auc} ({} rows, {:.2} s)",
            attempt.label, attempt.status, attempt.rows, attempt.fit_seconds
        );
    }
}

pub fn run(args: SelectArgs, quiet: bool) -> Result<()> {
    if !(0.0..1.0).contains(&args.labelled_share) || args.labelled_share == 0.0 {
        anyhow::bail!("--labelled-share must be above 0 and below 1");
    }
    let read = args.read.options()?;
    let schema = infer_schema(&args.data, &read, &args.schema.options())?;
    let bars = Arc::new(Bars::new(quiet));
    let table = TableReader::open(&args.data, &read, &schema)?.read_all_with_progress(&*bars)?;
    // A test table is a report set: measured only, and refused if it shares rows with the
    // data (the same file given twice).
    let report = match &args.test {
        Some(path) => vec![ReportSet {
            dataset: path.display().to_string(),
            rows: TableReader::open(path, &read, &schema)?.read_all()?,
        }],
        None => Vec::new(),
    };
    let mut splits = Splits::for_selection(
        schema,
        args.pipeline.preprocess(),
        args.pipeline.threshold,
        table,
        args.labelled_share,
        args.pipeline.seed,
    )?;
    splits.report = report;
    let corpus = match &args.corpus {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Corpus::parse(&text, &path.display().to_string())?
        }
        None => Corpus::shipped()?,
    };
    let options = SelectOptions {
        layout: args.layout,
        budget: args.budget,
        members: args.members,
        deep: !args.no_deep,
        corpus: Some(corpus),
        leave_out: Vec::new(),
    };
    let cx = FitContext::new(args.pipeline.seed).with_progress(bars);
    let selection = select(&splits, &options, &cx, &mut Lines { quiet })?;
    let chosen = describe(&selection);
    let mut facts = vec![
        ("data".to_string(), args.data.display().to_string()),
        ("strategy".into(), selection.strategy.to_string()),
        ("chosen".into(), chosen.clone()),
        ("seconds".into(), format!("{:.1}", selection.seconds)),
    ];
    for reason in &selection.reasons {
        println!("{reason}");
    }
    let leaderboard = selection.leaderboard_json();
    let Selection {
        model,
        leaderboard: attempts,
        reasons,
        seconds,
        ..
    } = selection;
    let outcome = TrialOutcome::test(model, &splits)?;
    outcome
        .model
        .save(&args.out)
        .with_context(|| format!("saving the model to {}", args.out.display()))?;
    for test in &outcome.tests {
        let evaluation = test.evaluation.as_ref().with_context(|| {
            format!(
                "{}: the test table needs both classes in its label column",
                test.dataset
            )
        })?;
        let line = format!(
            "ROC AUC {:.4}, average precision {:.4}, F1 {:.4}",
            evaluation.roc_auc, evaluation.average_precision, evaluation.f1
        );
        println!("test ({}): {line}", test.dataset);
        facts.push(("test".into(), line));
    }
    if let Some(path) = &args.json {
        let bytes = serde_json::to_vec_pretty(&leaderboard)?;
        write_bytes_atomic(path, &bytes)?;
    }
    if let Some(dir) = &args.report {
        let report = SelectionReport {
            title: format!("Model selection for {}", args.data.display()),
            facts,
            reasons,
            header: [
                "configuration",
                "status",
                "labels",
                "predicted",
                "select ROC AUC",
                "rows",
                "fit s",
            ]
            .map(String::from)
            .to_vec(),
            rows: attempts.iter().map(row).collect(),
            leaderboard,
        };
        let page = write_report(dir, &report.render()?)?;
        println!("report: {}", page.display());
    }
    println!(
        "chose {} in {:.1} s; model saved to {}",
        chosen,
        seconds,
        args.out.display()
    );
    Ok(())
}

/// The chosen model in a few words.
fn describe(selection: &Selection) -> String {
    let chosen: Vec<&str> = selection
        .leaderboard
        .iter()
        .filter(|a| a.chosen)
        .map(|a| a.label.as_str())
        .collect();
    format!(
        "{} ({})",
        selection.model.manifest.detector.kind(),
        chosen.join(", ")
    )
}

fn row(a: &Attempt) -> Vec<String> {
    let number = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.4}"));
    let mark = if a.chosen { " ✓" } else { "" };
    vec![
        format!("{}{mark}", a.label),
        a.status.clone(),
        if a.supervised { "yes" } else { "no" }.into(),
        number(a.predicted),
        number(a.select_roc_auc),
        a.rows.to_string(),
        format!("{:.2}", a.fit_seconds),
    ]
}
