"""The Python package end to end: PyOD's verbs, scikit-learn's conventions, pandas frames,
errors, persistence shared with the CLI, online learning, explanations, threads, select."""

import json
import pickle
import subprocess
import threading
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import deviant


def test_every_catalogue_kind_has_a_class():
    for kind in deviant.kinds():
        cls = deviant.CLASSES[deviant._detector.class_name(kind)]
        assert cls._kind == kind
        assert getattr(deviant, cls.__name__) is cls
        assert cls.__doc__.strip()
    assert deviant.IForest._kind == "iforest"
    assert deviant.AutoEncoder._kind == "ae"


def test_fit_scores_and_flags_like_pyod(blobs):
    X, y = blobs
    det = deviant.IForest(contamination=0.05, n_trees=200)
    assert det.fit(X) is det
    assert det.decision_scores_.shape == (len(X),)
    assert det.decision_scores_.dtype == np.float64
    np.testing.assert_array_equal(det.decision_scores_, det.decision_function(X))
    assert abs(det.labels_.mean() - 0.05) < 0.01
    assert det.threshold_ == pytest.approx(np.quantile(det.decision_scores_, 0.95), rel=0.05)
    assert roc_auc_score(y, det.decision_function(X)) > 0.95
    flags = det.predict(X)
    assert set(np.unique(flags)) <= {0, 1}
    np.testing.assert_array_equal(flags, (det.decision_function(X) >= det.threshold_).astype(int))
    proba = det.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    unify = det.predict_proba(X, method="unify")
    assert ((unify >= 0) & (unify <= 1)).all()
    flags, confidence = det.predict(X, return_confidence=True)
    assert confidence.shape == (len(X),) and ((confidence >= 0) & (confidence <= 1)).all()
    np.testing.assert_array_equal(det.fit_predict(X), det.labels_)


def test_float32_input_and_a_fortran_array_score_the_same(blobs):
    X, _ = blobs
    det = deviant.ECOD().fit(X)
    np.testing.assert_allclose(det.decision_function(np.asfortranarray(X)), det.decision_scores_)
    det32 = deviant.ECOD().fit(X.astype(np.float32))
    assert det32.decision_function(X.astype(np.float32)).shape == (len(X),)


def test_deep_kind_takes_pyod_style_parameters(blobs):
    X, y = blobs
    events = []
    det = deviant.AutoEncoder(epochs=3, batch_size=64, hidden=(16, 4))
    assert det.get_params()["epochs"] == 3
    det.fit(X, progress=lambda event, payload: events.append(event))
    assert "epoch" in events
    manifest = json.loads(det.model_.manifest)
    assert manifest["detector"]["params"]["training"]["epochs"] == 3
    assert manifest["detector"]["params"]["hidden"] == [16, 4]
    assert roc_auc_score(y, det.decision_scores_) > 0.9


def test_generic_detector_by_name_and_clone(blobs):
    X, _ = blobs
    det = deviant.Detector("knn", contamination=0.1, k=7)
    assert det.get_params()["k"] == 7
    copy = clone(det)
    assert copy.get_params() == det.get_params()
    copy.set_params(k=3)
    assert copy.k == 3 and det.k == 7
    np.testing.assert_allclose(
        deviant.Detector("knn", k=7).fit(X).decision_scores_, deviant.KNN(k=7).fit(X).decision_scores_
    )
    with pytest.raises(ValueError, match="has no parameter `kk`"):
        deviant.Detector("knn", kk=3).fit(X)
    with pytest.raises(ValueError, match="unknown detector `nope`"):
        deviant.Detector("nope").fit(X)


def test_sklearn_pipeline_and_clone(blobs):
    X, y = blobs
    pipe = Pipeline([("scale", StandardScaler()), ("detect", deviant.IForest(n_trees=50))])
    pipe.fit(X)
    assert roc_auc_score(y, pipe.decision_function(X)) > 0.9
    twin = clone(pipe)
    assert twin.get_params()["detect__n_trees"] == 50


def test_dataframe_with_a_categorical_column(blobs):
    X, _ = blobs
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    frame["proto"] = np.where(np.arange(len(X)) % 3 == 0, "tcp", "udp")
    det = deviant.IForest().fit(frame)
    assert list(det.feature_names_in_) == list(frame.columns)
    assert any(name.startswith("proto") for name in det.features_)
    reordered = frame[list(reversed(frame.columns))]
    np.testing.assert_allclose(det.decision_function(reordered), det.decision_scores_)
    with pytest.raises(ValueError, match="column `proto` is missing"):
        det.decision_function(frame.drop(columns=["proto"]))
    with pytest.raises(ValueError, match="unknown column"):
        det.decision_function(frame.assign(extra=1.0))


