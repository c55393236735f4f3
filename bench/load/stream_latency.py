"""Latency of `deviant stream` through a broker: rows offered at a fixed rate, each row's
time from its publication to its score's arrival on the sink.

    deviant stream model/ --from redis://127.0.0.1:6379/flows --to redis://127.0.0.1:6379/scores &
    python3 bench/load/stream_latency.py redis 127.0.0.1:6379 rows.ndjson --rate 10000 --seconds 20

    deviant stream model/ --from nats://127.0.0.1:4222/flows --to nats://127.0.0.1:4222/scores &
    python3 bench/load/stream_latency.py nats 127.0.0.1:4222 rows.ndjson --rate 10000 --seconds 20

Each row gets a field `sent_ns` (the publisher's clock; the stream echoes it as the row's id
with `--id sent_ns`), so the reader, on the same machine, subtracts it from its own clock on
arrival. Rows are published in small bursts every millisecond to hold the rate. Prints the
count, the achieved rate and the p50/p90/p99/max latency in milliseconds; the first second
is left out as warm-up.
"""

import argparse
import asyncio
import json
import threading
import time


def rows_of(path, label):
    with open(path) as f:
        for line in f:
            row = json.loads(line)
            row.pop(label, None)
            yield row


def paced(rows, rate, seconds):
    """(row, due time) at `rate` per second for `seconds`, cycling through `rows`."""
    rows = list(rows)
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        yield rows[i % len(rows)], start + i / rate


def report(latencies, sent, elapsed):
    latencies = sorted(latencies)
    if not latencies:
        print("no scores arrived")
        return
    def q(p):
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))]
    print(
        f"offered {sent} rows in {elapsed:.1f} s ({sent / elapsed:.0f} rows/s); "
        f"{len(latencies)} scores measured after warm-up: p50 {q(0.5):.2f} ms, "
        f"p90 {q(0.9):.2f} ms, p99 {q(0.99):.2f} ms, max {latencies[-1]:.2f} ms"
    )


def run_redis(address, path, args):
    import redis

    host, port = address.split(":")
    writer = redis.Redis(host=host, port=int(port))
    reader = redis.Redis(host=host, port=int(port))
    latencies, done = [], threading.Event()
    warm_until = time.time_ns() + 1_000_000_000

    def read():
        last = "$"
        while not done.is_set():
            reply = reader.xread({args.scores: last}, block=100, count=10_000)
            now = time.time_ns()
            for _, entries in reply or []:
                for entry_id, fields in entries:
                    last = entry_id
                    row = json.loads(fields[b"json"])
                    sent = int(row["id"])
                    if sent >= warm_until:
                        latencies.append((now - sent) / 1e6)

    thread = threading.Thread(target=read)
    thread.start()
    time.sleep(0.2)
    started, sent, pipe = time.perf_counter(), 0, writer.pipeline(transaction=False)
    for row, due in paced(rows_of(path, args.label), args.rate, args.seconds):
        while time.perf_counter() < due:
            pass
        row["sent_ns"] = time.time_ns()
        pipe.xadd(args.stream, {"json": json.dumps(row)})
        sent += 1
        if sent % max(1, args.rate // 1000) == 0:
            pipe.execute()
    pipe.execute()
    elapsed = time.perf_counter() - started
    time.sleep(1.0)
    done.set()
    thread.join()
    report(latencies, sent, elapsed)


def run_nats(address, path, args):
    import nats

    async def main():
        nc = await nats.connect(f"nats://{address}")
        js = nc.jetstream()
        latencies = []
        warm_until = time.time_ns() + 1_000_000_000

        async def on_score(msg):
            now = time.time_ns()
            sent = int(json.loads(msg.data)["id"])
            if sent >= warm_until:
                latencies.append((now - sent) / 1e6)

        await nc.subscribe(args.scores, cb=on_score)
        started, sent = time.perf_counter(), 0
        burst = max(1, args.rate // 1000)
        pending = []
        for row, due in paced(rows_of(path, args.label), args.rate, args.seconds):
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            row["sent_ns"] = time.time_ns()
            pending.append(await js.publish_async(args.stream, json.dumps(row).encode()))
            sent += 1
            if sent % burst == 0:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        elapsed = time.perf_counter() - started
        await asyncio.sleep(1.0)
        await nc.close()
        report(latencies, sent, elapsed)

    asyncio.run(main())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("broker", choices=["redis", "nats"])
    parser.add_argument("address", help="HOST:PORT")
    parser.add_argument("rows", help="NDJSON rows to offer")
    parser.add_argument("--stream", default="flows", help="the stream or subject rows go to")
    parser.add_argument("--scores", default="scores", help="the stream or subject scores come on")
    parser.add_argument("--label", default="label", help="a column dropped from each row")
    parser.add_argument("--rate", type=int, default=10_000, help="rows per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    {"redis": run_redis, "nats": run_nats}[args.broker](args.address, args.rows, args)
