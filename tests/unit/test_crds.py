"""The CRDs are structural and documented, and the CLI validates against exactly these files."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sd_operator.model import schema
from sd_operator.model.spec import (
    GROUP,
    KIND_DISCOVERY,
    KIND_GRANT,
    KIND_IMPORT,
    KIND_NAMESPACE,
    VERSION,
)

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT / "crds"
CHART_CRDS = ROOT / "helm" / "sd-operator" / "crds"
PACKAGE_CRDS = ROOT / "operator" / "src" / "sd_operator" / "crds"
FIXTURES = ROOT / "tests" / "fixtures"
OURS = {KIND_NAMESPACE: "cloudmapnamespaces.yaml", KIND_DISCOVERY: "servicediscoveries.yaml"}
# Written only to the cluster (hybrid import): the API server validates it, the CLI skips it.
CLUSTER_ONLY = {KIND_IMPORT: "cloudmapimports.yaml"}
# Cluster-scoped, the platform team's: `manifests -f` skips it, `--grants FILE` reads it.
GRANTS = {KIND_GRANT: "discoverygrants.yaml"}


def load(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((CRDS / name).read_text()) if d]


def crd(kind: str) -> dict[str, Any]:
    [doc] = load(OURS[kind])
    return doc


def version(kind: str) -> dict[str, Any]:
    [v] = crd(kind)["spec"]["versions"]
    assert isinstance(v, dict)
    return v


def root_schema(kind: str) -> dict[str, Any]:
    schema: dict[str, Any] = version(kind)["schema"]["openAPIV3Schema"]
    return schema


def nodes(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from nodes(sub, f"{path}.{name}")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from nodes(schema["additionalProperties"], f"{path}[*]")
    if "items" in schema:
        yield from nodes(schema["items"], f"{path}[]")


def rules(kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, node in nodes(root_schema(kind)):
        for rule in node.get("x-kubernetes-validations", ()):
            yield path, rule


def is_transition(rule: dict[str, Any]) -> bool:
    return "oldSelf" in rule["rule"]


def fixture_expectations(pattern: str) -> list[str]:
    found = []
    for path in sorted(FIXTURES.glob(pattern)):
        match = re.search(r"^# expect-api: (.*)$", path.read_text(), re.MULTILINE)
        assert match, path
        found.append(match.group(1))
    return found


# Structure ----------------------------------------------------------------------------------------


def test_crd_files_are_v1_crds() -> None:
    names = sorted(p.name for p in CRDS.glob("*.yaml"))
    assert names == [
        "cloudmapimports.yaml",
        "cloudmapnamespaces.yaml",
        "discoverygrants.yaml",
        "kopf-peering.yaml",
        "servicediscoveries.yaml",
    ]
    for name in names:
        for doc in load(name):
            assert doc["apiVersion"] == "apiextensions.k8s.io/v1"
            assert doc["kind"] == "CustomResourceDefinition"
            names_ = doc["spec"]["names"]
            assert doc["metadata"]["name"] == f"{names_['plural']}.{doc['spec']['group']}"


@pytest.mark.parametrize(("kind", "short"), [(KIND_NAMESPACE, "cmns"), (KIND_DISCOVERY, "sd")])
def test_names_scope_and_status_subresource(kind: str, short: str) -> None:
    spec = crd(kind)["spec"]
    assert (spec["group"], spec["scope"], spec["names"]["kind"]) == (GROUP, "Namespaced", kind)
    assert spec["names"]["shortNames"] == [short]
    assert spec["names"]["categories"] == ["sd-operator"]
    v = version(kind)
    assert (v["name"], v["served"], v["storage"]) == (VERSION, True, True)
    assert v["subresources"] == {"status": {}}


@pytest.mark.parametrize("kind", list(OURS))
def test_printer_columns(kind: str) -> None:
    columns = {c["name"]: c for c in version(kind)["additionalPrinterColumns"]}
    for name, condition in (("READY", "Ready"), ("SYNCED", "Synced"), ("DRIFT", "Drifted")):
        assert columns[name]["jsonPath"] == f'.status.conditions[?(@.type=="{condition}")].status'
        assert columns[name].get("priority", 0) == 0
    assert columns["AGE"] == {
        "name": "AGE",
        "type": "date",
        "jsonPath": ".metadata.creationTimestamp",
    }


@pytest.mark.parametrize("kind", list(OURS))
def test_schema_is_structural_and_documented(kind: str) -> None:
    for path, node in nodes(root_schema(kind)):
        untyped = node.get("x-kubernetes-preserve-unknown-fields") or node.get(
            "x-kubernetes-int-or-string"
        )
        assert "type" in node or untyped, f"{kind}{path} has no type"
        if path and not path.endswith(("[]", "[*]")) and path != ".metadata":
            assert node.get("description"), f"{kind}{path} has no description"
        if node.get("type") == "object" and path.startswith((".spec", ".status")):
            assert not node.get("x-kubernetes-preserve-unknown-fields"), f"{kind}{path} is open"
    status = root_schema(kind)["properties"]["status"]["properties"]
    assert {"observedGeneration", "conditions", "operation", "drift", "lastObservedTime"} <= set(
        status
    )
    condition = status["conditions"]["items"]["properties"]
    assert set(condition) == {
        "type",
        "status",
        "reason",
        "message",
        "lastTransitionTime",
        "observedGeneration",
    }


def test_discovery_status_has_every_id() -> None:
    status = root_schema(KIND_DISCOVERY)["properties"]["status"]["properties"]
    assert {"namespaceId", "namespaceArn", "serviceId", "serviceArn", "ecsServiceArn"} <= set(
        status
    )
    drift = status["drift"]["items"]["properties"]
    assert set(drift) == {"field", "desired", "observed", "detectedAt", "action"}
    assert set(status["operation"]["properties"]) == {"id", "type", "submittedAt"}


@pytest.mark.parametrize("kind", list(OURS))
def test_every_cel_rule_has_a_message(kind: str) -> None:
    for path, rule in rules(kind):
        assert rule.get("message"), f"{kind}{path}: {rule['rule']}"
        if is_transition(rule):
            assert "is immutable; create a new" in rule["message"], rule["message"]
            assert f"create a new {kind} to change it" in rule["message"]


def test_kopf_peering_crds() -> None:
    docs = {d["spec"]["names"]["kind"]: d for d in load("kopf-peering.yaml")}
    assert set(docs) == {"ClusterKopfPeering", "KopfPeering"}
    assert docs["ClusterKopfPeering"]["spec"]["scope"] == "Cluster"
    assert docs["KopfPeering"]["spec"]["scope"] == "Namespaced"
    for doc in docs.values():
        assert doc["spec"]["group"] == "kopf.dev"
        assert [v["name"] for v in doc["spec"]["versions"]] == ["v1"]


def test_helm_chart_crds_are_byte_identical_copies() -> None:
    ours = {p.name: p.read_bytes() for p in CRDS.glob("*.yaml")}
    chart = {p.name: p.read_bytes() for p in CHART_CRDS.glob("*.yaml")}
    assert chart == ours, "run hack/sync-crds.sh"


# Every CEL rule is exercised by a fixture ---------------------------------------------------------


def test_every_static_rule_has_an_invalid_fixture() -> None:
    expected = fixture_expectations("invalid/*.yaml")
    for kind in OURS:
        for path, rule in rules(kind):
            if not is_transition(rule):
                assert any(e in rule["message"] for e in expected), (kind, path)


def test_every_transition_rule_has_an_update_fixture() -> None:
    expected = fixture_expectations("invalid-updates/*/after.yaml")
    transition = {r["message"] for kind in OURS for _, r in rules(kind) if is_transition(r)}
    assert transition <= set(expected)
    assert set(expected) <= transition


# The CLI validates against these very files ------------------------------------------------------


def test_the_package_ships_byte_identical_copies() -> None:
    # The CLI of an installed wheel reads its CRDs from the package (schema.crd_documents).
    ours = {p.name: p.read_bytes() for p in CRDS.glob("*.yaml")}
    packaged = {p.name: p.read_bytes() for p in PACKAGE_CRDS.glob("*.yaml")}
    assert packaged == ours, "run hack/sync-crds.sh"
    assert sorted(d["metadata"]["name"] for d in schema.crd_documents()) == sorted(
        d["metadata"]["name"] for name in ours for d in load(name)
    )


def test_a_grant_is_cluster_scoped_so_no_tenant_namespace_can_hold_one() -> None:
    [doc] = load(GRANTS[KIND_GRANT])
    assert (doc["spec"]["scope"], doc["spec"]["names"]["kind"]) == ("Cluster", KIND_GRANT)


def test_every_kind_of_our_group_is_validated() -> None:
    kinds = schema.kinds(GROUP)
    assert set(kinds) == set(OURS) | set(CLUSTER_ONLY) | set(GRANTS)
    for kind, validator in {k: v for k, v in kinds.items() if k in OURS}.items():
        assert validator.api_version == f"{GROUP}/{VERSION}"
        assert validator.schema == root_schema(kind)


@pytest.mark.parametrize("kind", list(OURS))
def test_every_function_a_rule_calls_is_evaluated(kind: str) -> None:
    # The CEL standard functions the library provides, and Kubernetes' extensions we add.
    standard = {"size", "has", "matches", "startsWith", "all", "exists", "exists_one"}
    for path, rule in rules(kind):
        program = schema.rules_of({"x-kubernetes-validations": [rule]})[0].program
        called = {f for f in program.functions() if f[0].isalpha()}
        assert called <= standard | set(schema.EXTENSIONS), (kind, path, rule["rule"])


@pytest.mark.parametrize("kind", list(OURS))
def test_transition_rules_are_the_ones_reading_old_self(kind: str) -> None:
    for _, rule in rules(kind):
        [compiled] = schema.rules_of({"x-kubernetes-validations": [rule]})
        assert compiled.is_transition == is_transition(rule)


def test_an_unsupported_schema_keyword_fails_loudly() -> None:
    crd_doc = copy.deepcopy(crd(KIND_NAMESPACE))
    spec = crd_doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["properties"]["name"]["oneOf"] = [{"minLength": 1}]
    with pytest.raises(schema.UnsupportedSchema, match=r"spec\.name: .*oneOf"):
        schema.KindSchema(crd_doc)
