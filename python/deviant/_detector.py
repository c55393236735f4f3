"""PyOD's verbs over deviant's engine: `Detector(kind, ...)` and one class per catalogue kind,
scikit-learn estimators whose models are the directories `deviant fit` writes."""

from __future__ import annotations

import json
import math
import os
import tempfile
from typing import Any, Callable

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from . import _native
from ._frame import is_dataframe, n_columns, to_frame

#: The catalogue: kind -> its entry (summary, layouts, cost, needs_labels, online, defaults).
CATALOGUE: dict[str, dict] = {k["kind"]: k for k in json.loads(_native.catalogue())}

#: Class names where PyOD (or common usage) has one; other kinds are CamelCased.
CLASS_NAMES = {
    "ae": "AutoEncoder",
    "vae": "VAE",
    "aae": "AAE",
    "dagmm": "DAGMM",
    "vaegmm": "VAEGMM",
    "deep_svdd": "DeepSVDD",
    "bigan": "BiGAN",
    "alad": "ALAD",
    "realnvp": "RealNVP",
    "maf": "MAF",
    "nsf": "NSF",
    "seq2seq": "Seq2Seq",
    "conv_ae": "ConvAE",
    "pca": "PCA",
    "iforest": "IForest",
    "ocsvm": "OCSVM",
    "ecod": "ECOD",
    "copod": "COPOD",
    "hbos": "HBOS",
    "knn": "KNN",
    "lof": "LOF",
    "loda": "LODA",
    "hst": "HalfSpaceTrees",
    "robust_zscore": "RobustZScore",
    "gbt": "GradientBoosting",
    "sgd": "SGD",
    "knn_classifier": "KNNClassifier",
    "gaussian_nb": "GaussianNB",
    "mlp_classifier": "MLPClassifier",
    "xgbod": "XGBOD",
}

#: Parameters every kind takes, beside its own. `device` says where deep kinds train and
#: score (`cpu`, `wgpu`, `wgpu:N`, `auto`; None leaves the process's device as it is).
COMMON = ("contamination", "threshold", "scaling", "impute", "random_state", "device")


def use_device(device: str) -> str:
    """Puts this process's deep models on `device` (`cpu`, `wgpu`, `wgpu:N` or `auto`; GPUs
    need the package built with the `wgpu` feature) and returns the device chosen. A process has one device, taken at its first
    fit or load: choose before then (the same device again is accepted)."""
    return _native.use_device(device)


def class_name(kind: str) -> str:
    return CLASS_NAMES.get(kind) or "".join(p.capitalize() for p in kind.split("_"))


def _frozen(value: Any) -> Any:
    """A default as an immutable value: lists become tuples (JSON writes them back as lists)."""
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


def kind_parameters(kind: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The kind's parameters flattened as PyOD takes them (`epochs=` rather than
    `training={"epochs": ...}`) with their defaults, and where each lifted one came from."""
    defaults = CATALOGUE[kind]["defaults"]["params"]
    flat: dict[str, Any] = {}
    parent: dict[str, str] = {}
    for name, value in defaults.items():
        if isinstance(value, dict):
            for sub, v in value.items():
                if sub in defaults or sub in flat:
                    raise RuntimeError(f"{kind}: parameter `{sub}` of `{name}` clashes")
                flat[sub], parent[sub] = _frozen(v), name
        else:
            flat[name] = _frozen(value)
    for name in flat:
        if name in COMMON:
            raise RuntimeError(f"{kind}: parameter `{name}` clashes with a common one")
    return flat, parent


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _nested(kind: str, flat: dict[str, Any]) -> dict[str, Any]:
    """Flat parameters back in the kind's nested form; an unknown name is an error."""
    known, parent = kind_parameters(kind)
    params: dict[str, Any] = {}
    for name, value in flat.items():
        if name not in known:
            raise ValueError(
                f"{kind} has no parameter `{name}`; it takes {', '.join(sorted(known))}"
            )
        if name in parent:
            params.setdefault(parent[name], {})[name] = _plain(value)
        else:
            params[name] = _plain(value)
    return params


def _flat(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """A manifest's nested parameters flattened as the classes take them."""
    _, parent = kind_parameters(kind)
    flat: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, dict) and any(parent.get(k) == name for k in value):
            flat.update({k: _frozen(v) for k, v in value.items()})
        else:
            flat[name] = _frozen(value)
    return flat


