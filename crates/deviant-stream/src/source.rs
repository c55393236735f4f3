//! Where rows come from: a [`Source`] hands out records as they arrive and takes back the
//! acknowledgements of those whose scores are written. Lines (stdin, a file, a file followed
//! as it grows) are read here.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError, sync_channel};
use std::time::{Duration, Instant};

use deviant_core::{Error, Result};

/// One arrived row, before it is parsed.
#[derive(Debug)]
pub struct Record {
    /// The broker's id of the entry, where there is one.
    pub id: Option<String>,
    /// The line of a text source, or the entry's position in the stream.
    pub line: u64,
    pub payload: Payload,
    /// What to hand back to the source once the row's score is written.
    pub ack: Ack,
}

#[derive(Debug)]
pub enum Payload {
    /// One JSON object.
    Json(String),
    /// One delimited line, read under the source's header.
    Delimited { text: String, delimiter: u8 },
    /// Field–value pairs (a Redis stream entry), one field per column.
    Pairs(Vec<(String, String)>),
}

impl Payload {
    /// The JSON object's text: a JSON payload, or a Redis entry whose one field is `json`.
    pub fn json_text(&self) -> Option<&str> {
        match self {
            Payload::Json(text) => Some(text),
            Payload::Pairs(pairs) => match pairs.as_slice() {
                [(field, text)] if field == "json" => Some(text),
                _ => None,
            },
            Payload::Delimited { .. } => None,
        }
    }
}

/// A source's handle on one record, to acknowledge it.
#[derive(Debug)]
pub enum Ack {
    /// Text sources have nothing to acknowledge.
    None,
    /// A Redis stream entry id.
    Redis(String),
    /// A JetStream message's acknowledgement subject.
    Nats(String),
}

/// A stream of records. `poll` never blocks longer than `wait`; rows come in arrival order.
pub trait Source: Send {
    /// Up to `max` records, waiting at most `wait` for the first one; empty when none came.
    fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<Record>>;

    /// The column names of a delimited source, once its header is read.
    fn header(&self) -> Option<&[String]> {
        None
    }

    /// Marks the records behind `acks` as done: their scores are written.
    fn ack(&mut self, _acks: Vec<Ack>) -> Result<()> {
        Ok(())
    }

    /// What happened to the connection since the last call (lost, reconnected), for the
    /// stream to report.
    fn take_notices(&mut self) -> Vec<String> {
        Vec::new()
    }

    /// No record will ever come again (the end of stdin or of a file not followed); a
    /// broker never ends.
    fn ended(&self) -> bool {
        false
    }

    /// What the source is, for messages.
    fn describe(&self) -> String;
}

/// The text layout of a line source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineFormat {
    /// One JSON object per line.
    Ndjson,
    /// A header line, then one delimited row per line (no line breaks inside quotes).
    Csv { delimiter: u8 },
}

/// Lines per message between the reading thread and the scorer: large enough that the
/// channel costs nothing per row, small enough that memory stays bounded.
const CHUNK_LINES: usize = 1024;
/// Chunks the reading thread may run ahead of the scorer: beyond that it waits
/// (backpressure), so a slow consumer holds at most this many chunks in memory.
const CHUNKS_AHEAD: usize = 4;

/// Lines from stdin or a file, read on a thread of their own so that `poll` can wait with a
/// time limit. `--follow` keeps reading a file as it grows.
pub struct LineSource {
    name: String,
    format: Option<LineFormat>,
    header: Option<Vec<String>>,
    chunks: Receiver<Result<Vec<(u64, String)>>>,
    pending: std::collections::VecDeque<(u64, String)>,
    ended: bool,
}

impl LineSource {
    /// Standard input; the format is `format`, or guessed from the first line (`{` opens
    /// NDJSON, anything else is a CSV header).
    pub fn stdin(format: Option<LineFormat>) -> Self {
        Self::spawn("stdin".into(), Box::new(std::io::stdin()), format)
    }

