"""Manifests -> Resource: what the CLI refuses, it refuses like the API server, naming the field."""

from __future__ import annotations

import copy
import io
import re
from pathlib import Path

import pytest
import yaml

from sd_operator.model.parse import MAX_FILE_BYTES, SpecError, load_manifests, parse_resource
from sd_operator.model.spec import (
    KIND_DISCOVERY,
    KIND_NAMESPACE,
    AdoptionPolicy,
    ClientAlias,
    DeletionPolicy,
    DriftPolicy,
    NamespaceSpec,
    NamespaceType,
    RecordType,
    Resource,
    Route53CheckType,
    RoutingPolicy,
    ServiceConnectTestTrafficHeaderMatchRules,
    ServiceConnectTestTrafficHeaderRules,
    ServiceConnectTestTrafficRules,
    ServiceDiscoverySpec,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
INVALID = sorted((FIXTURES / "invalid").glob("*.yaml"))
UPDATES = sorted(p for p in (FIXTURES / "invalid-updates").iterdir() if p.is_dir())


def header(path: Path, key: str) -> str:
    found = re.search(rf"^# {key}: (.*)$", path.read_text(), re.MULTILINE)
    assert found, f"{path} lacks a '# {key}:' line"
    return found.group(1)


def by_name(resources: list[Resource], name: str) -> Resource:
    return next(r for r in resources if r.identity.name == name)


def discovery(res: Resource) -> ServiceDiscoverySpec:
    assert isinstance(res.spec, ServiceDiscoverySpec)
    return res.spec


def namespace(res: Resource) -> NamespaceSpec:
    assert isinstance(res.spec, NamespaceSpec)
    return res.spec


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


HTTP_NAMESPACE = """\
apiVersion: sd-operator.io/v1alpha1
kind: CloudMapNamespace
metadata: {name: api, namespace: team}
spec: {name: api, type: Http}
"""
DISCOVERY_IN_API = """\
apiVersion: sd-operator.io/v1alpha1
kind: ServiceDiscovery
metadata: {name: orders, namespace: team}
spec:
  namespaceRef: {name: api}
  service: {healthCheck: {custom: {}}}
"""


# The invalid corpus -------------------------------------------------------------------------------


def test_corpus_is_large_enough() -> None:
    assert len(INVALID) >= 18
    assert len(UPDATES) >= 4


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_fixture_is_refused_naming_field_and_source(path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_manifests([str(path)])
    err = caught.value
    assert err.field == header(path, "expect-field")
    assert err.source.startswith(f"{path}#")
    # Same words as the API server (CEL messages are shared; schema errors use its phrasing).
    assert header(path, "expect-api") in str(err)
    assert err.field in str(err)
    assert err.source in str(err)
    assert err.resource in str(err)


@pytest.mark.parametrize("case", UPDATES, ids=lambda p: p.name)
def test_update_fixtures_pass_static_validation(case: Path) -> None:
    # Immutability needs the stored object: only the API server's transition rules refuse these.
    before, after = (
        parse_resource(yaml.safe_load((case / name).read_text()), str(case / name))
        for name in ("before.yaml", "after.yaml")
    )
    assert header(case / "after.yaml", "expect-api").endswith("to change it")
    assert before.identity == after.identity
    assert before.spec != after.spec


# Valid manifests and defaults ---------------------------------------------------------------------


def test_valid_fixtures_load_namespaces_first() -> None:
    resources = load_manifests([str(FIXTURES / "valid")])
    kinds = [r.identity.kind for r in resources]
    assert kinds == sorted(kinds, key=lambda k: k != KIND_NAMESPACE)
    assert kinds.count(KIND_NAMESPACE) == 3
    assert kinds.count(KIND_DISCOVERY) == 8


def test_defaults_are_applied() -> None:
    resources = load_manifests([str(FIXTURES / "valid" / "01-http-namespace.yaml")])
    ns = namespace(by_name(resources, "internal-api"))
    assert ns.type is NamespaceType.HTTP
    assert (ns.vpc, ns.description, ns.region, dict(ns.tags)) == (None, None, None, {})
    assert ns.deletion_policy is None  # unset: created deleted, adopted given back
    assert ns.adoption_policy is AdoptionPolicy.NEVER
    sd = discovery(by_name(resources, "orders"))
    assert sd.service is not None
    assert sd.service.name == "orders"
    assert sd.service.health_check is not None
    assert sd.service.health_check.custom
    assert sd.service.health_check.route53 is None
    assert sd.drift_policy is DriftPolicy.CORRECT
    assert sd.max_ttl_seconds == 60
    assert sd.deletion_policy is None
    assert sd.adoption_policy is AdoptionPolicy.NEVER
    assert sd.ecs is not None
    assert sd.ecs.registry is not None
    assert (sd.ecs.registry.port, sd.ecs.registry.container_name) == (None, None)


def test_record_ttl_routing_policy_and_service_connect_defaults() -> None:
    [_, res] = load_manifests([str(FIXTURES / "valid" / "03-service-connect-tls.yaml")])
    sd = discovery(res)
    assert sd.service is not None
    assert sd.service.dns is not None
    assert sd.service.dns.routing_policy is RoutingPolicy.MULTIVALUE
    assert [(r.type, r.ttl) for r in sd.service.dns.records] == [(RecordType.SRV, 10)]
    assert sd.ecs is not None
    sc = sd.ecs.service_connect
    assert sc is not None
    assert sc.enabled
    assert sc.namespace == "myapp.local"
    http, grpc = sc.services
    rules = ServiceConnectTestTrafficRules(
        ServiceConnectTestTrafficHeaderRules(
            "x-canary", ServiceConnectTestTrafficHeaderMatchRules("true")
        )
    )
    assert http.client_aliases == (
        ClientAlias(port=80, dns_name="user-svc", test_traffic_rules=rules),
    )
    assert http.ingress_port_override == 15000
    assert http.timeout is not None
    assert (http.timeout.idle_timeout_seconds, http.timeout.per_request_timeout_seconds) == (
        300,
        15,
    )
    assert http.tls is not None
    assert http.tls.issuer_certificate_authority.aws_pca_authority_arn.endswith(
        ":certificate-authority/1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"
    )
    assert http.tls.kms_key == "alias/service-connect"
    assert (grpc.port_name, grpc.discovery_name, grpc.client_aliases, grpc.tls) == (
        "grpc",
        None,
        (),
        None,
    )
    assert sc.log_configuration is not None
    assert sc.log_configuration.log_driver == "awslogs"
    assert sc.log_configuration.secret_options[0].value_from.startswith("arn:aws:ssm:")


def test_route53_health_check_in_public_namespace() -> None:
    resources = load_manifests([str(FIXTURES / "valid" / "02-public-dns-route53.yaml")])
    ns = namespace(by_name(resources, "public"))
    assert (ns.type, ns.region, ns.deletion_policy) == (
        NamespaceType.DNS_PUBLIC,
        "eu-west-1",
        DeletionPolicy.RETAIN,
    )
    assert ns.tags == {"team": "edge", "cost-center": "4711"}
    sd = discovery(by_name(resources, "gateway"))
    assert sd.service is not None
    assert sd.service.health_check is not None
    check = sd.service.health_check.route53
    assert check is not None
    assert (check.type, check.resource_path, check.failure_threshold) == (
        Route53CheckType.HTTPS,
        "/healthz",
        3,
    )
    assert not sd.service.health_check.custom
    assert (sd.drift_policy, sd.max_ttl_seconds) == (DriftPolicy.REPORT, 300)


def test_external_namespace_and_other_api_groups_skipped() -> None:
    [res] = load_manifests([str(FIXTURES / "valid" / "04-external-namespace.yaml")])
    sd = discovery(res)
    assert res.source.endswith("04-external-namespace.yaml#1")
    assert sd.namespace_ref is None
    assert sd.cloud_map_namespace is not None
    assert sd.cloud_map_namespace.name == "shared.corp.local"
    assert sd.region == "eu-central-1"
    assert sd.service is None


def test_route53_failure_threshold_defaults_to_one() -> None:
    doc = {
        "apiVersion": "sd-operator.io/v1alpha1",
        "kind": "ServiceDiscovery",
        "metadata": {"name": "web"},
        "spec": {
            "cloudMapNamespace": {"name": "example.com"},
            "service": {
                "dns": {"records": [{"type": "A", "ttl": 5}]},
                "healthCheck": {"route53": {"type": "TCP"}},
            },
        },
    }
    sd = discovery(parse_resource(doc))
    assert sd.service is not None
    assert sd.service.health_check is not None
    assert sd.service.health_check.route53 is not None
    assert sd.service.health_check.route53.failure_threshold == 1


def test_identity_comes_from_metadata_with_default_namespace() -> None:
    doc = {
        "apiVersion": "sd-operator.io/v1alpha1",
        "kind": "CloudMapNamespace",
        "metadata": {"name": "api", "uid": "1234-abcd", "generation": 7},
        "spec": {"name": "api", "type": "Http"},
    }
    res = parse_resource(doc, "inline")
    assert res.identity.key == "CloudMapNamespace/default/api"
    assert (res.identity.uid, res.identity.generation, res.source) == ("1234-abcd", 7, "inline")


# Errors name where, what and why ------------------------------------------------------------------


def test_spec_error_str_names_source_resource_and_field() -> None:
    err = SpecError("Required value", source="a.yaml#0", resource="Kind/ns/n", field="spec.type")
    assert str(err) == "a.yaml#0: Kind/ns/n: spec.type: Required value"


def test_wrong_type_is_refused() -> None:
    doc = {
        "apiVersion": "sd-operator.io/v1alpha1",
        "kind": "ServiceDiscovery",
        "metadata": {"name": "web"},
        "spec": {
            "cloudMapNamespace": {"name": "x.local"},
            "service": {"dns": {"records": [{"type": "A", "ttl": "10"}]}},
        },
    }
    with pytest.raises(SpecError, match="must be of type integer") as caught:
        parse_resource(doc)
    assert caught.value.field == "spec.service.dns.records[0].ttl"


def test_boolean_is_not_an_integer() -> None:
    doc = {
        "apiVersion": "sd-operator.io/v1alpha1",
        "kind": "ServiceDiscovery",
        "metadata": {"name": "web"},
        "spec": {"cloudMapNamespace": {"name": "x.local"}, "service": {}, "maxTtlSeconds": True},
    }
    with pytest.raises(SpecError, match="must be of type integer") as caught:
        parse_resource(doc)
    assert caught.value.field == "spec.maxTtlSeconds"


def test_null_is_the_same_as_absent() -> None:
    doc = {
        "apiVersion": "sd-operator.io/v1alpha1",
        "kind": "CloudMapNamespace",
        "metadata": {"name": "api"},
        "spec": {"name": "api", "type": "Http", "vpc": None, "deletionPolicy": None},
    }
    ns = namespace(parse_resource(doc))
    assert (ns.vpc, ns.deletion_policy) == (None, None)


def test_missing_spec_is_refused() -> None:
    doc = {
        "apiVersion": "sd-operator.io/v1alpha1",
        "kind": "CloudMapNamespace",
        "metadata": {"name": "a"},
    }
    with pytest.raises(SpecError, match="Required value") as caught:
        parse_resource(doc)
    assert caught.value.field == "spec"


def test_invalid_metadata_name_is_refused() -> None:
    doc = {
        "apiVersion": "sd-operator.io/v1alpha1",
        "kind": "CloudMapNamespace",
        "metadata": {"name": "Not_Valid"},
        "spec": {"name": "api", "type": "Http"},
    }
    with pytest.raises(SpecError) as caught:
        parse_resource(doc)
    assert caught.value.field == "metadata.name"


def test_dates_stay_strings_as_with_kubectl(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "ns.yaml",
        HTTP_NAMESPACE.replace("type: Http}", "type: Http, description: 2024-01-01}"),
    )
    [res] = load_manifests([str(path)])
    assert namespace(res).description == "2024-01-01"


# Loading sets of files ----------------------------------------------------------------------------


def test_duplicate_resources_name_both_sources(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", HTTP_NAMESPACE)
    second = write(tmp_path, "b.yaml", "---\n" + HTTP_NAMESPACE)
    with pytest.raises(SpecError, match="duplicate") as caught:
        load_manifests([str(first), str(second)])
    assert caught.value.source == f"{second}#0"
    assert f"{first}#0" in str(caught.value)
    assert caught.value.resource == "CloudMapNamespace/team/api"


def test_same_name_in_other_kubernetes_namespace_is_no_duplicate(tmp_path: Path) -> None:
    path = write(
        tmp_path, "a.yaml", HTTP_NAMESPACE + "---\n" + HTTP_NAMESPACE.replace("team", "other")
    )
    assert len(load_manifests([str(path)])) == 2


def test_missing_namespace_reference_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "sd.yaml", DISCOVERY_IN_API)
    with pytest.raises(SpecError, match="missing reference") as caught:
        load_manifests([str(path)])
    assert caught.value.field == "spec.namespaceRef.name"
    assert caught.value.source == f"{path}#0"


def test_reference_resolves_only_in_the_same_kubernetes_namespace(tmp_path: Path) -> None:
    path = write(
        tmp_path, "a.yaml", HTTP_NAMESPACE.replace("team", "other") + "---\n" + DISCOVERY_IN_API
    )
    with pytest.raises(SpecError, match="missing reference"):
        load_manifests([str(path)])


def test_directories_are_read_recursively_and_sorted(tmp_path: Path) -> None:
    write(tmp_path, "b/sd.yml", DISCOVERY_IN_API)
    write(tmp_path, "a/ns.yaml", HTTP_NAMESPACE)
    write(tmp_path, "a/notes.txt", "not yaml: [")
    resources = load_manifests([str(tmp_path)])
    assert [r.identity.kind for r in resources] == [KIND_NAMESPACE, KIND_DISCOVERY]
    assert resources[1].source == f"{tmp_path / 'b' / 'sd.yml'}#0"


def test_other_api_groups_and_plain_yaml_are_skipped(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "mixed.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n---\n"
        "apiVersion: other.sd-operator.io/v1\nkind: ServiceDiscovery\n---\n"
        "replicas: 3\n---\n" + HTTP_NAMESPACE,
    )
    [res] = load_manifests([str(path)])
    assert res.source == f"{path}#3"


def test_kubernetes_lists_are_expanded(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "list.yaml",
        "apiVersion: v1\nkind: List\nitems:\n"
        "- {apiVersion: sd-operator.io/v1alpha1, kind: CloudMapNamespace,"
        " metadata: {name: api}, spec: {name: api, type: Http}}\n",
    )
    [res] = load_manifests([str(path)])
    assert res.source == f"{path}#0.items[0]"


@pytest.mark.parametrize(
    ("api_version", "kind", "field"),
    [
        ("sd-operator.io/v1alpha1", "ServiceRegistry", "kind"),
        ("sd-operator.io/v1", "ServiceDiscovery", "apiVersion"),
    ],
)
def test_our_group_with_unknown_kind_or_version_is_an_error(
    tmp_path: Path, api_version: str, kind: str, field: str
) -> None:
    path = write(
        tmp_path, "x.yaml", f"apiVersion: {api_version}\nkind: {kind}\nmetadata: {{name: x}}\n"
    )
    with pytest.raises(SpecError) as caught:
        load_manifests([str(path)])
    assert caught.value.field == field


def test_our_kind_without_api_version_is_an_error(tmp_path: Path) -> None:
    path = write(
        tmp_path, "x.yaml", HTTP_NAMESPACE.replace("apiVersion: sd-operator.io/v1alpha1\n", "")
    )
    with pytest.raises(SpecError, match="apiVersion is required"):
        load_manifests([str(path)])


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.yaml", "spec: [unclosed\n")
    with pytest.raises(SpecError, match="invalid YAML") as caught:
        load_manifests([str(path)])
    assert caught.value.source == str(path)


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no such file"):
        load_manifests([str(tmp_path / "nope.yaml")])


def test_same_file_named_twice_is_read_once(tmp_path: Path) -> None:
    path = write(tmp_path, "ns.yaml", HTTP_NAMESPACE)
    write(
        tmp_path,
        "ns2.yaml",
        HTTP_NAMESPACE.replace("{name: api, namespace", "{name: api2, namespace"),
    )
    twice = [str(tmp_path), str(path), str(tmp_path / "." / "ns.yaml")]
    resources = load_manifests(twice)
    assert [r.identity.name for r in resources] == ["api", "api2"]
    assert resources[0].source == f"{path}#0"


def test_dash_reads_standard_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(DISCOVERY_IN_API.encode())))
    ns = write(tmp_path, "ns.yaml", HTTP_NAMESPACE)
    resources = load_manifests([str(ns), "-", "-"])
    assert [r.source for r in resources] == [f"{ns}#0", "<stdin>#0"]


def test_duplicate_mapping_key_names_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "dup.yaml", HTTP_NAMESPACE.replace("spec:", "spec: {}\nspec:"))
    with pytest.raises(SpecError, match="duplicate key 'spec'") as caught:
        load_manifests([str(path)])
    assert caught.value.source == str(path)
    assert "line 5" in str(caught.value)


