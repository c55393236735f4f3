//! Data and protocols the engine's test binaries share.
// Each test binary compiles this module and uses a part of it.
#![allow(dead_code)]

use deviant_core::{Dataset, ThresholdRule};
use deviant_data::{Scaling, Table};
use deviant_detectors::AnyConfig;
use deviant_engine::protocols::HoldOut;
use ndarray::{Array1, Array2};

pub fn config(kind: &str, params: serde_json::Value) -> AnyConfig {
    AnyConfig::from_params(kind, &params).unwrap()
}

/// `n` rows of `features` columns: standard normal, the last `n / 10` shifted by 6 and
/// labelled anomalous.
pub fn planted(n: usize, features: usize, seed: u64) -> Dataset {
    use rand::Rng;
    let mut rng = deviant_core::split::rng(seed);
    let anomalies = n / 10;
    let x = Array2::from_shape_fn((n, features), |(i, _)| {
        let z: f32 = rng.random::<f32>() * 2.0 - 1.0 + rng.random::<f32>() * 2.0 - 1.0;
        z + if i >= n - anomalies { 6.0 } else { 0.0 }
    });
    let labels = Array1::from_shape_fn(n, |i| u8::from(i >= n - anomalies));
    Dataset::new(x, Some(labels))
}

pub fn holdout(data: &Dataset, threshold: Option<ThresholdRule>) -> HoldOut {
    HoldOut {
        name: "planted".into(),
        schema: deviant_core::Schema::numeric(&data.feature_names),
        table: Table::from_dataset(data, "planted"),
        test: None,
        test_share: 0.3,
        validation_share: 0.2,
        keep_anomalies: false,
        preprocess: deviant_data::PreprocessOptions {
            scaling: Scaling::Standard,
            impute: false,
        },
        threshold,
    }
}
