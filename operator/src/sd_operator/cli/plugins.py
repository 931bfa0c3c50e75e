"""Commands another distribution adds through entry points."""

from __future__ import annotations

import argparse
import sys

from sd_operator.cli.argtypes import _Parser
from sd_operator.cli.codes import EXIT_ERROR

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
