//! The contract every registry entry must keep (DESIGN.md): checked inputs, one finite score
//! per row, seed reproducibility, save → load giving identical scores, config JSON round trips,
//! and planted outliers ranked high.

use deviant_core::metrics::roc_auc;
use deviant_core::{Dataset, FitContext};
use deviant_detectors::AnyConfig;
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

/// Every registered detector, with settings small enough for a test.
fn detectors() -> Vec<AnyConfig> {
    AnyConfig::kinds()
        .into_iter()
        .map(|info| {
            let small = match info.kind {
                "ae" => json!({"hidden": [16, 4], "training": {"epochs": 30, "batch_size": 64}}),
                "vae" => json!({"hidden": [16], "latent": 2, "training": {"epochs": 30, "batch_size": 64}}),
                // The covariance penalty fights reconstruction on this tiny 2-d plane (it wants
                // spread in the cosine feature); the finiteness unit test covers it instead.
                "dagmm" | "vaegmm" => json!({
                    "hidden": [16, 2], "learning_rate": 3e-3, "lambda_covariance": 0.0,
                    "training": {"epochs": 60, "batch_size": 64, "patience": 0}
                }),
                "aae" => json!({
                    "hidden": [16], "latent": 2, "latent_weight": 0.01,
                    "training": {"epochs": 30, "batch_size": 64}
                }),
                "deep_svdd" => json!({
                    "hidden": [16, 4], "learning_rate": 1e-3,
                    "training": {"epochs": 30, "batch_size": 64}
                }),
                "bigan" | "alad" => json!({
                    "latent": 4, "learning_rate": 1e-3,
                    "training": {"epochs": 30, "batch_size": 64}
                }),
                "realnvp" | "maf" | "nsf" => json!({
                    "layers": 4, "hidden": [16],
                    "training": {"epochs": 30, "batch_size": 64}
                }),
                "seq2seq" => json!({"hidden": 16, "learning_rate": 1e-2, "training": {"epochs": 30, "batch_size": 64}}),
                // The 6 features as a 1 × 6 image (padded to 4 × 8 inside).
                "conv_ae" => json!({"height": 1, "filters": [8, 8], "latent": 4, "training": {"epochs": 40, "batch_size": 64}}),
                "mlp_classifier" => json!({"hidden": [16], "training": {"epochs": 30, "batch_size": 64}}),
                _ => json!({}),
            };
            AnyConfig::from_params(info.kind, &small).unwrap()
        })
        // The GANs' other options: the fan-in initialisation and spectral normalisation.
        .chain(["bigan", "alad"].map(|kind| {
            let params = json!({
                "latent": 4, "learning_rate": 1e-3, "init": "fan_in", "spectral_norm": true,
                "training": {"epochs": 30, "batch_size": 64}
            });
            AnyConfig::from_params(kind, &params).unwrap()
        }))
        .collect()
}

/// Normal rows near a 2-d plane in 6-d space, and outliers far off it.
fn data(n_normal: usize, n_outliers: usize, seed: u64) -> Dataset {
    planted(n_normal, n_outliers, seed, false)
}

/// [`data`] with every outlier on one side of the plane (`one_sided`), which a linear
/// classifier can learn; otherwise outliers sit on both sides, as no linear rule separates.
fn planted(n_normal: usize, n_outliers: usize, seed: u64, one_sided: bool) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut gauss = || -> f32 {
        let (u, v): (f32, f32) = (rng.random_range(1e-6..1.0), rng.random());
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    };
    let n = n_normal + n_outliers;
    let mut x = Array2::<f32>::zeros((n, 6));
    let mut labels = Array1::<u8>::zeros(n);
    for i in 0..n {
        let (a, b) = (gauss(), gauss());
        let row = [a, b, a + b, a - b, 0.5 * a, -b];
        for j in 0..6 {
            x[[i, j]] = row[j] + 0.05 * gauss();
        }
        if i >= n_normal {
            labels[i] = 1;
            for j in 0..6 {
                let up = one_sided || (i + j) % 2 == 0;
                x[[i, j]] = if up { 4.0 } else { -4.0 } + gauss();
            }
        }
    }
    Dataset::new(x, Some(labels))
}

/// Training rows for `config`: normal rows only for a detector; for a supervised learner,
/// labelled rows with a twentieth of them planted outliers, one-sided.
fn training(config: &AnyConfig, n_normal: usize, seed: u64) -> Dataset {
    match config.needs_labels() {
        true => planted(n_normal, n_normal / 20, seed, true),
        false => data(n_normal, 0, seed),
    }
}

/// Test rows for `config`, with outliers as it was trained to see them.
fn test_rows(config: &AnyConfig, n_normal: usize, n_outliers: usize, seed: u64) -> Dataset {
    planted(n_normal, n_outliers, seed, config.needs_labels())
}

#[test]
fn supervised_learners_refuse_rows_without_labels_or_of_one_class() {
    let learners: Vec<AnyConfig> = detectors()
        .into_iter()
        .filter(|c| c.needs_labels())
        .collect();
    assert!(learners.len() >= 8, "{} learners", learners.len());
    let normal = data(100, 0, 1);
    let unlabelled = Dataset::new(normal.x.clone(), None);
    for config in learners {
        let kind = config.kind();
        let err = config.fit(&unlabelled, &FitContext::new(0)).err().unwrap();
        assert!(err.to_string().contains("--label"), "{kind}: {err}");
        let err = config.fit(&normal, &FitContext::new(0)).err().unwrap();
        assert!(err.to_string().contains("both classes"), "{kind}: {err}");
    }
}

