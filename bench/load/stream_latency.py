"""Latency of `deviant stream` through a broker: rows offered at a fixed rate, each row's
time from its publication to its score's arrival on the sink.

    deviant stream model/ --from redis://127.0.0.1:6379/flows --to redis://127.0.0.1:6379/scores &
    python3 bench/load/stream_latency.py redis 127.0.0.1:6379 rows.ndjson --rate 10000 --seconds 20 --publishers 2

    deviant stream model/ --from nats://127.0.0.1:4222/flows --to nats://127.0.0.1:4222/scores &
    python3 bench/load/stream_latency.py nats 127.0.0.1:4222 rows.ndjson --rate 10000 --seconds 20

Each row gets a field `sent_ns` (the publisher's clock; the stream echoes it as the row's id
with `--id sent_ns`), so the reader — a process of its own, so that it never waits for the
publisher — subtracts it from its own clock on arrival. Rows are published in small bursts
every millisecond to hold the rate. Prints the count, the achieved rate and the
p50/p90/p99/max latency in milliseconds; the first second is left out as warm-up.
"""

import argparse
import asyncio
import json
import multiprocessing
import time


def rows_of(path, label):
    """Each row as JSON text without its label and without the opening brace, so the send
    time is prepended at the last moment by joining strings."""
    with open(path) as f:
        for line in f:
            row = json.loads(line)
            row.pop(label, None)
            yield json.dumps(row)[1:]


def stamped(rest):
    return '{"sent_ns":%d,%s' % (time.time_ns(), rest)


def paced(rows, rate, seconds):
    """(row, due time) at `rate` per second for `seconds`, cycling through `rows` (a list,
    read before the clock starts)."""
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


def read_redis(address, scores, warm_until, done, out):
    import redis

    host, port = address.split(":")
    reader = redis.Redis(host=host, port=int(port))
    latencies, last = [], "$"
    while not done.is_set():
        reply = reader.xread({scores: last}, block=100, count=10_000)
        now = time.time_ns()
        for _, entries in reply or []:
            for entry_id, fields in entries:
                last = entry_id
                sent = int(json.loads(fields[b"json"])["id"])
                if sent >= warm_until:
                    latencies.append((now - sent) / 1e6)
    out.send(latencies)


def run_redis(address, path, args):
    warm_until = time.time_ns() + 1_000_000_000
    done = multiprocessing.Event()
    receive, send = multiprocessing.Pipe(duplex=False)
    reader = multiprocessing.Process(
        target=read_redis, args=(address, args.scores, warm_until, done, send)
    )
    reader.start()
    time.sleep(0.5)
    share = args.rate // args.publishers
    with multiprocessing.Pool(args.publishers) as pool:
        done_by = pool.starmap(
            publish_redis,
            [(address, path, args.label, args.stream, share, args.seconds)] * args.publishers,
        )
    sent = sum(n for n, _ in done_by)
    elapsed = max(seconds for _, seconds in done_by)
    time.sleep(1.0)
    done.set()
    latencies = receive.recv()
    reader.join()
    report(latencies, sent, elapsed)


def publish_redis(address, path, label, stream, rate, seconds):
    import redis

    host, port = address.split(":")
    pipe = redis.Redis(host=host, port=int(port)).pipeline(transaction=False)
    rows = list(rows_of(path, label))
    sent, started = 0, time.perf_counter()
    for row, due in paced(rows, rate, seconds):
        while time.perf_counter() < due:
            pass
        pipe.xadd(stream, {"json": stamped(row)})
        sent += 1
        if sent % max(1, rate // 1000) == 0:
            pipe.execute()
    pipe.execute()
    return sent, time.perf_counter() - started


def read_nats(address, scores, warm_until, seconds, out):
    import nats

    async def main():
        nc = await nats.connect(f"nats://{address}")
        latencies = []

        async def on_score(msg):
            now = time.time_ns()
            sent = int(json.loads(msg.data)["id"])
            if sent >= warm_until:
                latencies.append((now - sent) / 1e6)

        await nc.subscribe(scores, cb=on_score)
        await asyncio.sleep(seconds)
        await nc.close()
        return latencies

    out.send(asyncio.run(main()))


def run_nats(address, path, args):
    import nats

    warm_until = time.time_ns() + 1_000_000_000
    receive, send = multiprocessing.Pipe(duplex=False)
    reader = multiprocessing.Process(
        target=read_nats, args=(address, args.scores, warm_until, args.seconds + 3.0, send)
    )
    reader.start()
    time.sleep(0.5)

    async def publish():
        nc = await nats.connect(f"nats://{address}")
        js = nc.jetstream()
        rows = list(rows_of(path, args.label))
        started, sent = time.perf_counter(), 0
        burst = max(1, args.rate // 1000)
        pending = []
        for row, due in paced(rows, args.rate, args.seconds):
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            pending.append(await js.publish_async(args.stream, stamped(row).encode()))
            sent += 1
            if sent % burst == 0:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        elapsed = time.perf_counter() - started
        await nc.close()
        return sent, elapsed

    sent, elapsed = asyncio.run(publish())
    latencies = receive.recv()
    reader.join()
    report(latencies, sent, elapsed)


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
    parser.add_argument(
        "--publishers", type=int, default=1, help="processes sharing the rate (Redis only)"
    )
    args = parser.parse_args()
    {"redis": run_redis, "nats": run_nats}[args.broker](args.address, args.rows, args)
