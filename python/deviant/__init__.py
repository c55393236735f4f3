"""deviant: anomaly detection with PyOD's verbs, over the engine of the `deviant` binary.

    import deviant
    det = deviant.AutoEncoder(contamination=0.05, epochs=30).fit(X_train)
    scores = det.decision_function(X_test)     # higher = more anomalous
    flags = det.predict(X_test)                # 1 = anomaly
    det.save("model/")                         # the directory `deviant score` reads

Every kind of `deviant models` has a class here (`IForest`, `ECOD`, `DeepSVDD`, ...) and
`Detector(kind, **params)` takes any of them by name; `select` chooses one for a table,
`load` reads a model directory, and `deviant.spark` scores and selects over Spark.
"""

from ._native import ModelVersionError, __version__
from ._detector import CATALOGUE, CLASSES, BaseDetector, Detector, load, select, use_device
from . import spark

globals().update(CLASSES)


def kinds() -> list[str]:
    """Every detector kind, as `deviant models` lists them."""
    return list(CATALOGUE)


__all__ = [
    "BaseDetector",
    "Detector",
    "ModelVersionError",
    "kinds",
    "load",
    "select",
    "use_device",
    "__version__",
    *sorted(CLASSES),
]
