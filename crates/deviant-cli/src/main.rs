//! The `deviant` binary: thin commands over the libraries; errors become one line and a
//! non-zero exit code here, at the edge.

mod args;
mod commands;
mod progress;
mod reporting;
mod study;

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
        std::process::exit(exit_code(&error));
    }
}

/// The exit status of a failed command, by the cause of its library error: 2 for what the
/// user can fix in the command or its input, 3 for an interrupted run, 1 for the rest
/// (I/O, internal failures, errors raised by the CLI itself).
fn exit_code(error: &anyhow::Error) -> i32 {
    use deviant_core::Cause;
    let cause = error
        .chain()
        .find_map(|e| e.downcast_ref::<deviant_core::Error>())
        .map(deviant_core::Error::cause);
    match cause {
        Some(Cause::Input | Cause::Config | Cause::Format | Cause::Version) => 2,
        Some(Cause::Cancelled | Cause::Budget | Cause::Diverged) => 3,
        Some(Cause::Io | Cause::Internal) | None => 1,
    }
}
