//! `deviant bench adbench`: ADBench's unsupervised protocol (Han et al., NeurIPS 2022) over a
//! folder of `.npz` tabular sets, every detector on every set within a time budget.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use deviant_core::FitContext;
use deviant_core::fsutil::write_bytes_atomic;
use deviant_core::record::{
    Cell, EvalRecord, MEAN_RANK_RULE, Skipped, cells, distinct, mean_ranks, mean_std,
};
use deviant_data::adbench::{TEST_SHARE, dataset_files, published_aucs, published_key};
use deviant_data::download::{dataset_dirs, find_dir};
use deviant_detectors::AnyConfig;
use deviant_engine::Protocol;
use deviant_engine::protocols::Adbench;
use deviant_report::{ChartOptions, ComparisonReport, SummaryTable};
use serde::Serialize;

use crate::progress::Bars;
use crate::reporting::write_report;
use crate::study::{Plan, Printer};

/// Without labels, the flags in each record come from this share of the training scores.
const CONTAMINATION: f64 = 0.1;

#[derive(Debug, Args, Clone)]
pub struct AdbenchArgs {
    /// Folder of ADBench `.npz` files (arrays `X`, `y`), or one holding them under `npz/`.
    /// Default: $DEVIANT_DATASETS/tabular-odds-adbench.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Detector kinds, comma-separated (default: every unsupervised detector). Supervised
    /// learners (gbt, random_forest, …) train on the training rows with their labels.
    #[arg(long, value_delimiter = ',')]
    pub detectors: Vec<String>,
    /// Supervised learners see only this share of the training anomalies labelled, every
    /// other training row reading as normal (ADBench's semi-supervised setting, e.g. 0.01).
    #[arg(long, value_name = "SHARE")]
    pub labelled_anomalies: Option<f64>,
    /// Choose one supervised learner per set and seed by its mean ROC AUC over this many
    /// stratified folds of the labelled training rows, and report the chosen one's test
    /// ROC AUC ("best by CV").
    #[arg(long, value_name = "K")]
    pub cv_folds: Option<usize>,
    /// Only these sets (names without the number prefix, e.g. `cardio,thyroid`).
    #[arg(long, value_delimiter = ',')]
    pub datasets: Vec<String>,
    /// A count N (seeds 1..=N) or a list such as 1,2,3 (one seed alone: 7,). They are NumPy
    /// seeds: each draws the same rows ADBench's code draws for it.
    #[arg(long, default_value = "3")]
    pub seeds: String,
    /// Detector parameter as KIND.KEY=VALUE (repeatable).
    #[arg(long = "set", value_name = "KIND.KEY=VALUE")]
    pub sets: Vec<String>,
    /// Seconds one detector may train on one set and seed; longer runs are cancelled and
    /// reported as skipped.
    #[arg(long, default_value_t = 300)]
    pub budget: u64,
    /// Print the published ADBench ROC AUC beside ours, read from `reference_aucroc.md` in
    /// the data folder, and count the sets within ±0.02 of it.
    #[arg(long)]
    pub published: bool,
    /// Write the records, skipped runs and leaderboard as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the leaderboard as Markdown here.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Write an HTML comparison report into this folder: means and ranks, the per-set
    /// leaderboard, and each set's ROC and PR curves of every detector on the first seed.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Save every trial's model here, as DIR/SET/KIND-seedN (`deviant score` loads them).
    #[arg(long, value_name = "DIR")]
    pub save_models: Option<PathBuf>,
}

/// Mean over sets of one detector's per-set means.
#[derive(Debug, Clone, Serialize)]
struct Overall {
    detector: String,
    datasets: usize,
    roc_auc: f64,
    average_precision: f64,
    /// Mean rank by ROC AUC (1 = best) over every set, a missing result ranked last.
    mean_rank: f64,
    fit_seconds: f64,
    score_seconds: f64,
    /// Sets with a published value, and how many of those we are within ±0.02 of.
    published_sets: usize,
    within_tolerance: usize,
}

/// How far from the published value still counts as reproducing it: ADBench's values are
/// means over its own seeds, and ±0.02 is about the spread of one detector over seeds.
const PUBLISHED_TOLERANCE: f64 = 0.02;

#[derive(Serialize)]
struct Report<'a> {
    protocol: &'static str,
    records: &'a [EvalRecord],
    skipped: &'a [Skipped],
    per_dataset: Vec<Cell>,
    overall: Vec<Overall>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    chosen_by_cv: Vec<CvChoice>,
}

/// The supervised learner cross-validation chose on one set and seed, and its test result.
#[derive(Debug, Clone, Serialize)]
struct CvChoice {
    dataset: String,
    seed: u64,
    detector: String,
    cv_roc_auc: f64,
    test_roc_auc: f64,
}

