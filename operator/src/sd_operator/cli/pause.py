"""`pause` / `resume`: set or remove sd-operator.io/paused on resources in the cluster; the
operator then makes no AWS call for them, deletes included, until they are resumed."""

from __future__ import annotations

import argparse
import sys

from sd_operator.cli.codes import EXIT_ERROR, EXIT_OK
from sd_operator.cli.selection import selected, selection_error


def run_pause(args: argparse.Namespace) -> int:
    from sd_operator import kube

    kind = kube.KIND_NAMES[args.kind]
    wrong = selection_error(args)
    if wrong is not None:
        print(f"error: {wrong}", file=sys.stderr)
        return EXIT_ERROR
    pausing = args.command == "pause"
    try:
        cluster = kube.connect(args.kubeconfig, args.context)
        for ns, name in selected(cluster, kind, args):
            kube.set_paused(cluster, kind, ns, name, pausing)
            print(f"{kind} {ns}/{name}: {'paused' if pausing else 'resumed'}")
    except kube.KubeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK
