"""`sd-operator`: run the operator, or plan / apply manifests against AWS without a cluster."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from sd_operator import logs
from sd_operator.aws.errors import AwsError
from sd_operator.model.parse import SpecError, load_manifests
from sd_operator.model.spec import NamespaceSpec, Resource, ServiceDiscoverySpec
from sd_operator.reconcile.converge import converge
from sd_operator.reconcile.plan import Plan
from sd_operator.reconcile.reconciler import Outcome, Reconciler
from sd_operator.settings import Settings, SettingsError, add_common_flags, from_args

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2


def _label(res: Resource) -> str:
    return f"{res.identity.kind} {res.identity.namespace}/{res.identity.name}"


def namespace_lookup(resources: Sequence[Resource]) -> dict[tuple[str, str], NamespaceSpec]:
    return {
        (r.identity.namespace, r.identity.name): r.spec
        for r in resources
        if isinstance(r.spec, NamespaceSpec)
    }


def referenced_namespace(
    res: Resource, namespaces: dict[tuple[str, str], NamespaceSpec]
) -> NamespaceSpec | None:
    if isinstance(res.spec, ServiceDiscoverySpec) and res.spec.namespace_ref:
        return namespaces.get((res.identity.namespace, res.spec.namespace_ref))
    return None


# plan --------------------------------------------------------------------------------------------


@dataclass
class PlanReport:
    resource: Resource
    plan: Plan | None = None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.resource.identity.kind,
            "namespace": self.resource.identity.namespace,
            "name": self.resource.identity.name,
            "source": self.resource.source,
        }
        if self.error is not None:
            return {**out, "error": self.error}
        assert self.plan is not None
        plan = self.plan
        return {
            **out,
            "inSync": plan.in_sync,
            "actions": [a.summary() for a in plan.actions],
            "changes": [
                {"field": c.field, "desired": _plain(c.desired), "observed": _plain(c.observed)}
                for c in plan.changes
            ],
            "refusal": plan.refusal and vars(plan.refusal),
            "blocked": plan.blocked
            and {"reason": plan.blocked.reason, "message": plan.blocked.message},
            "advisories": list(plan.advisories),
        }


def _plain(value: object) -> object:
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


def plan_resources(reconciler: Reconciler, resources: Sequence[Resource]) -> list[PlanReport]:
    namespaces = namespace_lookup(resources)
    reports = []
    for res in resources:
        try:
            seen = reconciler.observe(res, namespace=referenced_namespace(res, namespaces))
            reports.append(PlanReport(res, plan=seen.plan))
        except AwsError as exc:
            reports.append(PlanReport(res, error=str(exc)))
    return reports


def render_plan(reports: Sequence[PlanReport], out: TextIO) -> None:
    for report in reports:
        head = f"{_label(report.resource)} ({report.resource.source})"
        if report.error is not None:
            print(f"{head}: error: {report.error}", file=out)
            continue
        plan = report.plan
        assert plan is not None
        if plan.refusal is not None:
            print(f"{head}: refused: spec.{plan.refusal.field}: {plan.refusal.message}", file=out)
        elif plan.blocked is not None:
            print(f"{head}: blocked ({plan.blocked.reason}): {plan.blocked.message}", file=out)
        elif plan.in_sync:
            print(f"{head}: in sync", file=out)
        else:
            print(f"{head}: {len(plan.actions)} action(s)", file=out)
        for change in plan.changes:
            print(
                f"  ~ spec.{change.field}: desired {_plain(change.desired)!r}, "
                f"observed {_plain(change.observed)!r}",
                file=out,
            )
        for action in plan.actions:
            print(f"  + {action.summary()}", file=out)
        for advisory in plan.advisories:
            print(f"  ! {advisory}", file=out)


def _cannot_proceed(report: PlanReport) -> bool:
    """Errors, refusals, and blocks with nothing to do before them; a block behind actions is
    sequencing (an ECS registry waits for the Cloud Map service the same apply creates)."""
    plan = report.plan
    if report.error or plan is None:
        return True
    return plan.refusal is not None or (plan.blocked is not None and not plan.actions)


def plan_exit_code(reports: Sequence[PlanReport]) -> int:
    if any(_cannot_proceed(r) for r in reports):
        return EXIT_ERROR
    return EXIT_OK if all(r.plan and r.plan.in_sync for r in reports) else EXIT_CHANGES


# apply / delete ----------------------------------------------------------------------------------


def apply_resources(
    reconciler: Reconciler,
    resources: Sequence[Resource],
    *,
    deleting: bool,
    timeout: float,
    out: TextIO,
) -> int:
    namespaces = namespace_lookup(resources)
    ordered = list(reversed(resources)) if deleting else list(resources)
    done = Outcome.GONE if deleting else Outcome.IN_SYNC
    code = EXIT_OK
    for res in ordered:
        label = _label(res)

        def report(line: str, label: str = label) -> None:
            print(f"{label}: {line}", file=out, flush=True)

        progress = converge(
            reconciler,
            res,
            referenced_namespace(res, namespaces),
            deleting=deleting,
            timeout=timeout,
            on_change=report,
        )
        last = progress.last
        assert last is not None
        if last.outcome is done:
            verb = (
                "deleted"
                if deleting and progress.performed
                else ("nothing to do" if not progress.performed else "done")
            )
            print(f"{_label(res)}: {verb}", file=out)
            for advisory in last.plan.advisories:
                print(f"  ! {advisory}", file=out)
        else:
            code = EXIT_ERROR
            print(f"{_label(res)}: {last.outcome} ({last.reason}): {last.message}", file=out)
    return code


# entry point -------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sd-operator",
        description="Keep AWS Cloud Map and ECS service discovery equal to Kubernetes resources.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the operator against the current Kubernetes cluster")
    add_common_flags(run)
    scope = run.add_mutually_exclusive_group()
    scope.add_argument(
        "--namespace",
        "-n",
        action="append",
        default=[],
        help="watch this Kubernetes namespace (repeatable; globs allowed)",
    )
    scope.add_argument(
        "--all-namespaces",
        "-A",
        action="store_true",
        help="watch every namespace (the default when no --namespace is given)",
    )
    run.add_argument(
        "--resync-seconds",
        type=float,
        default=60.0,
        help="how often each resource is compared with AWS to find drift (default: 60)",
    )
    run.add_argument(
        "--liveness",
        metavar="URL",
        default=None,
        help="serve a liveness endpoint, e.g. http://0.0.0.0:8080/healthz",
    )
    run.add_argument(
        "--metrics-port", type=int, default=None, help="serve Prometheus metrics on this port"
    )
    run.add_argument(
        "--priority",
        type=int,
        default=None,
        help="peering priority: the highest-priority replica acts, the others stand by; "
        "replicas of equal priority all pause (kopf). Default: earlier-started replicas "
        "rank higher, so identical Deployment pods need no flag",
    )
    peering = run.add_mutually_exclusive_group()
    peering.add_argument(
        "--peering",
        metavar="NAME",
        default=None,
        help="coordinate replicas through this KopfPeering: one acts at a time",
    )
    peering.add_argument(
        "--standalone",
        action="store_true",
        help="run without peering (a single replica; the default)",
    )

    for name, text in (
        ("plan", "show what apply would change; exit 0 in sync, 2 changes, 1 error"),
        ("apply", "make AWS equal to the manifests, once, waiting for Cloud Map operations"),
        ("delete", "tear down what the manifests declare, per their deletionPolicy"),
    ):
        cmd = sub.add_parser(name, help=text, description=text)
        add_common_flags(cmd)
        cmd.add_argument(
            "-f",
            "--filename",
            action="append",
            required=True,
            metavar="PATH",
            help="manifest file or directory (repeatable; multi-document YAML)",
        )
        if name == "plan":
            cmd.add_argument("-o", "--output", choices=["text", "json"], default="text")
        else:
            cmd.add_argument(
                "--timeout",
                type=float,
                default=300.0,
                help="give up on a resource after this many seconds (default: 300)",
            )

    demo = sub.add_parser("demo", help="the guided demo against a local AWS emulator")
    demo.add_argument(
        "--no-cluster",
        action="store_true",
        help="CLI only: skip the local Kubernetes control plane",
    )

    emulator = sub.add_parser(
        "emulator",
        help="serve the local AWS emulator (needs the 'emulator' extra) until interrupted",
    )
    emulator.add_argument("--host", default="127.0.0.1", help="a loopback address")
    emulator.add_argument("--port", type=int, default=5000, help="0: any free port")
    emulator.add_argument(
        "--seed-demo",
        action="store_true",
        help="create the ECS side of examples/myapp (cluster 'production', services "
        "user-service and payment-service, us-east-1) so 'apply -f examples/myapp' works at once",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "emulator":
        from sd_operator.emulator import serve

        serve(args.host, args.port, seed_demo=args.seed_demo)
        return EXIT_OK
    if args.command == "demo":
        from sd_operator.demo import run_demo

        return run_demo(use_cluster=not args.no_cluster)
    try:
        settings = from_args(args)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    logs.configure(settings.log_format, settings.log_level)
    if args.command == "run":
        from sd_operator.handlers.runner import run_operator

        return run_operator(settings, args)
    return run_cli(args, settings)


def run_cli(args: argparse.Namespace, settings: Settings) -> int:
    try:
        resources = load_manifests(args.filename)
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if not resources:
        print(
            "error: no sd-operator.io resources found in " + ", ".join(args.filename),
            file=sys.stderr,
        )
        return EXIT_ERROR
    reconciler = Reconciler(settings.region, settings.endpoint_url, settings.cluster_name)
    if args.command == "plan":
        reports = plan_resources(reconciler, resources)
        if args.output == "json":
            json.dump([r.as_json() for r in reports], sys.stdout, indent=2)
            print()
        else:
            render_plan(reports, sys.stdout)
        return plan_exit_code(reports)
    return apply_resources(
        reconciler,
        resources,
        deleting=args.command == "delete",
        timeout=args.timeout,
        out=sys.stdout,
    )


if __name__ == "__main__":
    sys.exit(main())