def test_nested_duplicate_key_is_refused_but_merge_keys_may_be_overridden(tmp_path: Path) -> None:
    nested = write(
        tmp_path, "nested.yaml", HTTP_NAMESPACE.replace("type: Http}", "type: Http, type: Http}")
    )
    with pytest.raises(SpecError, match="duplicate key 'type'"):
        load_manifests([str(nested)])
    merged = write(
        tmp_path,
        "merged.yaml",
        HTTP_NAMESPACE.replace(
            "spec: {name: api, type: Http}",
            "spec:\n  <<: {name: api, type: DnsPrivate}\n  type: Http",
        ),
    )
    [res] = load_manifests([str(merged)])
    assert namespace(res).type is NamespaceType.HTTP


HTTP_DNS_MESSAGE = (
    "the namespace is an Http namespace, which has no DNS records: remove service.dns "
    "or use a DnsPrivate or DnsPublic namespace"
)
ROUTE53_MESSAGE = "Route 53 health checks work only in DnsPublic namespaces: use healthCheck.custom"


def test_dns_records_in_an_http_namespace_of_the_set_are_an_error(tmp_path: Path) -> None:
    sd = DISCOVERY_IN_API.replace(
        "service: {healthCheck: {custom: {}}}",
        "service: {dns: {records: [{type: A}]}, healthCheck: {custom: {}}}",
    )
    path = write(tmp_path, "a.yaml", HTTP_NAMESPACE + "---\n" + sd)
    with pytest.raises(SpecError) as caught:
        load_manifests([str(path)])
    err = caught.value
    assert (err.source, err.resource, err.field, err.message) == (
        f"{path}#1",
        "ServiceDiscovery/team/orders",
        "spec.service.dns",
        HTTP_DNS_MESSAGE,
    )