/// For each set and seed, the supervised configuration with the best mean ROC AUC over
/// `folds` folds of the labelled training rows, with its test ROC AUC from `records`.
fn choose_by_cv(
    protocols: &[&dyn Protocol],
    plan: &Plan,
    labels: &[String],
    records: &[EvalRecord],
    folds: usize,
    budget: Duration,
) -> Result<Vec<CvChoice>> {
    let mut chosen = Vec::new();
    for protocol in protocols {
        for &seed in &plan.seeds {
            let splits = protocol.splits(seed, &deviant_core::NoProgress)?;
            let mut best: Option<(f64, &String)> = None;
            for (config, label) in plan.configs.iter().zip(labels) {
                if !config.needs_labels() {
                    continue;
                }
                let cx = FitContext::new(seed).with_budget(budget);
                // A learner that fails or overruns on a fold is not chosen.
                let Ok(auc) =
                    deviant_engine::crossval::cross_validated_auc(&splits, config, folds, &cx)
                else {
                    continue;
                };
                if best.is_none_or(|(b, _)| auc > b) {
                    best = Some((auc, label));
                }
            }
            let Some((cv_roc_auc, detector)) = best else {
                continue;
            };
            let test = records.iter().find(|r| {
                r.dataset == protocol.dataset() && r.seed == seed && &r.detector == detector
            });
            if let Some(test) = test {
                chosen.push(CvChoice {
                    dataset: protocol.dataset().into(),
                    seed,
                    detector: detector.clone(),
                    cv_roc_auc,
                    test_roc_auc: test.roc_auc,
                });
            }
        }
    }
    Ok(chosen)
}

/// The best-by-CV table: each set's mean test ROC AUC of the chosen learners, and the mean
/// over sets.
fn cv_markdown(chosen: &[CvChoice], folds: usize) -> String {
    let mut out = format!(
        "\nBest supervised learner by {folds}-fold CV on the training rows, per set and seed\n\n\
         | dataset | chosen (per seed) | CV ROC AUC | test ROC AUC |\n|---|---|---|---|\n"
    );
    let datasets = distinct(chosen.iter().map(|c| c.dataset.as_str()));
    let mut per_set = Vec::new();
    for dataset in &datasets {
        let own: Vec<&CvChoice> = chosen.iter().filter(|c| &c.dataset == dataset).collect();
        let test = mean_std(&own.iter().map(|c| c.test_roc_auc).collect::<Vec<_>>()).0;
        let cv = mean_std(&own.iter().map(|c| c.cv_roc_auc).collect::<Vec<_>>()).0;
        let names: Vec<&str> = own.iter().map(|c| c.detector.as_str()).collect();
        out.push_str(&format!(
            "| {dataset} | {} | {cv:.4} | {test:.4} |\n",
            names.join(", ")
        ));
        per_set.push(test);
    }
    out.push_str(&format!(
        "\nMean test ROC AUC of the CV choice over {} sets: {:.4}\n",
        per_set.len(),
        mean_std(&per_set).0
    ));
    out
}