def model_files(model: Any) -> dict[str, bytes]:
    """A native model's directory as {relative path: bytes}, for a pickle or a broadcast."""
    with tempfile.TemporaryDirectory() as tmp:
        target = os.path.join(tmp, "model")
        model.save(target)
        files = {}
        for root, _, names in os.walk(target):
            for name in names:
                full = os.path.join(root, name)
                with open(full, "rb") as f:
                    files[os.path.relpath(full, target)] = f.read()
    return files


def model_from_files(files: dict[str, bytes]) -> Any:
    """The native model of `model_files`' output (it reads every file at load, so the
    temporary folder may go)."""
    with tempfile.TemporaryDirectory() as tmp:
        for rel, data in files.items():
            full = os.path.join(tmp, rel)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb") as f:
                f.write(data)
        return _native.Model.load(tmp)


def _progress_callback(progress: Any) -> Callable | None:
    """`progress=True` shows a tqdm bar when tqdm is installed; a callable gets every event."""
    if progress is None or progress is False:
        return None
    if callable(progress):
        return progress
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    state: dict[str, Any] = {}

    def callback(event: str, payload: dict) -> None:
        bar = state.get("bar")
        if event == "begin":
            if bar is not None:
                bar.close()
            state["bar"] = tqdm(total=payload["total"] or None, desc=payload["phase"])
        elif bar is None:
            return
        elif event == "advance":
            bar.update(payload["n"])
        elif event == "message":
            bar.set_postfix_str(payload["text"])
        elif event == "finish":
            bar.close()
            state.pop("bar")

    return callback


