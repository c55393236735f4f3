"""deviant.spark on the 494,021-row KDD Cup 99 file in local Spark: scores of the whole file
as a DataFrame, partition by partition, against the CLI's scores of the same file with the
same model, and rows/s beside the CLI's single process.

    python bench/python/spark_kdd.py kdd.csv MODEL --deviant target/release/deviant --json out.json

kdd.csv is `kddcup.data_10_percent` with a header row; MODEL a directory from
`deviant fit kdd.csv ... -o MODEL`.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import deviant


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("model")
    parser.add_argument("--deviant", default="target/release/deviant")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cli.csv"
        started = time.perf_counter()
        subprocess.run([args.deviant, "score", args.model, args.data, "-q", "-o", str(out)], check=True, capture_output=True)
        cli_seconds = time.perf_counter() - started
        # The CLI prints each float32 score as the shortest decimal that rounds to it.
        cli = pd.read_csv(out, dtype={"score": str})["score"].to_numpy(dtype=np.float32).astype(np.float64)

    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master(args.master)
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "4g")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "65536")
        .getOrCreate()
    )
    rows = pd.read_csv(args.data)
    rows.insert(0, "row", np.arange(len(rows)))
    df = spark.createDataFrame(rows).repartition(args.partitions).cache()
    df.count()
    detector = deviant.load(args.model)
    started = time.perf_counter()
    scored = deviant.spark.score(df, detector).select("row", "anomaly_score", "is_anomaly").toPandas()
    spark_seconds = time.perf_counter() - started
    spark.stop()
    scored = scored.sort_values("row")
    diff = float(np.max(np.abs(scored["anomaly_score"].to_numpy() - cli)))
    result = {
        "rows": len(rows),
        "partitions": args.partitions,
        "master": args.master,
        "max_abs_diff_vs_cli": diff,
        "spark_seconds": round(spark_seconds, 2),
        "spark_rows_per_s": round(len(rows) / spark_seconds),
        "cli_seconds": round(cli_seconds, 2),
        "cli_rows_per_s": round(len(rows) / cli_seconds),
    }
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
