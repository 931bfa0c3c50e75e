"""The `run` flags that turn hybrid export and import on or off and limit what an import reads
and writes, read once into HybridSettings (docs/hybrid.md, Limits)."""

from __future__ import annotations

import argparse
import ipaddress
from dataclasses import dataclass, field

from sd_operator.hybrid.imports import ImportLimits, IpNetwork


@dataclass(frozen=True)
class HybridSettings:
    # CloudMapImport handled at all (the chart grants Service and EndpointSlice writes for it).
    import_enabled: bool = True
    # ServiceDiscovery.spec.endpoints exported: EndpointSlices watched.
    export_enabled: bool = True
    limits: ImportLimits = field(default_factory=ImportLimits)


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def _networks(text: str) -> list[IpNetwork]:
    try:
        return [ipaddress.ip_network(n, strict=False) for n in _names(text)]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def add_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("hybrid export and import")
    group.add_argument(
        "--import",
        dest="import_enabled",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="handle CloudMapImport resources (default: on)",
    )
    group.add_argument(
        "--export",
        dest="export_enabled",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="export ServiceDiscovery spec.endpoints, watching EndpointSlices (default: on)",
    )
    group.add_argument(
        "--import-from-namespaces",
        type=_names,
        action="append",
        metavar="NAMES",
        help="the only Cloud Map namespaces a CloudMapImport may read, by name or glob "
        "(comma list, repeatable; default: every namespace of the account)",
    )
    group.add_argument(
        "--import-exclude-cidrs",
        type=_networks,
        action="append",
        default=[],
        metavar="CIDRS",
        help="addresses never imported, e.g. the cluster's Service and Pod ranges "
        "(comma list, repeatable)",
    )


def from_args(args: argparse.Namespace) -> HybridSettings:
    allowed = args.import_from_namespaces
    return HybridSettings(
        import_enabled=args.import_enabled,
        export_enabled=args.export_enabled,
        limits=ImportLimits(
            from_namespaces=None if allowed is None else tuple(n for ns in allowed for n in ns),
            excluded=tuple(net for nets in args.import_exclude_cidrs for net in nets),
        ),
    )
