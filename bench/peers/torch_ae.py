"""PyTorch reference for `deviant bench perf`: the same dense autoencoder, rows, batch size
and epochs, timed the same way (wall time per epoch; the fastest of N scoring passes).

    deviant bench perf --export rows.npy --json deviant.json
    python3 bench/peers/torch_ae.py rows.npy --threads 2 --json torch.json

On a GPU (`--device cuda`, beside `deviant --device cuda|wgpu bench perf`) the rows are
moved to the card once, as a PyTorch user would with data that fits (deviant uploads each
batch); every batch's loss is read back and the scores come back to host memory, so each
timing waits for the card.

The layer widths mirror deviant's `ae`: input, the `--hidden` widths, their mirror, input;
the activation follows every layer but the last.
"""

import argparse
import json
import resource
import statistics
import time

import numpy as np
import torch


def build(features, hidden):
    widths = [features, *hidden, *reversed(hidden[:-1]), features]
    layers = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("rows", help="an f32 .npy matrix written by `deviant bench perf --export`")
    parser.add_argument("--hidden", default="64,32,8")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--score-batch", type=int, default=8192)
    parser.add_argument("--score-repeats", type=int, default=3)
    parser.add_argument("--single-rows", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--json")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    x = torch.from_numpy(np.load(args.rows).astype(np.float32)).to(device)
    rows, features = x.shape
    model = build(features, [int(h) for h in args.hidden.split(",")]).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate, eps=1e-8)

    fit_started = time.perf_counter()
    epoch_seconds = []
    for _ in range(args.epochs):
        started = time.perf_counter()
        model.train()
        for batch in torch.randperm(rows, device=device).split(args.batch_size):
            xb = x[batch]
            loss = ((model(xb) - xb) ** 2).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss.item()  # deviant reads every batch loss too
        epoch_seconds.append(time.perf_counter() - started)
    fit_seconds = time.perf_counter() - fit_started

    model.eval()
    score_seconds = float("inf")
    with torch.inference_mode():
        for _ in range(args.score_repeats):
            started = time.perf_counter()
            scores = torch.cat(
                [((model(xb) - xb) ** 2).mean(dim=1) for xb in x.split(args.score_batch)]
            ).cpu()  # deviant hands its scores back in host memory
            score_seconds = min(score_seconds, time.perf_counter() - started)
        assert scores.shape[0] == rows
        single_rows = min(args.single_rows, rows)
        started = time.perf_counter()
        for i in range(single_rows):
            xb = x[i : i + 1]
            ((model(xb) - xb) ** 2).mean(dim=1).item()
        single_seconds = time.perf_counter() - started

    record = {
        "peer": f"pytorch {torch.__version__}",
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "rows": rows,
        "features": features,
        "threads": args.threads,
        "batch_size": args.batch_size,
        "epochs": args.epochs,
        "fit_seconds": fit_seconds,
        "epoch_seconds": epoch_seconds,
        "median_epoch_seconds": statistics.median(epoch_seconds),
        "score_seconds": score_seconds,
        "score_rows_per_second": rows / score_seconds,
        "single_row_rows_per_second": single_rows / single_seconds if single_rows else None,
        # ru_maxrss is in KiB on Linux.
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
    print(json.dumps(record, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(record, f, indent=2)


if __name__ == "__main__":
    main()
