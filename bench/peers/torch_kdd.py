"""PyTorch implementations of deviant's DAGMM and ALAD with deviant's KDD defaults, timed per
epoch on the training rows of a `deviant data kdd99` split (2 threads).

    deviant data kdd99 --protocol dagmm --out splits/dagmm
    python3 bench/peers/torch_kdd.py dagmm splits/dagmm --epochs 3 --json torch-dagmm.json
    deviant data kdd99 --protocol alad --out splits/alad
    python3 bench/peers/torch_kdd.py alad splits/alad --epochs 2 --json torch-alad.json

Same layers, activations, losses, optimisers, batch sizes and learning rates as deviant's
`dagmm` and `alad` (deep/dagmm, deep/alad, deep/adversarial.rs); like deviant, every batch's
losses are read back. Compare with the `epoch_seconds` of `deviant bench kdd99`.
"""

import argparse
import json
import math
import resource
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from kdd_split import read_split


def mlp(widths, activation):
    layers = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class Dagmm(nn.Module):
    """Compression features-60-30-10-1 tanh and its mirror, estimation 3-10-4, dropout 0.5."""

    def __init__(self, features, hidden=(60, 30, 10, 1), components=4):
        super().__init__()
        self.encoder = mlp([features, *hidden], nn.Tanh)
        self.decoder = mlp([*reversed(hidden), features], nn.Tanh)
        code = hidden[-1] + 2
        self.estimation = nn.Sequential(
            nn.Linear(code, 10), nn.Tanh(), nn.Dropout(0.5), nn.Linear(10, components)
        )

    def loss(self, x, jitter=1e-6):
        code = self.encoder(x)
        rebuilt = self.decoder(code)
        norm = lambda t: (t.square().sum(1, keepdim=True) + 1e-6).sqrt()
        distance = norm(x - rebuilt) / norm(x)
        cosine = (x * rebuilt).sum(1, keepdim=True) / (norm(x) * norm(rebuilt))
        z = torch.cat([code, distance, cosine], 1)
        gamma = F.softmax(self.estimation(z), 1)
        mass = gamma.sum(0)
        weights = mass / x.shape[0]
        means = gamma.t() @ z / mass[:, None]
        diff = z[:, None, :] - means[None]  # [B, K, d]
        covariances = torch.einsum("bk,bki,bkj->kij", gamma, diff, diff) / mass[:, None, None]
        eye = torch.eye(z.shape[1])
        chol = torch.linalg.cholesky(covariances + jitter * eye)
        y = torch.linalg.solve_triangular(chol, diff.permute(1, 2, 0), upper=False)
        mahalanobis = y.square().sum(1).t()  # [B, K]
        log_det = 2 * torch.log(torch.diagonal(chol, dim1=1, dim2=2)).sum(1)
        log_terms = -0.5 * (mahalanobis + log_det + z.shape[1] * math.log(2 * math.pi))
        energy = -torch.logsumexp(log_terms + torch.log(weights.clamp_min(1e-10)), 1)
        penalty = (1 / (torch.diagonal(covariances, dim1=1, dim2=2) + jitter)).sum()
        reconstruction = (rebuilt - x).square().sum(1).mean()
        return reconstruction + 0.1 * energy.mean() + 0.005 * penalty


