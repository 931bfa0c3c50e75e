"""Plan output spells values as the manifests do: no Python reprs of the typed model."""

from __future__ import annotations

import io
import json
from dataclasses import replace

from sd_operator.cli import PlanReport, render_plan
from sd_operator.model.actions import Change, Plan
from sd_operator.model.spec import (
    CertificateAuthority,
    ClientAlias,
    DnsConfig,
    DnsRecord,
    HealthCheck,
    Identity,
    RecordType,
    Resource,
    Route53CheckType,
    Route53HealthCheck,
    RoutingPolicy,
    ServiceDiscoverySpec,
    Tls,
)
from sd_operator.model.wire import encode

CHECK = Route53HealthCheck(Route53CheckType.HTTP, "/", 1)


def report(*changes: Change) -> PlanReport:
    res = Resource(Identity("ServiceDiscovery", "team", "web"), ServiceDiscoverySpec(), "a.yaml#0")
    return PlanReport(res, plan=Plan(changes=changes))


def test_removing_a_route53_check_shows_its_yaml_mapping() -> None:
    out = io.StringIO()
    render_plan([report(Change("service.healthCheck.route53", None, CHECK))], out)
    line = out.getvalue().splitlines()[1]
    assert line == (
        "  ~ spec.service.healthCheck.route53: desired None, "
        "observed {type: HTTP, resourcePath: /, failureThreshold: 1}"
    )


def test_json_output_has_plain_mappings() -> None:
    dumped = report(Change("service.healthCheck.route53", CHECK, None)).view()
    assert json.loads(json.dumps(dumped))["changes"] == [
        {
            "path": "spec.service.healthCheck.route53",
            "desired": {"type": "HTTP", "resourcePath": "/", "failureThreshold": 1},
            "observed": None,
        }
    ]


def test_scalars_keep_their_spelling() -> None:
    out = io.StringIO()
    render_plan([report(Change("service.dns.records[0].ttl", 10, 300))], out)
    assert "desired 10, observed 300" in out.getvalue()
    out = io.StringIO()
    render_plan([report(Change("service.description", "new", None))], out)
    assert "desired 'new', observed None" in out.getvalue()


def test_encodes_use_camel_case_enum_values_and_leave_out_unset_fields() -> None:
    dns = DnsConfig(RoutingPolicy.MULTIVALUE, (DnsRecord(RecordType.A, 10),))
    assert encode(dns) == {"routingPolicy": "MULTIVALUE", "records": [{"type": "A", "ttl": 10}]}
    assert encode(ClientAlias(80)) == {"port": 80}
    assert encode(HealthCheck(custom=True)) == {"custom": {}}
    assert encode(HealthCheck(route53=CHECK)) == {
        "route53": {"type": "HTTP", "resourcePath": "/", "failureThreshold": 1}
    }
    assert encode(
        Tls(CertificateAuthority("arn:aws:acm-pca:x"), role_arn="arn:aws:iam::1:role/r")
    ) == {
        "issuerCertificateAuthority": {"awsPcaAuthorityArn": "arn:aws:acm-pca:x"},
        "roleArn": "arn:aws:iam::1:role/r",
    }
    assert type(encode(RecordType.A)) is str
    assert encode([{"port": 80, "dnsName": None}]) == [{"port": 80, "dnsName": None}]


def test_every_resource_status_validates_against_the_schema() -> None:
    from pathlib import Path

    import jsonschema

    from sd_operator.cli import document
    from sd_operator.model.actions import Blocked, Refusal, TagResource

    schema = json.loads((Path(__file__).parents[2] / "docs" / "plan.schema.json").read_text())
    res = report().resource
    reports = [
        report(),
        PlanReport(
            res,
            plan=Plan(
                actions=(TagResource("arn:svc", {"team": "a"}),),
                changes=(Change("service.tags.team", "a", None),),
            ),
        ),
        PlanReport(res, plan=Plan(refusal=Refusal("ImmutableField", "service.dns", "no"))),
        PlanReport(res, plan=Plan(blocked=Blocked("ServiceInUse", "kept", 15.0, ("2 inst",)))),
        PlanReport(res, error="AccessDenied: no"),
    ]
    doc = json.loads(json.dumps(document(reports, cluster_name="c")))
    jsonschema.validate(doc, schema)
    assert [r["status"] for r in doc["resources"]] == [
        "InSync",
        "Changes",
        "Refused",
        "Blocked",
        "Error",
    ]
    assert doc["resources"][1]["actions"][0]["fields"] == [
        {"path": "spec.service.tags.team", "desired": "a", "observed": None}
    ]
    assert doc["resources"][2]["refusal"]["kind"] == "Replacement"
    assert doc["resources"][3]["blocked"]["blockers"] == ["2 inst"]


def test_service_connect_resources_are_listed_in_the_plan_document() -> None:
    from pathlib import Path

    import jsonschema

    from sd_operator.cli import document
    from sd_operator.model.status import ServiceConnectResource

    schema = json.loads((Path(__file__).parents[2] / "docs" / "plan.schema.json").read_text())
    arn = "arn:aws:servicediscovery:us-east-1:123456789012:service/srv-u"
    made = (ServiceConnectResource("users", arn),)
    doc = document([replace(report(), service_connect_resources=made), report()], cluster_name="c")
    jsonschema.validate(doc, schema)
    first, second = doc["resources"]
    assert first["serviceConnectResources"] == [{"discoveryName": "users", "discoveryArn": arn}]
    assert "serviceConnectResources" not in second  # none read: nothing listed
