//! What the fuzz targets share: bytes written to a file of a given name in a folder of this
//! process, and the file read as every command reads a table, within limits small enough
//! that no input can exhaust the fuzzer's memory by design.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use deviant_data::table::read_table;
use deviant_data::{ReadLimits, ReadOptions, SchemaOptions};

/// A byte limit on what one input may expand to.
pub const MAX_BYTES: u64 = 8 << 20;

/// This process's scratch folder.
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a scratch folder"))
        .path()
}

/// `bytes` as the file `name` in this process's scratch folder.
pub fn as_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch().join(name);
    std::fs::write(&path, bytes).expect("the scratch file is written");
    path
}

/// Reads the table at `path` (schema inferred, then every row); errors are fine, panics are
/// not.
pub fn read(path: &Path) {
    let options = ReadOptions {
        limits: ReadLimits {
            max_bytes: MAX_BYTES,
            max_line_bytes: 1 << 20,
            ..ReadLimits::default()
        },
        ..ReadOptions::default()
    };
    let _ = read_table(path, &options, &SchemaOptions::default());
}
