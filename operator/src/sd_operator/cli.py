"""`sd-operator`: run the operator, or plan / apply manifests against AWS without a cluster."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, NoReturn, TextIO

from sd_operator import logs
from sd_operator.aws.adapters import Adapters
from sd_operator.aws.budget import BUDGETS
from sd_operator.aws.errors import AwsError, Retryable
from sd_operator.hybrid import options as hybrid_options
from sd_operator.kube import KIND_NAMES
from sd_operator.metrics import package_version
from sd_operator.model.actions import Plan
from sd_operator.model.parse import SpecError, load_manifests, parse_resource
from sd_operator.model.redact import redact_arns
from sd_operator.model.spec import (
    DeletionPolicy,
    NamespaceSpec,
    Resource,
    referenced_identity,
)
from sd_operator.reconcile import conflicts
from sd_operator.reconcile.converge import Progress, converge, converge_delete
from sd_operator.reconcile.observe import resource_region
from sd_operator.reconcile.ownership import REASON_OWNED_ELSEWHERE
from sd_operator.reconcile.reconciler import Planned, Reconciler
from sd_operator.reconcile.render import (
    plan_document,
    render_markdown,
    render_text,
    resource_view,
)
from sd_operator.reconcile.result import Outcome
from sd_operator.settings import Settings, SettingsError, add_common_flags, from_args

# Resources naming their own regions need no --region: the Reconciler's default serves nothing.
_REGION_HINT = (
    ", or give every CloudMapNamespace (and every ServiceDiscovery with "
    "spec.cloudMapNamespace) spec.region"
)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
# How long `plan` keeps trying a resource whose reads fail transiently (throttling, 5xx) after
# botocore's own attempts; `apply` uses its --timeout.
PLAN_RETRY_SECONDS = 60.0


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
    ref = referenced_identity(res.identity, res.spec)
    return None if ref is None else namespaces.get((ref.namespace, ref.name))


def own_region(res: Resource, namespaces: dict[tuple[str, str], NamespaceSpec]) -> str | None:
    """The region a resource names itself: a ServiceDiscovery lives in its namespace's."""
    return resource_region(res, referenced_namespace(res, namespaces))


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
    reconciler: Reconciler,
    resources: Sequence[Resource],
    *,
    retry_seconds: float = PLAN_RETRY_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[PlanReport]:
    """What `apply` would do. One moment's view of every resource: reads go through the
    reconciler's account view, so a plan over many resources lists each namespace and
    describes each ECS cluster once. A read that fails transiently is tried again for up to
    `retry_seconds` in all (by `clock`, waiting with `sleep`): under throttling, a read that
    ran out of botocore's attempts made apply refuse the whole manifest."""

    def plan(res: Resource, namespace: NamespaceSpec | None) -> Planned:
        # As the sweep plans: the account view first, read again fresh unless in sync.
        return reconciler.plan(res, namespace=namespace, from_view=True)

    return _plan_each(reconciler, resources, resources, plan, retry_seconds, sleep, clock)


def plan_deletion(reconciler: Reconciler, resources: Sequence[Resource]) -> list[PlanReport]:
    """What `delete` would do, read as `plan_resources` reads, in the order `delete` goes:
    reversed (ECS links and services before their namespace)."""

    def plan(res: Resource, namespace: NamespaceSpec | None) -> Planned:
        return reconciler.plan_delete(res, namespace=namespace, from_view=True)

    ordered = list(reversed(resources))
    return _plan_each(
        reconciler, resources, ordered, plan, PLAN_RETRY_SECONDS, time.sleep, time.monotonic
    )


