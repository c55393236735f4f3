//! What every benchmark command shares: the flags of a study, the observer that prints each
//! trial and keeps the first seed's scores for the report, and the leaderboard output.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use deviant_core::fsutil::write_bytes_atomic;
use deviant_core::record::{EvalRecord, Skipped, distinct};
use deviant_core::{FitContext, Progress};
use deviant_data::Scaling;
use deviant_detectors::AnyConfig;
use deviant_engine::{Observer, Protocol, Study, TrialOutcome};
use deviant_report::{ComparisonReport, ScoredRun, leaderboard};

use crate::args::{detectors_with_sets, parse_scaling, parse_seeds};
use crate::progress::Bars;
use crate::reporting::{ReportArgs, explain_top, write_report};

/// What every benchmark over a dataset recipe takes.
#[derive(Debug, Args, Clone)]
pub struct ProtocolBenchArgs {
    /// Detector kinds, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "ae,pca,iforest")]
    pub detectors: Vec<String>,
    /// A count N (seeds 1..=N) or a list such as 1,2,3 (one seed alone: 7,).
    #[arg(long, default_value = "3")]
    pub seeds: String,
    /// Detector parameter as KIND.KEY=VALUE, e.g. `--set ae.training.epochs=10` (repeatable).
    #[arg(long = "set", value_name = "KIND.KEY=VALUE")]
    pub sets: Vec<String>,
    /// Write the records as a JSON array here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the leaderboard as Markdown here.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Where the protocol's CSVs go (default: a temporary folder).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Folder holding the dataset's files (see `deviant data … --help`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Column scaling fitted on the training rows (standard, minmax, none), in place of the
    /// protocol's own (min-max; standard for KDD's `alibi`).
    #[arg(long, value_parser = parse_scaling)]
    pub scaling: Option<Scaling>,
    /// Trials run at once (each fit also uses the threads it needs).
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Save every trial's model here, as DIR/SET/KIND-seedN (`deviant score` loads them).
    #[arg(long, value_name = "DIR")]
    pub save_models: Option<PathBuf>,
    #[command(flatten)]
    pub report: ReportArgs,
}

/// What a benchmark produced: every record, the runs that did not finish, and the first
/// seed's scores for the report's curves (kept only when a report is asked for).
pub struct BenchOutcome {
    pub protocol: String,
    pub records: Vec<EvalRecord>,
    pub skipped: Vec<Skipped>,
    pub runs: Vec<ScoredRun>,
}

/// Prints one line per test set as trials end and keeps what the report draws.
pub struct Printer {
    bars: Arc<Bars>,
    quiet: bool,
    /// The seed whose scores are kept, and how many top rows to explain.
    keep: Option<(u64, usize)>,
    /// Counts finished and skipped trials on the bar, when the study has a known size.
    counted: bool,
    /// Where each trial's model is saved.
    models: Option<PathBuf>,
    runs: Vec<ScoredRun>,
}

impl Printer {
    /// `keep`: the seed whose scores the report draws and the rows it explains.
    pub fn new(bars: Arc<Bars>, quiet: bool, keep: Option<(u64, usize)>) -> Self {
        Self {
            bars,
            quiet,
            keep,
            counted: false,
            models: None,
            runs: Vec::new(),
        }
    }

    /// Saves each trial's model under `dir`.
    pub fn saving_models(mut self, dir: Option<PathBuf>) -> Self {
        self.models = dir;
        self
    }

    /// Shows a bar over `trials` trials instead of per-trial lines.
    pub fn counting(mut self, name: &str, trials: usize) -> Self {
        self.bars.begin(name, trials as u64);
        self.counted = true;
        self
    }
}

impl Observer for Printer {
    fn started(&mut self, protocol: &dyn Protocol, detector: &str, seed: u64) {
        self.bars.message(&format!(
            "{} / {detector} / seed {seed}",
            protocol.dataset()
        ));
    }

    fn finished(
        &mut self,
        protocol: &dyn Protocol,
        detector: &str,
        outcome: &TrialOutcome,
    ) -> deviant_core::Result<()> {
        let training = &outcome.model.manifest.training;
        if let Some(dir) = &self.models {
            // NAB's set names are paths; one folder per set keeps them apart.
            let set = protocol.dataset().replace(['/', '\\'], "_");
            let name = format!("{detector}-seed{}", training.seed);
            outcome.model.save(&dir.join(set).join(name))?;
        }
        for test in &outcome.tests {
            let Some(evaluation) = &test.evaluation else {
                continue;
            };
            if !self.quiet && !self.counted {
                eprintln!(
                    "{} {detector:<8} seed {}: roc_auc {:.4}  f1 {:.4}  fit {:.1} s",
                    test.dataset,
                    training.seed,
                    evaluation.roc_auc,
                    evaluation.f1,
                    training.fit_seconds
                );
            }
            if let Some((seed, explain_rows)) = self.keep.filter(|(s, _)| *s == training.seed) {
                let scores = &test.scored.scores;
                let explained =
                    explain_top(&outcome.model, &test.data, scores, explain_rows, |i| {
                        format!("line {} of the test file", test.lines[i])
                    })
                    .map_err(|e| deviant_core::Error::internal(format!("{e:#}")))?;
                self.runs.push(ScoredRun {
                    detector: detector.into(),
                    dataset: test.dataset.clone(),
                    seed,
                    scores: scores.clone(),
                    labels: test
                        .data
                        .labels
                        .as_ref()
                        .map_or_else(Vec::new, |l| l.to_vec()),
                    evaluation: evaluation.clone(),
                    history: training.summary.history.clone(),
                    explained,
                });
            }
        }
        if self.counted {
            self.bars.advance(1);
        }
        Ok(())
    }

