"""deviant's Python package against PyOD, same data and seed, one sitting, alternating:
time to a fitted detector (fit, which also scores the training rows in both) for the
autoencoder and Isolation Forest with each library's defaults, and scoring a
1,000,000 x 18 numpy array.

    python bench/python/pyod_speed.py SPLIT --runs 3 --json out.json

SPLIT is a folder written by `deviant data kdd99 --protocol dagmm --out SPLIT`; its training
rows are preprocessed as deviant does (bench/peers/kdd_split.py) so both libraries fit the
same matrix.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "peers"))
from kdd_split import read_split  # noqa: E402

import deviant  # noqa: E402


def timed(fn):
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def peers():
    from pyod.models.auto_encoder import AutoEncoder
    from pyod.models.iforest import IForest

    return {
        "ae": (lambda: deviant.AutoEncoder(random_state=1), lambda: AutoEncoder(random_state=1)),
        "iforest": (lambda: deviant.IForest(random_state=1), lambda: IForest(random_state=1)),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("split")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--score-rows", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["ae", "iforest"], action="append")
    parser.add_argument("--json")
    args = parser.parse_args()
    _, x_train, _, _ = read_split(args.split)
    x_train = np.ascontiguousarray(x_train, dtype=np.float32)
    rng = np.random.default_rng(1)
    wide = rng.normal(size=(args.score_rows, 18))
    small = wide[:20_000]
    results = {"train_rows": x_train.shape[0], "train_features": x_train.shape[1], "kinds": {}}
    for kind, (ours, theirs) in peers().items():
        if args.only and kind not in args.only:
            continue
        fit = {"deviant": [], "pyod": []}
        score = {"deviant": [], "pyod": []}
        for run in range(args.runs):
            for side, make in (("deviant", ours), ("pyod", theirs)):
                seconds, _ = timed(lambda: make().fit(x_train))
                fit[side].append(seconds)
                detector = make().fit(small)
                seconds, _ = timed(lambda: detector.decision_function(wide))
                score[side].append(seconds)
                print(f"{kind} run {run + 1} {side}: fit {fit[side][-1]:.2f} s, score {seconds:.2f} s", flush=True)
        median = {k: {s: statistics.median(v) for s, v in d.items()} for k, d in (("fit", fit), ("score", score))}
        results["kinds"][kind] = {
            "fit_s": fit,
            "score_s": score,
            "fit_speedup": median["fit"]["pyod"] / median["fit"]["deviant"],
            "score_speedup": median["score"]["pyod"] / median["score"]["deviant"],
            "score_rows_per_s": {s: args.score_rows / v for s, v in median["score"].items()},
        }
        print(json.dumps({kind: results["kinds"][kind]}, indent=1), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
