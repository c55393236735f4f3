//! Where scores go: one NDJSON line per row, to stdout, a file, or a broker. A sink's `write` returns only once the lines are handed on, so the
//! rows behind them may be acknowledged.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;

use deviant_core::{Error, Result};

pub trait Sink: Send {
    /// Writes `lines` (each one JSON object, without a line break) and flushes them.
    fn write(&mut self, lines: &[String]) -> Result<()>;

    fn describe(&self) -> String;
}

/// Standard output, standard error or a file appended to.
pub struct WriterSink {
    name: String,
    out: BufWriter<Box<dyn Write + Send>>,
}

impl WriterSink {
    pub fn stdout() -> Self {
        Self::new("stdout", Box::new(std::io::stdout()))
    }

    pub fn stderr() -> Self {
        Self::new("stderr", Box::new(std::io::stderr()))
    }

    /// Appends to `path`, creating it: a restarted stream adds to what an earlier one wrote.
    pub fn file(path: &Path) -> Result<Self> {
        let file: File = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        Ok(Self::new(&path.display().to_string(), Box::new(file)))
    }

    fn new(name: &str, out: Box<dyn Write + Send>) -> Self {
        Self {
            name: name.into(),
            out: BufWriter::with_capacity(1 << 16, out),
        }
    }
}

impl Sink for WriterSink {
    fn write(&mut self, lines: &[String]) -> Result<()> {
        let io = |e| Error::io(&self.name, e);
        for line in lines {
            self.out.write_all(line.as_bytes()).map_err(io)?;
            self.out.write_all(b"\n").map_err(io)?;
        }
        self.out.flush().map_err(io)
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}