@pytest.mark.parametrize(
    "namespace_spec",
    ["{name: api, type: Http}", "{name: api.local, type: DnsPrivate, vpc: vpc-0a1b2c3d}"],
)
def test_route53_check_outside_a_public_namespace_of_the_set_is_an_error(
    tmp_path: Path, namespace_spec: str
) -> None:
    ns = HTTP_NAMESPACE.replace("{name: api, type: Http}", namespace_spec)
    sd = DISCOVERY_IN_API.replace(
        "healthCheck: {custom: {}}", "healthCheck: {route53: {type: TCP}}"
    )
    path = write(tmp_path, "a.yaml", ns + "---\n" + sd)
    with pytest.raises(SpecError) as caught:
        load_manifests([str(path)])
    err = caught.value
    assert (err.source, err.field, err.message) == (
        f"{path}#1",
        "spec.service.healthCheck.route53",
        ROUTE53_MESSAGE,
    )


def test_route53_check_and_dns_in_a_public_namespace_of_the_set_are_fine(tmp_path: Path) -> None:
    ns = HTTP_NAMESPACE.replace("{name: api, type: Http}", "{name: example.com, type: DnsPublic}")
    sd = DISCOVERY_IN_API.replace(
        "service: {healthCheck: {custom: {}}}",
        "service: {dns: {records: [{type: A}]}, healthCheck: {route53: {type: TCP}}}",
    )
    path = write(tmp_path, "a.yaml", ns + "---\n" + sd)
    assert len(load_manifests([str(path)])) == 2


