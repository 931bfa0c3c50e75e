"""The typed status (model/status.py) is the CRDs' status, key for key, and reads and writes
every recorded status back byte for byte."""

from __future__ import annotations

import dataclasses
import json
import types
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import pytest
import yaml

from sd_operator.model.spec import KIND_DISCOVERY, KIND_IMPORT, KIND_NAMESPACE
from sd_operator.model.status import (
    UNSET,
    DiscoveryStatus,
    Drift,
    Export,
    ImportStatus,
    NamespaceStatus,
    Operation,
    StatusPatch,
    applied,
    patch_to_wire,
    status_from_wire,
    status_to_wire,
)
from sd_operator.model.timestamps import format_time, parse_time
from sd_operator.model.wire import camel

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = sorted((ROOT / "tests" / "fixtures" / "status").glob("*.json"))
CRDS = {
    KIND_NAMESPACE: "cloudmapnamespaces.yaml",
    KIND_DISCOVERY: "servicediscoveries.yaml",
    KIND_IMPORT: "cloudmapimports.yaml",
}
TYPES: dict[str, type[Any]] = {
    KIND_NAMESPACE: NamespaceStatus,
    KIND_DISCOVERY: DiscoveryStatus,
    KIND_IMPORT: ImportStatus,
}


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
def test_every_recorded_status_round_trips_unchanged(fixture: Path) -> None:
    recorded = json.loads(fixture.read_text())
    typed = status_from_wire(recorded["status"], TYPES[recorded["kind"]])
    written = status_to_wire(typed)
    assert json.dumps(written, sort_keys=True) == json.dumps(recorded["status"], sort_keys=True)


def _status_schema(kind: str) -> dict[str, Any]:
    (crd,) = yaml.safe_load_all((ROOT / "crds" / CRDS[kind]).read_text())
    (version,) = crd["spec"]["versions"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]["properties"]["status"]
    return schema


def _dataclass_of(hint: Any) -> type | None:
    origin = get_origin(hint)
    if origin is Union or origin is types.UnionType or origin is tuple:
        return next((a for a in map(_dataclass_of, get_args(hint)) if a is not None), None)
    return hint if dataclasses.is_dataclass(hint) else None


def _mismatches(cls: type, schema: dict[str, Any], path: str) -> list[str]:
    node = schema.get("items", schema)
    declared = set(node.get("properties", {}))
    hints = get_type_hints(cls)
    fields = {camel(f.name): hints[f.name] for f in dataclasses.fields(cls)}
    out = [f"{path}.{k}: in the CRD only" for k in declared - set(fields)]
    out += [f"{path}.{k}: in the type only" for k in set(fields) - declared]
    for key, hint in fields.items():
        nested = _dataclass_of(hint)
        if nested is not None and key in declared:
            out += _mismatches(nested, node["properties"][key], f"{path}.{key}")
    return out


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_each_status_type_is_its_crd_status_key_for_key(kind: str) -> None:
    assert _mismatches(TYPES[kind], _status_schema(kind), "status") == []


def test_a_drift_keeps_a_null_the_spec_does_not_set_and_an_export_its_null_service() -> None:
    status = DiscoveryStatus(
        drift=(Drift("description", None, "x", "2026-01-01T00:00:00Z", "Corrected"),),
        endpoints=Export(service=None, registered=0),
    )
    wire = status_to_wire(status)
    assert wire["drift"][0]["desired"] is None
    assert wire["endpoints"] == {"service": None, "registered": 0}
    assert status_from_wire(wire, DiscoveryStatus) == status


def test_a_patch_writes_only_what_it_sets_and_null_for_what_it_removes() -> None:
    patch = StatusPatch(service_id="srv-1", operation=None)
    wire = patch_to_wire(patch)
    assert wire == {"serviceId": "srv-1", "operation": None}


def test_applying_a_patch_changes_what_it_sets_and_clears_what_it_removes() -> None:
    before = NamespaceStatus(
        namespace_id="ns-1", operation=Operation("op-1"), observed_generation=2
    )
    after = applied(before, StatusPatch(namespace_arn="arn", operation=None))
    assert after == NamespaceStatus(namespace_id="ns-1", namespace_arn="arn", observed_generation=2)
    assert StatusPatch().operation is UNSET


def test_a_later_patch_wins_where_it_sets_a_field_and_neither_patch_changes() -> None:
    step = StatusPatch(service_id="srv-1", operation=None)
    export = StatusPatch(endpoints=Export(registered=2), service_id="srv-2")

    combined = step.merged_with(export)

    assert combined == StatusPatch(
        service_id="srv-2", operation=None, endpoints=Export(registered=2)
    )
    assert step == StatusPatch(service_id="srv-1", operation=None)
    assert export == StatusPatch(endpoints=Export(registered=2), service_id="srv-2")


def test_one_time_format_read_back_as_written() -> None:
    at = datetime(2026, 12, 2, 6, 11, 18, tzinfo=UTC)
    assert format_time(at) == "2026-12-02T06:11:18Z"
    assert parse_time(format_time(at)) == at
    # kopf's own times carry fractions and an offset
    kopf = datetime(2026, 12, 2, 7, 11, 18, 500000, tzinfo=timezone(timedelta(hours=1)))
    assert parse_time(kopf.isoformat()) == kopf
    with pytest.raises(ValueError, match="Invalid isoformat"):
        parse_time("None")
