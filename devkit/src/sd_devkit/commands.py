"""The devkit's commands in the product's CLI: `sd-operator emulator` and `sd-operator demo`.

Each function is an entry point of the `sd_operator.commands` group (devkit/pyproject.toml):
given the CLI's subcommand table it adds its parser and returns what runs it. Only argparse is
imported here: the CLI loads these on every start, so moto loads when the command runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

Runner = Callable[[argparse.Namespace], int]


def demo(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> Runner:
    parser = sub.add_parser(
        "demo",
        help="the guided demo against a local AWS emulator",
        description="The guided demo: start a local AWS emulator with the ECS services "
        "examples/myapp expects, apply the examples, change things behind sd-operator's back, "
        "show the drift and correct it, then delete. Runs the operator on a local Kubernetes "
        "control plane (from a source checkout), or with --no-cluster only the CLI "
        "(plan / apply / delete).",
        epilog="""examples:
  sd-operator demo                 # operator on a local control plane (free ports)
  CONTROL_PLANE_DIR=/tmp/cp sd-operator demo
  sd-operator demo --no-cluster    # the CLI alone""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--no-cluster",
        action="store_true",
        help="CLI only: skip the local Kubernetes control plane",
    )
    return _run_demo


def _run_demo(args: argparse.Namespace) -> int:
    from sd_devkit.demo import run_demo

    return run_demo(use_cluster=not args.no_cluster)


def emulator(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> Runner:
    parser = sub.add_parser(
        "emulator",
        help="serve the local AWS emulator until interrupted",
        description="Serve the local AWS emulator (moto with sd-operator's fidelity layer: "
        "asynchronous Cloud Map operations, pagination, faults) on a loopback address until "
        "interrupted, and print its endpoint for --aws-endpoint-url.",
        epilog="""examples:
  sd-operator emulator --port 0 --seed-demo
  sd-operator apply -f examples/myapp --aws-endpoint-url http://127.0.0.1:5000""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address")
    parser.add_argument("--port", type=int, default=5000, help="0: any free port")
    parser.add_argument(
        "--page-size",
        type=int,
        default=0,
        help="cap every list page at this many items, to exercise pagination with few "
        "resources (default 0: AWS's page sizes)",
    )
    parser.add_argument(
        "--seed-demo",
        action="store_true",
        help="create the ECS side of examples/myapp (cluster 'production', services "
        "user-service and payment-service, us-east-1) so 'apply -f examples/myapp' works at once",
    )
    return _serve


def _serve(args: argparse.Namespace) -> int:
    from sd_devkit.emulator import serve

    serve(args.host, args.port, page_size=args.page_size, seed_demo=args.seed_demo)
    return 0
