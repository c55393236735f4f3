use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use deviant_data::kdd99::{self, Protocol};
use deviant_engine::protocols::Kdd99;

use crate::progress::Bars;
use crate::reporting::ReportArgs;
use crate::study::{ProtocolBenchArgs, bench_protocols};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the results go.
    #[arg(long, short, default_value = "deviant-demo")]
    pub out: PathBuf,
    /// Folder holding the KDD Cup 99 files (downloaded when missing).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// A count N (seeds 1..=N) or a list such as 1,2,3 (one seed alone: 7,).
    #[arg(long, default_value = "3")]
    pub seeds: String,
    #[command(flatten)]
    pub report: ReportArgs,
}

/// The project's shared dataset folder beside a checkout, when it is there.
fn shared_kdd_dir() -> Option<PathBuf> {
    [
        "../shared/datasets/kddcup99",
        "../../shared/datasets/kddcup99",
    ]
    .iter()
    .map(Path::new)
    .find(|p| p.join("kddcup.data_10_percent.gz").is_file())
    .map(Path::to_path_buf)
}

pub fn run(args: DemoArgs, quiet: bool) -> Result<()> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let data_dir = args.data_dir.clone().or_else(|| {
        (std::env::var_os("DEVIANT_DATA_DIR").is_none()
            && std::env::var_os("DEVIANT_DATASETS").is_none())
        .then(shared_kdd_dir)
        .flatten()
    });
    println!(
        "deviant demo: KDD Cup 99, `cloudera` protocol (18 traffic features, attacks are the anomalies),"
    );
    println!(
        "autoencoder vs PCA vs Isolation Forest, threshold = best F1 on the validation split, seeds {}\n",
        args.seeds
    );
    let run = ProtocolBenchArgs {
        save_models: None,
        detectors: vec!["ae".into(), "pca".into(), "iforest".into()],
        seeds: args.seeds.clone(),
        sets: Vec::new(),
        json: Some(args.out.join("results.json")),
        markdown: Some(args.out.join("leaderboard.md")),
        work_dir: Some(args.out.join("data")),
        data_dir,
        scaling: None,
        workers: 1,
        report: ReportArgs {
            report: Some(
                args.report
                    .report
                    .clone()
                    .unwrap_or_else(|| args.out.join("report")),
            ),
            ..args.report.clone()
        },
    };
    let protocol = Kdd99 {
        sources: kdd99::locate(run.data_dir.as_deref(), &Bars::new(quiet))?,
        protocol: Protocol::Cloudera,
        work_dir: args.out.join("data"),
        scaling: None,
    };
    eprintln!("protocol splits go to {}", args.out.join("data").display());
    // The report's path is the last line the benchmark prints.
    bench_protocols(vec![&protocol], &run, quiet)
}
