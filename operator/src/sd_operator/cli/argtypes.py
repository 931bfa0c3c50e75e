"""The argparse pieces the command line is built of."""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

from sd_operator.cli.codes import EXIT_ERROR


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
