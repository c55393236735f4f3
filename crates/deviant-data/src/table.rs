//! Delimited text tables: reading (plain or gzipped, in chunks) and schema inference.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use deviant_core::schema::LabelSpec;
use deviant_core::{ColumnKind, ColumnSpec, Dataset, Error, NoProgress, Progress, Result, Schema};
use flate2::read::MultiGzDecoder;

use crate::npz::read_npz_columns;

/// How to read a delimited file.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// The field separator; `None` picks tab for `.tsv`/`.tab` files and comma otherwise.
    pub delimiter: Option<u8>,
    /// Column names for a file without a header row.
    pub names: Option<Vec<String>>,
    /// Columns to skip: left out of an inferred schema, and passed over when a file is read
    /// against a schema that does not know them.
    pub ignore: Vec<String>,
    pub limits: ReadLimits,
}

/// What one delimited file may hold, so that a hostile or broken file is refused with the
/// limit it broke instead of exhausting memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Bytes of the file once decompressed (a gzip bomb stops here).
    pub max_bytes: u64,
    pub max_columns: usize,
    /// Bytes of one line.
    pub max_line_bytes: usize,
    /// Bytes of one cell.
    pub max_cell_bytes: usize,
}

impl Default for ReadLimits {
    fn default() -> Self {
        Self {
            max_bytes: u64::MAX,
            max_columns: 10_000,
            max_line_bytes: 16 << 20,
            max_cell_bytes: 1 << 20,
        }
    }
}

/// The decompressed bytes of a file, refused past [`ReadLimits::max_bytes`] in all or
/// [`ReadLimits::max_line_bytes`] in one line.
struct Bounded<R> {
    inner: R,
    limits: ReadLimits,
    read: u64,
    line: usize,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limits.max_bytes {
            return Err(std::io::Error::new(
                std::io::ErrorKind::FileTooLarge,
                expands_past(self.limits.max_bytes),
            ));
        }
        // The line under way continues into the first segment; the last is left open.
        let mut segments = buf[..n].split(|&b| b == b'\n');
        let mut open = self.line + segments.next().map_or(0, <[u8]>::len);
        let mut longest = open;
        for segment in segments {
            open = segment.len();
            longest = longest.max(open);
        }
        self.line = open;
        if longest > self.limits.max_line_bytes {
            return Err(std::io::Error::other(format!(
                "a line is longer than {} bytes, the most a line may hold (`--max-line-mb`)",
                self.limits.max_line_bytes
            )));
        }
        Ok(n)
    }
}

/// How many bytes `path` holds once decompressed, read through without parsing (in constant
/// memory); [`Error::TooLarge`] past `opts.limits.max_bytes`. Lines are measured when the
/// file is parsed.
pub fn expanded_bytes(path: &Path, opts: &ReadOptions) -> Result<u64> {
    let bytes_only = ReadOptions {
        limits: ReadLimits {
            max_line_bytes: usize::MAX,
            ..opts.limits
        },
        ..ReadOptions::default()
    };
    let mut bytes = open_bytes(path, &bytes_only)?;
    std::io::copy(&mut bytes, &mut std::io::sink()).map_err(|e| read_error(&display_name(path), &e))
}

/// An error reading `file`'s bytes: past [`ReadLimits::max_bytes`] it is
/// [`Error::TooLarge`], otherwise a format error.
fn read_error(file: &str, error: &std::io::Error) -> Error {
    match error.kind() {
        std::io::ErrorKind::FileTooLarge => Error::TooLarge {
            file: file.into(),
            reason: error.to_string(),
        },
        _ => Error::format(file, error.to_string()),
    }
}

/// An error of the CSV reader on `file`, as [`read_error`] tells its kinds apart.
fn csv_error(file: &str, error: csv::Error) -> Error {
    match error.kind() {
        csv::ErrorKind::Io(io) => read_error(file, io),
        _ => Error::format(file, error.to_string()),
    }
}