def _plan_each(
    reconciler: Reconciler,
    resources: Sequence[Resource],
    ordered: Sequence[Resource],
    plan: Callable[[Resource, NamespaceSpec | None], Planned],
    retry_seconds: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> list[PlanReport]:
    namespaces = namespace_lookup(resources)
    for res in resources:
        reconciler.announce(res, referenced_namespace(res, namespaces))
    deadline = clock() + retry_seconds
    return [
        _plan_one(res, referenced_namespace(res, namespaces), plan, deadline, sleep, clock)
        for res in ordered
    ]


def _plan_one(
    res: Resource,
    namespace: NamespaceSpec | None,
    plan: Callable[[Resource, NamespaceSpec | None], Planned],
    deadline: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> PlanReport:
    while True:
        try:
            return PlanReport(res, plan=plan(res, namespace).plan)
        except Retryable as exc:
            if clock() + exc.delay >= deadline:
                return PlanReport(res, error=redact_arns(str(exc)))
            sleep(exc.delay)
        except AwsError as exc:
            return PlanReport(res, error=redact_arns(str(exc)))


def document(
    reports: Sequence[PlanReport], *, cluster_name: str, operation: str = "apply"
) -> dict[str, Any]:
    return plan_document(
        [r.view() for r in reports], cluster_name=cluster_name, operation=operation
    )


def render_plan(
    reports: Sequence[PlanReport],
    out: TextIO,
    output: str = "text",
    *,
    cluster_name: str = "",
    operation: str = "apply",
) -> None:
    doc = document(reports, cluster_name=cluster_name, operation=operation)
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


def check_before_apply(
    reconciler: Reconciler,
    resources: Sequence[Resource],
    out: TextIO,
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> bool:
    """Plan every resource first: if any is refused or cannot be planned, say which and why,
    and change nothing."""
    planned = plan_resources(reconciler, resources, retry_seconds=timeout, sleep=sleep, clock=clock)
    stoppers = [r for r in planned if _stops_apply(r)]
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


def _applied(res: Resource, performed: bool) -> str:
    return "done" if performed else "nothing to do"


def _deleted(res: Resource, performed: bool) -> str:
    if performed:
        return "deleted"
    if res.spec.deletion_policy is DeletionPolicy.RETAIN:
        return "kept in AWS (deletionPolicy: Retain)"
    return "nothing of ours to delete"


def apply_resources(
    reconciler: Reconciler,
    resources: Sequence[Resource],
    *,
    timeout: float,
    out: TextIO,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """`apply`: every resource planned first (nothing changes if one is refused), then each
    stepped until it settles, waiting with `sleep` and timing out by the monotonic `clock`
    (real time, unless a test passes its own)."""
    if not check_before_apply(reconciler, resources, out, timeout, sleep=sleep, clock=clock):
        return EXIT_ERROR
    settle = partial(converge, reconciler, timeout=timeout, sleep=sleep, clock=clock)
    return _settle_each(resources, resources, settle, Outcome.IN_SYNC, _applied, out)


def delete_resources(
    reconciler: Reconciler,
    resources: Sequence[Resource],
    *,
    timeout: float,
    out: TextIO,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """`delete`: each resource, in reverse order (ECS links and services before their
    namespace), stepped until what it made is gone; `sleep` and `clock` as for apply."""
    settle = partial(converge_delete, reconciler, timeout=timeout, sleep=sleep, clock=clock)
    ordered = list(reversed(resources))
    return _settle_each(resources, ordered, settle, Outcome.GONE, _deleted, out)


def _settle_each(
    resources: Sequence[Resource],
    ordered: Sequence[Resource],
    settle: Callable[..., Progress],
    done: Outcome,
    settled: Callable[[Resource, bool], str],
    out: TextIO,
) -> int:
    """Converge each of `ordered` with `settle` until its outcome is `done`; what settled
    says how it ended."""
    namespaces = namespace_lookup(resources)
    not_ready: dict[tuple[str, str], str] = {}  # CloudMapNamespaces that did not get in sync
    code = EXIT_OK
    for res in ordered:
        label = _label(res)
        ref = referenced_identity(res.identity, res.spec)
        if ref is not None and (ref.namespace, ref.name) in not_ready:
            code = EXIT_ERROR
            why = not_ready[(ref.namespace, ref.name)]
            print(f"{label}: skipped: CloudMapNamespace {ref.name} is not ready ({why})", file=out)
            continue

        def report(line: str, label: str = label) -> None:
            print(f"{label}: {line}", file=out, flush=True)

        progress = settle(res, referenced_namespace(res, namespaces), on_change=report)
        last = progress.last
        assert last is not None
        if last.outcome is done:
            print(f"{label}: {settled(res, bool(progress.performed))}", file=out)
            for advisory in last.plan.advisories:
                print(f"  ! {advisory}", file=out)
        else:
            code = EXIT_ERROR
            print(f"{label}: {last.outcome} ({last.reason}): {last.message}", file=out)
            if isinstance(res.spec, NamespaceSpec):
                key = (res.identity.namespace, res.identity.name)
                not_ready[key] = last.reason or str(last.outcome)
    return code


# the cluster: plan --from-cluster, refresh ------------------------------------------------------


def _from_cluster(args: argparse.Namespace) -> list[Resource] | None:
    """The resources the operator manages, parsed as it parses them; the operator's
    --cluster-name unless one was given (flag or SD_OPERATOR_CLUSTER_NAME)."""
    from sd_operator import kube

    try:
        cluster = kube.connect(args.kubeconfig, args.context)
        namespace = None if args.all_namespaces else (args.namespace or cluster.namespace)
        items = kube.list_resources(cluster, namespace)
        if not _cluster_name_given(args):
            names = kube.operator_cluster_names(cluster)
            distinct = sorted(set(names.values()))
            if len(distinct) == 1:
                args.cluster_name = distinct[0]
                where = ", ".join(sorted(names))
                print(
                    f"using --cluster-name {distinct[0]} of the operator ({where})",
                    file=sys.stderr,
                )
            elif distinct:
                listed = "; ".join(f"{k}: {v}" for k, v in sorted(names.items()))
                print(
                    f"error: operators run with different --cluster-name values ({listed}): "
                    "pass --cluster-name to say which one to plan as",
                    file=sys.stderr,
                )
                return None
    except kube.KubeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    resources: list[Resource] = []
    for item in items:
        meta = item.get("metadata", {})
        source = f"cluster:{meta.get('namespace')}/{meta.get('name')}"
        try:
            resources.append(parse_resource(item, source=source))
        except SpecError as exc:
            print(f"warning: skipped {item['kind']} {source[8:]}: {exc}", file=sys.stderr)
    return resources


def _cluster_name_given(args: argparse.Namespace) -> bool:
    argv_given = args.cluster_name != "default"
    return argv_given or bool(os.environ.get("SD_OPERATOR_CLUSTER_NAME"))


def _hint_cluster_name(reports: Sequence[PlanReport], args: argparse.Namespace) -> None:
    """A plan made as --cluster-name default that finds resources owned elsewhere is most
    often a laptop planning against what an operator with its own --cluster-name manages."""
    owned = [
        r
        for r in reports
        if r.plan is not None
        and r.plan.blocked is not None
        and r.plan.blocked.reason == REASON_OWNED_ELSEWHERE
    ]
    if owned and not _cluster_name_given(args):
        print(
            f"hint: {len(owned)} resource(s) are OwnedElsewhere as seen with --cluster-name "
            "default. If the operator managing them runs with another --cluster-name, plan "
            "with the same: --cluster-name NAME (or SD_OPERATOR_CLUSTER_NAME), or use "
            "plan --from-cluster, which reads it from the operator's Deployment",
            file=sys.stderr,
        )


def run_refresh(args: argparse.Namespace) -> int:
    import time

    from sd_operator import kube

    kind = kube.KIND_NAMES[args.kind]
    if bool(args.names) == bool(args.all):
        print("error: name the resources, or give --all (not both)", file=sys.stderr)
        return EXIT_ERROR
    if args.all_namespaces and not args.all:
        print("error: -A goes with --all", file=sys.stderr)
        return EXIT_ERROR
    value = kube.now()
    try:
        cluster = kube.connect(args.kubeconfig, args.context)
        namespace = args.namespace or cluster.namespace
        if args.all:
            targets = kube.names_in(cluster, kind, None if args.all_namespaces else namespace)
        else:
            targets = [(namespace, n) for n in args.names]
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


# entry point -------------------------------------------------------------------------------------


EXAMPLES = {
    "run": """examples:
  sd-operator run --region us-east-1 --cluster-name prod-eks -n payments -n 'team-*'
  sd-operator run -A --peering sd-operator --liveness http://0.0.0.0:8080/healthz""",
    "plan": """examples:
  sd-operator plan -f examples/myapp
  sd-operator plan -f k8s/ -o markdown > plan.md      # a pull-request comment
  sd-operator plan -f k8s/ -o json | jq '.summary'    # docs/plan.schema.json
  sd-operator plan -f k8s/ --delete                   # what delete would do, what blocks it
  sd-operator plan --from-cluster -A                  # preview the operator's next sweep

exit codes: 0 in sync, 2 changes pending, 1 refused, blocked or error""",
    "apply": """examples:
  sd-operator apply -f examples/myapp --region us-east-1
  kustomize build overlays/prod | sd-operator apply -f -""",
    "delete": """examples:
  sd-operator delete -f examples/myapp --timeout 600""",
    "refresh": """examples:
  sd-operator refresh sd user-service -n payments --wait 30
  sd-operator refresh cmns --all -n payments
  sd-operator refresh sd --all -A""",
    "completion": """examples:
  source <(sd-operator completion bash)
  sd-operator completion zsh > "${fpath[1]}/_sd-operator\"""",
}


def add_kube_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube)")
    parser.add_argument("--context", help="kubeconfig context (default: the current one)")


class _Renamed(argparse.Action):
    """A flag that was renamed: deployments that still pass the old name keep working, and
    are told the new one."""

    def __init__(self, *args: Any, new_name: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.new_name = new_name

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        print(f"warning: {option_string} is deprecated; use {self.new_name}", file=sys.stderr)
        setattr(namespace, self.dest, values)


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 1, as every other error does: `plan` uses 2 for "changes pending"."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


# Commands another distribution adds: sd-devkit (devkit/) registers `emulator` and `demo` here,
# so the product neither carries the emulator and moto nor imports them. An entry point is a
# callable given the subcommand table; it adds its parser and returns what runs the command.
COMMAND_PLUGINS = "sd_operator.commands"
DEVKIT_COMMANDS = {
    "demo": "the guided demo against a local AWS emulator",
    "emulator": "serve the local AWS emulator until interrupted",
}


def _add_command_plugins(sub: argparse._SubParsersAction[_Parser]) -> None:
    from importlib.metadata import entry_points

    for plugin in sorted(entry_points(group=COMMAND_PLUGINS), key=lambda ep: ep.name):
        runner = plugin.load()(sub)
        sub.choices[plugin.name].set_defaults(plugin=runner)
    # Without the devkit (a wheel install) its commands still exist, to say how to get them.
    for name, summary in DEVKIT_COMMANDS.items():
        if name not in sub.choices:
            # No option prefix (NUL cannot occur in argv): whatever follows, flags included,
            # is taken as an ignored argument, so any devkit command line gets the message.
            missing = sub.add_parser(
                name, help=f"{summary} (needs sd-devkit)", add_help=False, prefix_chars="\0"
            )
            missing.add_argument("arguments", nargs="*", help=argparse.SUPPRESS)
            missing.set_defaults(plugin=_devkit_missing)


def _devkit_missing(args: argparse.Namespace) -> int:
    print(
        f"error: `sd-operator {args.command}` is part of sd-devkit, which is not installed; "
        "from a source checkout of sd-operator run `make setup` (or `pip install -e ./devkit`)",
        file=sys.stderr,
    )
    return EXIT_ERROR


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of seconds >= 1, not {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:  # noqa: LEN060 -- argparse declarations, a flag a statement; the cli/ package (issue 20, item 5) gives each verb its own
    parser = _Parser(
        prog="sd-operator",
        description="Keep AWS Cloud Map and ECS service discovery equal to Kubernetes resources.",
    )
    parser.add_argument(
        "--version", action="version", version=f"sd-operator {package_version('sd-operator')}"
    )
    parser.set_defaults(plugin=None)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run",
        help="run the operator against the current Kubernetes cluster",
        description="Run the operator: watch CloudMapNamespace and ServiceDiscovery resources "
        "in the current Kubernetes cluster (kubeconfig, or the pod's service account) and keep "
        "AWS Cloud Map and ECS equal to them, correcting or reporting drift.",
        epilog=EXAMPLES["run"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common_flags(run)
    hybrid_options.add_flags(run)
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
        "--sweep-seconds",
        type=float,
        metavar="SECONDS",
        default=os.environ.get("SD_OPERATOR_SWEEP_SECONDS", "60"),
        help="how often the drift sweep compares every resource with AWS "
        "(env SD_OPERATOR_SWEEP_SECONDS; default: 60)",
    )
    run.add_argument(
        "--resync-seconds",
        dest="sweep_seconds",
        type=float,
        metavar="SECONDS",
        action=_Renamed,
        new_name="--sweep-seconds",
        default=argparse.SUPPRESS,
        help="deprecated name of --sweep-seconds",
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
    run.add_argument(
        "--peering-lifetime",
        type=_positive_int,
        metavar="SECONDS",
        default=os.environ.get("SD_OPERATOR_PEERING_LIFETIME", "60"),
        help="with --peering: how long the other replicas count this one as alive after its "
        "last keep-alive (kopf renews it 5-10 s before); a standby takes over at most this "
        "long after the active replica died (env SD_OPERATOR_PEERING_LIFETIME; default: 60)",
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
        cmd = sub.add_parser(
            name,
            help=text,
            description=text,
            epilog=EXAMPLES[name],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        add_common_flags(cmd)
        sources = cmd.add_mutually_exclusive_group(required=True)
        sources.add_argument(
            "-f",
            "--filename",
            action="append",
            metavar="PATH",
            help="manifest file, directory (searched recursively for *.yaml / *.yml), or - "
            "for standard input; repeatable; multi-document YAML",
        )
        if name == "plan":
            sources.add_argument(
                "--from-cluster",
                action="store_true",
                help="plan the resources in the current Kubernetes cluster (kubeconfig) as the "
                "operator sees them, with its --cluster-name (read from its Deployment unless "
                "given)",
            )
            scope = cmd.add_mutually_exclusive_group()
            scope.add_argument(
                "-n",
                "--namespace",
                help="--from-cluster: this Kubernetes namespace (default: the context's)",
            )
            scope.add_argument(
                "-A",
                "--all-namespaces",
                action="store_true",
                help="--from-cluster: every namespace",
            )
            add_kube_flags(cmd)
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

    refresh = sub.add_parser(
        "refresh",
        help="ask the operator to observe and reconcile resources now, outside the sweep",
        description="Set the annotation sd-operator.io/reconcile-requested-at on resources in "
        "the current Kubernetes cluster: the operator reads AWS fresh and reconciles each one "
        "within seconds, once per new value, and records status.refresh.honouredAt.",
        epilog=EXAMPLES["refresh"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    refresh.add_argument(
        "kind",
        choices=sorted(KIND_NAMES),
        metavar="KIND",
        help="servicediscovery (sd) or cloudmapnamespace (cmns)",
    )
    refresh.add_argument("names", nargs="*", metavar="NAME", help="resources to refresh")
    refresh_scope = refresh.add_mutually_exclusive_group()
    refresh_scope.add_argument(
        "-n", "--namespace", help="Kubernetes namespace (default: the context's)"
    )
    refresh_scope.add_argument(
        "-A", "--all-namespaces", action="store_true", help="with --all: every namespace"
    )
    refresh.add_argument(
        "--all", action="store_true", help="every resource of KIND in the namespace(s)"
    )
    refresh.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait up to this long for the operator to honour the request (default: 0, "
        "do not wait); exit 1 if it does not",
    )
    add_kube_flags(refresh)

    completion = sub.add_parser(
        "completion",
        help="print a shell completion script (bash or zsh)",
        description="Print a completion script for bash or zsh.",
        epilog=EXAMPLES["completion"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    completion.add_argument("shell", choices=["bash", "zsh"])

    _add_command_plugins(sub)
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


def run_cli(args: argparse.Namespace) -> int:  # noqa: PLR0911 -- each early exit is a CLI error with its own message; the cli/ package (issue 20, item 5) splits it
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
    reconciler = Reconciler(Adapters(settings.region, settings.endpoint_url), settings.cluster_name)
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


if __name__ == "__main__":
    sys.exit(main())
