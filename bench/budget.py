"""Benchmark: how long K calls of one API take through the adaptive budget (aws/budget.py) when
AWS throttles them at random (faults.py's 30% share, which does not depend on the rate) and when
it throttles them with a token bucket (the emulator's throttle.py, AWS's own algorithm) that
leaves the caller part of the configured rate (another client in the account takes the rest).

    .venv/bin/python bench/budget.py [--calls 300] [--workers 8] [--repeats 3] [--min-factor F]

`--workers` callers share one budget and send the calls, each its share one after another, like the
operator's handlers or the CLI's parallel steps: each attempt waits for a token, a refused attempt
is reported to the budget (`throttled`, as clients.py's hook does) and retried after botocore's
standard back-off (random * 2^attempt s, at most 20 s, 5 attempts), and a call refused 5 times is
sent again (the CLI retries a failed read). The budget's rate is ListNamespaces' (0.5/s, burst 5)
times `--scale` (default 20, so a run takes seconds, not minutes; the budget's cut interval and
recovery stay in real seconds, so throttles come 20x as often per second as at 0.5/s and cut more
often: the budget's worst case). Real time, every configuration and repeat in its own thread (they
sleep, they do not compete for CPU). `--min-factor` overrides the budget's floor, e.g. 0.2 for the
floor before issue 22.
"""

from __future__ import annotations

import argparse
import random
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sd_devkit.emulator.throttle import Limit, RateLimits
from sd_operator.aws import budget as budget_module
from sd_operator.aws.budget import Budget, Rate

API = "servicediscovery:ListNamespaces"
ATTEMPTS = 5
BACKOFF_CAP_SECONDS = 20.0
RANDOM_SHARE = 0.3


@dataclass
class Run:
    seconds: float = 0.0
    sent: int = 0
    refused: int = 0
    failed_calls: int = 0


def _call(budget: Budget, accept: Callable[[], bool], run: Run, rng: random.Random) -> None:
    while True:
        for attempt in range(ATTEMPTS):
            budget.acquire(API)
            run.sent += 1
            if accept():
                return
            run.refused += 1
            budget.throttled(API)
            if attempt < ATTEMPTS - 1:
                time.sleep(min(BACKOFF_CAP_SECONDS, rng.random() * 2**attempt))
        run.failed_calls += 1


def _run(server: str, rate: Rate, calls: int, workers: int, seed: int, out: list[Run]) -> None:
    rng = random.Random(seed)
    budget = Budget({API: rate})
    accept: Callable[[], bool]
    if server == "none":
        accept = lambda: True  # noqa: E731
    elif server == "random 30%":
        accept = lambda: rng.random() >= RANDOM_SHARE  # noqa: E731
    else:
        share = float(server.rsplit(maxsplit=1)[-1].rstrip("%")) / 100
        limits = RateLimits()
        limits.configure(
            {API: Limit(rate.per_second * share, max(1.0, rate.burst * share))}, documented=False
        )
        accept = lambda: limits.take("111111111111", "us-east-1", API)  # noqa: E731
    run = Run()

    def work(share: int) -> None:
        for _ in range(share):
            _call(budget, accept, run, rng)

    start = time.monotonic()
    threads = [threading.Thread(target=work, args=(calls // workers,)) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.seconds = time.monotonic() - start
    out.append(run)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scale", type=float, default=20.0)
    parser.add_argument("--min-factor", type=float, default=budget_module.MIN_FACTOR)
    args = parser.parse_args()
    budget_module.MIN_FACTOR = args.min_factor
    default = budget_module.DEFAULT_RATES[API]
    rate = Rate(default.per_second * args.scale, default.burst * args.scale)
    servers = ["none", "random 30%", "bucket at 50%", "bucket at 20%"]
    results: dict[str, list[Run]] = {server: [] for server in servers}
    threads = [
        threading.Thread(
            target=_run,
            args=(server, rate, args.calls, args.workers, seed, results[server]),
        )
        for server in servers
        for seed in range(args.repeats)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    base = statistics.median(r.seconds for r in results["none"])
    print(
        f"floor {args.min_factor:g}, {args.calls // args.workers * args.workers} calls by "
        f"{args.workers} workers at {rate.per_second:g}/s burst "
        f"{rate.burst:g}, medians of {args.repeats}"
    )
    print("| AWS throttles | median time | x unthrottled | attempts | refused | calls failed 5x |")
    print("| --- | --- | --- | --- | --- | --- |")
    for server, runs in results.items():
        seconds = statistics.median(r.seconds for r in runs)
        print(
            f"| {server} | {seconds:.1f} s | {seconds / base:.2f} "
            f"| {statistics.median(r.sent for r in runs):g} "
            f"| {statistics.median(r.refused for r in runs):g} "
            f"| {statistics.median(r.failed_calls for r in runs):g} |"
        )


if __name__ == "__main__":
    main()
