//! JSON rows (an array of objects, or NDJSON), turned into CSV as an upload is, then read.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    if let Ok(csv) = deviant_data::json::json_to_csv(bytes, "rows.json") {
        deviant_fuzz::read(&deviant_fuzz::as_file("rows.csv", &csv));
    }
});