    /// A file, from its start; with `follow`, read on as it grows until `stop` is set.
    pub fn file(
        path: &Path,
        follow: bool,
        format: Option<LineFormat>,
        stop: Arc<AtomicBool>,
    ) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let format = format.or_else(|| format_of(path));
        let reader: Box<dyn Read + Send> = match follow {
            true => Box::new(Following { file, stop }),
            false => Box::new(file),
        };
        Ok(Self::spawn(path.display().to_string(), reader, format))
    }

    fn spawn(name: String, reader: Box<dyn Read + Send>, format: Option<LineFormat>) -> Self {
        let (send, chunks) = sync_channel(CHUNKS_AHEAD);
        let source = name.clone();
        std::thread::spawn(move || read_lines(&source, reader, &send));
        Self {
            name,
            format,
            header: None,
            chunks,
            pending: Default::default(),
            ended: false,
        }
    }

    pub fn format(&self) -> Option<LineFormat> {
        self.format
    }

    /// Takes the next chunk of lines into `pending`, waiting at most `wait`.
    fn fill(&mut self, wait: Duration) -> Result<()> {
        match self.chunks.recv_timeout(wait) {
            Ok(chunk) => self.pending.extend(chunk?),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => self.ended = true,
        }
        Ok(())
    }

    /// Reads the format and, for CSV, the header from the first non-empty line.
    fn start(&mut self, first: &str) -> Result<()> {
        let format = *self
            .format
            .get_or_insert(match first.trim_start().starts_with('{') {
                true => LineFormat::Ndjson,
                false => LineFormat::Csv { delimiter: b',' },
            });
        if let LineFormat::Csv { delimiter } = format {
            let names: Vec<String> = split_delimited(first, delimiter)
                .map_err(|e| Error::format(&self.name, format!("the header line: {e}")))?
                .iter()
                .map(|s| s.trim().to_string())
                .collect();
            self.header = Some(names);
        }
        Ok(())
    }
}

impl Source for LineSource {
    fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<Record>> {
        if self.pending.is_empty() && !self.ended {
            self.fill(wait)?;
        }
        let mut records = Vec::new();
        while records.len() < max {
            let Some((line, text)) = self.pending.pop_front() else {
                // Take what already arrived, without waiting again.
                match self.chunks.try_recv() {
                    Ok(chunk) => self.pending.extend(chunk?),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        self.ended = true;
                        break;
                    }
                }
                continue;
            };
            if text.trim().is_empty() {
                continue;
            }
            let needs_header =
                matches!(self.format, None | Some(LineFormat::Csv { .. })) && self.header.is_none();
            if needs_header {
                self.start(&text)?;
                if self.header.is_some() {
                    continue;
                }
            }
            let payload = match self.format {
                Some(LineFormat::Csv { delimiter }) => Payload::Delimited { text, delimiter },
                _ => Payload::Json(text),
            };
            records.push(Record {
                id: None,
                line,
                payload,
                ack: Ack::None,
            });
        }
        Ok(records)
    }

    fn header(&self) -> Option<&[String]> {
        self.header.as_deref()
    }

    fn ended(&self) -> bool {
        self.ended && self.pending.is_empty()
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

/// The reading thread: lines in chunks, a chunk sent as soon as reading on may block, so a
/// row never waits in a half-full chunk.
fn read_lines(
    source: &str,
    reader: Box<dyn Read + Send>,
    send: &SyncSender<Result<Vec<(u64, String)>>>,
) {
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let mut chunk = Vec::with_capacity(CHUNK_LINES);
    let mut number = 0u64;
    loop {
        let mut text = String::new();
        match reader.read_line(&mut text) {
            Ok(0) => break,
            Ok(_) => {
                number += 1;
                let trimmed = text.trim_end_matches(['\n', '\r']).len();
                text.truncate(trimmed);
                chunk.push((number, text));
            }
            Err(e) => {
                let _ = send.send(Err(Error::format(
                    source,
                    format!("line {}: {e}", number + 1),
                )));
                return;
            }
        }
        // No whole line left in the buffer: the next read may block.
        if (chunk.len() >= CHUNK_LINES || !reader.buffer().contains(&b'\n'))
            && send.send(Ok(std::mem::take(&mut chunk))).is_err()
        {
            return;
        }
    }
    if !chunk.is_empty() {
        let _ = send.send(Ok(chunk));
    }
}

/// A file read on past its end: at the end it waits for more bytes instead of ending, until
/// `stop` is set. A line is only complete when its line break arrives.
struct Following {
    file: File,
    stop: Arc<AtomicBool>,
}

impl Read for Following {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = self.file.read(buf)?;
            if n > 0 || self.stop.load(Ordering::Relaxed) {
                return Ok(n);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// NDJSON for `.ndjson`/`.jsonl`/`.json`, tab-separated for `.tsv`, CSV for `.csv`.
fn format_of(path: &Path) -> Option<LineFormat> {
    let extension = path.extension()?.to_string_lossy().to_lowercase();
    match extension.as_str() {
        "ndjson" | "jsonl" | "json" => Some(LineFormat::Ndjson),
        "csv" => Some(LineFormat::Csv { delimiter: b',' }),
        "tsv" | "tab" => Some(LineFormat::Csv { delimiter: b'\t' }),
        _ => None,
    }
}

/// The fields of one delimited line, with CSV quoting.
pub fn split_delimited(
    line: &str,
    delimiter: u8,
) -> std::result::Result<csv::StringRecord, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delimiter)
        .flexible(true)
        .buffer_capacity(line.len() + 2)
        .from_reader(line.as_bytes());
    let mut record = csv::StringRecord::new();
    match reader.read_record(&mut record) {
        Ok(_) => Ok(record),
        Err(e) => Err(e.to_string()),
    }
}

/// Where `deviant stream --from` reads: `-`, a path, `redis://…` or `nats://…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Stdin,
    File(PathBuf),
    Redis { address: String, key: String },
    Nats { address: String, subject: String },
}

