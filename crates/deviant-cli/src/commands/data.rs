use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};
use deviant_data::kdd99::{self, Protocol};

use crate::progress::Bars;

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// KDD Cup 99 under a published protocol: writes train/validation/test CSVs.
    Kdd99(Kdd99Args),
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
            let line = |name: &str, c: &kdd99::SplitCount| {
                println!(
                    "  {name:<15} {:>7} rows, {:>6} anomalies",
                    c.rows, c.anomalies
                );
            };
            line("train.csv", &splits.train);
            if let Some(v) = &splits.validation {
                line("validation.csv", v);
            }
            line("test.csv", &splits.test);
            println!("label column: `label` (1 = anomaly)");
            Ok(())
        }
    }
}