def test_drift_fields_are_parsed_and_default_to_none() -> None:
    [res] = load_manifests([str(Path(__file__).parents[1] / "fixtures/valid/06-drift-fields.yaml")])
    spec = discovery(res)
    assert spec.drift_ignore == ("spec.service.dns.records[*].ttl",)
    assert spec.drift_report == ("spec.ecs.serviceConnect", "spec.service.tags.cost-center")
    [plain] = load_manifests(
        [str(Path(__file__).parents[1] / "fixtures/valid/04-external-namespace.yaml")]
    )
    assert discovery(plain).drift_ignore == discovery(plain).drift_report == ()


def drift_discovery(policies: dict[str, str]) -> dict[str, object]:
    doc = yaml.safe_load(DISCOVERY_IN_API)
    doc["spec"].update(policies)
    return doc


@pytest.mark.parametrize(
    ("policies", "expected"),
    [
        ({}, DriftPolicy.CORRECT),
        ({"driftPolicy": "Report"}, DriftPolicy.REPORT),
        ({"drift": "Report"}, DriftPolicy.REPORT),
        ({"driftPolicy": "Report", "drift": "Report"}, DriftPolicy.REPORT),
        # an object stored with the old default, given the new field by a later apply
        ({"driftPolicy": "Report", "drift": "Correct"}, DriftPolicy.REPORT),
        ({"driftPolicy": "Correct", "drift": "Report"}, DriftPolicy.CORRECT),
    ],
    ids=[
        "default",
        "driftPolicy",
        "deprecated-drift-alone",
        "both-the-same",
        "driftPolicy-wins-over-the-old-default",
        "driftPolicy-wins",
    ],
)
def test_drift_policy_is_read_from_spec_drift_policy_or_its_deprecated_name(
    policies: dict[str, str], expected: DriftPolicy
) -> None:
    assert discovery(parse_resource(drift_discovery(policies))).drift_policy is expected


