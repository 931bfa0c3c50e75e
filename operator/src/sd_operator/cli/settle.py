"""Converging each resource of a set in turn, for `apply` and `delete`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TextIO

from sd_operator.cli.codes import EXIT_ERROR, EXIT_OK
from sd_operator.cli.resources import _label, namespace_lookup, referenced_namespace
from sd_operator.model.spec import NamespaceSpec, Resource, referenced_identity
from sd_operator.reconcile.converge import Progress
from sd_operator.reconcile.result import Outcome


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
