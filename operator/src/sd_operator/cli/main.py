"""`sd-operator`: run the operator, or plan / apply manifests against AWS without a cluster."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from sd_operator import logs
from sd_operator.aws.adapters import Adapters
from sd_operator.aws.budget import BUDGETS
from sd_operator.cli.apply import apply_resources
from sd_operator.cli.codes import EXIT_ERROR, EXIT_OK
from sd_operator.cli.delete import delete_resources
from sd_operator.cli.from_cluster import _from_cluster, _hint_cluster_name
from sd_operator.cli.parser import _parser
from sd_operator.cli.plan import plan_deletion, plan_exit_code, plan_resources
from sd_operator.cli.refresh import run_refresh
from sd_operator.cli.render import render_plan
from sd_operator.cli.resources import regions_of, set_clashes
from sd_operator.model.parse import SpecError, load_manifests
from sd_operator.model.spec import Resource
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.settings import Settings, SettingsError, from_args

# Resources naming their own regions need no --region: the Reconciler's default serves nothing.
_REGION_HINT = (
    ", or give every CloudMapNamespace (and every ServiceDiscovery with "
    "spec.cloudMapNamespace) spec.region"
)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _main(argv)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's final flush
        return code
    except BrokenPipeError:
        # `plan -o json | head -1`: the reader is gone; stop quietly, and keep the interpreter's
        # final flush from failing again on the closed pipe.
        _stdout_to_devnull()
        return EXIT_ERROR


def _stdout_to_devnull() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout replaced, e.g. by a test harness
        pass


def _main(argv: Sequence[str] | None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "completion":
        import shtab

        print(shtab.complete(parser, shell=args.shell))
        return EXIT_OK
    if args.command == "refresh":
        return run_refresh(args)
    if args.plugin is not None:
        return int(args.plugin(args))
    if args.command == "run":
        settings = _settings(args)
        if settings is None:
            return EXIT_ERROR
        from sd_operator.handlers.runner import run_operator

        return run_operator(settings, args)
    return run_cli(args)


def _settings(
    args: argparse.Namespace, resources: Sequence[Resource] | None = None
) -> Settings | None:
    try:
        if resources is None:
            settings = from_args(args)
        else:
            settings = from_args(
                args, fallback_region=regions_of(resources), no_region_hint=_REGION_HINT
            )
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    logs.configure(settings.log_format, settings.log_level)
    BUDGETS.configure(settings.aws_rates, settings.aws_rate_scale)
    return settings


def run_cli(args: argparse.Namespace) -> int:
    if getattr(args, "from_cluster", False):
        loaded = _from_cluster(args)
        if loaded is None:
            return EXIT_ERROR
        resources = loaded
    else:
        try:
            resources = load_manifests(args.filename)
        except SpecError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_ERROR
    if not resources:
        where = "the cluster" if args.filename is None else ", ".join(args.filename)
        print(f"error: no sd-operator.io resources found in {where}", file=sys.stderr)
        return EXIT_ERROR
    # The region check waits for the manifests: resources that all name a region need none.
    settings = _settings(args, resources)
    if settings is None:
        return EXIT_ERROR
    found = set_clashes(resources, settings.region)
    for clash in found:
        print(f"error: {clash.message}", file=sys.stderr)
    if found:
        print(
            f"error: nothing was changed: {len(found)} conflict(s) in the set; each ECS service, "
            "Cloud Map namespace (per region) and Cloud Map service has one owner",
            file=sys.stderr,
        )
        return EXIT_ERROR
    reconciler = Reconciler(Adapters(settings.region, settings.endpoint_url), settings.cluster)
    # The one place the intent is chosen: apply the manifests, or delete what they made.
    delete = args.command == "delete" or (args.command == "plan" and args.delete)
    if args.command == "plan":
        planner = plan_deletion if delete else plan_resources
        reports = planner(reconciler, resources)
        render_plan(
            reports,
            sys.stdout,
            args.output,
            cluster_name=settings.cluster_name,
            operation="delete" if delete else "apply",
        )
        _hint_cluster_name(reports, args)
        return plan_exit_code(reports)
    settle = delete_resources if delete else apply_resources
    return settle(reconciler, resources, timeout=args.timeout, out=sys.stdout)
