//! A threshold rule as `--threshold` and run requests spell it.
#![no_main]

libfuzzer_sys::fuzz_target!(|text: &str| {
    let _ = text.parse::<deviant_core::ThresholdRule>();
});
