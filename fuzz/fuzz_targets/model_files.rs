//! A saved model with a damaged or hand-edited file: the first byte picks which file of a
//! committed PCA model (its `manifest.json` or the detector's `pca.json`) the rest replaces.
//! Loading it and scoring rows with it must give scores or an error, never a panic.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use deviant_core::Scoring;
use deviant_data::{ReadOptions, TableReader};
use deviant_engine::Model;

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../crates/deviant-engine/tests/fixtures"
);
const FILES: [&str; 2] = ["manifest.json", "pca.json"];

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let Some((&which, replacement)) = bytes.split_first() else {
        return;
    };
    static ORIGINALS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    let originals = ORIGINALS.get_or_init(|| {
        let model = Path::new(FIXTURES).join("pca-top20-format1");
        FILES
            .iter()
            .map(|name| std::fs::read(model.join(name)).expect("the fixture model"))
            .collect()
    });
    let dir = model_dir();
    for (i, (name, original)) in FILES.iter().zip(originals).enumerate() {
        let content = match usize::from(which) % FILES.len() == i {
            true => replacement,
            false => original.as_slice(),
        };
        std::fs::write(dir.join(name), content).expect("the scratch model is written");
    }
    let Ok(model) = Model::load(dir) else {
        return;
    };
    let rows = Path::new(FIXTURES).join("pca-top20-format1-rows.csv");
    let Ok(table) = TableReader::open(&rows, &ReadOptions::default(), &model.manifest.schema)
        .and_then(|reader| reader.read_all())
    else {
        return;
    };
    if let Ok(data) = model.prepare(&table) {
        let _ = model.score(&data, Scoring::Batch);
        let _ = model.score(&data, Scoring::Rows);
    }
});

/// The folder the model is written into for each input.
fn model_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = deviant_fuzz::scratch().join("model");
        std::fs::create_dir_all(&dir).expect("the scratch model folder");
        dir
    })
}
