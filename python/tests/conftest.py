"""Shared data for the Python package's tests: a small table with planted anomalies, and the
`deviant` binary from this checkout for the parity tests."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def blobs():
    """600 normal rows around the origin and 30 far away (the last 30), 6 features."""
    rng = np.random.default_rng(7)
    normal = rng.normal(size=(600, 6))
    outliers = rng.normal(loc=6.0, size=(30, 6))
    X = np.vstack([normal, outliers])
    y = np.r_[np.zeros(600), np.ones(30)].astype(int)
    return X, y


@pytest.fixture(scope="session")
def cli():
    """The `deviant` binary: $DEVIANT_BIN, else this checkout's debug or release build."""
    candidates = [os.environ.get("DEVIANT_BIN"), ROOT / "target/debug/deviant", ROOT / "target/release/deviant"]
    for c in candidates:
        if c and Path(c).is_file():
            return str(c)
    found = shutil.which("deviant")
    if found:
        return found
    pytest.skip("no deviant binary: run `cargo build -p deviant-cli` first")
