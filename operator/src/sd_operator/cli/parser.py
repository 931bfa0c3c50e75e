"""The command line: every command, its flags, help texts and examples."""

from __future__ import annotations

import argparse
from typing import TypeAlias

from sd_operator.cli.argtypes import _Parser, _Renamed
from sd_operator.cli.plugins import _add_command_plugins
from sd_operator.cli.roles import add_role_flags
from sd_operator.hybrid import options as hybrid_options
from sd_operator.kube import KIND_NAMES
from sd_operator.metrics import package_version
from sd_operator.settings import add_common_flags, positive_int

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
    "generate": """examples:
  sd-operator generate --region us-east-1 --cloud-map-namespace myapp.local -n payments
  sd-operator generate --cluster production --output-dir k8s/ --map myapp.local=payments
  sd-operator generate --cloud-map-namespace myapp.local --adopt > myapp.yaml

Observe-only (managementPolicy: Observe, deletionPolicy: Retain) unless --adopt; what the
resources cannot express is written as comments and warnings (docs/adopting.md)""",
    "delete": """examples:
  sd-operator delete -f examples/myapp --timeout 600""",
    "refresh": """examples:
  sd-operator refresh sd user-service -n payments --wait 30
  sd-operator refresh cmns --all -n payments
  sd-operator refresh sd --all -A""",
    "pause": """examples:
  sd-operator pause sd user-service -n payments     # no AWS call for it, deletes included
  sd-operator pause sd --all -A                     # every ServiceDiscovery (an incident)""",
    "resume": """examples:
  sd-operator resume sd user-service -n payments
  sd-operator resume sd --all -A""",
    "completion": """examples:
  source <(sd-operator completion bash)
  sd-operator completion zsh > "${fpath[1]}/_sd-operator\"""",
}


def add_kube_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube)")
    parser.add_argument("--context", help="kubeconfig context (default: the current one)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sd-operator",
        description="Keep AWS Cloud Map and ECS service discovery equal to Kubernetes resources.",
    )
    parser.add_argument(
        "--version", action="version", version=f"sd-operator {package_version('sd-operator')}"
    )
    parser.set_defaults(plugin=None)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_run(sub)
    _add_plan(sub)
    _add_generate(sub)
    for name, text in (
        ("apply", "make AWS equal to the manifests, once, waiting for Cloud Map operations"),
        ("delete", "tear down what the manifests declare, per their deletionPolicy"),
    ):
        cmd, _ = _add_manifest_command(sub, name, text)
        cmd.add_argument(
            "--timeout",
            type=float,
            default=300.0,
            help="give up on a resource after this many seconds (default: 300)",
        )
    _add_refresh(sub)
    _add_pause(sub)
    _add_completion(sub)
    _add_command_plugins(sub)
    return parser


_Commands: TypeAlias = "argparse._SubParsersAction[_Parser]"


def _add_run(sub: _Commands) -> None:
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
    _add_serving_flags(run)
    _add_peering_flags(run)


def _add_serving_flags(run: argparse.ArgumentParser) -> None:
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
        help="address the metrics server binds; the chart sets 0.0.0.0 in the pod "
        "(env SD_OPERATOR_METRICS_BIND_ADDRESS; default: 127.0.0.1)",
    )


def _add_peering_flags(run: argparse.ArgumentParser) -> None:
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
        type=positive_int,
        metavar="SECONDS",
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


def _add_manifest_command(
    sub: _Commands, name: str, text: str
) -> tuple[argparse.ArgumentParser, argparse._MutuallyExclusiveGroup]:
    """`plan`, `apply` or `delete`: the common flags, and the manifests to read, in a group
    another source of resources may join."""
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
    cmd.add_argument(
        "--grants",
        action="append",
        metavar="PATH",
        help="DiscoveryGrants (and v1 Namespaces, for their labels) to check the resources "
        "against as the operator does: one outside them is refused (NotGranted) and nothing "
        "is changed; repeatable. Without it plan --from-cluster checks the cluster's grants, "
        "and otherwise no grant is checked: the CLI acts with your own AWS credentials "
        "(docs/tenancy.md)",
    )
    add_role_flags(
        cmd, ". With --grants, the grants' role is used, and must be this one if both are given"
    )
    return cmd, sources


def _add_plan(sub: _Commands) -> None:
    cmd, sources = _add_manifest_command(
        sub, "plan", "show what apply would change; exit 0 in sync, 2 changes, 1 error"
    )
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


def _add_generate(sub: _Commands) -> None:
    text = "write manifests for the Cloud Map namespaces, services and ECS discovery in AWS"
    cmd = sub.add_parser(
        "generate",
        help=text,
        description=text + ": observe-only by default, so a plan of them changes nothing.",
        epilog=EXAMPLES["generate"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common_flags(cmd)
    add_role_flags(cmd, ": generate from the account the role is in")
    cmd.add_argument(
        "--cloud-map-namespace",
        action="append",
        metavar="NAME",
        help="a Cloud Map namespace to generate, with its services and the ECS services "
        "linked to it (repeatable; neither this nor --cluster: every namespace of the region)",
    )
    cmd.add_argument(
        "--cluster",
        action="append",
        metavar="NAME",
        help="an ECS cluster whose services' registries and Service Connect to generate, "
        "with the namespaces they use (repeatable; default: every cluster is searched for "
        "services linked to the namespaces)",
    )
    cmd.add_argument(
        "--tag",
        action="append",
        metavar="KEY=VALUE",
        help="only Cloud Map namespaces carrying this tag (repeatable: all of them)",
    )
    cmd.add_argument(
        "-n",
        "--namespace",
        default="default",
        help="the Kubernetes namespace of the manifests (default: default)",
    )
    cmd.add_argument(
        "--map",
        action="append",
        metavar="CLOUD_MAP_NAMESPACE=NAMESPACE",
        help="put the manifests of this Cloud Map namespace into this Kubernetes namespace "
        "(repeatable); its ServiceDiscoveries go with it",
    )
    cmd.add_argument(
        "--output-dir",
        metavar="DIR",
        help="write one file per Kubernetes namespace, DIR/NAMESPACE.yaml (default: stdout)",
    )
    cmd.add_argument(
        "--adopt",
        action="store_true",
        help="generate for adoption instead: adoptionPolicy: Adopt, managementPolicy: Manage "
        "(applying them takes ownership)",
    )


def _add_refresh(sub: _Commands) -> None:
    refresh = sub.add_parser(
        "refresh",
        help="ask the operator to observe and reconcile resources now, outside the sweep",
        description="Set the annotation sd-operator.io/reconcile-requested-at on resources in "
        "the current Kubernetes cluster: the operator reads AWS fresh and reconciles each one "
        "within seconds, once per new value, and records status.refresh.honouredAt.",
        epilog=EXAMPLES["refresh"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_selection(refresh, "refresh")
    refresh.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait up to this long for the operator to honour the request (default: 0, "
        "do not wait); exit 1 if it does not",
    )
    add_kube_flags(refresh)


def _add_selection(parser: argparse.ArgumentParser, verb: str) -> None:
    """KIND, then NAMEs or --all, in -n NAMESPACE or -A (cli/selection.py)."""
    parser.add_argument(
        "kind",
        choices=sorted(KIND_NAMES),
        metavar="KIND",
        help="servicediscovery (sd) or cloudmapnamespace (cmns)",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"resources to {verb}")
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("-n", "--namespace", help="Kubernetes namespace (default: the context's)")
    scope.add_argument(
        "-A", "--all-namespaces", action="store_true", help="with --all: every namespace"
    )
    parser.add_argument(
        "--all", action="store_true", help="every resource of KIND in the namespace(s)"
    )


def _add_pause(sub: _Commands) -> None:
    for verb, summary, text in (
        (
            "pause",
            "stop every AWS call of resources, deletes included, until they are resumed",
            'Set the annotation sd-operator.io/paused: "true" on resources in the current '
            "Kubernetes cluster: the operator makes no AWS call for them (deletes included: a "
            "deleted resource stays until it is resumed) and reports the Paused condition.",
        ),
        (
            "resume",
            "let the operator reconcile paused resources again",
            "Remove the annotation sd-operator.io/paused from resources in the current "
            "Kubernetes cluster: the operator reconciles them again at once.",
        ),
    ):
        parser = sub.add_parser(
            verb,
            help=summary,
            description=text,
            epilog=EXAMPLES[verb],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _add_selection(parser, verb)
        add_kube_flags(parser)


def _add_completion(sub: _Commands) -> None:
    completion = sub.add_parser(
        "completion",
        help="print a shell completion script (bash or zsh)",
        description="Print a completion script for bash or zsh.",
        epilog=EXAMPLES["completion"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    completion.add_argument("shell", choices=["bash", "zsh"])