    fn skipped(&mut self, skipped: &Skipped) {
        if self.counted {
            self.bars.advance(1);
        } else if !self.quiet {
            eprintln!(
                "{} {} seed {}: skipped: {}",
                skipped.dataset, skipped.detector, skipped.seed, skipped.reason
            );
        }
    }
}

/// The configurations and seeds a study's flags name.
pub struct Plan {
    pub configs: Vec<AnyConfig>,
    pub seeds: Vec<u64>,
}

impl Plan {
    pub fn new(kinds: &[String], sets: &[String], seeds: &str) -> Result<Self> {
        Ok(Self {
            configs: detectors_with_sets(kinds, sets)?,
            seeds: parse_seeds(seeds)?,
        })
    }

    /// Runs the study over `protocols`: a failure ends it unless `budget` is given (then a
    /// failed or over-budget trial is skipped and reported). `context` carries progress.
    pub fn run(
        &self,
        protocols: Vec<&dyn Protocol>,
        printer: &mut Printer,
        budget: Option<Duration>,
        workers: usize,
        context: FitContext,
    ) -> Result<BenchOutcome> {
        let name = protocols.first().map_or("", |p| p.name()).to_string();
        let mut study = Study::new(protocols, &self.configs, &self.seeds);
        study.budget = budget;
        study.skip_failures = budget.is_some();
        study.workers = workers;
        study.context = context;
        let result = study.run(printer)?;
        printer.bars.finish();
        Ok(BenchOutcome {
            protocol: name,
            records: result.records,
            skipped: result.skipped,
            runs: std::mem::take(&mut printer.runs),
        })
    }
}

/// A benchmark over one recipe with the shared flags: its leaderboard, JSON, Markdown and
/// report, as `bench kdd99`, `nslkdd`, `ecg5000` and `mnist` and `demo` write them.
pub fn bench_protocols(
    protocols: Vec<&dyn Protocol>,
    args: &ProtocolBenchArgs,
    quiet: bool,
) -> Result<()> {
    let plan = Plan::new(&args.detectors, &args.sets, &args.seeds)?;
    let bars = Arc::new(Bars::new(quiet));
    let keep = args
        .report
        .report
        .is_some()
        .then(|| (plan.seeds[0], args.report.explain_rows));
    let mut printer =
        Printer::new(bars.clone(), quiet, keep).saving_models(args.save_models.clone());
    let context = FitContext::new(0).with_progress(bars);
    let outcome = plan.run(protocols, &mut printer, None, args.workers, context)?;
    report(&outcome, args)
}

/// Prints the leaderboard and writes the JSON, Markdown and HTML report asked for.
pub fn report(outcome: &BenchOutcome, args: &ProtocolBenchArgs) -> Result<()> {
    let records = &outcome.records;
    let table = leaderboard(records);
    println!("{table}");
    if let Some(path) = &args.json {
        write_bytes_atomic(path, &serde_json::to_vec_pretty(records)?)?;
        println!("records written to {}", path.display());
    }
    if let Some(path) = &args.markdown {
        write_bytes_atomic(path, table.as_bytes())?;
        println!("leaderboard written to {}", path.display());
    }
    if let Some(dir) = &args.report.report {
        let threshold_rules = distinct(records.iter().map(|r| r.threshold_rule.as_str()));
        let report = ComparisonReport {
            title: format!("deviant bench: {} protocol", outcome.protocol),
            facts: vec![
                ("protocol".into(), outcome.protocol.clone()),
                ("detectors".into(), args.detectors.join(", ")),
                ("seeds".into(), args.seeds.clone()),
                ("threshold".into(), threshold_rules.join("; ")),
                (
                    "settings".into(),
                    match args.sets.is_empty() {
                        true => "defaults".into(),
                        false => args.sets.join(" "),
                    },
                ),
                ("deviant".into(), env!("CARGO_PKG_VERSION").into()),
            ],
            summaries: Vec::new(),
            records,
            runs: &outcome.runs,
            detector_charts: true,
            options: args.report.chart_options(),
        };
        let page = write_report(dir, &report.render()?)?;
        println!("report written to {}", page.display());
    }
    Ok(())
}
