"""PyOD detectors with their own defaults on the splits `deviant data kdd99` writes, timed
and scored like `deviant bench kdd99`; the JSON has the same record shape.

    deviant data kdd99 --protocol dagmm --seed 1 --out splits/dagmm-seed1
    python3 bench/peers/pyod_kdd.py splits/dagmm-seed1 --detectors AutoEncoder,IForest \
        --json pyod-dagmm.json

Preprocessing matches deviant's for the protocol: symbolic columns one-hot encoded with the
training categories (plus one slot for unseen values), numbers min-max scaled on the
training rows (standardised for `alibi`). `fit_seconds` is the detector's `fit`,
`score_seconds` its `decision_function` on the test rows. The threshold follows the
protocol's rule: `dagmm` and `alad` flag the top 20 % of the test scores.
"""

import argparse
import json
import resource
import time

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from kdd_split import read_split


def detector(name, n_features, seed):
    """A PyOD detector with its defaults (only the seed and quiet output set)."""
    if name == "AutoEncoder":
        from pyod.models.auto_encoder import AutoEncoder

        return AutoEncoder(random_state=seed, verbose=0)
    if name == "VAE":
        from pyod.models.vae import VAE

        return VAE(random_state=seed, verbose=0)
    if name == "DeepSVDD":
        from pyod.models.deep_svdd import DeepSVDD

        return DeepSVDD(n_features=n_features, random_state=seed, verbose=0)
    if name == "IForest":
        from pyod.models.iforest import IForest

        return IForest(random_state=seed)
    if name == "ECOD":
        from pyod.models.ecod import ECOD

        return ECOD()
    if name == "OCSVM":
        from pyod.models.ocsvm import OCSVM

        return OCSVM()
    raise SystemExit(f"unknown detector {name}: AutoEncoder, VAE, DeepSVDD, IForest, ECOD, OCSVM")


def metrics(labels, scores, flags):
    tp = int(np.sum(flags & labels))
    fp = int(np.sum(flags & ~labels))
    fn = int(np.sum(~flags & labels))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0

    def f_beta(beta):
        b2 = beta * beta
        denominator = b2 * precision + recall
        return (1 + b2) * precision * recall / denominator if denominator else 0.0

    return {
        "roc_auc": roc_auc_score(labels, scores),
        "average_precision": average_precision_score(labels, scores),
        "precision": precision,
        "recall": recall,
        "f1": f_beta(1.0),
        "f2": f_beta(2.0),
        "accuracy": float(np.mean(flags == labels)),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("split", help="a folder written by `deviant data kdd99 --out`")
    parser.add_argument("--detectors", default="AutoEncoder,IForest,ECOD")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    protocol, x_train, x_test, labels = read_split(args.split)

    records = []
    for name in args.detectors.split(","):
        model = detector(name, x_train.shape[1], args.seed)
        started = time.perf_counter()
        model.fit(x_train)
        fit_seconds = time.perf_counter() - started
        started = time.perf_counter()
        scores = model.decision_function(x_test)
        score_seconds = time.perf_counter() - started
        threshold = float(np.quantile(scores, 0.8))
        record = {
            "dataset": "kddcup99",
            "detector": f"pyod-{name}",
            "protocol": protocol,
            "seed": args.seed,
            **metrics(labels, scores, scores > threshold),
            "threshold": threshold,
            "threshold_rule": "top:20",
            "fit_seconds": fit_seconds,
            "epochs": 0,
            "epoch_seconds": 0.0,
            "score_seconds": score_seconds,
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        }
        records.append(record)
        print(json.dumps(record))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=2)


if __name__ == "__main__":
    main()
