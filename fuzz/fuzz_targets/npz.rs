//! A NumPy `.npz` archive of columns.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    deviant_fuzz::read(&deviant_fuzz::as_file("table.npz", bytes));
});
