//! `deviant stream`: score rows as they arrive, from stdin, a (followed) file or a broker,
//! into NDJSON on stdout, a file or a broker.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use deviant_detectors::AnyConfig;
use deviant_detectors::catalogue::Cost;
use deviant_engine::Model;
use deviant_stream::{
    DriftOptions, LineFormat, LineSource, Location, RefitOptions, Sink, Source, StreamEvent,
    StreamOptions, Streamer, WindowOptions, WriterSink,
};

#[derive(Debug, Args)]
pub struct StreamArgs {
    /// A model directory written by `deviant fit` (its threshold must be fixed, not top:P).
    pub model: PathBuf,
    /// Where rows come from: `-` (stdin), a CSV/TSV/NDJSON file, redis://HOST:PORT/STREAM
    /// (a consumer group) or nats://HOST:PORT/SUBJECT (a JetStream durable consumer).
    #[arg(long, default_value = "-")]
    pub from: String,
    /// Where scores go, one JSON object per row: `-` (stdout), a file (appended to),
    /// redis://HOST:PORT/STREAM or nats://HOST:PORT/SUBJECT.
    #[arg(long, default_value = "-")]
    pub to: String,
    /// Where refused rows go with their reason: `-` for stderr, or a file (appended to).
    #[arg(long, default_value = "-")]
    pub errors: String,
    /// Keep reading the file as it grows, until SIGINT or SIGTERM.
    #[arg(long)]
    pub follow: bool,
    /// The text layout of stdin or a file (default: from the file's extension, else the
    /// first line: `{` starts NDJSON, anything else is a CSV header).
    #[arg(long)]
    pub format: Option<TextFormat>,
    /// A column echoed as each row's `id` (and not scored), in place of a broker's entry id.
    #[arg(long)]
    pub id: Option<String>,
    /// Rows are points of series for a windowed model (seq2seq): these value columns, one
    /// channel each; each point that completes a window of the model's length gets the
    /// window's score.
    #[arg(long, value_delimiter = ',')]
    pub windows: Option<Vec<String>>,
    /// With --windows: the column naming each point's series; its last points are kept apart.
    #[arg(long, requires = "windows")]
    pub series_key: Option<String>,
    /// Rows scored together at most (default: 4096 for deep detectors, whose every call
    /// costs more, 1024 for the others; both measured fastest on KDD rows).
    #[arg(long)]
    pub max_batch: Option<usize>,
    /// The longest a row waits for others to join its batch, in milliseconds. By default a
    /// batch is whatever has arrived (up to --max-batch), which keeps latency lowest; a
    /// wait gives larger batches when rows trickle in.
    #[arg(long, default_value_t = 0)]
    pub max_delay_ms: u64,
    /// Online detectors (hst, robust_zscore) learn from each batch after scoring it;
    /// this keeps them fixed.
    #[arg(long)]
    pub no_learn: bool,
    /// Features named per row with their contributions, largest first (0: none).
    #[arg(long, default_value_t = 3)]
    pub explain: usize,
    /// Watch the scores for drift: a KS test between consecutive windows of this many rows.
    #[arg(long)]
    pub drift_window: Option<usize>,
    /// The KS test's level for a drift event.
    #[arg(long, default_value_t = 1e-4)]
    pub drift_alpha: f64,
    /// On drift, refit on recent rows the model did not flag and save each new model as
    /// DIR/v1, DIR/v2, …; the stream switches to it once it is saved whole.
    #[arg(long, requires = "drift_window")]
    pub refit_to: Option<PathBuf>,
    /// Recent normal rows a refit trains on.
    #[arg(long, default_value_t = 10_000)]
    pub refit_rows: usize,
    /// A JSON file rewritten about once a second with the stream's counts and drift events.
    #[arg(long)]
    pub status: Option<PathBuf>,
    /// The consumer group (Redis) or durable consumer (NATS) name.
    #[arg(long, default_value = "deviant")]
    pub group: String,
    /// This consumer's name within a Redis consumer group.
    #[arg(long, default_value = "deviant-1")]
    pub consumer: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TextFormat {
    Ndjson,
    Csv,
    Tsv,
}

pub fn run(args: StreamArgs) -> Result<()> {
    let model = Model::load(&args.model)?;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone()).context("installing signal handlers")?;
    }
    let format = args.format.map(|f| match f {
        TextFormat::Ndjson => LineFormat::Ndjson,
        TextFormat::Csv => LineFormat::Csv { delimiter: b',' },
        TextFormat::Tsv => LineFormat::Csv { delimiter: b'\t' },
    });
    let source: Box<dyn Source> = match args.from.parse::<Location>()? {
        Location::Stdin => Box::new(LineSource::stdin(format)),
        Location::File(path) => {
            Box::new(LineSource::file(&path, args.follow, format, stop.clone())?)
        }
        broker => deviant_stream::brokers::source(&broker, &args.group, &args.consumer)?,
    };
    let sink = open_sink(&args.to, WriterSink::stdout)?;
    let errors = open_sink(&args.errors, WriterSink::stderr)?;
    let options = StreamOptions {
        max_batch: args
            .max_batch
            .unwrap_or_else(|| default_batch(&model.manifest.detector))
            .max(1),
        max_delay: Duration::from_millis(args.max_delay_ms),
        learn: !args.no_learn,
        explain: args.explain,
        id_column: args.id,
        drift: args.drift_window.map(|window| DriftOptions {
            window,
            alpha: args.drift_alpha,
        }),
        refit: args.refit_to.map(|dir| RefitOptions {
            dir,
            rows: args.refit_rows,
        }),
        windows: args.windows.map(|values| WindowOptions {
            values,
            series_key: args.series_key,
        }),
        status: args.status,
    };
    let name = args.model.display().to_string();
    let mut streamer = Streamer::new(model, &name, source, sink, errors, options, stop)?;
    streamer.on_event = Some(Box::new(|event| match event {
        StreamEvent::Drift(drift) => eprintln!(
            "drift at row {}: KS statistic {:.3} (p = {:.2e}); flag rate {:.2} % → {:.2} %",
            drift.row,
            drift.statistic,
            drift.p_value,
            100.0 * drift.reference_flag_rate,
            100.0 * drift.flag_rate
        ),
        StreamEvent::Refit { model, rows } => {
            eprintln!("refitted on {rows} recent normal rows; now scoring with {model}")
        }
        StreamEvent::Notice { message } => eprintln!("{message}"),
        StreamEvent::Batch { .. } => {}
    }));
    let status = streamer.run()?;
    eprintln!(
        "scored {} rows ({} flagged, {} refused) in {:.2} s: {:.0} rows/s; {} drift events, {} refits",
        status.rows - status.errors,
        status.flagged,
        status.errors,
        status.seconds,
        status.rows_per_second,
        status.drift_events.len(),
        status.refits.len()
    );
    Ok(())
}

/// Rows per batch when `--max-batch` is not given: a deep model's every call costs more, so
/// it gets larger batches.
fn default_batch(config: &AnyConfig) -> usize {
    let deep = AnyConfig::kinds()
        .iter()
        .any(|k| k.kind == config.kind() && k.cost == Cost::Deep);
    if deep { 4096 } else { 1024 }
}

/// `-` gives `standard()`, a broker location its sink, anything else a file appended to.
fn open_sink(to: &str, standard: fn() -> WriterSink) -> Result<Box<dyn Sink>> {
    Ok(match to.parse::<Location>()? {
        Location::Stdin => Box::new(standard()),
        Location::File(path) => Box::new(WriterSink::file(&path)?),
        broker => deviant_stream::brokers::sink(&broker)?,
    })
}
