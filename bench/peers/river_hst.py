"""river's Half-Space Trees on the rows `deviant stream` reads: NDJSON from stdin, each row
scored, then learned from (river's score_one / learn_one), one JSON object per row to
stdout. The features are min-max scaled online first, as river's documentation recommends
(deviant's hst scales by the training rows' ranges inside the model).

    python3 bench/peers/river_hst.py --label label < rows.ndjson > river-scores.ndjson

Same settings as deviant's hst defaults: 25 trees, height 8, windows of 250 rows.
Time the whole process, e.g. with `/usr/bin/time -v`.
"""

import argparse
import json
import sys

from river import anomaly, compose, preprocessing


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--label", help="a column to drop before scoring")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    model = compose.Pipeline(
        preprocessing.MinMaxScaler(),
        anomaly.HalfSpaceTrees(n_trees=25, height=8, window_size=250, seed=args.seed),
    )
    out = sys.stdout
    for number, line in enumerate(sys.stdin, start=1):
        row = json.loads(line)
        if args.label:
            row.pop(args.label, None)
        score = model.score_one(row)
        model.learn_one(row)
        out.write(json.dumps({"line": number, "score": score}))
        out.write("\n")


if __name__ == "__main__":
    main()
