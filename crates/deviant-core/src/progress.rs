use crate::detector::EpochRecord;

/// Where long-running library code reports progress. Libraries never print; the CLI turns
/// these calls into progress bars and the server into events.
pub trait Progress: Send + Sync {
    /// A new phase with `total` steps (0 when unknown).
    fn begin(&self, _phase: &str, _total: u64) {}
    /// `n` more steps of the current phase are done.
    fn advance(&self, _n: u64) {}
    /// A short status line, e.g. the latest epoch's losses.
    fn message(&self, _text: &str) {}
    /// The current phase is over.
    fn finish(&self) {}
    /// A training epoch ended with these losses (live loss curves).
    fn epoch(&self, _record: &EpochRecord) {}
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}
