//! `deviant bench`: detectors × protocol × seeds through the engine's studies → one record
//! per trial and test set, and a leaderboard.

mod adbench;
mod nab;
mod nab_score;
mod perf;
mod select;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use deviant_data::kdd99::{self, Protocol as KddProtocol};
use deviant_data::nslkdd;
use deviant_engine::Protocol;
use deviant_engine::protocols::{DigitImages, Ecg5000, ImageSet, Kdd99, NslKdd};

use crate::progress::Bars;
use crate::study::{ProtocolBenchArgs, bench_protocols};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// KDD Cup 99 under the cloudera, dagmm, alad or alibi protocol.
    Kdd99(Kdd99BenchArgs),
    /// NSL-KDD: train on normal rows, threshold on validation, test on KDDTest+ and KDDTest-21.
    Nslkdd(DatasetBenchArgs),
    /// ADBench's unsupervised protocol on a folder of `.npz` tabular sets.
    Adbench(adbench::AdbenchArgs),
    /// ECG5000 heartbeats (one row per sequence): class 1 normal, trained on 80 % of it,
    /// tested on the rest and every other class.
    Ecg5000(DatasetBenchArgs),
    /// NAB streams: window detectors against the rolling z-score, AUC ROC per file over
    /// points labelled by NAB's anomaly windows.
    Nab(nab::NabBenchArgs),
    /// NAB's own score under its three cost profiles: online detectors scoring each point
    /// before learning from it, beside NAB's published results.
    NabScore(nab_score::NabScoreArgs),
    /// One digit normal, the others anomalies: MNIST test images or the 8 × 8 digits.
    Mnist(MnistBenchArgs),
    /// Training and scoring speed of one detector on seeded synthetic rows.
    Perf(perf::PerfArgs),
    /// Measure `select`'s candidates on the ADBench sets into a corpus file.
    SelectCorpus(select::SelectCorpusArgs),
    /// Evaluate `select` on the ADBench sets, leave-one-dataset-out, beside Isolation Forest.
    Select(select::SelectBenchArgs),
}

#[derive(Debug, Args, Clone)]
pub struct Kdd99BenchArgs {
    #[arg(long, default_value = "cloudera")]
    pub protocol: KddProtocol,
    #[command(flatten)]
    pub run: ProtocolBenchArgs,
}

/// A benchmark over one dataset with no options of its own.
#[derive(Debug, Args, Clone)]
pub struct DatasetBenchArgs {
    #[command(flatten)]
    pub run: ProtocolBenchArgs,
}

#[derive(Debug, Args, Clone)]
pub struct MnistBenchArgs {
    /// Which images: `mnist` (MNIST's 10,000 test images, 28 × 28) or `digits`
    /// (scikit-learn's 1,797 digits, 8 × 8).
    #[arg(long, default_value = "mnist")]
    pub images: ImageSet,
    /// Digits to take in turn as the normal class, comma-separated (default: all ten).
    #[arg(long, value_delimiter = ',')]
    pub digits: Vec<u8>,
    #[command(flatten)]
    pub run: ProtocolBenchArgs,
}

pub fn run(command: BenchCommand, quiet: bool) -> Result<()> {
    match command {
        BenchCommand::Kdd99(args) => {
            let work = WorkDir::new(&args.run)?;
            let sources = kdd99::locate(args.run.data_dir.as_deref(), &Bars::new(quiet))?;
            let protocol = Kdd99 {
                sources,
                protocol: args.protocol,
                work_dir: work.path(),
                scaling: args.run.scaling,
            };
            bench_protocols(vec![&protocol], &args.run, quiet)
        }
        BenchCommand::Nslkdd(args) => {
            let work = WorkDir::new(&args.run)?;
            let protocol = NslKdd {
                sources: nslkdd::locate(args.run.data_dir.as_deref())?,
                work_dir: work.path(),
                scaling: args.run.scaling,
            };
            bench_protocols(vec![&protocol], &args.run, quiet)
        }
        BenchCommand::Adbench(args) => adbench::run(&args, quiet),
        BenchCommand::Ecg5000(args) => {
            let protocol = Ecg5000::locate(args.run.data_dir.as_deref())?;
            bench_protocols(vec![&protocol], &args.run, quiet)
        }
        BenchCommand::Nab(args) => nab::run(&args, quiet),
        BenchCommand::NabScore(args) => nab_score::run(&args, quiet),
        BenchCommand::Mnist(args) => {
            let sets = DigitImages::load(args.images, args.run.data_dir.as_deref(), &args.digits)?;
            let protocols: Vec<&dyn Protocol> = sets.iter().map(|p| p as &dyn Protocol).collect();
            bench_protocols(protocols, &args.run, quiet)
        }
        BenchCommand::Perf(args) => perf::run(&args, quiet),
        BenchCommand::SelectCorpus(args) => select::corpus(&args, quiet),
        BenchCommand::Select(args) => select::evaluate(&args, quiet),
    }
}

/// `--work-dir`, or a temporary folder removed when this is dropped.
enum WorkDir {
    Given(std::path::PathBuf),
    Temporary(tempfile::TempDir),
}

impl WorkDir {
    fn new(args: &ProtocolBenchArgs) -> Result<Self> {
        Ok(match &args.work_dir {
            Some(dir) => WorkDir::Given(dir.clone()),
            None => WorkDir::Temporary(tempfile::tempdir().context("creating a temporary folder")?),
        })
    }

    fn path(&self) -> std::path::PathBuf {
        match self {
            WorkDir::Given(dir) => dir.clone(),
            WorkDir::Temporary(dir) => dir.path().to_path_buf(),
        }
    }
}