impl std::str::FromStr for Location {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let broker = |scheme: &str| -> Result<Option<(String, String)>> {
            let Some(rest) = s.strip_prefix(scheme) else {
                return Ok(None);
            };
            match rest.split_once('/') {
                Some((address, name)) if !address.is_empty() && !name.is_empty() => {
                    Ok(Some((address.to_string(), name.to_string())))
                }
                _ => Err(Error::config(
                    "location",
                    format!("`{s}`: write {scheme}HOST:PORT/NAME"),
                )),
            }
        };
        if s == "-" {
            return Ok(Self::Stdin);
        }
        if let Some((address, key)) = broker("redis://")? {
            return Ok(Self::Redis { address, key });
        }
        if let Some((address, subject)) = broker("nats://")? {
            return Ok(Self::Nats { address, subject });
        }
        Ok(Self::File(PathBuf::from(s)))
    }
}

/// Waits until `deadline`, polling `source` for up to `max` records in all: what arrives
/// within the time joins the batch.
pub fn poll_until(
    source: &mut dyn Source,
    batch: &mut Vec<Record>,
    max: usize,
    deadline: Instant,
) -> Result<()> {
    while batch.len() < max && !source.ended() {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let more = source.poll(max - batch.len(), deadline - now)?;
        batch.extend(more);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_read_as_stdin_files_and_brokers() {
        assert_eq!("-".parse::<Location>().unwrap(), Location::Stdin);
        assert_eq!(
            "redis://127.0.0.1:6379/flows".parse::<Location>().unwrap(),
            Location::Redis {
                address: "127.0.0.1:6379".into(),
                key: "flows".into()
            }
        );
        assert_eq!(
            "nats://h:4222/a.b".parse::<Location>().unwrap(),
            Location::Nats {
                address: "h:4222".into(),
                subject: "a.b".into()
            }
        );
        let err = "redis://host".parse::<Location>().unwrap_err();
        assert!(err.to_string().contains("HOST:PORT/NAME"), "{err}");
    }

    /// An endless input, counting what is read of it.
    struct Endless {
        lines_read: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            const LINE: &[u8] = b"{\"a\": 1}\n";
            let lines = buf.len() / LINE.len();
            for i in 0..lines {
                buf[i * LINE.len()..(i + 1) * LINE.len()].copy_from_slice(LINE);
            }
            self.lines_read.fetch_add(lines, Ordering::Relaxed);
            Ok(lines * LINE.len())
        }
    }

    #[test]
    fn a_slow_consumer_holds_the_reader_back() {
        let lines_read = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let reader = Endless {
            lines_read: lines_read.clone(),
        };
        let mut source = LineSource::spawn("endless".into(), Box::new(reader), None);
        std::thread::sleep(Duration::from_millis(300));
        // The channel's chunks, the one being filled and the reader's buffer: no more.
        let bound = (CHUNKS_AHEAD + 2) * CHUNK_LINES + (1 << 16);
        let before = lines_read.load(Ordering::Relaxed);
        assert!(before <= bound, "{before} lines read ahead");
        let batch = source.poll(100_000, Duration::from_millis(100)).unwrap();
        assert!(!batch.is_empty());
        std::thread::sleep(Duration::from_millis(200));
        let after = lines_read.load(Ordering::Relaxed);
        assert!(
            after <= bound + batch.len() + CHUNK_LINES,
            "{after} lines read ahead"
        );
    }

    #[test]
    fn a_followed_file_gives_lines_as_they_are_completed() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rows.csv");
        std::fs::write(&path, "a,b\n1,2\n3,").unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let mut source = LineSource::file(&path, true, None, stop.clone()).unwrap();
        let mut batch = Vec::new();
        poll_until(
            &mut source,
            &mut batch,
            10,
            Instant::now() + Duration::from_millis(300),
        )
        .unwrap();
        assert_eq!(source.header().unwrap(), ["a", "b"]);
        assert_eq!(batch.len(), 1, "the half-written line waits");
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(b"4\n5,6\n").unwrap();
        batch.clear();
        poll_until(
            &mut source,
            &mut batch,
            10,
            Instant::now() + Duration::from_millis(300),
        )
        .unwrap();
        let lines: Vec<u64> = batch.iter().map(|r| r.line).collect();
        assert_eq!(lines, [3, 4]);
        assert!(matches!(&batch[0].payload, Payload::Delimited { text, .. } if text == "3,4"));
        stop.store(true, Ordering::Relaxed);
    }
}
