#!/usr/bin/env bash
# Issue 31's GPU measurements in one call on a lent NVIDIA machine (the device tool): the deep
# detectors trained on the GPU through wgpu (Vulkan; deviant has no CUDA build, ARCHITECTURE.md
# "Devices"), their models moved to the CPU and back, then deviant against PyTorch CUDA on the
# same card, the same work alternated twice:
#   - the 121-64-32-8 autoencoder's epoch, 200,000 rows, batch 1,024;
#   - ALAD's epoch at batch 50 (the paper's regime) on as many rows as the `alad` training set;
#   - NSF's epoch (the kind's defaults, batch 256) on the same rows;
#   - scoring 1,000,000 rows with the autoencoder.
#
# Two steps:
#   bench/gpu/run.sh prepare     here: builds the release binary with the GPU features, packs
#                                it into bench/gpu/carry/ and fetches the Vulkan loader (.gl/)
#   bench/gpu/run.sh             there, as the device tool's command, carrying
#                                ["bench/gpu/carry", ".gl"]; results go to $OUT
#   bench/gpu/run.sh smoke       here: the same steps, a hundredth of the size, on lavapipe and
#                                without PyTorch
#
# The measurements are written as JSON records (deviant's `bench perf` and the peers') and
# one table, summary.md, that BENCHMARKS.md quotes.
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-measure}
carry=bench/gpu/carry

if [ "$mode" = prepare ]; then
    cargo build --release -p deviant-cli --features wgpu
    mkdir -p "$carry"
    strip -o "$carry/deviant" target/release/deviant
    gzip -f -9 "$carry/deviant"
    # .gl/ and bench/gpu/carry/ are ignored by git; the device tool carries them.
    mkdir -p .gl /tmp/amd64/partial
    o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
    apt-get "${o[@]}" update -qq
    (cd .gl && apt-get "${o[@]}" download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0)
    du -sh "$carry" .gl
    exit 0
fi

if [ "$mode" = smoke ]; then
    # Everything below at a hundredth of the size on whatever Vulkan driver is here, with a
    # binary built with the wgpu feature (scripts/test builds target/debug/deviant so).
    out=$(mktemp -d)
    bin=${DEVIANT_BIN:-target/debug/deviant}
    scale=100
    gpus=(wgpu)
    peer=false
else
    out=${OUT:?run on the device machine, or say smoke}
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
    icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    [ -f "$icd" ] && export VK_DRIVER_FILES=$icd
    gunzip -c "$carry/deviant.gz" > /tmp/deviant
    chmod +x /tmp/deviant
    bin=/tmp/deviant
    scale=1
    gpus=(wgpu)
    peer=true
    nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv \
        | tee "$out/gpu.csv"
fi
export PYTHONUNBUFFERED=1

# 1. Every deep kind trains on the GPU (small settings), and its model scores the
# same on the CPU as on the GPU: deviant's own check of the device path, with the tolerance
# of the contract test (relative 1e-3).
# A failure here is reported at the end; the timings still run.
deep_failed=0
python3 - "$bin" "$out" "${gpus[@]}" <<'EOF' || deep_failed=1
import csv, json, random, subprocess, sys, tempfile, os
bin, out, gpus = sys.argv[1], sys.argv[2], sys.argv[3:]
kinds = ["ae", "vae", "aae", "dagmm", "vaegmm", "deep_svdd", "bigan", "alad",
         "realnvp", "maf", "nsf", "seq2seq", "conv_ae"]
