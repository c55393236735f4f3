"""The PyTorch + pandas way of `deviant score` for an autoencoder model: read the table,
apply the model's preprocessing, score every row, write `line,score,is_anomaly`.

    deviant fit kdd.csv -d ae --label label --normal normal. -o model
    deviant score model kdd.csv -o deviant-scores.csv
    python3 bench/peers/torch_score.py model kdd.csv -o torch-scores.csv

The preprocessing (one-hot with the training categories plus an unseen slot, then
(x - offset) / scale) and the layer widths come from the deviant model's manifest.json, so
both sides do the same work. The weights are PyTorch's own initialisation: deviant's weight
file is burn's format, and the time to score does not depend on the values.
Time both whole processes, e.g. with `/usr/bin/time -v`.
"""

import argparse
import json
import os

import numpy as np
import pandas as pd
import torch


def autoencoder(detector, n_features):
    params = detector["params"]
    hidden = params["hidden"]
    widths = [n_features, *hidden, *reversed(hidden[:-1]), n_features]
    activation = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}[
        params["activation"]
    ]
    layers = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(activation())
    return torch.nn.Sequential(*layers).eval()


def preprocess(frame, columns):
    out = []
    for column in columns:
        values = frame[column["name"]]
        if column["kind"] == "categorical":
            values = values.astype(str)
            seen = column["categories"]
            out.extend((values == c).to_numpy(np.float32) for c in seen)
            out.append((~values.isin(seen)).to_numpy(np.float32))
        else:
            x = values.to_numpy(np.float64)
            if not np.isfinite(x).all():
                raise SystemExit(f"column {column['name']}: missing or non-finite values")
            out.append(((x - column["offset"]) / column["scale"]).astype(np.float32))
    return np.column_stack(out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model", help="a model directory written by `deviant fit --detector ae`")
    parser.add_argument("data")
    parser.add_argument("-o", "--out", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8192)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    with open(os.path.join(args.model, "manifest.json")) as f:
        manifest = json.load(f)
    if manifest["detector"]["kind"] != "ae":
        raise SystemExit("this peer scores `ae` models only")
    frame = pd.read_csv(args.data)
    x = torch.from_numpy(preprocess(frame, manifest["preprocessor"]["columns"]))
    model = autoencoder(manifest["detector"], x.shape[1])
    with torch.inference_mode():
        scores = torch.cat(
            [((model(xb) - xb) ** 2).mean(dim=1) for xb in x.split(args.batch)]
        ).numpy()
    threshold = manifest["threshold"]["value"]
    pd.DataFrame(
        {
            "line": np.arange(2, len(scores) + 2),
            "score": scores,
            "is_anomaly": (scores > threshold).astype(np.uint8),
        }
    ).to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
