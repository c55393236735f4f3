use std::path::PathBuf;

/// Every error the deviant libraries return. Messages are lowercase and name the offending
/// file, row, column or field, and where possible the remedy. [`Error::cause`] sorts them by
/// who can fix them, which is what each edge (exit code, HTTP status) maps.
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

    /// A file larger than a limit allows once decompressed or converted (a decompression
    /// bomb, or a file for a larger limit).
    #[error("{file}: {reason}")]
    TooLarge { file: String, reason: String },

    #[error(
        "{path}: written by format version {found}, this build reads version {expected}; \
         retrain the model with this version of deviant"
    )]
    Version {
        path: PathBuf,
        found: u32,
        expected: u32,
    },

    /// The message names the reason itself, so the reason is not also the error's source
    /// (an error chain would print it twice).
    #[error("{path}: {reason}")]
    Io {
        path: PathBuf,
        reason: std::io::Error,
    },

    #[error("training diverged at epoch {epoch}: the {loss} loss became {value}; {remedy}")]
    Diverged {
        epoch: usize,
        loss: String,
        value: f64,
        remedy: String,
    },

    /// Data the caller sent that cannot be used: a non-finite value, labels that do not
    /// match the scores, a set with one class where two are needed.
    #[error("{context}: {reason}")]
    InvalidInput { context: String, reason: String },

    #[error("cancelled")]
    Cancelled,

    #[error(
        "{what} ran past its budget of {seconds} s and was stopped; give it more time or a smaller configuration"
    )]
    BudgetExceeded { what: String, seconds: f64 },

    #[error("download of {url} failed: {reason}")]
    Download { url: String, reason: String },

    /// A failure that is nobody's input: a broken invariant, a library or the machine.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Who can act on an error, for the edges that map errors to exit codes and HTTP statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The data sent: rows, cells, feature counts, labels.
    Input,
    /// Parameters, flags and requests.
    Config,
    /// A file that is not what it claims to be.
    Format,
    /// A file written by another format version.
    Version,
    /// The file system or the network.
    Io,
    /// Training became non-finite.
    Diverged,
    Cancelled,
    Budget,
    Internal,
}

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, reason: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            reason,
        }
    }

    /// An [`Error::InvalidConfig`] for `field`.
    pub fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidConfig {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// An [`Error::InvalidInput`] about `context`.
    pub fn input(context: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            context: context.into(),
            reason: reason.into(),
        }
    }

    /// An [`Error::Internal`].
    pub fn internal(reason: impl std::fmt::Display) -> Self {
        Error::Internal(reason.to_string())
    }

    pub fn cause(&self) -> Cause {
        match self {
            Error::Empty { .. }
            | Error::FeatureCount { .. }
            | Error::Cell { .. }
            | Error::InvalidInput { .. }
            | Error::TooLarge { .. } => Cause::Input,
            Error::InvalidConfig { .. } => Cause::Config,
            Error::Format { .. } => Cause::Format,
            Error::Version { .. } => Cause::Version,
            Error::Io { .. } | Error::Download { .. } => Cause::Io,
            Error::Diverged { .. } => Cause::Diverged,
            Error::Cancelled => Cause::Cancelled,
            Error::BudgetExceeded { .. } => Cause::Budget,
            Error::Internal(_) => Cause::Internal,
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
