"""Runs `deviant bench perf` and the PyTorch peer on the same rows in alternation
(A B A B …), then prints the medians and the deviant / PyTorch ratios as Markdown.

    python3 bench/peers/alternate.py --deviant target/release/deviant --runs 3 \
        --json bench/results/perf-ae.json

Alternating spreads any drift of the machine (other load, frequency) over both sides.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

# (label, field, better when): the figures compared, as both sides name them.
FIGURES = [
    ("epoch s", "median_epoch_seconds", "lower"),
    ("scoring M rows/s", "score_rows_per_second", "higher"),
    ("single-row rows/s", "single_row_rows_per_second", "higher"),
    ("peak RSS MB", "peak_rss_bytes", "lower"),
]


def run_json(command, path):
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    with open(path) as f:
        return json.load(f)


def shown(field, value):
    if field == "score_rows_per_second":
        return f"{value / 1e6:.2f}"
    if field == "peak_rss_bytes":
        return f"{value / 1e6:.0f}"
    if field == "single_row_rows_per_second":
        return f"{value:,.0f}"
    return f"{value:.3f}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--deviant", default="target/release/deviant")
    parser.add_argument("--python", default=sys.executable, help="the Python with torch")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="write every run and the medians here")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="deviant-perf-")
    rows = os.path.join(work, "rows.npy")
    ours_json = os.path.join(work, "deviant.json")
    theirs_json = os.path.join(work, "torch.json")
    deviant = [args.deviant, "-q", "bench", "perf", "--rows", str(args.rows), "--json", ours_json]
    torch = [args.python, os.path.join(HERE, "torch_ae.py"), rows,
             "--threads", str(args.threads), "--json", theirs_json]

    ours, theirs = [], []
    for run in range(args.runs):
        # The first deviant run also writes the rows the peer reads.
        ours.append(run_json(deviant + (["--export", rows] if run == 0 else []), ours_json))
        theirs.append(run_json(torch, theirs_json))
        print(f"run {run + 1}/{args.runs} done", file=sys.stderr)

    medians = {}
    print("| figure | deviant | PyTorch | ratio deviant / PyTorch |")
    print("|---|---|---|---|")
    for label, field, _ in FIGURES:
        a = statistics.median(r[field] for r in ours)
        b = statistics.median(r[field] for r in theirs)
        medians[field] = {"deviant": a, "pytorch": b, "ratio": a / b}
        print(f"| {label} | {shown(field, a)} | {shown(field, b)} | {a / b:.2f} |")
    floor = statistics.median(r["floor_epoch_seconds"] for r in ours)
    print(f"\narithmetic floor of one epoch on this machine: {floor:.3f} s "
          f"(matmul {statistics.median(r['matmul_flops_per_second'] for r in ours) / 1e9:.1f} GFLOP/s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"deviant": ours, "pytorch": theirs, "medians": medians}, f, indent=2)


if __name__ == "__main__":
    main()
