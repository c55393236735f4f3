"""PyTorch implementations of deviant's DAGMM, ALAD and NSF with deviant's defaults (DAGMM and
ALAD as on KDD), timed per epoch on the training rows of a `deviant data kdd99` split or on
the rows `deviant bench perf --export` wrote (2 threads, or a GPU).

    deviant data kdd99 --protocol dagmm --out splits/dagmm
    python3 bench/peers/torch_kdd.py dagmm splits/dagmm --epochs 3 --json torch-dagmm.json
    deviant data kdd99 --protocol alad --out splits/alad
    python3 bench/peers/torch_kdd.py alad splits/alad --epochs 2 --json torch-alad.json
    deviant --device cuda bench perf -d nsf --rows 200000 --export rows.npy --json nsf.json
    python3 bench/peers/torch_kdd.py nsf rows.npy --device cuda --json torch-nsf.json

Same layers, activations, losses, optimisers, batch sizes and learning rates as deviant's
`dagmm`, `alad` and `nsf` (deep/dagmm, deep/alad, deep/adversarial.rs, deep/flow); like
deviant, every batch's losses are read back. Compare with the `epoch_seconds` of `deviant
bench kdd99` or `bench perf`. With `--device cuda` the rows go to the card once.
"""

import argparse
import json
import math
import resource
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn



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
        eye = torch.eye(z.shape[1], device=z.device)
        chol = torch.linalg.cholesky(covariances + jitter * eye)
        y = torch.linalg.solve_triangular(chol, diff.permute(1, 2, 0), upper=False)
        mahalanobis = y.square().sum(1).t()  # [B, K]
        log_det = 2 * torch.log(torch.diagonal(chol, dim1=1, dim2=2)).sum(1)
        log_terms = -0.5 * (mahalanobis + log_det + z.shape[1] * math.log(2 * math.pi))
        energy = -torch.logsumexp(log_terms + torch.log(weights.clamp_min(1e-10)), 1)
        penalty = (1 / (torch.diagonal(covariances, dim1=1, dim2=2) + jitter)).sum()
        reconstruction = (rebuilt - x).square().sum(1).mean()
        return reconstruction + 0.1 * energy.mean() + 0.005 * penalty


#: ln sqrt(2 pi), the standard normal's log normaliser per dimension.
LN_SQRT_TAU = 0.5 * math.log(2 * math.pi)


def knots(raw, bound, min_bin=1e-3):
    """Knot positions spanning [-bound, bound] from unnormalised bin sizes, and the sizes."""
    bins = raw.shape[-1]
    sizes = F.softmax(raw, -1) * (1 - min_bin * bins) + min_bin
    start = torch.zeros_like(sizes[..., :1])
    k = torch.cat([start, sizes.cumsum(-1)], -1) * (2 * bound) - bound
    return k, k[..., 1:] - k[..., :-1]


def spline(x, params, bins, bound, min_derivative=1e-3):
    """Durkan et al.'s rational-quadratic spline on [-bound, bound], identity outside, with
    boundary derivatives 1: values and log |dy/dx| per element."""
    x_knots, widths = knots(params[..., :bins], bound)
    y_knots, heights = knots(params[..., bins : 2 * bins], bound)
    edge = torch.full_like(params[..., :1], math.log(math.exp(1 - min_derivative) - 1))
    derivatives = F.softplus(torch.cat([edge, params[..., 2 * bins :], edge], -1)) + min_derivative
    inside = x.abs() < bound
    v = x.clamp(-bound, bound)
    index = ((v[..., None] >= x_knots).sum(-1, keepdim=True) - 1).clamp(0, bins - 1)
    pick = lambda t, i=index: t.gather(-1, i).squeeze(-1)
    x0, width, y0, height = pick(x_knots), pick(widths), pick(y_knots), pick(heights)
    d0, d1 = pick(derivatives), pick(derivatives, index + 1)
    slope = height / width
    bend = d0 + d1 - 2 * slope
    theta = ((v - x0) / width).clamp(0, 1)
    mix = theta * (1 - theta)
    denominator = slope + bend * mix
    out = y0 + height * (slope * theta.square() + d0 * mix) / denominator
    derivative = slope.square() * (d1 * theta.square() + 2 * slope * mix + d0 * (1 - theta).square())
    log_derivative = derivative.log() - 2 * denominator.log()
    return torch.where(inside, out, x), torch.where(inside, log_derivative, torch.zeros_like(x))


