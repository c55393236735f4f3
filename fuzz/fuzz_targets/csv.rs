//! A delimited table, gzipped or not (the reader tells by the magic bytes).
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    deviant_fuzz::read(&deviant_fuzz::as_file("table.csv", bytes));
});
