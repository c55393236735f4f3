"""Soak: `deviant serve` under mixed load for a while, with a training job running.

- Scoring: single rows POSTed to a trained run's `/score` at a fixed rate by `hey` (Debian's
  package; `-q` per connection), for the whole soak.
- Training: an autoencoder with an endless epoch count trains throughout, cancelled at the
  end; SSE followers read its event stream.
- Mixed: every few seconds an upload of a small CSV, a quick run on it, a batch scored with
  it, and the dataset deleted.
- Every second: the server's resident memory (VmRSS) and how long `/api/v1/health` takes.

    python bench/hardening/soak.py target/release/deviant validation.csv --minutes 10 \
        --rate 2000 --json out.json

Prints, and writes with `--json`: hey's summary (rate, p50/p99, status codes, errors), the
mixed actions and their failures, SSE events read, and resident memory after the warm-up
(the first minute): first, last, min, max and the spread (max - min) / min.
"""

import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import tempfile
import threading
import time
import uuid

from serving import free_port, memory_mb

WARM_UP_S = 60


class Api:
    def __init__(self, port, token):
        self.port, self.token = port, token

    def call(self, method, path, body=None, kind="application/json", timeout=120):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {"Authorization": f"Bearer {self.token}"}
        if body is not None:
            headers["Content-Type"] = kind
            if kind == "application/json":
                body = json.dumps(body)
        connection.request(method, path, body, headers)
        response = connection.getresponse()
        raw = response.read()
        connection.close()
        return response.status, (json.loads(raw) if raw else None)

    def upload(self, name, content):
        boundary = uuid.uuid4().hex
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode() + content + f"\r\n--{boundary}--\r\n".encode()
        return self.call("POST", "/api/v1/datasets", body, f"multipart/form-data; boundary={boundary}")

    def wait(self, run, timeout=600):
        deadline = time.time() + timeout
        while time.time() < deadline:
            status, record = self.call("GET", f"/api/v1/runs/{run}")
            if record["status"] in ("succeeded", "failed", "cancelled"):
                return record
            time.sleep(0.5)
        raise TimeoutError(f"run {run} did not finish")


def follow(api, run, stop, counts):
    """Reads the run's SSE stream, reconnecting whenever it ends, until `stop`."""
    while not stop.is_set():
        try:
            connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
            connection.request("GET", f"/api/v1/runs/{run}/events", headers={"Authorization": f"Bearer {api.token}"})
            response = connection.getresponse()
            if response.status != 200:
                counts["sse_errors"] += 1
                time.sleep(1)
                continue
            while not stop.is_set():
                line = response.fp.readline()
                if not line:
                    break
                if line.startswith(b"data:"):
                    counts["sse_events"] += 1
            connection.close()
        except OSError:
            counts["sse_errors"] += 1
            time.sleep(1)


def mix(api, small_csv, rows_body, stop, log):
    """Upload, quick run, batch scoring and delete, over and over."""
    while not stop.is_set():
        started = time.perf_counter()
        try:
            status, dataset = api.upload("small.csv", small_csv)
            log.append(("upload", status))
            status, run = api.call("POST", "/api/v1/runs", {"dataset": dataset["id"], "detector": "hbos", "label": "label"})
            log.append(("run", status))
            record = api.wait(run["id"])
            log.append(("run finished", 200 if record["status"] == "succeeded" else 500))
            status, _ = api.call("POST", f"/api/v1/runs/{run['id']}/score?batch=true", rows_body)
            log.append(("batch score", status))
            status, _ = api.call("DELETE", f"/api/v1/datasets/{dataset['id']}")
            log.append(("delete", status))
        except Exception as error:  # noqa: BLE001 - any failure is counted, not raised
            log.append((f"exception {error!r}", 0))
        stop.wait(max(0.0, 5.0 - (time.perf_counter() - started)))