class Nsf(nn.Module):
    """Neural spline flow: 5 rational-quadratic couplings (8 bins on [-5, 5]), each with a
    features-64-64 tanh conditioner; layers alternate the odd and even features."""

    def __init__(self, features, layers=5, hidden=(64, 64), bins=8, bound=5.0):
        super().__init__()
        self.bins, self.bound = bins, bound
        widths = [features, *hidden, features * (3 * bins - 1)]
        self.conditioners = nn.ModuleList(mlp(widths, nn.Tanh) for _ in range(layers))
        passed = [[float((i + layer) % 2 == 0) for i in range(features)] for layer in range(layers)]
        self.register_buffer("passed", torch.tensor(passed))

    def negative_log_likelihood(self, x):
        z, log_det = x, torch.zeros(x.shape[0], device=x.device)
        for passed, conditioner in zip(self.passed, self.conditioners):
            params = conditioner(z * passed).reshape(*z.shape, 3 * self.bins - 1)
            y, log_derivative = spline(z, params, self.bins, self.bound)
            changed = 1 - passed
            z = z * passed + y * changed
            log_det = log_det + (log_derivative * changed).sum(1)
        return 0.5 * z.square().sum(1) + z.shape[1] * LN_SQRT_TAU - log_det


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


def alad_step(model):
    """ALAD's training step as deviant takes it: the critics' step, then the encoder and
    generator's, then the reconstruction error read back (batch 50, Adam at 1e-5)."""
    critics = [*model.xz.parameters(), *model.xx.parameters(), *model.zz.parameters()]
    codec = [*model.encoder.parameters(), *model.generator.parameters()]
    d_optimizer = torch.optim.Adam(critics, lr=1e-5, betas=(0.5, 0.999))
    g_optimizer = torch.optim.Adam(codec, lr=1e-5, betas=(0.5, 0.999))

    def step(xb):
        z = torch.randn(xb.shape[0], model.latent, device=xb.device)
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

    return model, 50, step


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model", choices=["dagmm", "alad", "nsf"])
    parser.add_argument(
        "rows", help="a folder written by `deviant data kdd99 --out`, or an f32 .npy matrix"
    )
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--json")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    if args.rows.endswith(".npy"):
        x_train = np.load(args.rows).astype(np.float32)
    else:
        from kdd_split import read_split  # pandas, needed only to read a split

        _, x_train, _, _ = read_split(args.rows)
    x = torch.from_numpy(x_train).to(device)
    rows, features = x.shape
    if args.model == "alad":
        model, batch_size, step = alad_step(Alad(features).to(device).train())
    else:
        # DAGMM and NSF minimise one loss with Adam.
        model = (Dagmm(features) if args.model == "dagmm" else Nsf(features)).to(device).train()
        lr, batch_size = (1e-4, 1024) if args.model == "dagmm" else (1e-3, 256)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        loss_of = model.loss if args.model == "dagmm" else (
            lambda xb: model.negative_log_likelihood(xb).mean()
        )

        def step(xb):
            loss = loss_of(xb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss.item()

    epoch_seconds = []
    for _ in range(args.epochs):
        started = time.perf_counter()
        for batch in torch.randperm(rows, device=device).split(batch_size):
            step(x[batch])
        epoch_seconds.append(time.perf_counter() - started)

    record = {
        "peer": f"pytorch {torch.__version__}",
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
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