class BaseDetector(BaseEstimator):
    """What every deviant detector does, with PyOD's names: `fit`, `decision_function`,
    `predict`, `predict_proba`, `fit_predict`, `decision_scores_`, `threshold_`, `labels_`.

    Scores are higher for more anomalous rows; `predict` gives 1 for an anomaly, 0 for a
    normal row (PyOD's convention, not scikit-learn's -1/+1). The fitted model is the same
    directory `deviant fit` writes: `save` writes it, `deviant.load` and the CLI read it."""

    _kind: str = ""

    # -- parameters -------------------------------------------------------------------
    def _detector_kind(self) -> str:
        return self._kind

    def _kind_params(self) -> dict[str, Any]:
        params = self.get_params(deep=False)
        for name in COMMON + ("kind",):
            params.pop(name, None)
        return _nested(self._detector_kind(), params)

    def _options(self) -> str:
        contamination = self.contamination
        if self.threshold is None:
            if not 0.0 < float(contamination) <= 0.5:
                raise ValueError(f"contamination must be in (0, 0.5], got {contamination}")
            rule = f"contamination:{float(contamination)}"
        else:
            rule = str(self.threshold)
        return json.dumps(
            {
                "threshold": rule,
                "scaling": self.scaling,
                "impute": bool(self.impute),
                "seed": int(self.random_state if self.random_state is not None else 42),
            }
        )

    # -- fitting ----------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, *, progress: Any = None, **read: Any) -> "BaseDetector":
        """Trains on `X`: an array, a DataFrame (text columns are categorical) or a path to
        a CSV/TSV/NPZ/JSON/XLSX/Parquet file, read as `deviant fit` reads it (`label=`,
        `normal=`, `categorical=`, `ignore=`, ... name its columns). `y` (1 = anomaly)
        trains the supervised kinds and is ignored by the detectors, as in PyOD.
        `progress=True` shows a tqdm bar; a callable receives `(event, payload)`."""
        kind = self._detector_kind()
        info = CATALOGUE.get(kind)
        if info is None:
            raise ValueError(f"unknown detector `{kind}`; known: {', '.join(CATALOGUE)}")
        if y is not None and not info["needs_labels"]:
            y = None
        if info["needs_labels"] and y is None and not read.get("label"):
            raise ValueError(f"{kind} is a supervised learner: fit(X, y) needs labels")
        if self.device is not None:
            use_device(self.device)
        frame = to_frame(X, y, read=read)
        file_options = json.dumps(read) if read else None
        model, fit_scores = _native.Model.fit(
            kind,
            json.dumps(self._kind_params()),
            frame,
            self._options(),
            file_options,
            _progress_callback(progress),
        )
        self._fitted(model)
        if fit_scores is not None and self.threshold_ is not None:
            # Training scored these very rows to choose the threshold.
            scores = np.frombuffer(fit_scores, dtype=np.float32).astype(np.float64)
            flags = (scores >= self.threshold_).astype(np.int64)
        else:
            scores, flags = self._score(frame, file_options)
        self.decision_scores_ = scores
        self.labels_ = flags
        return self

    def _fitted(self, model: Any) -> None:
        """Sets the fitted attributes of `model`; `feature_names_in_` only when the columns
        had names (a DataFrame, a file), as scikit-learn does."""
        self.model_ = model
        manifest = json.loads(model.manifest)
        names = [f["name"] for f in manifest["schema"]["features"]]
        self.n_features_in_ = len(names)
        if names != [f"x{i}" for i in range(len(names))]:
            self.feature_names_in_ = np.array(names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.threshold_ = model.threshold
        self.features_ = manifest["feature_names"]

    def _schema(self) -> list[dict]:
        return json.loads(self.model_.manifest)["schema"]["features"]

    def _frame(self, X: Any, read: Any = None) -> Any:
        check_is_fitted(self, "model_")
        if is_dataframe(X):
            return to_frame(X, schema=self._schema(), read=read)
        frame = to_frame(X, read=read)
        found = n_columns(frame)
        if found is not None and found != self.n_features_in_:
            raise ValueError(
                f"X has {found} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input"
            )
        return frame

    def _score(self, frame: Any, file_options: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        scores, flags = self.model_.score(frame, file_options)
        return (
            np.frombuffer(scores, dtype=np.float32).astype(np.float64),
            np.frombuffer(flags, dtype=np.uint8).astype(np.int64),
        )

    # -- scoring ----------------------------------------------------------------------
    def decision_function(self, X: Any, **read: Any) -> np.ndarray:
        """The anomaly score of each row of `X` (higher = more anomalous), float64."""
        return self._score(self._frame(X, read), json.dumps(read) if read else None)[0]

    def predict(self, X: Any, return_confidence: bool = False, **read: Any) -> Any:
        """1 for each row scored at or above the threshold, else 0."""
        scores, flags = self._score(self._frame(X, read), json.dumps(read) if read else None)
        if return_confidence:
            return flags, self._confidence(scores)
        return flags

    def fit_predict(self, X: Any, y: Any = None, **kwargs: Any) -> np.ndarray:
        return self.fit(X, y, **kwargs).labels_

    def predict_proba(self, X: Any, method: str = "linear", return_confidence: bool = False) -> Any:
        """PyOD's outlier probability: `linear` scales scores by the training scores' range,
        `unify` by their mean and deviation through erf (Kriegel et al., 2011). Columns:
        [normal, anomaly]."""
        train = self._training_scores()
        scores = self.decision_function(X)
        if method == "linear":
            low, high = float(train.min()), float(train.max())
            span = high - low if high > low else 1.0
            p = np.clip((scores - low) / span, 0.0, 1.0)
        elif method == "unify":
            mu, sigma = float(train.mean()), float(train.std()) or 1.0
            erf = np.vectorize(math.erf)
            p = np.clip(erf((scores - mu) / (sigma * math.sqrt(2.0))), 0.0, 1.0)
        else:
            raise ValueError(f"method must be 'linear' or 'unify', not {method!r}")
        proba = np.column_stack([1.0 - p, p])
        if return_confidence:
            return proba, self._confidence(scores)
        return proba

    def _training_scores(self) -> np.ndarray:
        check_is_fitted(self, "model_")
        scores = getattr(self, "decision_scores_", None)
        if scores is None:
            raise ValueError(
                "predict_proba needs the training scores (decision_scores_), which a model "
                "directory does not keep: fit the detector, or unpickle a fitted one"
            )
        return scores

    def _confidence(self, scores: np.ndarray) -> np.ndarray:
        """PyOD's example-wise confidence (Perini et al., 2020): how surely each row falls on
        its side of the threshold, from the training scores' ranks."""
        train = np.sort(self._training_scores())
        n = len(train)
        contamination = float(np.mean(self.labels_)) if hasattr(self, "labels_") else 0.1
        count = np.searchsorted(train, scores, side="right")
        p_anomaly = (1 + count) / (n + 2)
        from scipy.stats import binom

        k = int(n * (1 - contamination))
        conf = binom.cdf(k, n, p_anomaly)
        flags = scores >= (self.threshold_ if self.threshold_ is not None else np.inf)
        return np.where(flags, conf, 1 - conf)

    def explain(self, X: Any) -> np.ndarray:
        """Each row's per-feature contributions to its score, rows x preprocessed features
        (names in `features_`: one-hot columns per category)."""
        raw = self.model_.explain(self._frame(X))
        if raw is None:
            raise NotImplementedError(f"{self._detector_kind()} cannot explain its scores")
        return np.frombuffer(raw, dtype=np.float32).reshape(-1, len(self.features_)).astype(np.float64)

    # -- persistence ------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Writes the model directory (atomically) that `deviant score`, `serve` and
        `deviant.load` read."""
        check_is_fitted(self, "model_")
        self.model_.save(os.fspath(path))

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        model = state.pop("model_", None)
        if model is not None:
            state["_model_files"] = model_files(model)
        return state

    def __setstate__(self, state: dict) -> None:
        files = state.pop("_model_files", None)
        self.__dict__.update(state)
        if files is not None:
            self.model_ = model_from_files(files)

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        tags.requires_fit = True
        tags.input_tags.allow_nan = bool(getattr(self, "impute", False))
        tags.input_tags.string = False
        return tags


class OnlineMixin:
    """`partial_fit` for the kinds that learn from the rows they score."""

    def partial_fit(self, X: Any, y: Any = None) -> "BaseDetector":
        """Learns from more rows in place; fits first when not fitted yet."""
        if not hasattr(self, "model_"):
            return self.fit(X)
        if not self.model_.partial_fit(self._frame(X)):
            raise NotImplementedError(f"{self._detector_kind()} does not learn online")
        return self


class Detector(OnlineMixin, BaseDetector):
    """Any kind by name: `Detector("ae", contamination=0.1, epochs=30)`. The kind's own
    parameters go as keywords (nested ones flattened: `epochs`, not `training`)."""

    def __init__(
        self,
        kind: str = "iforest",
        contamination: float = 0.1,
        threshold: str | None = None,
        scaling: str = "standard",
        impute: bool = False,
        random_state: int | None = 42,
        device: str | None = None,
        **params: Any,
    ) -> None:
        self.kind = kind
        self.contamination = contamination
        self.threshold = threshold
        self.scaling = scaling
        self.impute = impute
        self.random_state = random_state
        self.device = device
        for name, value in params.items():
            setattr(self, name, value)
        self._extra = sorted(params)

    def _detector_kind(self) -> str:
        return self.kind

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        params = super().get_params(deep=deep)
        params.update({name: getattr(self, name) for name in self._extra})
        return params

    def set_params(self, **params: Any) -> "Detector":
        own = set(super().get_params(deep=False))
        for name, value in params.items():
            setattr(self, name, value)
            if name not in own and name not in self._extra:
                self._extra = sorted(self._extra + [name])
        return self


def _make_class(kind: str) -> type:
    """A class with the kind's parameters spelled out in `__init__`, so scikit-learn's
    `get_params`, `clone` and grid searches see them."""
    info = CATALOGUE[kind]
    flat, _ = kind_parameters(kind)
    args = ["self", "contamination=0.1", "*"]
    args += [f"{name}={value!r}" for name, value in flat.items()]
    args += ["threshold=None", "scaling='standard'", "impute=False", "random_state=42", "device=None"]
    names = ["contamination", *flat, "threshold", "scaling", "impute", "random_state", "device"]
    body = "\n".join(f"    self.{n} = {n}" for n in names)
    source = f"def __init__({', '.join(args)}):\n{body}\n"
    scope: dict[str, Any] = {}
    exec(source, scope)  # noqa: S102 - builds a signature from the catalogue's own defaults
    bases = (OnlineMixin, BaseDetector) if info["online"] else (BaseDetector,)
    doc = f"{info['summary']}\n\ndeviant kind `{kind}`; parameters and defaults: {flat}."
    cls = type(class_name(kind), bases, {"__init__": scope["__init__"], "_kind": kind, "__doc__": doc})
    cls.__module__ = "deviant"
    return cls


#: One class per catalogue kind, by class name.
CLASSES: dict[str, type] = {class_name(kind): _make_class(kind) for kind in CATALOGUE}


def _from_model(model: Any) -> BaseDetector:
    """A fitted detector of the kind and parameters a model directory holds."""
    manifest = json.loads(model.manifest)
    kind = manifest["detector"]["kind"]
    rule = model.threshold_rule
    cls = CLASSES[class_name(kind)]
    params = _flat(kind, manifest["detector"].get("params", {}))
    options = manifest["preprocessor"]["options"]
    common: dict[str, Any] = {
        "random_state": manifest["training"]["seed"],
        "scaling": options["scaling"],
        "impute": options["impute"],
    }
    if rule.startswith("contamination:"):
        common["contamination"] = float(rule.split(":", 1)[1])
    else:
        common["threshold"] = rule
    detector = cls(**common, **params)
    detector._fitted(model)
    return detector


def load(path: str | os.PathLike, device: str | None = None) -> BaseDetector:
    """A model directory written by `deviant fit`, `select`, the server or `save`, as a fitted
    detector (a `ModelVersionError` for another format version). A model trained on any
    device loads on any other: `device` as for the estimators."""
    if device is not None:
        use_device(device)
    return _from_model(_native.Model.load(os.fspath(path)))


def _budget_seconds(budget: Any) -> float:
    if isinstance(budget, (int, float)):
        return float(budget)
    text = str(budget).strip()
    units = {"s": 1, "m": 60, "h": 3600}
    if text and text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


def select(
    X: Any,
    y: Any = None,
    budget: Any = "5m",
    *,
    members: int = 5,
    deep: bool = True,
    labelled_share: float = 0.2,
    threshold: str | None = None,
    random_state: int = 42,
    device: str | None = None,
    progress: Any = None,
    on_attempt: Callable[[dict], None] | None = None,
    fit_runner: Callable[[bytes, str], str] | None = None,
    **read: Any,
) -> tuple[BaseDetector, Any]:
    """`deviant select` from Python: chooses, tunes and ensembles detectors for `X` within
    `budget` (seconds, or "90s", "5m", "1h"). With labels (`y`, or `label=` for a path) a
    stratified `labelled_share` of the labelled rows chooses (rows labelled NaN in `y`, or
    with an empty label cell in a file, are unlabelled and only train); without, the
    benchmark corpus shipped in the package predicts. Returns the fitted detector and the leaderboard (a pandas
    DataFrame when pandas is installed, else a list of dicts).

    `fit_runner`, when given, runs each round of candidate fits elsewhere:
    `fit_runner(rows, fits)` gets the selection's rows (bytes, the same object every round)
    and the round's fits (a JSON list), fits each with `deviant._native.SearchRows(rows).fit`
    and returns their results as a JSON list in the same order (`deviant.spark.select`
    passes one that runs them as Spark tasks). The chosen ones are fitted again here.
    `device` is where the deep candidates train, as for the estimators."""
    if device is not None:
        use_device(device)
    frame = to_frame(X, y, read=read, partial_labels=True)
    options = json.dumps({"threshold": threshold, "seed": int(random_state)})
    selection = json.dumps(
        {
            "budget_seconds": _budget_seconds(budget),
            "members": members,
            "deep": deep,
            "labelled_share": labelled_share,
        }
    )
    model, board = _native.select_model(
        frame,
        options,
        selection,
        json.dumps(read) if read else None,
        on_attempt,
        _progress_callback(progress),
        fit_runner,
    )
    detector = _from_model(model)
    scores, flags = detector._score(frame, json.dumps(read) if read else None)
    detector.decision_scores_, detector.labels_ = scores, flags
    board = json.loads(board)
    detector.selection_ = board
    rows = [
        {
            "label": a["label"],
            "kind": a["config"]["kind"],
            "status": a["status"],
            "chosen": a["chosen"],
            "predicted": a["predicted"],
            "select_roc_auc": a["select_roc_auc"],
            "select_average_precision": a["select_average_precision"],
            "rows": a["rows"],
            "fit_seconds": a["fit_seconds"],
        }
        for a in board["attempts"]
    ]
    try:
        import pandas as pd
    except ImportError:
        return detector, rows
    return detector, pd.DataFrame(rows)
