"""`refresh`: ask the operator to observe and reconcile resources now, outside the sweep."""

from __future__ import annotations

import argparse
import sys

from sd_operator.cli.codes import EXIT_ERROR, EXIT_OK
from sd_operator.cli.selection import selected, selection_error
from sd_operator.model.timestamps import utc_now


def run_refresh(args: argparse.Namespace) -> int:
    import time

    from sd_operator import kube

    kind = kube.KIND_NAMES[args.kind]
    wrong = selection_error(args)
    if wrong is not None:
        print(f"error: {wrong}", file=sys.stderr)
        return EXIT_ERROR
    value = utc_now()
    try:
        cluster = kube.connect(args.kubeconfig, args.context)
        targets = selected(cluster, kind, args)
        for ns, name in targets:
            kube.request_refresh(cluster, kind, ns, name, value)
            print(f"{kind} {ns}/{name}: refresh requested at {value}")
        pending = set(targets)
        deadline = time.monotonic() + args.wait
        while pending and args.wait > 0 and time.monotonic() < deadline:
            for ns, name in sorted(pending):
                honoured = kube.refresh_honoured(cluster, kind, ns, name, value)
                if honoured is not None:
                    print(f"{kind} {ns}/{name}: honoured at {honoured}")
                    pending.discard((ns, name))
            if pending:
                time.sleep(0.5)
    except kube.KubeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if pending and args.wait > 0:
        names = ", ".join(f"{ns}/{n}" for ns, n in sorted(pending))
        print(
            f"error: not honoured within {args.wait:g}s: {names} (is the operator running and "
            "watching that namespace?)",
            file=sys.stderr,
        )
        return EXIT_ERROR
    return EXIT_OK
