"""`sd-operator`: parse the command line, then hand it to its command."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence

from sd_operator.cli.codes import EXIT_ERROR, EXIT_OK
from sd_operator.cli.configure import configured
from sd_operator.cli.generate import run_generate
from sd_operator.cli.manifests import run_cli
from sd_operator.cli.parser import build_parser
from sd_operator.cli.pause import run_pause
from sd_operator.cli.refresh import run_refresh

# The verbs that only annotate resources in the cluster.
_CLUSTER_VERBS: Mapping[str, Callable[[argparse.Namespace], int]] = {
    "refresh": run_refresh,
    "pause": run_pause,
    "resume": run_pause,
}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _main(argv, os.environ)
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


def _main(argv: Sequence[str] | None, environ: Mapping[str, str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "completion":
        import shtab

        print(shtab.complete(parser, shell=args.shell))
        return EXIT_OK
    on_cluster = _CLUSTER_VERBS.get(args.command)
    if on_cluster is not None:
        return on_cluster(args)
    if args.plugin is not None:
        return int(args.plugin(args))
    if args.command == "run":
        settings = configured(args, environ)
        if settings is None:
            return EXIT_ERROR
        from sd_operator.handlers.runner import run_operator

        return run_operator(settings)
    return (run_generate if args.command == "generate" else run_cli)(args, environ)
