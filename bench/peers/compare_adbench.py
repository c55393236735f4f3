"""Set-by-set agreement of deviant, PyOD and ADBench's published ROC AUCs on ADBench's rows.

    python3 bench/peers/compare_adbench.py pyod-adbench.json adbench-classic.json [more.json]

The first file is `pyod_adbench.py`'s output, the others `deviant bench adbench --published
--json`'s (a detector found in several takes the last). Per detector and set, the mean over
seeds; a Markdown table of how many sets agree within ±0.02 and the largest gaps. When the
PyOD runs were made with `--random-states N`, it shows instead, per set, how far the mean
over seeds moves with the detector's own random state alone.
"""

import json
import statistics
import sys
from collections import defaultdict

TOLERANCE = 0.02


def pyod_means(path):
    """(detector, set) -> mean ROC AUC over seeds, and the failed runs as (detector, set, error)."""
    runs, failed = defaultdict(list), []
    for r in json.load(open(path)):
        key = (r["detector"], r["dataset"].lower())
        if "error" in r:
            failed.append((*key, r["seed"], r["error"]))
        else:
            runs[key].append(r["roc_auc"])
    failed_keys = {(d, s) for d, s, _, _ in failed}
    means = {k: statistics.fmean(v) for k, v in runs.items() if k not in failed_keys}
    return means, failed


def deviant_means(paths):
    """(detector, set) -> (mean ROC AUC over seeds, published value or None)."""
    cells = {}
    for path in paths:
        for c in json.load(open(path))["per_dataset"]:
            cells[(c["detector"], c["dataset"].lower())] = (c["roc_auc"], c.get("published"))
    return cells


def random_state_spread(pyod_path, ours):
    """Per (detector, set): the seed-mean for each random state, beside ours and ADBench's."""
    runs = defaultdict(lambda: defaultdict(list))
    for r in json.load(open(pyod_path)):
        if "roc_auc" in r:
            runs[(r["detector"], r["dataset"].lower())][r["random_state"]].append(r["roc_auc"])
    print("| detector | set | PyOD seed-mean per random state: min–max (std) "
          "| states within ±0.02 of ADBench | deviant | ADBench |")
    print("|---|---|---|---|---|---|")
    for (detector, dataset), by_state in sorted(runs.items()):
        means = [statistics.fmean(v) for v in by_state.values()]
        mine, published = ours.get((detector, dataset), (None, None))
        near = sum(abs(m - published) <= TOLERANCE for m in means) if published else "–"
        print(
            f"| {detector} | {dataset} | {min(means):.4f}–{max(means):.4f} "
            f"({statistics.pstdev(means):.4f}) | {near} of {len(means)} "
            f"| {mine:.4f} | {published} |"
        )


def largest(gaps, n=4):
    worst = sorted(gaps, key=lambda g: -abs(g[1]))[:n]
    return ", ".join(f"{s} {g:+.3f}" for s, g in worst if abs(g) > TOLERANCE) or "–"


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    ours = deviant_means(sys.argv[2:])
    if any("random_state" in r for r in json.load(open(sys.argv[1]))):
        return random_state_spread(sys.argv[1], ours)
    pyod, failed = pyod_means(sys.argv[1])
    print("| detector | deviant vs ADBench | PyOD vs ADBench | deviant vs PyOD "
          "| largest deviant − PyOD gaps |")
    print("|---|---|---|---|---|")
    for detector in sorted({d for d, _ in ours}):
        sets = sorted(s for d, s in ours if d == detector)
        published = [s for s in sets if ours[(detector, s)][1] is not None]
        both = [s for s in published if (detector, s) in pyod]

        def within(a, b, among):
            return sum(abs(a(s) - b(s)) <= TOLERANCE for s in among)

        def mine(s):
            return ours[(detector, s)][0]

        def theirs(s):
            return pyod[(detector, s)]

        def reference(s):
            return ours[(detector, s)][1]

        gaps = [(s, mine(s) - theirs(s)) for s in sets if (detector, s) in pyod]
        print(
            f"| {detector} | {within(mine, reference, published)} of {len(published)} "
            f"| {within(theirs, reference, both)} of {len(both)} "
            f"| {within(mine, theirs, [s for s, _ in gaps])} of {len(gaps)} "
            f"| {largest(gaps)} |"
        )
    for detector, dataset, seed, error in failed:
        print(f"\nPyOD {detector} failed on {dataset}, seed {seed}: {error}", end="")
    print()


if __name__ == "__main__":
    main()
