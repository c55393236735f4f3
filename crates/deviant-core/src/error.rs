use std::path::PathBuf;

/// Every error the deviant libraries return. Messages are lowercase and name the offending
/// file, row, column or field, and where possible the remedy.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what} is empty: {remedy}")]
    Empty { what: String, remedy: String },

    #[error("expected {expected} features but the input has {found}: {context}")]
    FeatureCount {
        expected: usize,
        found: usize,
        context: String,
    },

    #[error("invalid value for `{field}`: {reason}")]
    InvalidConfig { field: String, reason: String },

    #[error("{file}: line {line}, column `{column}`: {reason}")]
    Cell {
        file: String,
        line: u64,
        column: String,
        reason: String,
    },

    #[error("{file}: {reason}")]
    Format { file: String, reason: String },

    #[error(
        "{path}: written by format version {found}, this build reads version {expected}; \
         retrain the model with this version of deviant"
    )]
    Version {
        path: PathBuf,
        found: u32,
        expected: u32,
    },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("training diverged at epoch {epoch}: the {loss} loss became {value}; {remedy}")]
    Diverged {
        epoch: usize,
        loss: String,
        value: f64,
        remedy: String,
    },

    #[error("cancelled")]
    Cancelled,

    #[error("download of {url} failed: {reason}")]
    Download { url: String, reason: String },

    #[error("{0}")]
    Other(String),
}

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// An [`Error::InvalidConfig`] for `field`.
    pub fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidConfig {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// An [`Error::Format`] for `file`.
    pub fn format(file: impl ToString, reason: impl Into<String>) -> Self {
        Error::Format {
            file: file.to_string(),
            reason: reason.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