/// The error for a file that expands past `max` bytes.
pub(crate) fn too_large(file: &str, max: u64) -> Error {
    Error::TooLarge {
        file: file.into(),
        reason: expands_past(max),
    }
}

fn expands_past(max: u64) -> String {
    format!(
        "the file expands past {max} bytes, the most that is read (a decompression bomb, or a \
         file for a larger limit)"
    )
}

/// A cell longer than `limits` allows, as the error for its line and column.
fn check_cells(
    record: &csv::StringRecord,
    names: &[String],
    limits: &ReadLimits,
    file: &str,
    line: u64,
) -> Result<()> {
    match record
        .iter()
        .position(|cell| cell.len() > limits.max_cell_bytes)
    {
        None => Ok(()),
        Some(i) => Err(Error::Cell {
            file: file.into(),
            line,
            column: names
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("#{}", i + 1)),
            reason: format!(
                "the cell holds {} bytes, more than the {} a cell may hold",
                record[i].len(),
                limits.max_cell_bytes
            ),
        }),
    }
}

/// What schema inference may not guess by itself.
#[derive(Debug, Clone, Default)]
pub struct SchemaOptions {
    pub categorical: Vec<String>,
    pub numeric: Vec<String>,
    pub label: Option<LabelSpec>,
    /// Rows read to infer column kinds.
    pub sample_rows: usize,
}

/// Schema options that only name a label column and its normal values.
pub fn schema_options_for_label(column: &str, normal_values: &[&str]) -> SchemaOptions {
    SchemaOptions {
        label: Some(LabelSpec {
            column: column.into(),
            normal_values: normal_values.iter().map(|v| v.to_string()).collect(),
        }),
        ..Default::default()
    }
}

/// Cell values read as missing in numeric columns.
mod builder;
mod infer;
mod json_row;
pub use builder::{Header, JsonCells, TableBuilder};
pub use infer::infer_schema;

const MISSING: [&str; 7] = ["", "na", "nan", "n/a", "null", "none", "?"];

fn is_missing(cell: &str) -> bool {
    MISSING.iter().any(|m| cell.eq_ignore_ascii_case(m))
}

/// Parses a numeric cell: `Ok(NaN)` for a missing marker, `Err` for text.
fn parse_number(cell: &str) -> std::result::Result<f64, ()> {
    let cell = cell.trim();
    if is_missing(cell) {
        return Ok(f64::NAN);
    }
    cell.parse::<f64>().map_err(|_| ())
}

/// Whether `path` is a NumPy `.npz` archive, which is read whole rather than streamed.
fn is_npz(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"))
}

fn display_name(path: &Path) -> String {
    path.display().to_string()
}

/// `path`'s bytes, decompressed when it is gzipped, within `opts.limits`.
fn open_bytes(path: &Path, opts: &ReadOptions) -> Result<Box<dyn Read + Send>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut buffered = BufReader::with_capacity(1 << 16, file);
    let gzipped = buffered
        .fill_buf()
        .map_err(|e| Error::io(path, e))?
        .starts_with(&[0x1f, 0x8b]);
    let inner: Box<dyn Read + Send> = if gzipped {
        Box::new(MultiGzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };
    Ok(Box::new(Bounded {
        inner,
        limits: opts.limits,
        read: 0,
        line: 0,
    }))
}

fn open_reader(path: &Path, opts: &ReadOptions) -> Result<csv::Reader<Box<dyn Read + Send>>> {
    let reader = open_bytes(path, opts)?;
    let delimiter = opts.delimiter.unwrap_or_else(|| {
        let name = path.to_string_lossy().to_lowercase();
        let name = name.trim_end_matches(".gz");
        if name.ends_with(".tsv") || name.ends_with(".tab") {
            b'\t'
        } else {
            b','
        }
    });
    Ok(csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(reader))
}

