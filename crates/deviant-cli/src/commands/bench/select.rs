//! `deviant bench select-corpus` measures the selection's candidates on the ADBench sets
//! into the corpus file `select` ships; `deviant bench select` evaluates `select` on the same
//! sets leave-one-dataset-out: each set's selection learns from the corpus without that set.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use deviant_core::fsutil::write_bytes_atomic;
use deviant_core::record::mean_std;
use deviant_core::{FitContext, NoProgress};
use deviant_data::Preprocessor;
use deviant_data::adbench::dataset_files;
use deviant_data::download::{dataset_dirs, find_dir};
use deviant_data::kdd99::{self, Protocol as KddProtocol};
use deviant_detectors::AnyConfig;
use deviant_detectors::catalogue::Layout;
use deviant_engine::protocols::{Adbench, Kdd99};
use deviant_engine::select::{
    CORPUS_VERSION, Corpus, CorpusSet, META_FEATURES, SelectOptions, candidates, meta_features,
    select,
};
use deviant_engine::{NoObserver, Protocol, Study, Trial, TrialOutcome, run_trial};
use serde::Serialize;

use crate::args::{parse_budget, parse_seeds};
use crate::progress::Bars;
use crate::study::Printer;

/// Where the ADBench sets are and which of them to use.
#[derive(Debug, Args, Clone)]
pub struct AdbenchSets {
    /// Folder of ADBench `.npz` files, or one holding them under `npz/`.
    /// Default: $DEVIANT_DATASETS/tabular-odds-adbench.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Only these sets (names without the number prefix).
    #[arg(long, value_delimiter = ',')]
    pub datasets: Vec<String>,
}

impl AdbenchSets {
    fn open(&self) -> Result<Vec<Adbench>> {
        let root = find_dir(
            &dataset_dirs(self.data.as_deref(), "tabular-odds-adbench"),
            "an ADBench folder of .npz files",
            "--data",
        )?;
        Ok(dataset_files(&root, &self.datasets)?
            .iter()
            .map(|(name, path)| Adbench::open(name, path))
            .collect::<deviant_core::Result<Vec<_>>>()?)
    }
}

#[derive(Debug, Args, Clone)]
pub struct SelectCorpusArgs {
    #[command(flatten)]
    pub sets: AdbenchSets,
    /// Seeds each candidate is measured on (a count N or a list).
    #[arg(long, default_value = "1,")]
    pub seeds: String,
    /// Seconds one candidate may train on one set.
    #[arg(long, default_value_t = 300)]
    pub budget: u64,
    /// Where to write the corpus (the shipped one is crates/deviant-engine/corpus/adbench-v1.json).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn corpus(args: &SelectCorpusArgs, quiet: bool) -> Result<()> {
    let sets = args.sets.open()?;
    let seeds = parse_seeds(&args.seeds)?;
    let pool = candidates(Layout::Tabular);
    let configs: Vec<AnyConfig> = pool.iter().map(|c| c.config.clone()).collect();
    let trials = sets.len() * seeds.len() * configs.len();
    let mut printer =
        Printer::new(Arc::new(Bars::new(quiet)), quiet, None).counting("corpus", trials);
    let mut measured = Vec::with_capacity(sets.len());
    for set in &sets {
        let mut study = Study::new(vec![set as &dyn Protocol], &configs, &seeds);
        study.budget = Some(Duration::from_secs(args.budget));
        study.skip_failures = true;
        let result = study.run(&mut printer)?;
        let roc_auc = study
            .labels
            .iter()
            .map(|label| {
                let own: Vec<f64> = result
                    .records
                    .iter()
                    .filter(|r| &r.detector == label)
                    .map(|r| r.roc_auc)
                    .collect();
                (!own.is_empty()).then(|| mean_std(&own).0)
            })
            .collect();
        let splits = set.splits(seeds[0], &NoProgress)?;
        let train = Preprocessor::fit(&splits.schema, &splits.fit, splits.preprocess)?
            .dataset(&splits.fit)?;
        measured.push(CorpusSet {
            name: set.dataset().to_string(),
            meta: meta_features(train.view()),
            roc_auc,
        });
    }
    let corpus = Corpus {
        version: CORPUS_VERSION,
        source: format!(
            "ROC AUC on ADBench's unsupervised protocol, seeds {}, {} s per fit: \
             deviant bench select-corpus",
            args.seeds, args.budget
        ),
        meta_features: META_FEATURES.iter().map(|s| s.to_string()).collect(),
        candidates: configs,
        sets: measured,
    };
    write_bytes_atomic(&args.out, &serde_json::to_vec(&corpus)?)?;
    println!(
        "corpus of {} sets x {} candidates written to {}",
        corpus.sets.len(),
        corpus.candidates.len(),
        args.out.display()
    );
    Ok(())
}

