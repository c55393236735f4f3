"""deviant on Apache Spark: score a DataFrame partition by partition with Arrow, the model
loaded once per executor process, and fit on a sample collected to the driver.

    from deviant import spark as dspark
    detector = dspark.fit(flows, "iforest", sample=200_000)
    scored = dspark.score(flows, detector)        # + anomaly_score, is_anomaly

The model travels to the executors as a broadcast of its directory's files, so the
executors need no shared file system, only this package installed.
"""

from __future__ import annotations

import os
import uuid
from typing import Any, Iterator

from ._detector import BaseDetector, Detector, load, model_from_files, model_files
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
    y = None
    if label is not None:
        y = rows.pop(label).to_numpy()
    detector = Detector(kind, random_state=seed, **params)
    return detector.fit(rows, y)