# Whole documents, as the API server checks them -------------------------------------------------


def refused(tmp_path: Path, text: str) -> SpecError:
    path = write(tmp_path, "doc.yaml", text)
    with pytest.raises(SpecError) as caught:
        load_manifests([str(path)])
    assert caught.value.source.startswith(str(path))
    return caught.value


@pytest.mark.parametrize(
    ("metadata", "field", "message"),
    [
        ("{name: api, lables: {a: b}}", "metadata.lables", 'unknown field "metadata.lables"'),
        (
            "{name: api, labels: {tier: 1}}",
            "metadata.labels",
            "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels"
            " of type string",
        ),
        (
            "{name: api, labels: [a]}",
            "metadata.labels",
            "cannot unmarshal array into Go struct field ObjectMeta.metadata.labels"
            " of type map[string]string",
        ),
        (
            "{name: api, labels: {'-bad': x}}",
            "metadata.labels",
            'Invalid value: "-bad": name part must consist of alphanumeric characters',
        ),
        (
            "{name: api, labels: {Example.com/a: x}}",
            "metadata.labels",
            'Invalid value: "Example.com/a": prefix part a lowercase RFC 1123 subdomain',
        ),
        (
            "{name: api, labels: {a/b/c: x}}",
            "metadata.labels",
            'Invalid value: "a/b/c": a qualified name must consist of',
        ),
        (
            "{name: api, labels: {a: " + "x" * 64 + "}}",
            "metadata.labels",
            "must be no more than 63 characters",
        ),
        (
            "{name: api, annotations: {note: true}}",
            "metadata.annotations",
            "cannot unmarshal bool into Go struct field ObjectMeta.metadata.annotations",
        ),
        (
            "{name: api, annotations: {'bad key': x}}",
            "metadata.annotations",
            'Invalid value: "bad key": name part must consist',
        ),
        (
            "{name: api, namespace: Team_A}",
            "metadata.namespace",
            'Invalid value: "Team_A": a lowercase RFC 1123 label must consist of',
        ),
        ("{labels: {a: b}}", "metadata.name", "Required value: name or generateName is required"),
        (
            "{name: 5}",
            "metadata.name",
            "cannot unmarshal number into Go struct field ObjectMeta.metadata.name of type string",
        ),
        ("{name: api, generation: x}", "metadata.generation", "of type int64"),
        ("hello", "metadata", "cannot unmarshal string into Go struct field"),
    ],
)
def test_metadata_is_checked_as_kubernetes_checks_object_meta(
    tmp_path: Path, metadata: str, field: str, message: str
) -> None:
    err = refused(tmp_path, HTTP_NAMESPACE.replace("{name: api, namespace: team}", metadata))
    assert (err.field, err.resource.split("/")[0]) == (field, "CloudMapNamespace")
    assert message in err.message