def test_bad_input_raises_the_cli_message(blobs):
    X, _ = blobs
    det = deviant.PCA().fit(X)
    bad = X.copy()
    bad[4, 2] = np.nan
    with pytest.raises(ValueError, match=r"line 5, column `x2`: the value is missing or NaN.*impute"):
        det.decision_function(bad)
    with pytest.raises(ValueError, match="X has 5 features, but PCA is expecting 6"):
        det.decision_function(X[:, :5])
    with pytest.raises(ValueError, match="Expected 2D array"):
        det.decision_function(X[:, 0])
    with pytest.raises(ValueError, match="contamination"):
        deviant.PCA(contamination=0.9).fit(X)
    with pytest.raises(ValueError, match="label: reading options apply to a path"):
        deviant.PCA().fit(X, label="y")
    imputed = deviant.PCA(impute=True).fit(bad)
    assert np.isfinite(imputed.decision_scores_).all()


def test_a_process_has_one_device_chosen_by_name(blobs):
    X, _ = blobs
    assert deviant.use_device("cpu") == "cpu"
    # auto takes the device already running; the same device again is accepted.
    assert deviant.use_device("auto") == "cpu"
    det = deviant.AutoEncoder(epochs=1, device="cpu").fit(X)
    assert det.get_params()["device"] == "cpu"
    with pytest.raises(ValueError, match="already run on cpu"):
        deviant.AutoEncoder(epochs=1, device="wgpu:1").fit(X)
    with pytest.raises(ValueError, match="not a device: give cpu, wgpu"):
        deviant.use_device("tpu")
    with pytest.raises(ValueError, match="no CUDA build.*--device wgpu"):
        deviant.use_device("cuda")


def test_model_of_another_version_is_a_model_version_error(blobs, tmp_path):
    X, _ = blobs
    deviant.HBOS().fit(X).save(tmp_path / "m")
    manifest = tmp_path / "m" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["format_version"] = 99
    manifest.write_text(json.dumps(data))
    with pytest.raises(deviant.ModelVersionError, match="format version 99"):
        deviant.load(tmp_path / "m")
    assert issubclass(deviant.ModelVersionError, ValueError)


def test_save_load_and_pickle_score_identically(blobs, tmp_path):
    X, _ = blobs
    det = deviant.Mahalanobis(contamination=0.02).fit(X)
    det.save(tmp_path / "model")
    loaded = deviant.load(tmp_path / "model")
    assert isinstance(loaded, deviant.Mahalanobis)
    assert loaded.contamination == 0.02
    assert loaded.threshold_ == det.threshold_
    np.testing.assert_array_equal(loaded.decision_function(X), det.decision_function(X))
    unpickled = pickle.loads(pickle.dumps(det))
    np.testing.assert_array_equal(unpickled.decision_function(X), det.decision_function(X))
    np.testing.assert_array_equal(unpickled.predict_proba(X), det.predict_proba(X))
    # A deep model unpickles from a temporary folder that is gone before it scores.
    deep = deviant.AutoEncoder(epochs=2).fit(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(deep)).decision_function(X), deep.decision_scores_)


def _write_csv(path, X, y=None):
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    frame["service"] = np.where(np.arange(len(X)) % 4 == 0, "http", "smtp")
    if y is not None:
        frame["label"] = y
    frame.to_csv(path, index=False, float_format="%.17g")
    return frame


@pytest.mark.parametrize("kind", ["iforest", "ecod", "pca", "ae"])
def test_cli_and_python_train_and_score_the_same(blobs, tmp_path, cli, kind):
    X, y = blobs
    data = tmp_path / "train.csv"
    _write_csv(data, X, y)
    sets = ["--set", "training.epochs=3"] if kind == "ae" else []
    subprocess.run(
        [cli, "fit", str(data), "-d", kind, "--label", "label", "--seed", "5", "--out", str(tmp_path / "cli")]
        + sets,
        check=True,
        capture_output=True,
    )
    params = {"epochs": 3} if kind == "ae" else {}
    py = deviant.Detector(kind, random_state=5, **params).fit(data, label="label")
    cli_scores = _cli_scores(cli, tmp_path / "cli", data)
    np.testing.assert_allclose(py.decision_function(data, label="label"), cli_scores, rtol=1e-6, atol=1e-6)
    # Each side reads the other's model directory.
    from_cli = deviant.load(tmp_path / "cli")
    np.testing.assert_allclose(from_cli.decision_function(data), cli_scores, rtol=1e-6, atol=1e-6)
    py.save(tmp_path / "py")
    np.testing.assert_allclose(_cli_scores(cli, tmp_path / "py", data), cli_scores, rtol=1e-6, atol=1e-6)


