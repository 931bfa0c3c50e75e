"""`sd-operator`: run the operator, or plan / apply manifests against AWS without a cluster."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, TextIO

from sd_operator import logs
from sd_operator.aws.errors import AwsError
from sd_operator.metrics import package_version
from sd_operator.model.parse import SpecError, load_manifests
from sd_operator.model.spec import (
    DeletionPolicy,
    NamespaceSpec,
    Resource,
    ServiceDiscoverySpec,
)
from sd_operator.reconcile import conflicts
from sd_operator.reconcile.converge import converge
from sd_operator.reconcile.plan import Plan
from sd_operator.reconcile.reconciler import Outcome, Reconciler
from sd_operator.reconcile.render import (
    plan_document,
    render_markdown,
    render_text,
    resource_view,
)
from sd_operator.settings import Settings, SettingsError, add_common_flags, from_args

# Resources naming their own regions need no --region: the Reconciler's default serves nothing.
_REGION_HINT = (
    ", or give every CloudMapNamespace (and every ServiceDiscovery with "
    "spec.cloudMapNamespace) spec.region"
)

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


def own_region(res: Resource, namespaces: dict[tuple[str, str], NamespaceSpec]) -> str | None:
    """The region a resource names itself: a ServiceDiscovery lives in its namespace's."""
    namespace = referenced_namespace(res, namespaces)
    if isinstance(res.spec, ServiceDiscoverySpec) and namespace is not None:
        return namespace.region or res.spec.region
    return res.spec.region


def regions_of(resources: Sequence[Resource]) -> str | None:
    """The first resource's region when every resource names one, else None."""
    namespaces = namespace_lookup(resources)
    regions = [own_region(r, namespaces) for r in resources]
    return regions[0] if regions and all(regions) else None


def set_clashes(resources: Sequence[Resource], default_region: str) -> list[conflicts.Clash]:
    """Two resources of one set claiming the same AWS resource, in document order: the
    operator would let the first manage it; the CLI refuses the whole set."""
    namespaces = namespace_lookup(resources)
    return conflicts.clashes(
        (
            f"{_label(r)} ({r.source})",
            conflicts.claims(r, referenced_namespace(r, namespaces), default_region),
        )
        for r in resources
    )


# plan --------------------------------------------------------------------------------------------


@dataclass
class PlanReport:
    resource: Resource
    plan: Plan | None = None
    error: str | None = None

    def view(self) -> dict[str, Any]:
        """This resource in the plan document (docs/plan.schema.json, `resources[]`)."""
        return resource_view(self.resource.identity, self.resource.source, self.plan, self.error)


def plan_resources(
    reconciler: Reconciler, resources: Sequence[Resource], *, deleting: bool = False
) -> list[PlanReport]:
    """One moment's view of every resource: reads go through the reconciler's snapshot, so a
    plan over many resources lists each namespace and describes each ECS cluster once."""
    namespaces = namespace_lookup(resources)
    for res in resources:
        reconciler.announce(res, referenced_namespace(res, namespaces))
    reports = []
    # A deletion runs in reverse order (ECS links and services before their namespace).
    for res in reversed(resources) if deleting else resources:
        try:
            seen = reconciler.observe(
                res,
                deleting=deleting,
                namespace=referenced_namespace(res, namespaces),
                reader=reconciler.snapshot,
            )
            reports.append(PlanReport(res, plan=seen.plan))
        except AwsError as exc:
            reports.append(PlanReport(res, error=str(exc)))
    return reports


def document(
    reports: Sequence[PlanReport], *, cluster_name: str, deleting: bool = False
) -> dict[str, Any]:
    return plan_document([r.view() for r in reports], cluster_name=cluster_name, deleting=deleting)


def render_plan(
    reports: Sequence[PlanReport],
    out: TextIO,
    output: str = "text",
    *,
    cluster_name: str = "",
    deleting: bool = False,
) -> None:
    doc = document(reports, cluster_name=cluster_name, deleting=deleting)
    if output == "json":
        json.dump(doc, out, indent=2)
        print(file=out)
    elif output == "markdown":
        render_markdown(doc, out)
    else:
        render_text(doc, out)


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


def _stops_apply(report: PlanReport) -> bool:
    """Refusals and errors stop the whole apply; blocks (AlreadyExists, ...) stop only their
    own resource, and what depends on it."""
    return report.error is not None or (report.plan is not None and report.plan.refusal is not None)


def check_before_apply(reconciler: Reconciler, resources: Sequence[Resource], out: TextIO) -> bool:
    """Plan every resource first: if any is refused or cannot be planned, say which and why,
    and change nothing."""
    stoppers = [r for r in plan_resources(reconciler, resources) if _stops_apply(r)]
    for report in stoppers:
        head = f"{_label(report.resource)} ({report.resource.source})"
        if report.error is not None:
            print(f"{head}: error: {report.error}", file=out)
        else:
            assert report.plan is not None
            refusal = report.plan.refusal
            assert refusal is not None
            print(
                f"{head}: refused ({refusal.reason}): spec.{refusal.field}: {refusal.message}",
                file=out,
            )
    if stoppers:
        print(
            f"nothing was changed: {len(stoppers)} resource(s) cannot be applied; "
            "fix them and apply again",
            file=out,
        )
    return not stoppers