/// Reads the header (or takes `opts.names`), returning the column names.
fn read_header(
    path: &Path,
    reader: &mut csv::Reader<Box<dyn Read + Send>>,
    opts: &ReadOptions,
) -> Result<Vec<String>> {
    if let Some(names) = &opts.names {
        return Ok(names.clone());
    }
    let mut record = csv::StringRecord::new();
    let found = reader
        .read_record(&mut record)
        .map_err(|e| csv_error(&display_name(path), e))?;
    if !found {
        return Err(Error::Empty {
            what: display_name(path),
            remedy: "the file needs a header row and at least one data row".into(),
        });
    }
    if record.len() > opts.limits.max_columns {
        return Err(Error::format(
            display_name(path),
            format!(
                "the header has {} columns, more than the {} a table may have (`--max-columns`)",
                record.len(),
                opts.limits.max_columns
            ),
        ));
    }
    check_cells(&record, &[], &opts.limits, &display_name(path), 1)?;
    let names: Vec<String> = record.iter().map(|s| s.trim().to_string()).collect();
    let mut seen = HashSet::new();
    for (i, name) in names.iter().enumerate() {
        if name.is_empty() {
            return Err(Error::format(
                display_name(path),
                format!("header column {} has no name", i + 1),
            ));
        }
        if !seen.insert(name) {
            return Err(Error::format(
                display_name(path),
                format!("header names column `{name}` twice"),
            ));
        }
    }
    Ok(names)
}

