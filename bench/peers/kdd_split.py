"""Reads a folder written by `deviant data kdd99 --out` and preprocesses it the way deviant
does for the protocol, for the peers that train on it."""

import json
import os

import numpy as np
import pandas as pd

SYMBOLIC = {"protocol_type", "service", "flag"}


def read_split(folder):
    """(protocol, training rows, test rows, test labels as bools); training rows are the
    normal ones of train.csv."""
    with open(os.path.join(folder, "protocol.json")) as f:
        protocol = json.load(f)["protocol"]
    train = pd.read_csv(os.path.join(folder, "train.csv"))
    test = pd.read_csv(os.path.join(folder, "test.csv"))
    labels = test.pop("label").to_numpy().astype(bool)
    train = train[train.pop("label") == 0]
    x_train, x_test = features(train, test, standardise=protocol == "alibi")
    return protocol, x_train, x_test, labels


def features(train, other, standardise):
    """deviant's preprocessing: one-hot with an unseen slot, then per-column scaling."""
    out = []
    for frame in (train, other):
        columns = []
        for name in train.columns:
            if name in SYMBOLIC:
                seen = sorted(train[name].astype(str).unique())
                values = frame[name].astype(str)
                for category in seen:
                    columns.append((values == category).astype(np.float32).to_numpy())
                columns.append((~values.isin(seen)).astype(np.float32).to_numpy())
            else:
                x = frame[name].to_numpy(dtype=np.float64)
                t = train[name].to_numpy(dtype=np.float64)
                offset, scale = (t.mean(), t.std()) if standardise else (t.min(), t.max() - t.min())
                columns.append(((x - offset) / (scale if scale > 0 else 1.0)).astype(np.float32))
        out.append(np.column_stack(columns))
    return out
