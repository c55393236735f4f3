//! Metrics against numbers scikit-learn computed (`fixtures/make_metrics.py`).

use deviant_core::metrics::{Evaluation, average_precision, roc_auc};
use serde_json::Value;

fn cases() -> Vec<Value> {
    let text = include_str!("fixtures/metrics.json");
    let json: Value = serde_json::from_str(text).expect("fixture is valid JSON");
    json["cases"].as_array().expect("cases array").clone()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn ranking_metrics_match_scikit_learn() {
    for case in cases() {
        let scores: Vec<f32> = serde_json::from_value(case["scores"].clone()).unwrap();
        let labels: Vec<u8> = serde_json::from_value(case["labels"].clone()).unwrap();
        let name = case["name"].as_str().unwrap();
        let auc = roc_auc(&scores, &labels).unwrap();
        let ap = average_precision(&scores, &labels).unwrap();
        assert!(
            close(auc, case["roc_auc"].as_f64().unwrap()),
            "{name}: auc {auc}"
        );
        assert!(
            close(ap, case["average_precision"].as_f64().unwrap()),
            "{name}: ap {ap}"
        );
    }
}

#[test]
fn threshold_metrics_match_scikit_learn() {
    for case in cases() {
        let scores: Vec<f32> = serde_json::from_value(case["scores"].clone()).unwrap();
        let labels: Vec<u8> = serde_json::from_value(case["labels"].clone()).unwrap();
        let name = case["name"].as_str().unwrap();
        let eval = Evaluation::new(&scores, &labels, case["threshold"].as_f64().unwrap()).unwrap();
        for (field, ours) in [
            ("precision", eval.precision),
            ("recall", eval.recall),
            ("f1", eval.f1),
            ("f2", eval.f2),
            ("accuracy", eval.accuracy),
        ] {
            let expected = case[field].as_f64().unwrap();
            assert!(
                close(ours, expected),
                "{name}: {field} {ours} vs {expected}"
            );
        }
    }
}
