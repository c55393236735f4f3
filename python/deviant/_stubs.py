"""Writes `__init__.pyi`, the package's type stubs, from the catalogue: every class with its
parameters, their types and defaults, and its summary as the docstring. A test checks that
the committed stubs match; regenerate them with `python -m deviant._stubs > python/deviant/__init__.pyi`."""

from __future__ import annotations

from typing import Any

from ._detector import CATALOGUE, class_name, kind_parameters

HEADER = '''"""Type stubs of the `deviant` package; written by `python -m deviant._stubs`."""

import os
from typing import Any, Callable, Sequence

import numpy as np

from . import spark as spark

__version__: str

class ModelVersionError(ValueError): ...

Data = Any  # a numpy array, a pandas DataFrame, or a path to a table file

def kinds() -> list[str]: ...
def use_device(device: str) -> str: ...
def load(path: str | os.PathLike[str], device: str | None = ...) -> BaseDetector: ...
def select(
    X: Data,
    y: Any = ...,
    budget: str | float = ...,
    *,
    members: int = ...,
    deep: bool = ...,
    labelled_share: float = ...,
    threshold: str | None = ...,
    random_state: int = ...,
    device: str | None = ...,
    progress: Any = ...,
    on_attempt: Callable[[dict[str, Any]], None] | None = ...,
    fit_runner: Callable[[bytes, str], str] | None = ...,
    **read: Any,
) -> tuple[BaseDetector, Any]: ...

class BaseDetector:
    contamination: float
    threshold: str | None
    scaling: str
    impute: bool
    random_state: int | None
    device: str | None
    decision_scores_: np.ndarray
    labels_: np.ndarray
    threshold_: float | None
    n_features_in_: int
    feature_names_in_: np.ndarray
    features_: list[str]
    def fit(self, X: Data, y: Any = ..., *, progress: Any = ..., **read: Any) -> BaseDetector: ...
    def decision_function(self, X: Data, **read: Any) -> np.ndarray: ...
    def predict(self, X: Data, return_confidence: bool = ..., **read: Any) -> Any: ...
    def predict_proba(self, X: Data, method: str = ..., return_confidence: bool = ...) -> Any: ...
    def fit_predict(self, X: Data, y: Any = ..., **kwargs: Any) -> np.ndarray: ...
    def explain(self, X: Data) -> np.ndarray: ...
    def save(self, path: str | os.PathLike[str]) -> None: ...
    def get_params(self, deep: bool = ...) -> dict[str, Any]: ...
    def set_params(self, **params: Any) -> BaseDetector: ...

class OnlineMixin:
    def partial_fit(self, X: Data, y: Any = ...) -> BaseDetector: ...

class Detector(OnlineMixin, BaseDetector):
    kind: str
    def __init__(
        self,
        kind: str = ...,
        contamination: float = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
        **params: Any,
    ) -> None: ...
'''


def _type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, tuple):
        inner = {_type(v) for v in value} or {"Any"}
        return f"Sequence[{' | '.join(sorted(inner))}]"
    return "Any"


def stubs() -> str:
    parts = [HEADER]
    for kind, info in CATALOGUE.items():
        flat, _ = kind_parameters(kind)
        bases = "OnlineMixin, BaseDetector" if info["online"] else "BaseDetector"
        lines = [f"class {class_name(kind)}({bases}):", f'    """{info["summary"]}"""']
        args = ["        self", "        contamination: float = ...", "        *"]
        for name, value in flat.items():
            kind_type = _type(value)
            if value is None:
                kind_type = "Any"
            lines.append(f"    {name}: {kind_type}")
            args.append(f"        {name}: {kind_type} = ...")
        args += [
            "        threshold: str | None = ...",
            "        scaling: str = ...",
            "        impute: bool = ...",
            "        random_state: int | None = ...",
            "        device: str | None = ...",
        ]
        lines.append("    def __init__(\n" + ",\n".join(args) + ",\n    ) -> None: ...")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


if __name__ == "__main__":
    print(stubs(), end="")