#[derive(Debug, Args, Clone)]
pub struct SelectBenchArgs {
    #[command(flatten)]
    pub sets: AdbenchSets,
    /// A count N (seeds 1..=N) or a list.
    #[arg(long, default_value = "3")]
    pub seeds: String,
    /// Each selection's wall-clock budget.
    #[arg(long, value_parser = parse_budget, default_value = "10m")]
    pub budget: Duration,
    /// Label this share of the training rows (stratified) for the selection to choose by.
    #[arg(long)]
    pub labelled_share: Option<f64>,
    /// A KDD Cup 99 protocol (cloudera, dagmm, alad, alibi) in place of the ADBench sets:
    /// the selection chooses on its labelled validation rows where it has them, else
    /// without labels, and the test rows only measure.
    #[arg(long)]
    pub kdd99: Option<KddProtocol>,
    /// Folder holding the KDD Cup 99 files (see `deviant data kdd99 --help`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// The most members of an ensemble.
    #[arg(long, default_value_t = 5)]
    pub members: usize,
    /// Leave the deep kinds out of the candidates.
    #[arg(long)]
    pub no_deep: bool,
    /// Write the per-set results as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// One set and seed: what `select` chose and its test metrics beside Isolation Forest's
/// (F1 at each model's own threshold).
#[derive(Debug, Serialize)]
struct SetResult {
    dataset: String,
    seed: u64,
    chosen: AnyConfig,
    strategy: &'static str,
    select_seconds: f64,
    roc_auc: f64,
    f1: f64,
    iforest_roc_auc: f64,
    iforest_f1: f64,
}

pub fn evaluate(args: &SelectBenchArgs, quiet: bool) -> Result<()> {
    let work = tempfile::tempdir()?;
    let protocols: Vec<Box<dyn Protocol>> = match args.kdd99 {
        Some(protocol) => vec![Box::new(Kdd99 {
            sources: kdd99::locate(args.data_dir.as_deref(), &Bars::new(quiet))?,
            protocol,
            work_dir: work.path().to_path_buf(),
            scaling: None,
        })],
        None => args
            .sets
            .open()?
            .into_iter()
            .map(|s| match args.labelled_share {
                Some(share) => s.with_labelled_share(share),
                None => s,
            })
            .map(|s| Box::new(s) as Box<dyn Protocol>)
            .collect(),
    };
    let seeds = parse_seeds(&args.seeds)?;
    let corpus = Corpus::shipped()?;
    let iforest = AnyConfig::from_params("iforest", &serde_json::json!({}))?;
    let mut results = Vec::new();
    for set in &protocols {
        let set = set.as_ref();
        for &seed in &seeds {
            let splits = set.splits(seed, &NoProgress)?;
            let options = SelectOptions {
                layout: Layout::Tabular,
                budget: args.budget,
                members: args.members,
                deep: !args.no_deep,
                corpus: Some(corpus.clone()),
                leave_out: vec![set.dataset().to_string()],
            };
            let cx = FitContext::new(seed);
            let selection = select(&splits, &options, &cx, &mut NoObserver)?;
            let strategy = selection.strategy;
            let select_seconds = selection.seconds;
            let outcome = TrialOutcome::test(selection.model, &splits)?;
            let test = outcome.tests[0].evaluation.as_ref();
            let test = test.context("the test rows need both classes")?;
            // Isolation Forest on the same splits, not drawn again.
            let trial = Trial {
                config: &iforest,
                seed,
                budget: None,
            };
            let baseline = run_trial(&splits, &trial, &cx)?;
            let baseline = baseline.tests[0]
                .evaluation
                .clone()
                .context("both classes")?;
            let result = SetResult {
                dataset: set.dataset().to_string(),
                seed,
                chosen: outcome.model.manifest.detector.clone(),
                strategy,
                select_seconds,
                roc_auc: test.roc_auc,
                f1: test.f1,
                iforest_roc_auc: baseline.roc_auc,
                iforest_f1: baseline.f1,
            };
            if !quiet {
                eprintln!(
                    "{} seed {seed}: select ROC AUC {:.4} F1 {:.4} ({}, {:.1} s), iforest {:.4} F1 {:.4}",
                    result.dataset,
                    result.roc_auc,
                    result.f1,
                    describe(&result.chosen),
                    result.select_seconds,
                    result.iforest_roc_auc,
                    result.iforest_f1
                );
            }
            results.push(result);
        }
    }
    println!("{}", table(&results, &corpus));
    if let Some(path) = &args.json {
        write_bytes_atomic(path, &serde_json::to_vec_pretty(&results)?)?;
        println!("results written to {}", path.display());
    }
    Ok(())
}

/// The kinds of a chosen configuration, e.g. `ensemble(iforest+loda)`.
fn describe(config: &AnyConfig) -> String {
    match config {
        AnyConfig::Ensemble(e) => {
            let kinds: Vec<&str> = e.members.iter().map(AnyConfig::kind).collect();
            let weighted = if e.weights.is_some() { " weighted" } else { "" };
            format!("ensemble{weighted}({})", kinds.join("+"))
        }
        single => single.kind().to_string(),
    }
}

/// Per set: select's and Isolation Forest's mean ROC AUC over seeds and the best single
/// candidate of the corpus (an oracle: chosen on the test rows); then the means and the sets
/// where select falls more than 0.05 under Isolation Forest.
fn table(results: &[SetResult], corpus: &Corpus) -> String {
    let mut names: Vec<&str> = results.iter().map(|r| r.dataset.as_str()).collect();
    names.dedup();
    let mut out = String::from(
        "| dataset | select ROC AUC | iforest ROC AUC | best candidate (oracle) | select − iforest | select F1 | iforest F1 |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let (mut ours, mut theirs, mut best, mut worse) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for name in names {
        let own: Vec<&SetResult> = results.iter().filter(|r| r.dataset == name).collect();
        let a = mean_std(&own.iter().map(|r| r.roc_auc).collect::<Vec<_>>()).0;
        let b = mean_std(&own.iter().map(|r| r.iforest_roc_auc).collect::<Vec<_>>()).0;
        let f1 = mean_std(&own.iter().map(|r| r.f1).collect::<Vec<_>>()).0;
        let iforest_f1 = mean_std(&own.iter().map(|r| r.iforest_f1).collect::<Vec<_>>()).0;
        let oracle = corpus
            .sets
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| s.roc_auc.iter().flatten().copied().reduce(f64::max));
        out.push_str(&format!(
            "| {name} | {a:.4} | {b:.4} | {} | {:+.4} | {f1:.4} | {iforest_f1:.4} |\n",
            oracle.map_or("–".into(), |v| format!("{v:.4}")),
            a - b
        ));
        if a < b - 0.05 {
            worse.push(name.to_string());
        }
        ours.push(a);
        theirs.push(b);
        best.extend(oracle);
    }
    let oracle = match best.is_empty() {
        true => "no set in the corpus".to_string(),
        false => format!("{:.4} ({} sets)", mean_std(&best).0, best.len()),
    };
    out.push_str(&format!(
        "\nmean over {} sets: select {:.4}, iforest {:.4}, best candidate per set {oracle}\n\
         sets more than 0.05 under iforest: {} ({})\n",
        ours.len(),
        mean_std(&ours).0,
        mean_std(&theirs).0,
        worse.len(),
        worse.join(", ")
    ));
    out
}
