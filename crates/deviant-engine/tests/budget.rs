//! Budgets stop fits cooperatively. Alone in its own test binary, so that no other test's
//! threads come and go while this one counts them.

use std::time::{Duration, Instant};

use deviant_core::{Error, FitContext};
use deviant_engine::{Protocol, Trial, run_trial};
use serde_json::json;

mod common;

use common::{config, holdout, planted};

fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_budget_stops_deep_and_classic_fits_and_leaves_no_thread_running() {
    let data = planted(2_000, 16, 2);
    let protocol = holdout(&data, None);
    let splits = protocol.splits(1, &deviant_core::NoProgress).unwrap();
    let slow = [
        config("ae", json!({"training": {"epochs": 100000, "patience": 0}})),
        config("iforest", json!({"n_trees": 1000000})),
    ];
    // Start the shared thread pools before counting.
    for quick in [
        config("ae", json!({"training": {"epochs": 1}})),
        config("iforest", json!({"n_trees": 10})),
    ] {
        let trial = Trial {
            config: &quick,
            seed: 1,
            budget: None,
        };
        run_trial(&splits, &trial, &FitContext::new(0)).unwrap();
    }
    for slow in &slow {
        let before = threads();
        let started = Instant::now();
        let trial = Trial {
            config: slow,
            seed: 1,
            budget: Some(Duration::from_millis(300)),
        };
        let err = run_trial(&splits, &trial, &FitContext::new(0))
            .err()
            .unwrap();
        assert!(
            matches!(err, Error::BudgetExceeded { .. }),
            "{}: {err}",
            slow.kind()
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{} stopped after {:?}",
            slow.kind(),
            started.elapsed()
        );
        // Pools a fit dropped wind down their threads asynchronously.
        let settled = Instant::now();
        while threads() > before && settled.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            threads() <= before,
            "{}: {} threads, {before} before",
            slow.kind(),
            threads()
        );
    }
}
