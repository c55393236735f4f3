"""deviant on Apache Spark: score a DataFrame partition by partition with Arrow, the model
loaded once per executor process; fit on a sample collected to the driver; and select a
detector for a sample with the candidate fits run as Spark tasks.

    from deviant import spark as dspark
    detector = dspark.fit(flows, "iforest", sample=200_000)
    scored = dspark.score(flows, detector)        # + anomaly_score, is_anomaly
    chosen, leaderboard = dspark.select(flows, label="attack", sample=100_000, budget="10m")

Models and a selection's rows travel to the executors as broadcasts, so the executors need
no shared file system, only this package installed.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any, Callable, Iterator

from . import _native
from ._detector import BaseDetector, Detector, load, model_from_files, model_files
from ._detector import select as select_here
from ._frame import to_frame

#: Models loaded in this (executor) process, by the key `score` gave them: each loads once.
_LOADED: dict[str, Any] = {}


def _load_broadcast(key: str, broadcast: Any) -> Any:
    model = _LOADED.get(key)
    if model is None:
        model = _LOADED[key] = model_from_files(broadcast.value)
    return model


def score(
    df: Any,
    model: BaseDetector | str | os.PathLike,
    columns: list[str] | None = None,
    *,
    score_column: str = "anomaly_score",
    flag_column: str = "is_anomaly",
) -> Any:
    """`df` with two more columns: each row's anomaly score (double, higher = more
    anomalous) and whether it is flagged (boolean). `model` is a fitted detector or a model
    directory; `columns` are the feature columns (by default the model's, by name)."""
    import numpy as np
    import pyarrow as pa
    from pyspark.sql.types import BooleanType, DoubleType, StructField, StructType

    detector = model if isinstance(model, BaseDetector) else load(model)
    schema = detector._schema()
    columns = columns or [f["name"] for f in schema]
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"the DataFrame has no column(s) {', '.join(missing)}")
    for name in (score_column, flag_column):
        if name in df.columns:
            raise ValueError(f"the DataFrame already has a column `{name}`; name another")
    spark = df.sparkSession
    broadcast = spark.sparkContext.broadcast(model_files(detector.model_))
    key = uuid.uuid4().hex
    model_names = [f["name"] for f in schema]
    out_schema = StructType(
        df.schema.fields
        + [StructField(score_column, DoubleType(), False), StructField(flag_column, BooleanType(), False)]
    )

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        native = _load_broadcast(key, broadcast)
        for batch in batches:
            if batch.num_rows == 0:
                continue
            features = batch.select(columns).to_pandas()
            features.columns = model_names
            scores, flags = native.score(to_frame(features, schema=schema, source="partition"), None)
            yield pa.RecordBatch.from_arrays(
                list(batch.columns)
                + [
                    pa.array(np.frombuffer(scores, dtype=np.float32).astype(np.float64)),
                    pa.array(np.frombuffer(flags, dtype=np.uint8).astype(bool)),
                ],
                names=list(batch.schema.names) + [score_column, flag_column],
            )

    return df.mapInArrow(run, out_schema)


def _collect(df: Any, sample: int | float | None, seed: int, label: str | None) -> tuple[Any, Any]:
    """`df`'s rows on the driver as a pandas DataFrame — `sample` rows (an int), a fraction of
    them (a float), or every row (None) — and the `label` column's values taken out of it
    (None without a label)."""
    if sample is not None:
        if isinstance(sample, float):
            if not 0.0 < sample <= 1.0:
                raise ValueError(f"a fractional sample must be in (0, 1], got {sample}")
            df = df.sample(fraction=sample, seed=seed)
        else:
            total = df.count()
            if sample < total:
                df = df.sample(fraction=min(1.0, 1.2 * sample / total), seed=seed).limit(sample)
    rows = df.toPandas()
    return rows, None if label is None else rows.pop(label).to_numpy()


def fit(
    df: Any,
    kind: str,
    sample: int | float | None = None,
    *,
    label: str | None = None,
    seed: int = 42,
    **params: Any,
) -> BaseDetector:
    """A detector of `kind` trained on the driver on a sample of `df`: `sample` rows (an
    int), a fraction of them (a float), or every row (None). With `label`, that column is
    left out of the features and trains the supervised kinds. Score the whole DataFrame
    with `score(df, detector)`."""
    rows, y = _collect(df, sample, seed, label)
    detector = Detector(kind, random_state=seed, **params)
    return detector.fit(rows, y)


#: The selection rows this (executor) process holds: (key, rows). One at a time, so a
#: long-lived executor does not keep every selection's rows.
_SEARCH: list[Any] = [None, None]


def _fit_candidate(key: str, broadcast: Any, fit: str) -> str:
    if _SEARCH[0] != key:
        _SEARCH[:] = [key, _native.SearchRows(broadcast.value)]
    return _SEARCH[1].fit(fit)


class _SparkFits:
    """Runs each round of a selection's candidate fits as Spark tasks, one task a fit; the
    rows are broadcast once."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.broadcast: Any = None
        self.key = uuid.uuid4().hex

    def __call__(self, rows: bytes, fits: str) -> str:
        if self.broadcast is None:
            self.broadcast = self.context.broadcast(rows)
        broadcast, key = self.broadcast, self.key
        round_ = [json.dumps(fit) for fit in json.loads(fits)]
        results = (
            self.context.parallelize(list(enumerate(round_)), len(round_))
            .map(lambda item: (item[0], _fit_candidate(key, broadcast, item[1])))
            .collect()
        )
        return "[" + ",".join(result for _, result in sorted(results)) + "]"

    def close(self) -> None:
        if self.broadcast is not None:
            self.broadcast.destroy()


def select(
    df: Any,
    label: str | None = None,
    sample: int | float | None = None,
    budget: Any = "5m",
    *,
    members: int = 5,
    deep: bool = True,
    labelled_share: float = 0.2,
    threshold: str | None = None,
    seed: int = 42,
    progress: Any = None,
    on_attempt: Callable[[dict], None] | None = None,
) -> tuple[BaseDetector, Any]:
    """`deviant.select` on a sample of `df` (as `fit` takes it) with every candidate fit run
    as a Spark task: the sample is collected to the driver, preprocessed there, broadcast,
    and each round of fits (all candidates, then the finalists) spread over the executors;
    the chosen detector is fitted again on the driver and returned with the leaderboard.
    With `label`, that column is left out of the features and a stratified `labelled_share`
    of the rows chooses. Score the whole DataFrame with `score(df, detector)`."""
    rows, y = _collect(df, sample, seed, label)
    runner = _SparkFits(df.sparkSession.sparkContext)
    try:
        return select_here(
            rows,
            y,
            budget,
            members=members,
            deep=deep,
            labelled_share=labelled_share,
            threshold=threshold,
            random_state=seed,
            progress=progress,
            on_attempt=on_attempt,
            fit_runner=runner,
        )
    finally:
        runner.close()
