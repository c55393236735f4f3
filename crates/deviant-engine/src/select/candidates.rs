//! The configurations a selection tries: every kind of the catalogue that accepts the
//! layout at its defaults, two more points of each fast kind's search space, and the deep
//! kinds that train in seconds on tabular sets. The same list, in the same order, is what
//! the corpus was measured on, so its results apply to it.

use deviant_detectors::AnyConfig;
use deviant_detectors::catalogue::{Cost, Layout};
use deviant_detectors::registry::merge_params;

use crate::study::config_labels;

/// Deep kinds worth a place in a search by default: the flows and autoencoders fit a
/// typical tabular set in seconds; the GANs, the mixture models and NSF take minutes.
const DEEP_KINDS: &[&str] = &[
    "ae",
    "vae",
    "deep_svdd",
    "realnvp",
    "maf",
    "seq2seq",
    "conv_ae",
    "mlp_classifier",
];

/// Points of each fast kind's search space besides its defaults.
const VARIANTS: usize = 2;

/// One configuration to try, with its name in the leaderboard.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub label: String,
    pub config: AnyConfig,
    pub cost: Cost,
}

/// The detectors for rows of `layout`, fast ones first.
pub fn candidates(layout: Layout) -> Vec<Candidate> {
    of_kinds(layout, false)
}

/// The supervised learners for rows of `layout` (tried when labelled training rows exist),
/// fast ones first.
pub fn learners(layout: Layout) -> Vec<Candidate> {
    of_kinds(layout, true)
}

fn of_kinds(layout: Layout, supervised: bool) -> Vec<Candidate> {
    let mut configs = Vec::new();
    for info in AnyConfig::kinds() {
        let deep = info.cost == Cost::Deep;
        if info.cost == Cost::Members
            || info.needs_labels != supervised
            || !info.layouts.contains(&layout)
            || (deep && !DEEP_KINDS.contains(&info.kind))
        {
            continue;
        }
        configs.push((info.cost, info.defaults.clone()));
        if deep {
            continue;
        }
        for variant in 0..VARIANTS {
            let mut params = serde_json::to_value(&info.defaults).expect("configs serialise");
            for (k, range) in info.search_space.iter().enumerate() {
                let mut patch = serde_json::json!({});
                let mut at = &mut patch;
                for part in range.key.split('.') {
                    at = &mut at[part];
                }
                *at = range.at(spread(variant, k));
                merge_params(&mut params["params"], &patch);
            }
            if let Ok(config) = serde_json::from_value::<AnyConfig>(params)
                && config.validate().is_ok()
                && !configs.iter().any(|(_, c)| *c == config)
            {
                configs.push((info.cost, config));
            }
        }
    }
    configs.sort_by_key(|(cost, _)| *cost);
    let all: Vec<AnyConfig> = configs.iter().map(|(_, c)| c.clone()).collect();
    config_labels(&all)
        .into_iter()
        .zip(configs)
        .map(|(label, (cost, config))| Candidate {
            label,
            config,
            cost,
        })
        .collect()
}

/// Where variant `v` sits in the range of its kind's `k`th hyper-parameter: a low and a high
/// point, staggered between parameters (an additive recurrence) so that two parameters of
/// one kind are not both at their ends.
fn spread(v: usize, k: usize) -> f64 {
    let base = [0.2, 0.8][v % 2];
    (base + 0.618_034 * k as f64).fract()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_fixed_distinct_and_cheap_first() {
        let a = candidates(Layout::Tabular);
        let b = candidates(Layout::Tabular);
        assert_eq!(a.len(), b.len());
        assert!(a.iter().zip(&b).all(|(x, y)| x.config == y.config));
        assert!(a.windows(2).all(|w| w[0].cost <= w[1].cost));
        for (i, x) in a.iter().enumerate() {
            assert!(a[..i].iter().all(|y| y.config != x.config), "{}", x.label);
        }
        assert!(a.iter().any(|c| c.label.starts_with("iforest (")));
        assert!(
            a.iter()
                .all(|c| c.config.kind() != "seq2seq" && c.config.kind() != "nsf")
        );
        let windows = candidates(Layout::Windows);
        assert!(windows.iter().any(|c| c.config.kind() == "seq2seq"));
    }
}
