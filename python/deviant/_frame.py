"""Rows from Python (numpy arrays, pandas DataFrames, paths) as the frames the native module
reads: a C-contiguous float matrix handed over without a copy on the Python side, or named
columns, numeric or text."""

from __future__ import annotations

import os
from typing import Any

import numpy as np


def is_path(X: Any) -> bool:
    return isinstance(X, (str, os.PathLike))


def is_dataframe(X: Any) -> bool:
    return hasattr(X, "columns") and hasattr(X, "dtypes") and hasattr(X, "iloc")


#: The label byte of a row without a label (NaN in `y`), which only `select` takes.
UNLABELLED = 2


def _labels(y: Any, rows: int, partial: bool = False) -> bytes | None:
    """`y` as label bytes: 1 for an anomaly, 0 for a normal row and, with `partial`,
    UNLABELLED for NaN."""
    if y is None:
        return None
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(f"y must be one label per row, got shape {y.shape}")
    if y.shape[0] != rows:
        raise ValueError(f"y has {y.shape[0]} labels but X has {rows} rows")
    if y.dtype.kind not in "biuf":
        raise ValueError("y must hold numbers: 0 for normal rows, 1 for anomalies")
    missing = np.isnan(y) if y.dtype.kind == "f" else np.zeros(y.shape, dtype=bool)
    if missing.any() and not partial:
        raise ValueError(
            f"y[{int(np.argmax(missing))}] is NaN: only deviant.select takes unlabelled rows"
        )
    labels = np.where(missing, UNLABELLED, y != 0)
    return np.ascontiguousarray(labels, dtype=np.uint8).tobytes()


def _text(values: Any) -> list[str | None]:
    out: list[str | None] = []
    for v in values:
        if v is None or (isinstance(v, float) and v != v):
            out.append(None)
        else:
            out.append(str(v))
    return out


def _numeric_column(series: Any, name: str, source: str) -> np.ndarray:
    try:
        return np.ascontiguousarray(series.to_numpy(dtype=np.float64, na_value=np.nan))
    except (TypeError, ValueError) as e:
        raise ValueError(
            f"{source}: column `{name}` cannot be read as numbers ({e}); the model reads it "
            "as numeric"
        ) from None


def _dataframe(X: Any, schema: list[dict] | None, source: str) -> dict:
    import pandas as pd

    names = [str(c) for c in X.columns]
    if len(set(names)) != len(names):
        raise ValueError(f"{source}: column names repeat: {names}")
    kinds = {f["name"]: f["kind"] for f in schema} if schema is not None else {}
    columns: list[Any] = []
    for name, (_, series) in zip(names, X.items()):
        kind = kinds.get(name)
        if kind is None:
            numeric = pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(
                series.dtype
            )
            kind = "numeric" if numeric else "categorical"
        if kind == "numeric":
            columns.append(_numeric_column(series, name, source))
        else:
            columns.append(_text(series.tolist()))
    return {"source": source, "names": names, "columns": columns, "rows": len(X)}


def _matrix(X: Any, source: str) -> dict:
    if hasattr(X, "toarray") and hasattr(X, "nnz"):
        raise TypeError(
            "sparse input is not supported: convert it with X.toarray(), or give a DataFrame"
        )
    X = np.asarray(X)
    if X.dtype.kind == "c":
        raise ValueError("Complex data not supported: give real numbers")
    if X.ndim != 2:
        raise ValueError(
            f"Expected 2D array, got {X.ndim}D array instead. Reshape your data with "
            "X.reshape(-1, 1) for a single feature or X.reshape(1, -1) for a single row"
        )
    if X.dtype.kind == "O" or X.dtype.kind in "US":
        try:
            X = X.astype(np.float64)
        except (TypeError, ValueError) as e:
            # numpy's own exception type: TypeError for objects, ValueError for text.
            raise type(e)(
                f"{source}: {e}; an array must hold numbers: give text columns in a pandas "
                "DataFrame, where they become categorical"
            ) from None
    elif X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if X.shape[0] == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required.")
    if X.shape[1] == 0:
        raise ValueError(f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
    return {"source": source, "names": None, "matrix": np.ascontiguousarray(X), "rows": X.shape[0]}


def to_frame(
    X: Any,
    y: Any = None,
    schema: list[dict] | None = None,
    source: str = "X",
    read: Any = None,
    partial_labels: bool = False,
) -> Any:
    """A path as it is, else the frame dict of `X` (with `y` as labels; NaN labels mark
    unlabelled rows where `partial_labels`); `schema`, the fitted model's feature columns,
    decides how a DataFrame's columns are read. `read`, the options for reading a file, are
    refused with anything else."""
    if is_path(X):
        if y is not None:
            raise ValueError("with a path, name the label column (label=...) instead of giving y")
        return os.fspath(X)
    if read:
        raise ValueError(
            f"{', '.join(sorted(read))}: reading options apply to a path; with an array or a "
            "DataFrame, give labels as y"
        )
    frame = _dataframe(X, schema, source) if is_dataframe(X) else _matrix(X, source)
    labels = _labels(y, frame["rows"], partial_labels)
    if labels is not None:
        frame["labels"] = labels
    return frame


def n_columns(frame: Any) -> int | None:
    """The number of input columns of a frame (None for a path)."""
    if isinstance(frame, dict):
        if "matrix" in frame:
            return frame["matrix"].shape[1]
        return len(frame["columns"])
    return None
