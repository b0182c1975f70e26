"""Python's side of the process-pool round-trip benchmark (benches/src/process.rs).

asyncio's loop.run_in_executor on a ProcessPoolExecutor with one worker, awaited one call
after another: the same workload as evloop's "process pool round trip" row. Prints one line,
`python-process-roundtrip <median ns/op> <ops> <rounds>`, which the Rust benchmark reads.

Run alone: python3 benches/python/asyncio_process_pool.py [ops] [rounds]
"""

import asyncio
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor


def inc(x):
    """The trivial job, as in the Rust benchmark."""
    return x + 1


async def round_trips(pool, ops):
    """Awaits `ops` sequential calls; returns ns per call."""
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(pool, inc, 0)  # warm-up: the worker is started
    start = time.perf_counter_ns()
    total = 0
    for i in range(ops):
        total += await loop.run_in_executor(pool, inc, i)
    elapsed = time.perf_counter_ns() - start
    assert total == sum(range(1, ops + 1))
    return elapsed / ops


def main():
    ops = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    samples = []
    with ProcessPoolExecutor(max_workers=1) as pool:
        for _ in range(rounds):
            samples.append(asyncio.run(round_trips(pool, ops)))
    print(f"python-process-roundtrip {statistics.median(samples):.0f} {ops} {rounds}")


if __name__ == "__main__":
    main()