def _settled(res: Resource, deleting: bool, performed: bool) -> str:
    if performed:
        return "deleted" if deleting else "done"
    if not deleting:
        return "nothing to do"
    if res.spec.deletion_policy is DeletionPolicy.RETAIN:
        return "kept in AWS (deletionPolicy: Retain)"
    return "nothing of ours to delete"


def apply_resources(
    reconciler: Reconciler,
    resources: Sequence[Resource],
    *,
    deleting: bool,
    timeout: float,
    out: TextIO,
) -> int:
    namespaces = namespace_lookup(resources)
    if not deleting and not check_before_apply(reconciler, resources, out):
        return EXIT_ERROR
    ordered = list(reversed(resources)) if deleting else list(resources)
    done = Outcome.GONE if deleting else Outcome.IN_SYNC
    not_ready: dict[tuple[str, str], str] = {}  # CloudMapNamespaces that did not get in sync
    code = EXIT_OK
    for res in ordered:
        label = _label(res)
        ref = res.spec.namespace_ref if isinstance(res.spec, ServiceDiscoverySpec) else None
        if ref is not None and (res.identity.namespace, ref) in not_ready:
            code = EXIT_ERROR
            why = not_ready[(res.identity.namespace, ref)]
            print(f"{label}: skipped: CloudMapNamespace {ref} is not ready ({why})", file=out)
            continue

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
            print(f"{label}: {_settled(res, deleting, bool(progress.performed))}", file=out)
            for advisory in last.plan.advisories:
                print(f"  ! {advisory}", file=out)
        else:
            code = EXIT_ERROR
            print(f"{label}: {last.outcome} ({last.reason}): {last.message}", file=out)
            if isinstance(res.spec, NamespaceSpec):
                key = (res.identity.namespace, res.identity.name)
                not_ready[key] = last.reason or str(last.outcome)
    return code


# entry point -------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 1, as every other error does: `plan` uses 2 for "changes pending"."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sd-operator",
        description="Keep AWS Cloud Map and ECS service discovery equal to Kubernetes resources.",
    )
    parser.add_argument(
        "--version", action="version", version=f"sd-operator {package_version('sd-operator')}"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run",
        help="run the operator against the current Kubernetes cluster",
        description="Run the operator: watch CloudMapNamespace and ServiceDiscovery resources "
        "in the current Kubernetes cluster (kubeconfig, or the pod's service account) and keep "
        "AWS Cloud Map and ECS equal to them, correcting or reporting drift.",
    )
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
        "--metrics-port",
        type=int,
        default=None,
        help="serve Prometheus metrics (/metrics) and readiness (/readyz) on this port; "
        "0: any free port, logged (default: no server)",
    )
    run.add_argument(
        "--metrics-bind-address",
        metavar="HOST",
        default=os.environ.get("SD_OPERATOR_METRICS_BIND_ADDRESS", "127.0.0.1"),
        help="address the metrics server binds; the chart sets 0.0.0.0 in the pod "
        "(env SD_OPERATOR_METRICS_BIND_ADDRESS; default: 127.0.0.1)",
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
            help="manifest file, directory (searched recursively for *.yaml / *.yml), or - "
            "for standard input; repeatable; multi-document YAML",
        )
        if name == "plan":
            cmd.add_argument(
                "-o",
                "--output",
                choices=["text", "json", "markdown"],
                default="text",
                help="text (default); json: one versioned document (docs/plan.schema.json); "
                "markdown: a pull-request comment",
            )
            cmd.add_argument(
                "--delete",
                action="store_true",
                help="plan what `delete` would do instead, and what blocks it",
            )
        else:
            cmd.add_argument(
                "--timeout",
                type=float,
                default=300.0,
                help="give up on a resource after this many seconds (default: 300)",
            )

    demo = sub.add_parser(
        "demo",
        help="the guided demo against a local AWS emulator",
        description="The guided demo: start a local AWS emulator with the ECS services "
        "examples/myapp expects, apply the examples, change things behind sd-operator's back, "
        "show the drift and correct it, then delete. Runs the operator on a local Kubernetes "
        "control plane, or with --no-cluster only the CLI (plan / apply / delete).",
    )
    demo.add_argument(
        "--no-cluster",
        action="store_true",
        help="CLI only: skip the local Kubernetes control plane",
    )

    emulator = sub.add_parser(
        "emulator",
        help="serve the local AWS emulator (needs the 'emulator' extra) until interrupted",
        description="Serve the local AWS emulator (moto with sd-operator's fidelity layer: "
        "asynchronous Cloud Map operations, pagination, faults) on a loopback address until "
        "interrupted, and print its endpoint for --aws-endpoint-url. Needs the 'emulator' "
        "extra.",
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
    args = _parser().parse_args(argv)
    if args.command == "emulator":
        from sd_operator.emulator import serve

        serve(args.host, args.port, seed_demo=args.seed_demo)
        return EXIT_OK
    if args.command == "demo":
        from sd_operator.demo import run_demo

        return run_demo(use_cluster=not args.no_cluster)
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
    return settings


def run_cli(args: argparse.Namespace) -> int:
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
    reconciler = Reconciler(settings.region, settings.endpoint_url, settings.cluster_name)
    if args.command == "plan":
        reports = plan_resources(reconciler, resources, deleting=args.delete)
        render_plan(
            reports,
            sys.stdout,
            args.output,
            cluster_name=settings.cluster_name,
            deleting=args.delete,
        )
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
