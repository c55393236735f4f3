//! One file per command, each with `pub fn run(args) -> anyhow::Result<()>`.

pub mod bench;
pub mod compare;
pub mod data;
pub mod demo;
pub mod eval;
pub mod fit;
pub mod models;
pub mod score;
pub mod select;
pub mod serve;
pub mod stream;

use clap::{Parser, Subcommand};

/// deviant: train, evaluate and run anomaly detectors from one binary.
#[derive(Debug, Parser)]
#[command(name = "deviant", version, about)]
pub struct Cli {
    /// Hide progress bars.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Threads for all fitting and scoring, shared by concurrent trials and server jobs
    /// (default: every core).
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    /// Where deep detectors train and score: cpu, wgpu (the first adapter wgpu finds), wgpu:N
    /// (the N-th discrete GPU), or auto (a GPU that works, else the CPU). GPUs need a build
    /// with the `wgpu` feature; NVIDIA GPUs run through Vulkan. Models load on any device
    /// whatever they were trained on.
    #[arg(long, global = true, default_value = "cpu", value_name = "DEVICE")]
    pub device: deviant_detectors::runtime::DeviceChoice,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a detector on a table and save the model directory.
    Fit(fit::FitArgs),
    /// Score a table with a saved model into a CSV of scores and flags.
    Score(score::ScoreArgs),
    /// Evaluate a saved model on a labelled table.
    Eval(eval::EvalArgs),
    /// Choose, tune and combine detectors for a table within a time budget.
    Select(select::SelectArgs),
    /// Every supervised learner and detector on one labelled table: one leaderboard of
    /// train and test metrics.
    Compare(compare::CompareArgs),
    /// Prepare datasets with published protocols.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Compare detectors under a published protocol over several seeds.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// List the detectors with their parameters and defaults.
    Models(models::ModelsArgs),
    /// Serve the REST API over a registry of datasets, runs and models.
    Serve(serve::ServeArgs),
    /// Score rows as they arrive (stdin, a followed file, Redis Streams, NATS JetStream),
    /// learning online and watching for drift.
    Stream(stream::StreamArgs),
    /// The main job: the KDD Cup 99 `cloudera` benchmark with ae, pca and iforest.
    Demo(demo::DemoArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let quiet = cli.quiet;
    let runtime = deviant_detectors::runtime::configure(cli.threads, cli.device)?;
    if cli.device == deviant_detectors::runtime::DeviceChoice::Auto {
        eprintln!("deviant: device auto chose {}", runtime.describe());
    }
    match cli.command {
        Command::Fit(args) => fit::run(args, quiet),
        Command::Score(args) => score::run(args, quiet),
        Command::Eval(args) => eval::run(args, quiet),
        Command::Select(args) => select::run(args, quiet),
        Command::Compare(args) => compare::run(args, quiet),
        Command::Data(command) => data::run(command, quiet),
        Command::Bench(command) => bench::run(command, quiet),
        Command::Models(args) => models::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Stream(args) => stream::run(args),
        Command::Demo(args) => demo::run(args, quiet),
    }
}
