"""Reading and validating a large manifest file: `load_manifests` on one multi-document file.

Writes a file of N CloudMapNamespace documents (about 140 bytes each, so 20,000 make 2.8 MB),
loads it R times in this process and prints the median, plus the YAML parse alone (the loader
`load_manifests` uses) so the two costs can be told apart.

    .venv/bin/python bench/manifests.py [--documents 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from sd_operator.model import parse

DOCUMENT = """\
---
apiVersion: sd-operator.io/v1alpha1
kind: CloudMapNamespace
metadata: {{name: ns-{i:05d}, namespace: bench}}
spec: {{name: ns-{i:05d}.bench.local, type: Http}}
"""


def _median_seconds(rounds: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "namespaces.yaml"
        path.write_text("".join(DOCUMENT.format(i=i) for i in range(args.documents)))
        text = path.read_text()
        loader = getattr(parse, "_Loader", yaml.SafeLoader)
        parse_only = _median_seconds(args.rounds, lambda: list(yaml.load_all(text, loader)))
        whole = _median_seconds(args.rounds, lambda: parse.load_manifests([str(path)]))
        found = len(parse.load_manifests([str(path)]))
        size = path.stat().st_size
    assert found == args.documents, found
    print(f"file: {args.documents} documents, {size / 1e6:.2f} MB")
    print(f"loader: {loader.__mro__[1].__name__}")
    print(f"median of {args.rounds}: YAML parse {parse_only:.2f} s, load_manifests {whole:.2f} s")


if __name__ == "__main__":
    main()
