"""Which resources in the cluster a verb acts on (`refresh`, `pause`, `resume`): named ones in
a namespace, or --all of a kind, in one namespace or every one (-A)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the kubernetes client loads only for the verbs that use it
    from sd_operator.kube import Cluster


def selection_error(args: argparse.Namespace) -> str | None:
    """What is wrong with the selection on the command line, if anything."""
    if bool(args.names) == bool(args.all):
        return "name the resources, or give --all (not both)"
    if args.all_namespaces and not args.all:
        return "-A goes with --all"
    return None


def selected(cluster: Cluster, kind: str, args: argparse.Namespace) -> list[tuple[str, str]]:
    """(namespace, name) of each resource of `kind` the command line selects."""
    from sd_operator import kube

    namespace = args.namespace or cluster.namespace
    if args.all:
        return kube.names_in(cluster, kind, None if args.all_namespaces else namespace)
    return [(namespace, n) for n in args.names]
