//! The body of a score request (`POST /api/v1/runs/{id}/score`): rows as JSON objects,
//! read against a committed PCA model's schema, preprocessed and scored one by one and as
//! a batch. Errors are fine (a missing column, a non-finite value), panics are not.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use deviant_core::Scoring;
use deviant_data::Table;
use deviant_engine::Model;
use serde_json::{Map, Value};

const MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../crates/deviant-engine/tests/fixtures/pca-top20-format1"
);

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    static LOADED: OnceLock<Model> = OnceLock::new();
    let model = LOADED.get_or_init(|| Model::load(Path::new(MODEL)).expect("the fixture model"));
    let Ok(rows) = serde_json::from_slice::<Vec<Map<String, Value>>>(bytes) else {
        return;
    };
    let Ok(table) = Table::from_json_rows(&model.manifest.schema, &rows, "rows") else {
        return;
    };
    if let Ok(data) = model.prepare(&table) {
        let _ = model.score(&data, Scoring::Rows);
        let _ = model.score(&data, Scoring::Batch);
    }
});
