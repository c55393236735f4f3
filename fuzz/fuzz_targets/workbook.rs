//! A workbook (.xlsx, .xls, .ods by its bytes), turned into CSV as an upload is, then read.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    if let Ok(csv) =
        deviant_data::excel::workbook_to_csv(bytes, "book.xlsx", deviant_fuzz::MAX_BYTES)
    {
        deviant_fuzz::read(&deviant_fuzz::as_file("book.csv", &csv));
    }
});
