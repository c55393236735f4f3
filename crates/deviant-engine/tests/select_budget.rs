//! A selection's budget: alone in its own test binary, so that no other test competes for
//! the cores while its wall clock is measured.

use std::time::{Duration, Instant};

use deviant_core::{FitContext, NoProgress};
use deviant_engine::select::{SelectOptions, select};
use deviant_engine::{NoObserver, Protocol};

mod common;

use common::{holdout, planted};

/// The whole selection, deep candidates included, ends within 10 % of its budget.
#[test]
fn the_budget_is_honoured() {
    let splits = holdout(&planted(20_000, 16, 5), None)
        .splits(1, &NoProgress)
        .unwrap();
    let budget = Duration::from_secs(5);
    let started = Instant::now();
    let selection = select(
        &splits,
        &SelectOptions {
            budget,
            deep: true,
            ..SelectOptions::default()
        },
        &FitContext::new(1),
        &mut NoObserver,
    )
    .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        seconds <= budget.as_secs_f64() * 1.1,
        "{seconds:.2} s for a 5 s budget"
    );
    assert!(
        selection
            .leaderboard
            .iter()
            .any(|a| a.status.contains("budget")),
        "something was cut short"
    );
}
