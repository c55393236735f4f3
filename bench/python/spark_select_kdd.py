"""deviant.spark.select against local select on a KDD Cup 99 split written by `deviant data
kdd99 --out SPLIT`: the same seed and candidates, chosen by `deviant select` (the CLI, from
the file), by `deviant.select` (in this process, from the pandas frame Spark collects) and by
`deviant.spark.select` (every candidate fit a Spark task). The three must choose the same
model; each chosen model scores the test rows, which choose nothing.

    python bench/python/spark_select_kdd.py SPLIT --on validation.csv \
        --deviant target/release/deviant --budget 10m --json out.json

`--on` names the split's file to select on: `validation.csv` (labelled: a stratified fifth
chooses) or `train.csv` (normal rows only, so the corpus chooses without labels).
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


def roc_auc(scores, labels):
    """ROC AUC by the rank-sum formula, ties averaged."""
    ranks = pd.Series(scores).rank().to_numpy()
    positives = labels == 1
    n_pos, n_neg = positives.sum(), (~positives).sum()
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def chosen(attempts):
    return sorted(a["label"] for a in attempts if a["chosen"])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("split")
    parser.add_argument("--deviant", default="target/release/deviant")
    parser.add_argument("--on", default="validation.csv")
    parser.add_argument("--budget", default="10m")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-deep", action="store_true")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--json")
    args = parser.parse_args()
    split = Path(args.split)
    data, test = split / args.on, split / "test.csv"
    deep = not args.no_deep
    runs = {}

    with tempfile.TemporaryDirectory() as tmp:
        board = Path(tmp) / "cli.json"
        command = [args.deviant, "select", str(data), "--label", "label", "--seed", str(args.seed)]
        command += ["--budget", args.budget, "--json", str(board), "-o", str(Path(tmp) / "cli-model")]
        command += [] if deep else ["--no-deep"]
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        seconds = time.perf_counter() - started
        cli = json.loads(board.read_text())
        cli_model = deviant.load(Path(tmp) / "cli-model")
        runs["cli"] = {"seconds": seconds, "board": cli, "detector": cli_model}

    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master(args.master)
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "4g")
        .getOrCreate()
    )
    df = spark.read.csv(str(data), header=True, inferSchema=True)
    # What spark.select collects (the whole file), for the local run in this process.
    frame = df.toPandas()
    y = frame.pop("label").to_numpy()
    options = dict(deep=deep, members=5, labelled_share=0.2)

    started = time.perf_counter()
    detector, _ = deviant.select(frame, y, args.budget, random_state=args.seed, **options)
    runs["python"] = {"seconds": time.perf_counter() - started, "board": detector.selection_, "detector": detector}

    started = time.perf_counter()
    detector, _ = deviant.spark.select(df, label="label", budget=args.budget, seed=args.seed, **options)
    runs["spark"] = {"seconds": time.perf_counter() - started, "board": detector.selection_, "detector": detector}
    spark.stop()

    test_rows = pd.read_csv(test)
    test_labels = test_rows.pop("label").to_numpy()
    records = []
    for name, run in runs.items():
        board = run["board"]
        fitted = [a for a in board["attempts"] if a["status"] == "fitted"]
        records.append(
            {
                "run": name,
                "seconds": round(run["seconds"], 2),
                "strategy": board["strategy"],
                "model": board["model"],
                "chosen": chosen(board["attempts"]),
                "fits": len(fitted),
                "fit_seconds_summed": round(sum(a["fit_seconds"] for a in fitted), 2),
                "test_roc_auc": roc_auc(run["detector"].decision_function(test_rows), test_labels),
            }
        )
        print(json.dumps({k: v for k, v in records[-1].items() if k != "model"}))
    same = all(r["model"] == records[0]["model"] and r["chosen"] == records[0]["chosen"] for r in records)
    print(f"same winner: {same}")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"split": split.name, "on": args.on, "budget": args.budget, "seed": args.seed, "deep": deep, "same_winner": same, "runs": records}, indent=1)
        )


if __name__ == "__main__":
    main()