def test_annotations_larger_than_the_api_server_stores_are_refused(tmp_path: Path) -> None:
    big = "{name: api, annotations: {a: " + "x" * (256 * 1024) + "}}"
    err = refused(tmp_path, HTTP_NAMESPACE.replace("{name: api, namespace: team}", big))
    assert (err.field, err.message) == (
        "metadata.annotations",
        "Too long: must have at most 262144 bytes",
    )


def test_valid_metadata_is_kept_as_the_api_server_stores_it(tmp_path: Path) -> None:
    meta = (
        "{name: api, namespace: team, uid: u-1, generation: 3, labels: {app.kubernetes.io/name: x,"
        " empty: null}, annotations: {example.com/Note: 'any text: 1'}, finalizers: [a/b]}"
    )
    path = write(tmp_path, "ns.yaml", HTTP_NAMESPACE.replace("{name: api, namespace: team}", meta))
    [res] = load_manifests([str(path)])
    assert (res.identity.key, res.identity.uid, res.identity.generation) == (
        "CloudMapNamespace/team/api",
        "u-1",
        3,
    )


def test_unknown_top_level_field_is_refused(tmp_path: Path) -> None:
    err = refused(tmp_path, HTTP_NAMESPACE + "specs: {name: other}\n")
    assert (err.field, err.message, err.resource) == (
        "specs",
        'unknown field "specs"',
        "CloudMapNamespace/team/api",
    )


def test_the_root_rule_sees_metadata_name(tmp_path: Path) -> None:
    sd = DISCOVERY_IN_API.replace("name: orders,", "name: orders.v2,")
    err = refused(tmp_path, HTTP_NAMESPACE + "---\n" + sd)
    assert err.field == "spec.service.name"
    assert err.message.startswith("metadata.name is not a valid Cloud Map service name")