pub fn run(args: &AdbenchArgs, quiet: bool) -> Result<()> {
    let kinds: Vec<String> = if args.detectors.is_empty() {
        AnyConfig::kinds()
            .iter()
            .filter(|k| !k.needs_labels)
            .map(|k| k.kind.to_string())
            .collect()
    } else {
        args.detectors.clone()
    };
    let plan = Plan::new(&kinds, &args.sets, &args.seeds)?;
    let root = find_dir(
        &dataset_dirs(args.data.as_deref(), "tabular-odds-adbench"),
        "an ADBench folder of .npz files",
        "--data",
    )?;
    let files = dataset_files(&root, &args.datasets)?;
    let published = match args.published {
        true => Some(published_aucs(&root)?),
        false => None,
    };
    if let Some(folds) = args.cv_folds {
        anyhow::ensure!(folds >= 2, "--cv-folds {folds}: give 2 folds or more");
        anyhow::ensure!(
            plan.configs.iter().any(|c| c.needs_labels()),
            "--cv-folds chooses among supervised learners: name some with --detectors \
             (e.g. gbt,random_forest,logistic)"
        );
    }
    if let Some(share) = args.labelled_anomalies
        && !(share > 0.0 && share <= 1.0)
    {
        anyhow::bail!("--labelled-anomalies {share}: give a share in (0, 1], e.g. 0.01");
    }
    let sets = files
        .iter()
        .map(|(name, path)| {
            let set = Adbench::open(name, path)?;
            Ok(match args.labelled_anomalies {
                Some(share) => set.with_labelled_anomalies(share),
                None => set,
            })
        })
        .collect::<deviant_core::Result<Vec<_>>>()?;
    let protocols: Vec<&dyn Protocol> = sets.iter().map(|p| p as &dyn Protocol).collect();
    let bars = Arc::new(Bars::new(quiet));
    let keep = args.report.is_some().then(|| (plan.seeds[0], 0));
    let trials = files.len() * plan.seeds.len() * plan.configs.len();
    let mut printer = Printer::new(bars, quiet, keep)
        .counting("adbench", trials)
        .saving_models(args.save_models.clone());
    let budget = Duration::from_secs(args.budget);
    let outcome = plan.run(
        protocols.clone(),
        &mut printer,
        Some(budget),
        1,
        FitContext::new(0),
    )?;
    let (records, skipped, runs) = (outcome.records, outcome.skipped, outcome.runs);
    let labels = deviant_engine::config_labels(&plan.configs);
    let per_dataset = cells(&records, |dataset, detector| {
        let published = published.as_ref()?;
        let kind = records
            .iter()
            .find(|r| r.detector == detector)?
            .kind
            .as_str();
        published.get(&published_key(dataset, kind)).copied()
    });
    let datasets: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    let overall = overall(&per_dataset, &records, &labels, &datasets);
    let mut table = markdown(&per_dataset, &overall, &labels, &datasets, &skipped);
    let chosen = match args.cv_folds {
        Some(folds) => {
            let chosen = choose_by_cv(&protocols, &plan, &labels, &records, folds, budget)?;
            table.push_str(&cv_markdown(&chosen, folds));
            chosen
        }
        None => Vec::new(),
    };
    println!("{table}");
    if let Some(dir) = &args.report {
        let mut header: Vec<String> = [
            "detector",
            "sets",
            "mean ROC AUC",
            "mean AP",
            "mean rank",
            "fit s",
            "score s",
        ]
        .map(String::from)
        .to_vec();
        if published.is_some() {
            header.push(format!("within ±{PUBLISHED_TOLERANCE} of ADBench"));
        }
        let rows = overall
            .iter()
            .map(|o| {
                let mut row = vec![
                    o.detector.clone(),
                    o.datasets.to_string(),
                    format!("{:.4}", o.roc_auc),
                    format!("{:.4}", o.average_precision),
                    format!("{:.2}", o.mean_rank),
                    format!("{:.3}", o.fit_seconds),
                    format!("{:.3}", o.score_seconds),
                ];
                if published.is_some() {
                    row.push(format!("{} of {}", o.within_tolerance, o.published_sets));
                }
                row
            })
            .collect();
        let report = ComparisonReport {
            title: "deviant bench: ADBench, unsupervised protocol".into(),
            facts: vec![
                ("sets".into(), files.len().to_string()),
                ("detectors".into(), labels.join(", ")),
                ("seeds".into(), args.seeds.clone()),
                (
                    "protocol".into(),
                    format!(
                        "stratified {:.0}/{:.0} split, min-max scaled on train, fit \
                         unlabelled; threshold contamination:{CONTAMINATION} on train",
                        (1.0 - TEST_SHARE) * 100.0,
                        TEST_SHARE * 100.0
                    ),
                ),
                (
                    "skipped runs".into(),
                    format!("{} (listed in the JSON and Markdown output)", skipped.len()),
                ),
                ("mean rank".into(), MEAN_RANK_RULE.into()),
            ],
            summaries: vec![SummaryTable {
                title: "Over all sets".into(),
                header,
                rows,
            }],
            records: &records,
            runs: &runs,
            detector_charts: false,
            options: ChartOptions::default(),
        };
        let page = write_report(dir, &report.render()?)?;
        println!("report written to {}", page.display());
    }
    if let Some(path) = &args.json {
        let report = Report {
            protocol: "adbench-unsupervised",
            records: &records,
            skipped: &skipped,
            per_dataset,
            overall,
            chosen_by_cv: chosen,
        };
        write_bytes_atomic(path, &serde_json::to_vec_pretty(&report)?)?;
        println!("records written to {}", path.display());
    }
    if let Some(path) = &args.markdown {
        write_bytes_atomic(path, table.as_bytes())?;
        println!("leaderboard written to {}", path.display());
    }
    Ok(())
}

