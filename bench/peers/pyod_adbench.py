"""PyOD's classic detectors, with their defaults, on the rows ADBench's data generator draws
for each seed: the same NumPy and scikit-learn calls `deviant bench adbench` reproduces, so
deviant's and PyOD's AUCs can be compared set by set on identical data.

    python3 bench/peers/pyod_adbench.py --data $DEVIANT_DATASETS/tabular-odds-adbench \
        --detectors IForest,ECOD --seeds 1,2,3 --json pyod-adbench.json

Per set and seed: NumPy's global generator seeded; sets under 1,000 rows resampled with
replacement to 1,000 and sets over 10,000 subsampled to 10,000 (each after seeding again);
`train_test_split(test_size=0.3, stratify=y)` from the global generator; min-max scaled on
the training part; each detector fitted on the training part with the generator seeded
again; ROC AUC of `decision_function` on the test part.
"""

import argparse
import importlib
import json
import pathlib
import re
import time

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler

DETECTORS = ["IForest", "ECOD", "COPOD", "HBOS", "KNN", "LOF", "OCSVM", "PCA"]


def make(name, **params):
    """PyOD's class `name` (module pyod.models.<name in lower case>) with its defaults."""
    return getattr(importlib.import_module(f"pyod.models.{name.lower()}"), name)(**params)


def protocol_rows(x, y, seed):
    np.random.seed(seed)
    if len(y) < 1000:
        np.random.seed(seed)
        keep = np.random.choice(np.arange(len(y)), 1000, replace=True)
        x, y = x[keep], y[keep]
    if len(y) > 10000:
        np.random.seed(seed)
        keep = np.random.choice(np.arange(len(y)), 10000, replace=False)
        x, y = x[keep], y[keep]
    x_train, x_test, _, y_test = train_test_split(x, y, test_size=0.3, shuffle=True, stratify=y)
    scaler = MinMaxScaler().fit(x_train)
    return scaler.transform(x_train), scaler.transform(x_test), y_test


def set_name(path):
    return re.sub(r"^\d+_", "", path.stem)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=pathlib.Path)
    parser.add_argument("--detectors", default=",".join(DETECTORS))
    parser.add_argument("--datasets", default="", help="only these sets, comma-separated")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--json", type=pathlib.Path)
    parser.add_argument(
        "--random-states",
        type=int,
        default=0,
        help="fit each detector N times, with random_state 0..N-1, to measure the spread "
        "its own randomness adds on fixed rows (default: once, from the seeded generator)",
    )
    args = parser.parse_args()
    folder = args.data / "npz" if (args.data / "npz").is_dir() else args.data
    wanted = {s.lower() for s in args.datasets.split(",") if s}
    files = [p for p in sorted(folder.glob("*.npz")) if not wanted or set_name(p).lower() in wanted]
    seeds = [int(s) for s in args.seeds.split(",")]
    records = []
    for path in files:
        data = np.load(path, allow_pickle=True)
        x, y = data["X"].astype(np.float64), data["y"].astype(int)
        for seed in seeds:
            x_train, x_test, y_test = protocol_rows(x, y, seed)
            fits = [{"random_state": k} for k in range(args.random_states)] or [{}]
            for name, params in ((n, p) for n in args.detectors.split(",") for p in fits):
                np.random.seed(seed)
                started = time.perf_counter()
                record = {"dataset": set_name(path), "detector": name.lower(), "seed": seed}
                record.update(params)
                try:
                    model = make(name, **params).fit(x_train)
                    record["fit_seconds"] = time.perf_counter() - started
                    record["roc_auc"] = roc_auc_score(y_test, model.decision_function(x_test))
                    shown = f"ROC AUC {record['roc_auc']:.4f}"
                except ValueError as e:  # e.g. PCA's infinite scores on a constant column
                    record["error"] = str(e)
                    shown = f"failed: {e}"
                records.append(record)
                print(f"{set_name(path):14} {name:8} seed {seed} {params or ''}  {shown}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(records, indent=1))


if __name__ == "__main__":
    main()