def test_map_values_are_named_by_key(tmp_path: Path) -> None:
    err = refused(tmp_path, HTTP_NAMESPACE.replace("type: Http}", "type: Http, tags: {team: [a]}}"))
    assert (err.field, err.message) == (
        "spec.tags[team]",
        'Invalid value: "array": must be of type string',
    )
    long_value = "x" * 257
    err = refused(
        tmp_path,
        HTTP_NAMESPACE.replace(
            "type: Http}", f"type: Http, tags: {{a.b: ok, a.b.c: {long_value}}}}}"
        ),
    )
    assert (err.field, err.message) == (
        "spec.tags[a.b.c]",
        "Too long: may not be more than 256 characters",
    )


def test_pattern_dollar_does_not_match_before_a_final_newline() -> None:
    doc = {
        "apiVersion": "sd-operator.io/v1alpha1",
        "kind": "CloudMapNamespace",
        "metadata": {"name": "api"},
        "spec": {"name": "api", "type": "Http", "region": "us-east-1\n"},
    }
    with pytest.raises(SpecError, match="should match") as caught:
        parse_resource(doc)
    assert caught.value.field == "spec.region"


# Any YAML failure is an error naming the file, never a traceback ---------------------------------


def test_deep_nesting_is_an_error_naming_the_file(tmp_path: Path) -> None:
    for depth in (150, 900, 20_000):
        err = refused(tmp_path, "a: " + "[" * depth + "]" * depth + "\n")
        assert err.message.startswith("invalid YAML"), err
        assert "nest" in err.message


def test_an_alias_bomb_in_annotations_is_refused_before_it_is_expanded(tmp_path: Path) -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    bomb = "\n".join(f"    {line}" for line in levels)
    text = HTTP_NAMESPACE.replace(
        "metadata: {name: api, namespace: team}",
        f"metadata:\n  name: api\n  annotations:\n{bomb}",
    )
    err = refused(tmp_path, text)
    assert err.message == "invalid YAML: aliases add more than 100000 nodes"


def test_a_few_aliases_are_fine(tmp_path: Path) -> None:
    text = HTTP_NAMESPACE.replace(
        "{name: api, type: Http}", "{name: &n api, type: Http, description: *n}"
    )
    [res] = load_manifests([str(write(tmp_path, "ns.yaml", text))])
    assert namespace(res).description == "api"


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    err = refused(tmp_path, HTTP_NAMESPACE + "extra: &loop [*loop]\n")
    assert err.message == "invalid YAML: an alias refers to a node that contains it"


def test_text_that_is_not_utf8_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(HTTP_NAMESPACE.replace("api,", "\xe4pi,").encode("latin-1"))
    with pytest.raises(SpecError, match="not UTF-8 text: byte 0xe4") as caught:
        load_manifests([str(path)])
    assert caught.value.source == str(path)


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + HTTP_NAMESPACE.encode())
    assert len(load_manifests([str(path)])) == 1


def test_control_characters_are_an_error_naming_the_file(tmp_path: Path) -> None:
    err = refused(tmp_path, HTTP_NAMESPACE.replace("type: Http", "type: Ht\x07tp"))
    assert err.message.startswith("invalid YAML")


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("w") as out:
        out.write(HTTP_NAMESPACE)
        out.write("#" * MAX_FILE_BYTES)
    with pytest.raises(SpecError, match="larger than 16 MiB") as caught:
        load_manifests([str(path)])
    assert caught.value.source == str(path)


# The ECS shapes the ECS plan used to re-check itself: the CRD refuses them -----------------------

ECS_DISCOVERY = {
    "apiVersion": "sd-operator.io/v1alpha1",
    "kind": "ServiceDiscovery",
    "metadata": {"name": "user", "namespace": "team"},
    "spec": {
        "cloudMapNamespace": {"name": "myapp.local"},
        "service": {"name": "user-service", "healthCheck": {"custom": {}}},
        "ecs": {
            "cluster": "production",
            "service": "user-service",
            "registry": {"containerName": "app", "containerPort": 8080},
            "serviceConnect": {
                "services": [
                    {
                        "portName": "http",
                        "discoveryName": "user-api",
                        "clientAliases": [{"port": 80, "dnsName": "user-svc"}],
                    }
                ]
            },
        },
    },
}


