"""`plan`, `apply` and `delete`: read the resources, refuse a set that clashes, then plan or
converge it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from sd_operator.aws.adapters import Adapters
from sd_operator.cli.apply import apply_resources
from sd_operator.cli.codes import EXIT_ERROR
from sd_operator.cli.configure import configured
from sd_operator.cli.delete import delete_resources
from sd_operator.cli.from_cluster import _from_cluster, _hint_cluster_name
from sd_operator.cli.grants import Checked, Grants, check_grants, deletion_defaults
from sd_operator.cli.plan import plan_deletion, plan_exit_code, plan_resources
from sd_operator.cli.render import render_plan
from sd_operator.cli.resources import _label, set_clashes
from sd_operator.cli.roles import flagged_role
from sd_operator.model.grants import OWN_CREDENTIALS, Acting
from sd_operator.model.parse import SpecError, grants_of, load_grants, load_manifests
from sd_operator.model.spec import PAUSED_ANNOTATION, PAUSED_MESSAGE, Resource
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.settings import Settings


def run_cli(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    read = _resources(args, environ)
    if read is None:
        return EXIT_ERROR
    resources, cluster_grants = read
    # The region check waits for the manifests: resources that all name a region need none.
    settings = configured(args, environ, resources)
    if (
        settings is None
        or _clashes(resources, settings)
        or (args.command != "plan" and _paused(resources, args.command))
    ):
        return EXIT_ERROR
    # The one place the intent is chosen: apply the manifests, or delete what they made.
    delete = args.command == "delete" or (args.command == "plan" and args.delete)
    granted = _granted(args, resources, cluster_grants, settings.aws.region, delete=delete)
    if granted is None:
        return EXIT_ERROR
    checked, acting = granted
    reconciler = Reconciler(
        Adapters(settings.aws.region, settings.aws.endpoint_url, role=acting.role),
        settings.cluster,
    )
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
    args: argparse.Namespace,
    resources: list[Resource],
    cluster_grants: list[tuple[Mapping[str, Any], str]] | None,
    region: str,
    *,
    delete: bool,
) -> tuple[Checked, Acting] | None:
    """The resources as the grants allow them (--grants, else the cluster's for
    --from-cluster; all of them, unchanged, without either), and the role the run acts through
    (`_role`); None, said on stderr, when the grants cannot be read or the role is not clear."""
    try:
        given: Grants | None
        if args.grants:
            given = load_grants(args.grants)
        elif cluster_grants is not None:
            given = grants_of(cluster_grants)
        else:
            given = None
        if given is None:
            checked = Checked(resources, [])
        elif delete:
            checked = deletion_defaults(given, resources)
        else:
            checked = check_grants(given, resources, region)
    except SpecError as exc:
        print(f"error: grants: {exc}", file=sys.stderr)
        return None
    acting = _role(args, checked, judged=given is not None)
    if isinstance(acting, str):
        print(f"error: {acting}", file=sys.stderr)
        return None
    return checked, acting


def _role(args: argparse.Namespace, checked: Checked, *, judged: bool) -> Acting | str:
    """The one role this run acts through: --role-arn, or the one the grants (if `judged`) give
    every resource allowed; why not, when they disagree or the grants name several. One
    account per run: apply checks the whole set before changing anything, in one account."""
    flagged = flagged_role(args)
    if isinstance(flagged, str) or not judged or not checked.roles:
        return flagged
    if len(checked.roles) > 1:
        named = ", ".join(sorted(str(r or OWN_CREDENTIALS) for r in checked.roles))
        return (
            f"the grants put these resources in several AWS accounts ({named}): nothing was "
            "read or changed; run once per account, with each account's manifests (or "
            "namespaces: -n)"
        )
    [granted] = checked.roles
    if args.role_arn is not None and granted != flagged.role:
        return (
            f"--role-arn {args.role_arn} is not the role the grants give these resources "
            f"({granted or OWN_CREDENTIALS}): nothing was read or changed"
        )
    return Acting(granted)


def _resources(
    args: argparse.Namespace, environ: Mapping[str, str]
) -> tuple[list[Resource], list[tuple[Mapping[str, Any], str]] | None] | None:
    """The resources to act on, from the cluster (with its grants) or the manifests; None,
    said on stderr, if there are none or they cannot be read."""
    cluster_grants = None
    if getattr(args, "from_cluster", False):
        loaded = _from_cluster(args, environ)
        if loaded is None:
            return None
        resources, cluster_grants = loaded.resources, loaded.grants
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
    return resources, cluster_grants


def _paused(resources: Sequence[Resource], command: str) -> bool:
    """Whether a manifest is paused: `apply` and `delete` then refuse the whole set, before
    any AWS call, each paused one said on stderr. Skipping it would carry out a set only in
    part (its ServiceDiscoveries without their namespace, say), and no later sweep resumes it."""
    paused = [res for res in resources if res.paused]
    for res in paused:
        print(f"error: {_label(res)} ({res.source}): paused: {PAUSED_MESSAGE}", file=sys.stderr)
    if paused:
        print(
            f"error: nothing was read or changed: {len(paused)} resource(s) paused; remove "
            f"{PAUSED_ANNOTATION} from them to {command} them, or leave them out",
            file=sys.stderr,
        )
    return bool(paused)


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
