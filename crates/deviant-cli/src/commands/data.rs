use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};
use deviant_data::kdd99::{self, Protocol, SplitCount};
use deviant_data::nslkdd;

use crate::progress::Bars;

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// KDD Cup 99 under a published protocol: writes train/validation/test CSVs.
    Kdd99(Kdd99Args),
    /// NSL-KDD: train (normal rows), validation, KDDTest+ and KDDTest-21 as CSVs.
    Nslkdd(NslkddArgs),
}

#[derive(Debug, Args)]
pub struct NslkddArgs {
    /// Folder for the CSVs.
    #[arg(long, short)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Folder holding KDDTrain+_20Percent.txt, KDDTest+.txt and KDDTest-21.txt (or their
    /// .gz). Default: $DEVIANT_DATA_DIR, then $DEVIANT_DATASETS/nsl-kdd. Never downloaded.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct Kdd99Args {
    /// cloudera, dagmm, alad or alibi (see the README).
    #[arg(long)]
    pub protocol: Protocol,
    /// Folder for the CSVs.
    #[arg(long, short)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Folder holding kddcup.data_10_percent.gz and corrected.gz (downloaded there when
    /// missing). Default: $DEVIANT_DATA_DIR, $DEVIANT_DATASETS/kddcup99, the user cache.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

pub fn run(command: DataCommand, quiet: bool) -> Result<()> {
    match command {
        DataCommand::Kdd99(args) => {
            let bars = Bars::new(quiet);
            let sources = kdd99::locate(args.data_dir.as_deref(), &bars)?;
            let splits =
                kdd99::write_protocol(&sources, args.protocol, args.seed, &args.out, &bars)?;
            println!(
                "protocol {} (seed {}) written to {}",
                args.protocol,
                args.seed,
                args.out.display()
            );
            print_split("train.csv", &splits.train);
            if let Some(v) = &splits.validation {
                print_split("validation.csv", v);
            }
            print_split("test.csv", &splits.test);
            println!("label column: `label` (1 = anomaly)");
            Ok(())
        }
        DataCommand::Nslkdd(args) => {
            let sources = nslkdd::locate(args.data_dir.as_deref())?;
            let splits = nslkdd::write_protocol(&sources, args.seed, &args.out, &Bars::new(quiet))?;
            println!(
                "NSL-KDD (seed {}) written to {}",
                args.seed,
                args.out.display()
            );
            print_split(nslkdd::Splits::TRAIN, &splits.train);
            print_split(nslkdd::Splits::VALIDATION, &splits.validation);
            print_split(nslkdd::Splits::TEST_PLUS, &splits.test_plus);
            print_split(nslkdd::Splits::TEST_21, &splits.test_21);
            println!("label column: `label` (1 = attack); threshold: best F1 on validation.csv");
            Ok(())
        }
    }
}

fn print_split(name: &str, c: &SplitCount) {
    println!(
        "  {name:<15} {:>7} rows, {:>6} anomalies",
        c.rows, c.anomalies
    );
}
