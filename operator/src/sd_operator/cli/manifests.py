"""`plan`, `apply` and `delete`: read the resources, refuse a set that clashes, then plan or
converge it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence

from sd_operator.aws.adapters import Adapters
from sd_operator.cli.apply import apply_resources
from sd_operator.cli.codes import EXIT_ERROR
from sd_operator.cli.configure import configured
from sd_operator.cli.delete import delete_resources
from sd_operator.cli.from_cluster import _from_cluster, _hint_cluster_name
from sd_operator.cli.grants import Checked, check_grants, deletion_defaults
from sd_operator.cli.plan import plan_deletion, plan_exit_code, plan_resources
from sd_operator.cli.render import render_plan
from sd_operator.cli.resources import set_clashes
from sd_operator.model.parse import SpecError, load_manifests
from sd_operator.model.spec import Resource
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.settings import Settings


def run_cli(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    resources = _resources(args, environ)
    if resources is None:
        return EXIT_ERROR
    # The region check waits for the manifests: resources that all name a region need none.
    settings = configured(args, environ, resources)
    if settings is None or _clashes(resources, settings):
        return EXIT_ERROR
    reconciler = Reconciler(
        Adapters(settings.aws.region, settings.aws.endpoint_url), settings.cluster
    )
    # The one place the intent is chosen: apply the manifests, or delete what they made.
    delete = args.command == "delete" or (args.command == "plan" and args.delete)
    checked = _granted(args.grants, resources, settings.aws.region, delete=delete)
    if checked is None:
        return EXIT_ERROR
    resources, refused = checked.allowed, checked.refused
    if args.command == "plan":
        planner = plan_deletion if delete else plan_resources
        reports = refused + planner(reconciler, resources)
        render_plan(
            reports,
            sys.stdout,
            args.output,
            cluster_name=settings.cluster.name,
            operation="delete" if delete else "apply",
        )
        _hint_cluster_name(reports, args, environ)
        return plan_exit_code(reports)
    if delete:
        return delete_resources(reconciler, resources, timeout=args.timeout, out=sys.stdout)
    return apply_resources(
        reconciler, resources, timeout=args.timeout, out=sys.stdout, refused=refused
    )


def _granted(
    paths: Sequence[str] | None, resources: list[Resource], region: str, *, delete: bool
) -> Checked | None:
    """The resources as --grants allows them (all of them, unchanged, without the flag); None,
    said on stderr, when a grants file cannot be read."""
    if not paths:
        return Checked(resources, [])
    try:
        if delete:
            return Checked(deletion_defaults(paths, resources), [])
        return check_grants(paths, resources, region)
    except SpecError as exc:
        print(f"error: --grants: {exc}", file=sys.stderr)
        return None


def _resources(args: argparse.Namespace, environ: Mapping[str, str]) -> list[Resource] | None:
    """The resources to act on, from the cluster or the manifests; None, said on stderr, if
    there are none or they cannot be read."""
    if getattr(args, "from_cluster", False):
        loaded = _from_cluster(args, environ)
        if loaded is None:
            return None
        resources = loaded
    else:
        try:
            resources = load_manifests(args.filename)
        except SpecError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return None
    if not resources:
        where = "the cluster" if args.filename is None else ", ".join(args.filename)
        print(f"error: no sd-operator.io resources found in {where}", file=sys.stderr)
        return None
    return resources


def _clashes(resources: Sequence[Resource], settings: Settings) -> bool:
    """Whether two resources claim one AWS resource: each clash said on stderr."""
    found = set_clashes(resources, settings.aws.region)
    for clash in found:
        print(f"error: {clash.message}", file=sys.stderr)
    if found:
        print(
            f"error: nothing was changed: {len(found)} conflict(s) in the set; each ECS service, "
            "Cloud Map namespace (per region) and Cloud Map service has one owner",
            file=sys.stderr,
        )
    return bool(found)