def ecs_refused(change: dict[str, object], entries: list[dict[str, object]] | None = None) -> str:
    doc = copy.deepcopy(ECS_DISCOVERY)
    spec = doc["spec"]
    assert isinstance(spec, dict)
    for path, value in change.items():
        *parents, last = path.split(".")
        node = spec
        for name in parents:
            node = node[name]
        if value is None:
            del node[last]
        else:
            node[last] = value
    if entries is not None:
        spec["ecs"]["serviceConnect"]["services"] = entries
    with pytest.raises(SpecError) as caught:
        parse_resource(doc)
    return f"{caught.value.field}: {caught.value.message}"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"ecs.registry": {"containerName": "app"}},
            "spec.ecs.registry: spec.ecs.registry.containerName and containerPort must be set",
        ),
        (
            {"ecs.registry": {"containerPort": 8080}},
            "spec.ecs.registry: spec.ecs.registry.containerName and containerPort must be set",
        ),
        (
            {"ecs.registry": {"port": 1, "containerName": "app", "containerPort": 8080}},
            "spec.ecs.registry: spec.ecs.registry takes either port or containerName",
        ),
        (
            {"service": None},
            "spec.ecs.registry: spec.ecs.registry registers the ECS tasks into spec.service",
        ),
    ],
)
def test_registry_shape_is_refused(change: dict[str, object], expected: str) -> None:
    assert ecs_refused(change).startswith(expected)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"portName": "http", "discoveryName": "user-service"}, "must differ from the Cloud Map"),
        ({"portName": "user-service"}, "must differ from the Cloud Map"),
        ({"portName": "http", "discoveryName": "User"}, "services[0].discoveryName: Invalid"),
        ({"portName": "http", "discoveryName": "-user"}, "services[0].discoveryName: Invalid"),
        ({"portName": "http", "discoveryName": "a" * 65}, "services[0].discoveryName: Too long"),
        ({"portName": "http", "discoveryName": "user.svc"}, "services[0].discoveryName: Invalid"),
        ({"portName": "Http"}, "services[0].portName: Invalid value"),
        (
            {"portName": "http", "clientAliases": [{"port": 80}, {"port": 81}]},
            "services[0].clientAliases: at most one clientAlias",
        ),
        (
            {"portName": "http", "clientAliases": [{"port": 80, "dnsName": "-bad"}]},
            "services[0].clientAliases[0].dnsName: Invalid value",
        ),
    ],
)
def test_service_connect_entry_is_refused(entry: dict[str, object], expected: str) -> None:
    assert expected in ecs_refused({}, [entry])


def test_duplicate_discovery_name_is_refused() -> None:
    entries: list[dict[str, object]] = [
        {"portName": "http", "discoveryName": "api"},
        {"portName": "grpc", "discoveryName": "api"},
    ]
    assert ecs_refused({}, entries) == (
        "spec.ecs.serviceConnect.services: each Service Connect service needs its own"
        " discoveryName (portName when discoveryName is omitted)"
    )


def test_discovery_name_of_64_characters_is_fine() -> None:
    doc = copy.deepcopy(ECS_DISCOVERY)
    doc["spec"]["ecs"]["serviceConnect"]["services"][0]["discoveryName"] = "a" * 64  # type: ignore[index]
    sd = discovery(parse_resource(doc))
    assert sd.ecs is not None
    assert sd.ecs.service_connect is not None
    assert sd.ecs.service_connect.services[0].discovery_name == "a" * 64


def test_service_attributes_are_parsed_and_their_keys_are_drift_paths() -> None:
    resources = load_manifests([str(FIXTURES / "valid" / "02-public-dns-route53.yaml")])
    service = discovery(by_name(resources, "gateway")).service
    assert service is not None
    assert service.attributes == {"owner": "edge-team", "release": "2026.12"}
    doc = yaml.safe_load(
        (FIXTURES / "valid" / "02-public-dns-route53.yaml").read_text().split("---")[1]
    )
    doc["spec"]["driftFields"] = {"report": ["spec.service.attributes.release"]}
    assert discovery(parse_resource(doc)).drift_report == ("spec.service.attributes.release",)


@pytest.mark.parametrize(
    ("annotations", "paused"),
    [
        ({"sd-operator.io/paused": "true"}, True),
        ({"sd-operator.io/paused": "false"}, False),
        ({"sd-operator.io/paused": "True"}, False),
        ({"other.io/paused": "true"}, False),
        (None, False),
    ],
)
def test_only_paused_true_pauses_a_manifest(
    annotations: dict[str, str] | None, paused: bool
) -> None:
    meta: dict[str, object] = {"name": "shop"}
    if annotations is not None:
        meta["annotations"] = annotations
    doc = {
        "apiVersion": "sd-operator.io/v1alpha1",
        "kind": "CloudMapNamespace",
        "metadata": meta,
        "spec": {"name": "shop", "type": "Http"},
    }

    assert parse_resource(doc).paused is paused
