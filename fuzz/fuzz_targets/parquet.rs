//! A Parquet file, turned into CSV as an upload is, then read.
//!
//! The `parquet` crate panics on some malformed files; `parquet_to_csv` catches those and
//! answers an error (two such inputs are regression tests in `deviant-data`). libFuzzer's
//! panic hook would abort even on a caught panic, so this target restores a silent hook: a
//! panic that escapes `parquet_to_csv` still reaches libFuzzer and counts as a crash.
#![no_main]

use std::sync::Once;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    static QUIET: Once = Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    if let Ok(csv) =
        deviant_data::parquet::parquet_to_csv(bytes, "table.parquet", deviant_fuzz::MAX_BYTES)
    {
        deviant_fuzz::read(&deviant_fuzz::as_file("table.csv", &csv));
    }
});