#[test]
fn rejects_empty_data_and_wrong_feature_counts() {
    let empty = Dataset::new(Array2::zeros((0, 6)), None);
    for config in detectors() {
        let kind = config.kind();
        let train = training(&config, 200, 1);
        assert!(
            config.fit(&empty, &FitContext::new(0)).is_err(),
            "{kind} fit on no rows"
        );
        let detector = config.fit(&train, &FitContext::new(0)).unwrap();
        let err = detector
            .score(Array2::zeros((3, 5)).view())
            .expect_err("a wrong feature count is an error");
        assert!(
            err.to_string().contains("expected 6 features"),
            "{kind}: {err}"
        );
        assert!(
            detector.score(Array2::zeros((0, 6)).view()).is_err(),
            "{kind} scored no rows"
        );
    }
}

#[test]
fn one_finite_score_per_row_and_planted_outliers_rank_high() {
    for config in detectors() {
        let kind = config.kind();
        let train = training(&config, 500, 2);
        let test = test_rows(&config, 300, 30, 3);
        let detector = config.fit(&train, &FitContext::new(7)).unwrap();
        let scores = detector.score(test.view()).unwrap();
        assert_eq!(scores.len(), test.n_rows(), "{kind}");
        assert!(scores.iter().all(|s| s.is_finite()), "{kind}");
        let labels = test.labels.as_ref().unwrap();
        let auc = roc_auc(scores.as_slice().unwrap(), labels.as_slice().unwrap()).unwrap();
        assert!(auc >= 0.9, "{kind}: auc {auc}");
        if let Some(explained) = detector.explain(test.view()) {
            let explained = explained.unwrap();
            assert_eq!(explained.dim(), (test.n_rows(), 6), "{kind}");
        }
    }
}

#[test]
fn constant_and_duplicate_columns_keep_scores_finite() {
    // Two extra columns: one constant (a one-hot slot never seen in training), one a copy.
    let widen =
        |d: &Dataset| {
            let x = d.view();
            let extra = ndarray::Array2::from_shape_fn((x.nrows(), 2), |(i, j)| {
                if j == 0 { 1.0 } else { x[[i, 0]] }
            });
            Dataset::new(
                ndarray::concatenate![ndarray::Axis(1), x, extra],
                d.labels.clone(),
            )
        };
    let mut test = widen(&data(40, 4, 9));
    // Off the constant in a few test rows, as a new category would be.
    for i in 0..5 {
        test.x[[i, 6]] = 0.0;
    }
    for config in detectors() {
        let kind = config.kind();
        let train = widen(&training(&config, 300, 8));
        let detector = config.fit(&train, &FitContext::new(3)).unwrap();
        let scores = detector.score(test.view()).unwrap();
        assert!(scores.iter().all(|s| s.is_finite()), "{kind}: {scores}");
    }
}

#[test]
fn same_seed_same_scores_and_save_load_keeps_them_without_the_folder() {
    let test = data(50, 5, 5);
    for config in detectors() {
        let kind = config.kind();
        let train = training(&config, 300, 4);
        let a = config.fit(&train, &FitContext::new(11)).unwrap();
        let b = config.fit(&train, &FitContext::new(11)).unwrap();
        let scores = a.score(test.view()).unwrap();
        assert_eq!(
            scores,
            b.score(test.view()).unwrap(),
            "{kind} is not reproducible"
        );
        let dir = tempfile::tempdir().unwrap();
        a.save(dir.path()).unwrap();
        let loaded = config.load(dir.path()).unwrap();
        // A loaded model owns its weights: its folder may go (a temporary copy, a
        // redeployed model) before it scores.
        drop(dir);
        assert_eq!(loaded.n_features(), 6, "{kind}");
        assert_eq!(
            scores,
            loaded.score(test.view()).unwrap(),
            "{kind} changed after loading"
        );
    }
}

#[test]
fn configs_round_trip_through_json() {
    for config in detectors() {
        let text = serde_json::to_string(&config).unwrap();
        let back: AnyConfig = serde_json::from_str(&text).unwrap();
        assert_eq!(back, config);
    }
}

/// Online kinds learn from what they score: the learned state is seeded, saved and loaded
/// whole, and rows of a new place stop looking anomalous once learned. Every other kind
/// says it cannot learn after `fit`.
#[test]
fn online_kinds_learn_save_and_adapt_and_others_refuse() {
    let shifted = |d: &Dataset| Dataset::new(d.x.mapv(|v| v + 6.0), d.labels.clone());
    let probe = shifted(&data(40, 0, 12));
    let mut online = 0;
    for config in detectors() {
        let kind = config.kind();
        let train = training(&config, 300, 4);
        let mut a = config.fit(&train, &FitContext::new(11)).unwrap();
        if !config.learns_online() {
            assert!(
                a.partial_fit(probe.view()).is_none(),
                "{kind} learns online"
            );
            continue;
        }
        online += 1;
        let before = a.score(probe.view()).unwrap().mean().unwrap();
        for seed in 20..30 {
            a.partial_fit(shifted(&data(100, 0, seed)).view())
                .unwrap()
                .unwrap();
        }
        let after = a.score(probe.view()).unwrap();
        assert!(after.mean().unwrap() < before, "{kind}: {before} → {after}");
        let dir = tempfile::tempdir().unwrap();
        a.save(dir.path()).unwrap();
        let mut loaded = config.load(dir.path()).unwrap();
        let more = data(30, 0, 40);
        a.partial_fit(more.view()).unwrap().unwrap();
        loaded.partial_fit(more.view()).unwrap().unwrap();
        assert_eq!(
            a.score(probe.view()).unwrap(),
            loaded.score(probe.view()).unwrap(),
            "{kind} learned differently after loading"
        );
    }
    assert!(online >= 2, "{online} online kinds");
}
