"""Process-wide singletons are built once, however many threads ask at the same moment.

A restarted operator meets every existing resource at once: kopf's 32 executor threads all
asked for the boto3 clients (and the CRD schemas) together, functools.cache let each build its
own, and the operator's peak RSS went from about 150 MiB to over 400 MiB at 100 resources."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from sd_operator.aws.clients import AwsConfig, cloudmap_client, ecs_client
from sd_operator.once import once_per_key

THREADS = 32


def _together(call: Callable[[], Any]) -> list[Any]:
    """`call` from THREADS threads released at the same instant; their answers."""
    start = threading.Barrier(THREADS)
    answers: list[Any] = [None] * THREADS

    def run(i: int) -> None:
        start.wait()
        answers[i] = call()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def test_concurrent_misses_compute_once() -> None:
    built: list[str] = []

    @once_per_key
    def slow(key: str) -> object:
        built.append(key)
        time.sleep(0.05)  # long enough that every thread misses while the first computes
        return object()

    answers = _together(lambda: slow("a"))
    assert built == ["a"]
    assert len({id(a) for a in answers}) == 1
    assert slow("b") is not answers[0]
    assert built == ["a", "b"]


def test_threads_starting_together_share_one_client_per_service() -> None:
    # An endpoint no other test uses: this process has never built these clients.
    config = AwsConfig("us-east-1", f"http://127.0.0.1:9/{uuid.uuid4().hex}")
    cloudmap = _together(lambda: cloudmap_client(config))
    ecs = _together(lambda: ecs_client(config))
    assert len({id(c) for c in cloudmap}) == 1, "a boto3 client per thread"
    assert len({id(c) for c in ecs}) == 1, "a boto3 client per thread"


def test_clients_of_every_service_and_region_share_one_loader() -> None:
    # A boto3 Session per client held botocore's endpoint data (about 7 MiB parsed) and the
    # service models once per client; botocore's loaders held 21 MiB at the restarted operator's
    # peak at 1,000 resources (bench/RESULTS.md, peak RSS).
    configs = [
        AwsConfig(region, f"http://127.0.0.1:9/{uuid.uuid4().hex}")
        for region in ("us-east-1", "eu-west-1")
    ]
    clients = [make(c) for c in configs for make in (cloudmap_client, ecs_client)]
    assert len({id(c._loader) for c in clients}) == 1