fn check_known(names: &[String], wanted: &[String], option: &str, file: &str) -> Result<()> {
    for w in wanted {
        if !names.contains(w) {
            return Err(Error::format(
                file,
                format!(
                    "{option} names column `{w}`, which is not in the file; its columns are: {}",
                    names.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// The cells of one feature column.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnData {
    /// Missing cells are NaN.
    Numeric(Vec<f64>),
    Categorical(Vec<String>),
}

/// Rows of a file read under a [`Schema`]: feature columns in schema order, labels when the
/// file has the label column, and each row's line number for error messages.
#[derive(Debug, Clone)]
pub struct Table {
    pub source: String,
    pub columns: Vec<ColumnData>,
    pub labels: Option<Vec<u8>>,
    /// The label column's own values beside the binary labels (attack names or categories),
    /// for per-class results; None without a label column.
    pub classes: Option<Vec<String>>,
    pub lines: Vec<u64>,
}

impl Table {
    pub fn n_rows(&self) -> usize {
        self.lines.len()
    }

    /// The rows at `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> Table {
        let pick = |values: &[f64]| rows.iter().map(|&r| values[r]).collect();
        Table {
            source: self.source.clone(),
            columns: self
                .columns
                .iter()
                .map(|c| match c {
                    ColumnData::Numeric(v) => ColumnData::Numeric(pick(v)),
                    ColumnData::Categorical(v) => {
                        ColumnData::Categorical(rows.iter().map(|&r| v[r].clone()).collect())
                    }
                })
                .collect(),
            labels: self
                .labels
                .as_ref()
                .map(|l| rows.iter().map(|&r| l[r]).collect()),
            classes: self
                .classes
                .as_ref()
                .map(|c| rows.iter().map(|&r| c[r].clone()).collect()),
            lines: rows.iter().map(|&r| self.lines[r]).collect(),
        }
    }

    /// An all-numeric table of `data`'s rows (sets that never were a table, such as
    /// ADBench's arrays), one column per feature under its name in `data` (see
    /// [`Schema::numeric`]); row `i` is line `i + 1` in messages.
    pub fn from_dataset(data: &Dataset, source: &str) -> Table {
        Table {
            source: source.into(),
            columns: data
                .x
                .columns()
                .into_iter()
                .map(|c| ColumnData::Numeric(c.iter().map(|&v| f64::from(v)).collect()))
                .collect(),
            labels: data.labels.as_ref().map(|l| l.to_vec()),
            classes: data
                .labels
                .as_ref()
                .map(|l| l.iter().map(u8::to_string).collect()),
            lines: (1..=data.n_rows() as u64).collect(),
        }
    }

    /// Rows given as JSON objects (`{"column": value, …}`), read under `schema`: numbers (or
    /// numeric strings) in numeric columns, strings or numbers in categorical ones, `null` for
    /// a missing cell. The label column, when every row has it, gives the labels; ignored
    /// columns are passed over; any other key is an error. `source` names the rows in errors.
    pub fn from_json_rows(
        schema: &Schema,
        rows: &[serde_json::Map<String, serde_json::Value>],
        source: &str,
    ) -> Result<Table> {
        if rows.is_empty() {
            return Err(Error::Empty {
                what: source.into(),
                remedy: "send at least one row".into(),
            });
        }
        let mut table = TableBuilder::new(schema, source);
        for (i, row) in rows.iter().enumerate() {
            table.push_json(row, i as u64 + 1, &[])?;
        }
        Ok(table.take())
    }

    /// Appends the rows of `other`, a later chunk of the same file.
    fn append(&mut self, other: Table) {
        for (mine, theirs) in self.columns.iter_mut().zip(other.columns) {
            match (mine, theirs) {
                (ColumnData::Numeric(a), ColumnData::Numeric(b)) => a.extend(b),
                (ColumnData::Categorical(a), ColumnData::Categorical(b)) => a.extend(b),
                _ => unreachable!("chunks of one reader share their column kinds"),
            }
        }
        if let (Some(a), Some(b)) = (&mut self.labels, other.labels) {
            a.extend(b);
        }
        if let (Some(a), Some(b)) = (&mut self.classes, other.classes) {
            a.extend(b);
        }
        self.lines.extend(other.lines);
    }

    /// Only the rows labelled normal (all rows when the table has no labels).
    pub fn normal_rows(self) -> Table {
        match &self.labels {
            None => self,
            Some(labels) => {
                let rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == 0).collect();
                self.select(&rows)
            }
        }
    }
}

/// Reads a file in chunks of rows under a fixed schema, so files larger than memory can be
/// scored piece by piece.
pub struct TableReader {
    columns: ColumnMap,
    source: Source,
}

/// Where the schema's columns are in one file.
struct ColumnMap {
    header: Header,
    schema: Schema,
    /// The file's column names, for errors about a cell.
    names: Vec<String>,
    limits: ReadLimits,
}

enum Source {
    /// Delimited text, read record by record.
    Text {
        reader: csv::Reader<Box<dyn Read + Send>>,
        record: csv::StringRecord,
    },
    /// A format read whole (`.npz`): every column of the file, and the next row to hand out.
    Loaded { columns: Vec<Vec<f64>>, next: usize },
}

impl TableReader {
    /// Opens `path`, checking that its columns match `schema`: every feature column present,
    /// no column the schema does not know (unless ignored or the label).
    pub fn open(path: &Path, read: &ReadOptions, schema: &Schema) -> Result<Self> {
        let file = display_name(path);
        let (names, source) = if is_npz(path) {
            let (names, columns) = read_npz_columns(path)?;
            (names, Source::Loaded { columns, next: 0 })
        } else {
            let mut reader = open_reader(path, read)?;
            let names = read_header(path, &mut reader, read)?;
            let source = Source::Text {
                reader,
                record: csv::StringRecord::new(),
            };
            (names, source)
        };
        Ok(Self {
            columns: ColumnMap {
                header: Header::new(&file, &names, schema, &read.ignore)?,
                schema: schema.clone(),
                names,
                limits: read.limits,
            },
            source,
        })
    }

    /// Whether the file has the schema's label column.
    pub fn has_labels(&self) -> bool {
        self.columns.header.has_label()
    }

    /// Reads up to `max_rows` rows; `None` at the end of the file.
    pub fn next_chunk(&mut self, max_rows: usize) -> Result<Option<Table>> {
        let chunk = match &mut self.source {
            Source::Text { reader, record } => self.columns.text_chunk(reader, record, max_rows)?,
            Source::Loaded { columns, next } => {
                let rows = *next..columns[0].len().min(next.saturating_add(max_rows));
                *next = rows.end;
                self.columns.loaded_chunk(columns, rows)
            }
        };
        Ok((!chunk.lines.is_empty()).then_some(chunk))
    }

    /// Reads every remaining row; an empty file is an error.
    pub fn read_all(self) -> Result<Table> {
        self.read_all_with_progress(&NoProgress)
    }

    /// [`TableReader::read_all`], reporting the rows read so far to `progress`.
    pub fn read_all_with_progress(mut self, progress: &dyn Progress) -> Result<Table> {
        const CHUNK_ROWS: usize = 1 << 16;
        progress.begin("reading", 0);
        let mut table: Option<Table> = None;
        while let Some(chunk) = self.next_chunk(CHUNK_ROWS)? {
            match &mut table {
                Some(table) => table.append(chunk),
                None => table = Some(chunk),
            }
            let rows = table.as_ref().map_or(0, Table::n_rows);
            progress.message(&format!("{} rows of {}", rows, self.columns.header.file));
        }
        progress.finish();
        table.ok_or_else(|| Error::Empty {
            what: self.columns.header.file,
            remedy: "the file has no data rows".into(),
        })
    }
}

impl ColumnMap {
    /// Rows `rows` of a file read whole; line numbers are row numbers counted from 1.
    fn loaded_chunk(&self, columns: &[Vec<f64>], rows: std::ops::Range<usize>) -> Table {
        let features = self
            .schema
            .features
            .iter()
            .zip(&self.header.feature_positions)
            .map(|(spec, &pos)| {
                let values = &columns[pos][rows.clone()];
                match spec.kind {
                    ColumnKind::Numeric => ColumnData::Numeric(values.to_vec()),
                    ColumnKind::Categorical => {
                        ColumnData::Categorical(values.iter().map(f64::to_string).collect())
                    }
                }
            })
            .collect();
        let classes: Option<Vec<String>> = self.header.label_position.map(|pos| {
            columns[pos][rows.clone()]
                .iter()
                .map(|v| v.to_string())
                .collect()
        });
        let labels = encoded_labels(&self.schema, classes.as_deref());
        Table {
            source: self.header.file.clone(),
            columns: features,
            labels,
            classes,
            lines: rows.map(|r| r as u64 + 1).collect(),
        }
    }

    /// Up to `max_rows` records of a delimited file, parsed under the schema.
    fn text_chunk(
        &self,
        reader: &mut csv::Reader<Box<dyn Read + Send>>,
        record: &mut csv::StringRecord,
        max_rows: usize,
    ) -> Result<Table> {
        let mut rows = TableBuilder::new(&self.schema, &self.header.file);
        while rows.len() < max_rows {
            let found = reader
                .read_record(record)
                .map_err(|e| csv_error(&self.header.file, e))?;
            if !found {
                break;
            }
            let line = record.position().map_or(0, |p| p.line());
            if record.len() == 1 && record[0].trim().is_empty() {
                continue;
            }
            check_cells(record, &self.names, &self.limits, &self.header.file, line)?;
            rows.push_record(&self.header, record, line)?;
        }
        Ok(rows.take())
    }
}

/// The binary labels (1 = anomaly) of a label column's `classes` under `schema`; `None`
/// without a label column.
fn encoded_labels(schema: &Schema, classes: Option<&[String]>) -> Option<Vec<u8>> {
    let spec = schema.label.as_ref()?;
    Some(classes?.iter().map(|c| spec.encode(c)).collect())
}

/// Infers the schema of `path` and reads all of it.
pub fn read_table(
    path: &Path,
    read: &ReadOptions,
    opts: &SchemaOptions,
) -> Result<(Schema, Table)> {
    let schema = infer_schema(path, read, opts)?;
    let table = TableReader::open(path, read, &schema)?.read_all()?;
    Ok((schema, table))
}

#[cfg(test)]
mod tests;