def _cli_scores(cli, model, data):
    """The CLI's scores as the float32 values it printed."""
    out = subprocess.run([cli, "score", str(model), str(data)], check=True, capture_output=True, text=True)
    lines = out.stdout.strip().splitlines()[1:]
    return np.array([line.split(",")[1] for line in lines], dtype=np.float32).astype(np.float64)


def test_dataframe_scores_match_the_cli_on_the_same_csv(blobs, tmp_path, cli):
    X, _ = blobs
    data = tmp_path / "rows.csv"
    frame = _write_csv(data, X)
    subprocess.run([cli, "fit", str(data), "-d", "iforest", "--out", str(tmp_path / "m")], check=True, capture_output=True)
    det = deviant.IForest().fit(pd.read_csv(data))
    assert det.threshold_ == pytest.approx(deviant.load(tmp_path / "m").threshold_, rel=1e-6)
    np.testing.assert_allclose(det.decision_function(frame), _cli_scores(cli, tmp_path / "m", data), rtol=1e-6, atol=1e-6)


def test_online_kinds_learn_with_partial_fit(blobs):
    X, _ = blobs
    assert not hasattr(deviant.IForest(), "partial_fit")
    det = deviant.HalfSpaceTrees(window=50)
    det.partial_fit(X[:300])
    before = det.decision_function(X[300:310])
    det.partial_fit(X[300:600])
    assert not np.array_equal(before, det.decision_function(X[300:310]))
    with pytest.raises(NotImplementedError, match="does not learn online"):
        deviant.Detector("iforest").fit(X).partial_fit(X)


def test_explain_gives_per_feature_contributions(blobs):
    X, _ = blobs
    det = deviant.PCA().fit(X)
    contributions = det.explain(X[-5:])
    assert contributions.shape == (5, X.shape[1])
    with pytest.raises(NotImplementedError):
        deviant.IForest().fit(X).explain(X[:2])


def test_fits_in_two_threads_run_side_by_side():
    """The GIL is released while the engine works: two fits in threads take about the time
    of one (the machine has two cores), and Python code runs meanwhile."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3000, 8))

    def fit():
        deviant.OCSVM(max_rows=3000).fit(X)

    start = time.perf_counter()
    fit()
    one = time.perf_counter() - start
    ticks = 0
    threads = [threading.Thread(target=fit) for _ in range(2)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        ticks += 1
        time.sleep(0.001)
    two = time.perf_counter() - start
    assert ticks > 10, "the main thread was blocked while the fits ran"
    assert two < 1.7 * one, f"two fits in threads took {two:.2f} s, one alone {one:.2f} s"


def test_select_returns_a_fitted_detector_and_its_leaderboard(blobs):
    X, y = blobs
    attempts = []
    det, board = deviant.select(X, y, budget="60s", deep=False, on_attempt=attempts.append)
    assert isinstance(board, pd.DataFrame)
    assert board["chosen"].sum() >= 1
    assert attempts
    assert det.decision_scores_.shape == (len(X),)
    assert roc_auc_score(y, det.decision_function(X)) > 0.9
    unlabelled, board = deviant.select(X, budget=30, deep=False, members=2)
    assert unlabelled.selection_["strategy"] == "corpus"
    # A few labels: NaN marks the unlabelled rows, which only train.
    partial = y.astype(float)
    partial[np.arange(len(y)) % 3 != 0] = np.nan
    few, _ = deviant.select(X, partial, budget=30, deep=False, labelled_share=0.5)
    assert few.selection_["strategy"] == "labelled rows"
    assert roc_auc_score(y, few.decision_function(X)) > 0.9
    with pytest.raises(ValueError, match=r"y\[1\] is NaN: only deviant.select"):
        deviant.Detector("gbt").fit(X, partial)


def test_committed_type_stubs_match_the_catalogue():
    from pathlib import Path

    from deviant._stubs import stubs

    committed = Path(deviant.__file__).with_name("__init__.pyi").read_text()
    assert committed == stubs(), "regenerate: python -m deviant._stubs > python/deviant/__init__.pyi"
