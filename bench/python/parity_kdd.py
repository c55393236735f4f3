"""Python and CLI train and score the same: on a KDD Cup 99 split written by `deviant data
kdd99 --out SPLIT`, each kind is fitted by `deviant fit` and by `deviant.Detector(...).fit`
with the same seed, both score the test rows, and each side scores the other's model.

    python bench/python/parity_kdd.py SPLIT --deviant target/release/deviant --json out.json
"""

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

import deviant

KINDS = {"ae": {}, "iforest": {}, "pca": {}, "hbos": {}}


def cli_scores(cli, model, data):
    """The CLI's scores, read back as the float32 values it printed (it prints the shortest
    decimal that rounds to each float32; read as float64, that decimal differs from the
    float32 by up to half its last place)."""
    out = subprocess.run([cli, "score", str(model), str(data)], check=True, capture_output=True, text=True)
    text = [line.split(",")[1] for line in out.stdout.strip().splitlines()[1:]]
    return np.array(text, dtype=np.float32).astype(np.float64)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("split")
    parser.add_argument("--deviant", default="target/release/deviant")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json")
    args = parser.parse_args()
    split = Path(args.split)
    train, test = split / "train.csv", split / "test.csv"
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, params in KINDS.items():
            cli_model, py_model = Path(tmp) / f"cli-{kind}", Path(tmp) / f"py-{kind}"
            started = time.perf_counter()
            subprocess.run(
                [args.deviant, "fit", str(train), "-d", kind, "--label", "label", "--seed", str(args.seed), "-q", "-o", str(cli_model)],
                check=True,
                capture_output=True,
            )
            cli_fit = time.perf_counter() - started
            started = time.perf_counter()
            det = deviant.Detector(kind, random_state=args.seed, **params).fit(train, label="label")
            py_fit = time.perf_counter() - started
            det.save(py_model)
            from_cli = cli_scores(args.deviant, cli_model, test)
            from_py = det.decision_function(test, label="label")
            cli_reads_py = cli_scores(args.deviant, py_model, test)
            py_reads_cli = deviant.load(cli_model).decision_function(test, label="label")
            record = {
                "kind": kind,
                "test_rows": len(from_cli),
                "max_abs_diff_scores": float(np.max(np.abs(from_py - from_cli))),
                "max_abs_diff_cli_scores_python_model": float(np.max(np.abs(cli_reads_py - from_cli))),
                "max_abs_diff_python_scores_cli_model": float(np.max(np.abs(py_reads_cli - from_cli))),
                "threshold_cli": deviant.load(cli_model).threshold_,
                "threshold_python": det.threshold_,
                "cli_fit_s": round(cli_fit, 2),
                "python_fit_s": round(py_fit, 2),
            }
            records.append(record)
            print(json.dumps(record))
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1) + "\n")


if __name__ == "__main__":
    main()