work = tempfile.mkdtemp()
data = os.path.join(work, "rows.csv")
rng = random.Random(1)
with open(data, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow([f"f{i}" for i in range(6)])
    for _ in range(2000):
        a, b = rng.gauss(0, 1), rng.gauss(0, 1)
        w.writerow([a, b, a + b, a - b, 0.5 * a, -b])

def scores(device, model):
    path = os.path.join(work, f"scores-{device}.csv")
    subprocess.run([bin, "-q", "--device", device, "score", model, data, "-o", path], check=True)
    with open(path) as f:
        return [float(r["score"]) for r in csv.DictReader(f)]

lines = ["| kind | " + " | ".join(f"{g}: fit s | {g}→cpu worst" for g in gpus) + " |",
         "|---|" + "---|---|" * len(gpus)]
failed = False
for kind in kinds:
    cells = []
    for gpu in gpus:
        model = os.path.join(work, f"{kind}-{gpu}")
        extra = ["--set", "height=1"] if kind == "conv_ae" else []
        fit = subprocess.run([bin, "-q", "--device", gpu, "fit", data, "-d", kind,
                              "--set", "training.epochs=5", *extra, "-o", model],
                             capture_output=True, text=True)
        if fit.returncode != 0:
            cells += ["failed", fit.stderr.strip().splitlines()[-1][:80]]
            failed = True
            continue
        manifest = json.load(open(os.path.join(model, "manifest.json")))
        seconds = manifest.get("training", {}).get("fit_seconds", float("nan"))
        on_gpu, on_cpu = scores(gpu, model), scores("cpu", model)
        worst = max(abs(a - b) / max(abs(b), 1.0) for a, b in zip(on_cpu, on_gpu))
        failed |= worst > 1e-3
        cells += [f"{seconds:.2f}", f"{worst:.1e}"]
    lines.append(f"| {kind} | " + " | ".join(cells) + " |")
table = "\n".join(lines)
print(table)
with open(os.path.join(out, "deep-kinds.md"), "w") as f:
    f.write(table + "\n")
sys.exit(1 if failed else 0)
EOF

# 2. deviant against PyTorch on the same rows, alternated (deviant, peer, deviant, peer).
rows_ae=$((200000 / scale))
rows_alad=$((238000 / scale))
rows_score=$((1000000 / scale))
perf() { # NAME ROWS DEVICE ARGS...: one `bench perf` record
    local name=$1 rows=$2 device=$3
    shift 3
    "$bin" -q --device "$device" bench perf --rows "$rows" --features 121 --single-rows 0 \
        --export "$out/rows-$rows.npy" --json "$out/$name.json" "$@" > /dev/null
}
for round in 1 2; do
    for gpu in "${gpus[@]}"; do
        perf "ae-$gpu-$round" "$rows_ae" "$gpu" -d ae --set training.epochs=3
        perf "alad-$gpu-$round" "$rows_alad" "$gpu" -d alad --set training.epochs=1 \
            --set training.validation_fraction=0 --score-repeats 1
        perf "nsf-$gpu-$round" "$rows_alad" "$gpu" -d nsf --set training.epochs=1 \
            --set training.validation_fraction=0 --score-repeats 1
        perf "score-$gpu-$round" "$rows_score" "$gpu" -d ae --set training.epochs=1
    done
    if $peer; then
        python3 bench/peers/torch_ae.py "$out/rows-$rows_ae.npy" --device cuda --epochs 3 \
            --single-rows 0 --json "$out/torch-ae-$round.json" > /dev/null
        python3 bench/peers/torch_kdd.py alad "$out/rows-$rows_alad.npy" --device cuda \
            --epochs 1 --json "$out/torch-alad-$round.json" > /dev/null
        python3 bench/peers/torch_kdd.py nsf "$out/rows-$rows_alad.npy" --device cuda \
            --epochs 1 --json "$out/torch-nsf-$round.json" > /dev/null
        python3 bench/peers/torch_ae.py "$out/rows-$rows_score.npy" --device cuda --epochs 1 \
            --single-rows 0 --json "$out/torch-score-$round.json" > /dev/null
    fi
done
rm -f "$out"/rows-*.npy

# 3. One table: the better of the two rounds on each side, and the ratios the issue targets.
python3 - "$out" "$peer" "${gpus[@]}" <<'EOF'
import glob, json, os, sys
out, peer, gpus = sys.argv[1], sys.argv[2] == "true", sys.argv[3:]
def best(pattern, key):
    values = [json.load(open(p))[key] for p in sorted(glob.glob(os.path.join(out, pattern)))]
    values = [v for v in values if v is not None]
    return (max if key.endswith("per_second") else min)(values) if values else None
work = [("AE epoch (s)", "ae", "median_epoch_seconds", 1.5),
        ("ALAD epoch (s)", "alad", "median_epoch_seconds", 2.0),
        ("NSF epoch (s)", "nsf", "median_epoch_seconds", 1.5),
        ("scoring (rows/s)", "score", "score_rows_per_second", 1.0)]
lines = ["| work | " + " | ".join(f"deviant {g}" for g in gpus) + " | PyTorch CUDA | target |",
         "|---|" + "---|" * len(gpus) + "---|---|"]
for label, name, key, limit in work:
    ours = [best(f"{name}-{g}-*.json", key) for g in gpus]
    theirs = best(f"torch-{name}-*.json", key) if peer else None
    cells = []
    for v in ours:
        ratio = ""
        if v is not None and theirs:
            ratio = f" ({v / theirs:.2f}×)" if "epoch" in label else f" ({v / theirs:.2f}× the rate)"
        cells.append(f"{v:.4g}{ratio}" if v is not None else "—")
    target = f"≤ {limit}× PyTorch's time" if "epoch" in label else "≥ PyTorch's rate"
    lines.append(f"| {label} | " + " | ".join(cells) + f" | {theirs:.4g} | {target} |" if theirs
                 else f"| {label} | " + " | ".join(cells) + f" | — | {target} |")
for g in gpus:
    rec = json.load(open(sorted(glob.glob(os.path.join(out, f"ae-{g}-*.json")))[0]))
    lines.append(f"\n{g}: {rec['device']}; AE epoch at {rec['epoch_flops_per_second'] / 1e12:.3f} "
                 f"TFLOP/s, a {rec['matmul_flops_per_second'] / 1e12:.1f} TFLOP/s 4,096² product")
table = "\n".join(lines)
print(table)
with open(os.path.join(out, "summary.md"), "w") as f:
    f.write(table + "\n")
EOF
exit "$deep_failed"
