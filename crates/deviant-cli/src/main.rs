//! The `deviant` binary: thin commands over the libraries; errors become one line and a
//! non-zero exit code here, at the edge.

mod args;
mod commands;
mod progress;
mod reporting;

use clap::Parser;

fn main() {
    let cli = commands::Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    if let Err(error) = commands::run(cli) {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}