fn overall(
    cells: &[Cell],
    records: &[EvalRecord],
    kinds: &[String],
    datasets: &[&str],
) -> Vec<Overall> {
    let ranks = mean_ranks(cells, kinds, datasets);
    kinds
        .iter()
        .zip(ranks)
        .map(|(kind, mean_rank)| {
            let own: Vec<&Cell> = cells.iter().filter(|c| &c.detector == kind).collect();
            let runs: Vec<&EvalRecord> = records.iter().filter(|r| &r.detector == kind).collect();
            let mean =
                |f: fn(&Cell) -> f64| mean_std(&own.iter().map(|c| f(c)).collect::<Vec<_>>()).0;
            let run_mean = |f: fn(&EvalRecord) -> f64| {
                mean_std(&runs.iter().map(|r| f(r)).collect::<Vec<_>>()).0
            };
            let gaps: Vec<f64> = own
                .iter()
                .filter_map(|c| c.published.map(|p| c.roc_auc - p))
                .collect();
            Overall {
                detector: kind.clone(),
                datasets: own.len(),
                roc_auc: mean(|c| c.roc_auc),
                average_precision: mean(|c| c.average_precision),
                mean_rank,
                fit_seconds: run_mean(|r| r.fit_seconds),
                score_seconds: run_mean(|r| r.score_seconds),
                published_sets: gaps.len(),
                within_tolerance: gaps
                    .iter()
                    .filter(|g| g.abs() <= PUBLISHED_TOLERANCE + 1e-12)
                    .count(),
            }
        })
        .collect()
}

/// Two tables (ROC AUC, with the published value in brackets where asked for, then AP),
/// sets × detectors, mean over seeds; the summary per detector; the sets off the published
/// value by more than the tolerance; the skipped runs.
fn markdown(
    cells: &[Cell],
    overall: &[Overall],
    kinds: &[String],
    datasets: &[&str],
    skipped: &[Skipped],
) -> String {
    let cell = |dataset: &str, kind: &String| {
        cells
            .iter()
            .find(|c| c.dataset == dataset && &c.detector == kind)
    };
    let header = |first: &str| {
        format!(
            "| {first} | {} |\n|---|{}\n",
            kinds.join(" | "),
            "---|".repeat(kinds.len())
        )
    };
    let mut out = String::new();
    let with_published = cells.iter().any(|c| c.published.is_some());
    for (title, metric) in [
        (
            if with_published {
                "ROC AUC on test, mean over seeds (published ADBench value in brackets)"
            } else {
                "ROC AUC on test, mean over seeds"
            },
            (|c: &Cell| c.roc_auc) as fn(&Cell) -> f64,
        ),
        ("AP on test, mean over seeds", |c: &Cell| {
            c.average_precision
        }),
    ] {
        out.push_str(&format!("{title}\n\n{}", header("dataset")));
        for dataset in datasets {
            let row: Vec<String> = kinds
                .iter()
                .map(|kind| match cell(dataset, kind) {
                    Some(c) => match c.published {
                        Some(p) if metric(c) == c.roc_auc => format!("{:.4} ({p:.4})", c.roc_auc),
                        _ => format!("{:.4}", metric(c)),
                    },
                    None => "skipped".into(),
                })
                .collect();
            out.push_str(&format!("| {dataset} | {} |\n", row.join(" | ")));
        }
        out.push('\n');
    }
    out.push_str(
        "Per detector (mean over the sets it finished; seconds per run; mean rank: see \
         below the table)\n\n| detector | sets | ROC AUC | AP | mean rank | fit s | score s |",
    );
    out.push_str(if with_published {
        " within ±0.02 of published |\n|---|---|---|---|---|---|---|---|\n"
    } else {
        "\n|---|---|---|---|---|---|---|\n"
    });
    for o in overall {
        out.push_str(&format!(
            "| {} | {} | {:.4} | {:.4} | {:.2} | {:.3} | {:.3} |",
            o.detector,
            o.datasets,
            o.roc_auc,
            o.average_precision,
            o.mean_rank,
            o.fit_seconds,
            o.score_seconds
        ));
        if with_published {
            out.push_str(&format!(
                " {} of {} |",
                o.within_tolerance, o.published_sets
            ));
        }
        out.push('\n');
    }
    out.push_str(&format!("\nMean rank: {MEAN_RANK_RULE}.\n"));
    if with_published {
        out.push_str(&format!(
            "\nMore than {PUBLISHED_TOLERANCE} from the published value (ours − published):\n\n"
        ));
        for kind in kinds {
            let gaps: Vec<String> = cells
                .iter()
                .filter(|c| &c.detector == kind)
                .filter_map(|c| {
                    let gap = c.roc_auc - c.published?;
                    (gap.abs() > PUBLISHED_TOLERANCE + 1e-12)
                        .then(|| format!("{} {gap:+.3}", c.dataset))
                })
                .collect();
            if !gaps.is_empty() {
                out.push_str(&format!("- {kind}: {}\n", gaps.join(", ")));
            }
        }
    }
    if !skipped.is_empty() {
        out.push_str("\nSkipped runs:\n\n");
        for s in skipped {
            out.push_str(&format!(
                "- {} / {} / seed {}: {}\n",
                s.dataset, s.detector, s.seed, s.reason
            ));
        }
    }
    out
}
