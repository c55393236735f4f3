use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use deviant_core::Progress;
use deviant_core::Scoring;
use deviant_core::fsutil::write_atomic;
use deviant_data::TableReader;
use deviant_engine::Model;

use crate::args::ReadArgs;
use crate::progress::Bars;

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// A model directory written by `deviant fit`.
    pub model: PathBuf,
    /// The table to score, with the model's feature columns.
    pub data: PathBuf,
    /// Output CSV (`line,score,is_anomaly`); standard output when left out.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Rows read and scored at a time, so files larger than memory can be scored.
    #[arg(long, default_value_t = 65_536)]
    pub chunk_rows: usize,
    #[command(flatten)]
    pub read: ReadArgs,
}

pub fn run(args: ScoreArgs, quiet: bool) -> Result<()> {
    let model = Model::load(&args.model)?;
    let mut reader = TableReader::open(&args.data, &args.read.options()?, &model.manifest.schema)?;
    let bars = Bars::new(quiet);
    bars.begin("scoring", 0);
    let (mut lines, mut scores) = (Vec::new(), Vec::new());
    while let Some(chunk) = reader.next_chunk(args.chunk_rows.max(1))? {
        let data = model.prepare(&chunk)?;
        scores.extend(model.score_raw(&data)?);
        lines.extend(chunk.lines);
        bars.message(&format!("{} rows", lines.len()));
    }
    bars.finish();
    anyhow::ensure!(
        !scores.is_empty(),
        "{} has no data rows",
        args.data.display()
    );
    // Flags come after all scores, so batch rules (top-k %) see the whole file.
    let flags = model.flag(scores, Scoring::Batch)?;
    let (scores, flags) = (&flags.scores, &flags.flags);
    let write = |out: &mut dyn Write| -> std::io::Result<()> {
        writeln!(out, "line,score,is_anomaly")?;
        for ((line, score), flag) in lines.iter().zip(scores).zip(flags) {
            writeln!(out, "{line},{score},{}", u8::from(*flag))?;
        }
        Ok(())
    };
    match &args.out {
        Some(path) => {
            write_atomic(path, |out| write(out))?;
            eprintln!(
                "scored {} rows, {} flagged; wrote {}",
                scores.len(),
                flags.iter().filter(|&&f| f).count(),
                path.display()
            );
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            write(&mut out).context("writing the scores")?;
            out.flush()?;
        }
    }
    Ok(())
}
