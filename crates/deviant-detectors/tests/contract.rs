//! The contract every registry entry must keep (DESIGN.md): checked inputs, one finite score
//! per row, seed reproducibility, save → load giving identical scores, config JSON round trips,
//! and planted outliers ranked high.
//!
//! `DEVIANT_TEST_DEVICE` (cpu unless set) is the device deep entries run on; on a GPU the
//! suite keeps only the deep entries, since the others never touch the device. README
//! ("GPUs") gives the command for a build with `--features wgpu` on Mesa's software Vulkan
//! driver; CI does not run it, for its time (BENCHMARKS.md, "GPUs").

use std::path::Path;

use deviant_core::metrics::roc_auc;
use deviant_core::{Dataset, FitContext};
use deviant_detectors::AnyConfig;
use deviant_detectors::catalogue::Cost;
use deviant_detectors::registry::merge_params;
use deviant_detectors::runtime::{ComputeDevice, DeviceChoice, use_device};
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

/// The device this run tests, set up before the first fit.
fn test_device() -> ComputeDevice {
    let choice = std::env::var("DEVIANT_TEST_DEVICE").map_or(DeviceChoice::default(), |name| {
        name.parse()
            .unwrap_or_else(|e| panic!("DEVIANT_TEST_DEVICE: {e}"))
    });
    use_device(choice).unwrap().compute_device()
}

/// Every registered detector (only the deep ones on a GPU), with settings small enough for a
/// test. On a GPU batches are of 256 rows, since a software driver pays dearly for each step,
/// except the GANs': they need the steps (ALAD ranks the outliers at ROC AUC 0.86 with 128).
fn detectors() -> Vec<AnyConfig> {
    let on_gpu = test_device() != ComputeDevice::Cpu;
    small_configs(on_gpu)
        .into_iter()
        .map(|c| match on_gpu && !matches!(c.kind(), "bigan" | "alad") {
            true => with_training(&c, json!({"batch_size": 256})),
            false => c,
        })
        .collect()
}

/// `config` with its training settings patched by `training`.
fn with_training(config: &AnyConfig, training: serde_json::Value) -> AnyConfig {
    let mut params = serde_json::to_value(config).unwrap()["params"].clone();
    merge_params(&mut params, &json!({ "training": training }));
    AnyConfig::from_params(config.kind(), &params).unwrap()
}

/// Every registered detector, or only the deep ones, with settings small enough for a test.
fn small_configs(deep_only: bool) -> Vec<AnyConfig> {
    AnyConfig::kinds()
        .into_iter()
        .filter(|info| !deep_only || info.cost == Cost::Deep)
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
    let learners: Vec<AnyConfig> = small_configs(false)
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

/// How far a moved model's scores may stray from where it was trained: relative to the
/// score's size, or absolute below 1 (GPU kernels sum in another order than the CPU's).
const MOVED_TOLERANCE: f32 = 1e-3;

/// A model saved on one device loads and scores on the other within [`MOVED_TOLERANCE`]:
/// this process trains the deep entries on the GPU under test, then a child process on the
/// CPU loads and checks them and trains its own, which this process loads and checks.
#[test]
fn models_move_between_the_cpu_and_the_gpu() {
    if test_device() == ComputeDevice::Cpu {
        eprintln!("skipped: DEVIANT_TEST_DEVICE names no GPU (README, \"GPUs\")");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    fit_save_and_score(&dir.path().join("gpu"));
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "moved_models_score_the_same_on_the_cpu"])
        .args(["--ignored", "--nocapture"])
        .env("DEVIANT_TEST_DEVICE", "cpu")
        .env("DEVIANT_MOVED_MODELS", dir.path())
        .status()
        .unwrap();
    assert!(child.success(), "the CPU side failed: its output is above");
    check_moved(&dir.path().join("cpu"));
}

#[test]
#[ignore = "the CPU side of models_move_between_the_cpu_and_the_gpu, which runs it"]
fn moved_models_score_the_same_on_the_cpu() {
    let dir = std::env::var_os("DEVIANT_MOVED_MODELS")
        .expect("DEVIANT_MOVED_MODELS: run by models_move_between_the_cpu_and_the_gpu");
    let dir = Path::new(&dir);
    assert_eq!(test_device(), ComputeDevice::Cpu);
    check_moved(&dir.join("gpu"));
    fit_save_and_score(&dir.join("cpu"));
}

/// Rows the moved models score on both devices.
fn moved_rows() -> Dataset {
    data(50, 5, 5)
}

/// The deep entries as the move test trains them: two epochs are enough to move weights.
fn moved_configs() -> Vec<AnyConfig> {
    small_configs(true)
        .iter()
        .map(|c| with_training(c, json!({"epochs": 2})))
        .collect()
}

/// Trains every deep entry on this process's device and saves each with its scores of
/// [`moved_rows`] under `dir`, after checking that it reloads to the same scores here.
fn fit_save_and_score(dir: &Path) {
    for (i, config) in moved_configs().into_iter().enumerate() {
        let started = std::time::Instant::now();
        let model = config
            .fit(&training(&config, 300, 4), &FitContext::new(11))
            .unwrap();
        eprintln!(
            "{} trained on {} in {:.1} s",
            config.kind(),
            test_device(),
            started.elapsed().as_secs_f64()
        );
        let scores = model.score(moved_rows().view()).unwrap().to_vec();
        let path = dir.join(format!("{i}-{}", config.kind()));
        std::fs::create_dir_all(&path).unwrap();
        model.save(&path).unwrap();
        let reloaded = config.load(&path).unwrap();
        assert_eq!(
            reloaded.score(moved_rows().view()).unwrap().to_vec(),
            scores,
            "{} changed after loading on {}",
            config.kind(),
            test_device()
        );
        std::fs::write(
            path.join("expected-scores.json"),
            serde_json::to_string(&scores).unwrap(),
        )
        .unwrap();
    }
}

/// Loads every model [`fit_save_and_score`] wrote under `dir` on this process's device and
/// checks its scores against those saved with it.
fn check_moved(dir: &Path) {
    let device = test_device();
    for (i, config) in moved_configs().into_iter().enumerate() {
        let path = dir.join(format!("{i}-{}", config.kind()));
        let text = std::fs::read_to_string(path.join("expected-scores.json")).unwrap();
        let expected: Vec<f32> = serde_json::from_str(&text).unwrap();
        let scores = config
            .load(&path)
            .unwrap()
            .score(moved_rows().view())
            .unwrap();
        let worst = scores
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
            .fold(0.0f32, f32::max);
        assert!(
            worst <= MOVED_TOLERANCE,
            "{} moved to {device} scores off by {worst:e} (relative)",
            config.kind()
        );
        eprintln!(
            "{} moved to {device}: off by at most {worst:e}",
            config.kind()
        );
    }
}
