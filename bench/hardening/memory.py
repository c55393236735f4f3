"""Hostile uploads against `deviant serve`: a gzip bomb that expands to 1 GB, a header of
100,000 columns and a single 50 MB line. For each, on a fresh server, the answer, the
server's peak resident memory (VmHWM) and the slowest `/api/v1/health` answer while the
upload was under way (polled every 20 ms from another thread).

    python bench/hardening/memory.py target/release/deviant --json out.json
"""

import argparse
import http.client
import json
import os
import subprocess
import tempfile
import threading
import time
import zlib

from serving import free_port, memory_mb


def gzip_bomb(expanded):
    """`a,b` and rows of `0,0` up to `expanded` bytes, gzipped."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"0,0\n" * (1 << 18)
    parts = [compressor.compress(b"a,b\n")]
    for _ in range(expanded // len(chunk)):
        parts.append(compressor.compress(chunk))
    parts.append(compressor.flush())
    return b"".join(parts)


def multipart(name, content):
    boundary = "deviant-bench-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return f"multipart/form-data; boundary={boundary}", head + content + f"\r\n--{boundary}--\r\n".encode()


def attack(binary, name, content):
    port = free_port()
    with tempfile.TemporaryDirectory() as home:
        server = subprocess.Popen(
            [binary, "serve", "--addr", f"127.0.0.1:{port}", "--home", home],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            lines = [server.stdout.readline() for _ in range(3)]
            token = lines[2].strip()
            baseline = memory_mb(server.pid, "VmHWM")
            slowest, stop = [0.0], threading.Event()

            def poll():
                while not stop.is_set():
                    started = time.perf_counter()
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    connection.request("GET", "/api/v1/health")
                    connection.getresponse().read()
                    slowest[0] = max(slowest[0], time.perf_counter() - started)
                    time.sleep(0.02)

            poller = threading.Thread(target=poll)
            poller.start()
            kind, body = multipart(name, content)
            started = time.perf_counter()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            connection.request("POST", "/api/v1/datasets", body, {"Content-Type": kind, "Authorization": f"Bearer {token}"})
            response = connection.getresponse()
            answer = json.loads(response.read())
            seconds = time.perf_counter() - started
            time.sleep(0.2)
            stop.set()
            poller.join()
            return {
                "upload": name,
                "bytes_sent": len(content),
                "status": response.status,
                "error": answer.get("error"),
                "seconds": round(seconds, 2),
                "rss_before_mb": round(baseline, 1),
                "peak_rss_mb": round(memory_mb(server.pid, "VmHWM"), 1),
                "slowest_health_ms": round(slowest[0] * 1000, 1),
            }
        finally:
            server.kill()
            server.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("deviant")
    parser.add_argument("--json")
    args = parser.parse_args()
    binary = os.path.abspath(args.deviant)
    uploads = [
        ("bomb.csv.gz", gzip_bomb(1 << 30)),
        ("wide.csv", (",".join(f"c{i}" for i in range(100_000)) + "\n" + ",".join(["1"] * 100_000) + "\n").encode()),
        ("line.csv", b"a,b\n1," + b"9" * (50 << 20) + b"\n"),
    ]
    records = []
    for name, content in uploads:
        records.append(attack(binary, name, content))
        print(json.dumps(records[-1]))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(records, out, indent=1)


if __name__ == "__main__":
    main()
