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


def _rendered(reports: list[PlanReport], output: str) -> str:
    out = io.StringIO()
    render_plan(reports, out, output)
    return out.getvalue()


def test_text_and_markdown_plans_list_what_ecs_created_even_in_sync() -> None:
    from sd_operator.model.status import ServiceConnectResource

    arn = "arn:aws:servicediscovery:us-east-1:123456789012:service/srv-u"
    made = replace(report(), service_connect_resources=(ServiceConnectResource("users", arn),))
    text = _rendered([made, report()], "text")
    assert f"  = Service Connect resource users: {arn}\n" in text
    assert text.count("Service Connect resource") == 1  # the other read none
    markdown = _rendered([made], "markdown")
    assert f"- Service Connect resource users: {arn}\n" in markdown
    assert "in sync" in markdown


def test_a_generation_ecs_rolled_back_reads_as_such_in_text_and_markdown() -> None:
    from sd_operator.model.actions import Refusal
    from sd_operator.model.reasons import DEPLOYMENT_FAILED, DEPLOYMENT_ROLLED_BACK

    message = "ECS rolled back deployment ecs-svc/1 of ECS service prod/app (boom) to app:3"
    undone = [
        PlanReport(
            report().resource,
            plan=Plan(refusal=Refusal(reason, "ecs.serviceConnect.enabled", message)),
        )
        for reason in (DEPLOYMENT_ROLLED_BACK, DEPLOYMENT_FAILED, "SomethingElse")
    ]
    lines = _rendered(undone, "text").splitlines()
    assert lines[0].endswith(
        f": rolled back by ECS, not sent again: spec.ecs.serviceConnect.enabled: {message}"
    )
    assert ": failed in ECS, not sent again: " in lines[1]
    assert ": refused: " in lines[2]
    markdown = _rendered(undone[:1], "markdown")
    assert "| **rolled back by ECS, not sent again** | DeploymentRolledBack |" in markdown
    assert message in markdown