class Alad(nn.Module):
    """Encoder features-64-32 (leaky ReLU 0.2), generator 32-64-128-features (ReLU), critics."""

    def __init__(self, features, latent=32):
        super().__init__()
        self.latent = latent
        self.encoder = mlp([features, 64, latent], lambda: nn.LeakyReLU(0.2))
        self.generator = mlp([latent, 64, 128, features], nn.ReLU)
        self.xz = nn.ModuleDict(
            {"x": nn.Linear(features, 128), "z": nn.Linear(latent, 128),
             "joint": nn.Linear(256, 128), "out": nn.Linear(128, 1)}
        )
        self.xx = nn.ModuleDict({"hidden": nn.Linear(2 * features, 128), "out": nn.Linear(128, 1)})
        self.zz = nn.ModuleDict({"hidden": nn.Linear(2 * latent, 32), "out": nn.Linear(32, 1)})

    def d_xz(self, x, z):
        leaky = lambda t: F.leaky_relu(t, 0.2)
        hx = leaky(self.xz["x"](x))
        hz = F.dropout(leaky(self.xz["z"](z)), 0.5, self.training)
        h = leaky(self.xz["joint"](torch.cat([hx, hz], 1)))
        return self.xz["out"](F.dropout(h, 0.5, self.training))

    @staticmethod
    def pair(d, a, b):
        h = F.leaky_relu(d["hidden"](torch.cat([a, b], 1)), 0.2)
        return d["out"](F.dropout(h, 0.2, True))

    def losses(self, x, z, passes):
        encoded, generated, rebuilt_x, rebuilt_z = passes
        pairs = [
            (self.d_xz(x, encoded), self.d_xz(generated, z)),
            (self.pair(self.xx, x, x), self.pair(self.xx, x, rebuilt_x)),
            (self.pair(self.zz, z, z), self.pair(self.zz, z, rebuilt_z)),
        ]
        real = lambda logits: F.softplus(-logits).mean()
        fake = lambda logits: F.softplus(logits).mean()
        d_loss = sum(real(r) + fake(f) for r, f in pairs)
        g_loss = sum(fake(r) + real(f) for r, f in pairs)
        return d_loss, g_loss

    def passes(self, x, z):
        encoded = self.encoder(x)
        generated = self.generator(z)
        return encoded, generated, self.generator(encoded), self.encoder(generated)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model", choices=["dagmm", "alad"])
    parser.add_argument("split", help="a folder written by `deviant data kdd99 --out`")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    _, x_train, _, _ = read_split(args.split)
    x = torch.from_numpy(x_train)
    rows, features = x.shape
    epoch_seconds = []
    if args.model == "dagmm":
        model = Dagmm(features).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
        batch_size = 1024
        for _ in range(args.epochs):
            started = time.perf_counter()
            for batch in torch.randperm(rows).split(batch_size):
                loss = model.loss(x[batch])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                loss.item()
            epoch_seconds.append(time.perf_counter() - started)
    else:
        model = Alad(features).train()
        critics = [*model.xz.parameters(), *model.xx.parameters(), *model.zz.parameters()]
        codec = [*model.encoder.parameters(), *model.generator.parameters()]
        d_optimizer = torch.optim.Adam(critics, lr=1e-5, betas=(0.5, 0.999))
        g_optimizer = torch.optim.Adam(codec, lr=1e-5, betas=(0.5, 0.999))
        batch_size = 50
        for _ in range(args.epochs):
            started = time.perf_counter()
            for batch in torch.randperm(rows).split(batch_size):
                xb = x[batch]
                z = torch.randn(xb.shape[0], model.latent)
                with torch.no_grad():
                    passes = model.passes(xb, z)
                d_loss, _ = model.losses(xb, z, passes)
                d_optimizer.zero_grad(set_to_none=True)
                d_loss.backward()
                d_optimizer.step()
                for p in critics:
                    p.requires_grad_(False)
                _, g_loss = model.losses(xb, z, model.passes(xb, z))
                g_optimizer.zero_grad(set_to_none=True)
                g_loss.backward()
                g_optimizer.step()
                for p in critics:
                    p.requires_grad_(True)
                with torch.no_grad():
                    (xb - model.generator(model.encoder(xb))).abs().mean().item()
                d_loss.item(), g_loss.item()
            epoch_seconds.append(time.perf_counter() - started)

    record = {
        "peer": f"pytorch {torch.__version__}",
        "model": args.model,
        "rows": rows,
        "features": features,
        "threads": args.threads,
        "batch_size": batch_size,
        "epoch_seconds": epoch_seconds,
        "median_epoch_seconds": statistics.median(epoch_seconds),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
    print(json.dumps(record, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(record, f, indent=2)


if __name__ == "__main__":
    main()