def hey_summary(text):
    def number(pattern):
        found = re.search(pattern, text)
        return float(found.group(1)) if found else None

    codes = {m.group(1): int(m.group(2)) for m in re.finditer(r"\[(\d{3})\]\s+(\d+) responses", text)}
    errors = re.search(r"Error distribution:\n((?:.+\n?)*)", text)
    return {
        "requests_per_s": number(r"Requests/sec:\s+([\d.]+)"),
        "p50_ms": None if number(r"50% in ([\d.]+) secs") is None else number(r"50% in ([\d.]+) secs") * 1000,
        "p99_ms": None if number(r"99% in ([\d.]+) secs") is None else number(r"99% in ([\d.]+) secs") * 1000,
        "slowest_ms": None if number(r"Slowest:\s+([\d.]+) secs") is None else number(r"Slowest:\s+([\d.]+) secs") * 1000,
        "status_codes": codes,
        "errors": errors.group(1).strip() if errors else "",
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("deviant")
    parser.add_argument("data", help="a labelled CSV (the KDD cloudera validation split)")
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=int, default=2000, help="scoring requests per second")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--followers", type=int, default=4)
    parser.add_argument("--without", default="", help="parts left out, to find what grows: training,mix")
    parser.add_argument("--json")
    args = parser.parse_args()
    without = set(filter(None, args.without.split(",")))
    binary = os.path.abspath(args.deviant)
    with open(args.data, "rb") as f:
        content = f.read()
    lines = content.splitlines(keepends=True)
    small_csv = b"".join(lines[:2001])
    header = lines[0].decode().strip().split(",")
    rows_body = {"rows": [dict(zip(header, line.decode().strip().split(","))) for line in lines[1:51]]}
    single = "bench/load/cloudera-row.json"

    port = free_port()
    with tempfile.TemporaryDirectory() as home:
        server = subprocess.Popen(
            # Two workers: one for the endless training, one for the mixed actions' runs.
            [binary, "serve", "--addr", f"127.0.0.1:{port}", "--home", home, "--workers", "2"],
            stdout=subprocess.PIPE,
            text=True,
        )
        stop = threading.Event()
        try:
            token = [server.stdout.readline() for _ in range(3)][2].strip()
            api = Api(port, token)
            status, dataset = api.upload("validation.csv", content)
            assert status == 201, (status, dataset)
            status, scorer = api.call("POST", "/api/v1/runs", {"dataset": dataset["id"], "detector": "ae", "label": "label", "params": {"training": {"epochs": 10}}})
            assert api.wait(scorer["id"])["status"] == "succeeded"
            trainer = None
            if "training" not in without:
                status, trainer = api.call("POST", "/api/v1/runs", {"dataset": dataset["id"], "detector": "ae", "label": "label", "params": {"training": {"epochs": 100000, "patience": 0}}})
                assert status == 202, (status, trainer)

            counts = {"sse_events": 0, "sse_errors": 0}
            log, samples = [], []
            threads = []
            if trainer:
                threads += [threading.Thread(target=follow, args=(api, trainer["id"], stop, counts)) for _ in range(args.followers)]
            if "mix" not in without:
                threads.append(threading.Thread(target=mix, args=(api, small_csv, rows_body, stop, log)))
            for thread in threads:
                thread.start()
            seconds = int(args.minutes * 60)
            per_connection = args.rate / args.connections
            hey = subprocess.Popen(
                ["hey", "-z", f"{seconds}s", "-q", f"{per_connection:g}", "-c", str(args.connections), "-m", "POST",
                 "-T", "application/json", "-H", f"Authorization: Bearer {token}", "-D", single,
                 f"http://127.0.0.1:{port}/api/v1/runs/{scorer['id']}/score"],
                stdout=subprocess.PIPE,
                text=True,
            )
            started = time.time()
            while hey.poll() is None:
                t0 = time.perf_counter()
                health_status, _ = api.call("GET", "/api/v1/health")
                health_ms = (time.perf_counter() - t0) * 1000
                samples.append({"t": round(time.time() - started, 1), "rss_mb": round(memory_mb(server.pid, "VmRSS"), 1), "health_ms": round(health_ms, 2), "health_status": health_status})
                time.sleep(max(0.0, 1.0 - (time.perf_counter() - t0)))
            scoring = hey_summary(hey.stdout.read())
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
            trainer_status = None
            if trainer:
                api.call("POST", f"/api/v1/runs/{trainer['id']}/cancel")
                trainer_status = api.wait(trainer["id"])["status"]
        finally:
            stop.set()
            server.kill()
            server.wait()

    # A soak shorter than the warm-up (a trial of the script) measures every sample.
    after = [s["rss_mb"] for s in samples if s["t"] >= WARM_UP_S] or [s["rss_mb"] for s in samples]
    failures = [entry for entry in log if not 200 <= entry[1] < 300]
    result = {
        "minutes": args.minutes,
        "rate_offered": args.rate,
        "scoring": scoring,
        "mixed_actions": len(log),
        "mixed_failures": failures[:20],
        "mixed_failure_count": len(failures),
        "sse": counts,
        "without": sorted(without),
        "training_run_after_cancel": trainer_status,
        "health_ms": {
            "median": round(statistics.median(s["health_ms"] for s in samples), 2),
            "max": max(s["health_ms"] for s in samples),
            "non_200": sum(1 for s in samples if s["health_status"] != 200),
        },
        "rss_after_warm_up_mb": {
            "first": after[0],
            "last": after[-1],
            "min": min(after),
            "max": max(after),
            "spread": round((max(after) - min(after)) / min(after), 4),
        },
        "samples": samples,
    }
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=1))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=1)


if __name__ == "__main__":
    main()
