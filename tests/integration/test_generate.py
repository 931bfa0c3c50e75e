"""`sd-operator generate` over an emulator holding what a team made by hand: an Http, a
DnsPrivate and a DnsPublic namespace, services of every DNS and health-check shape, and ECS
services with registries and Service Connect (TLS, timeouts, access logs), one of them with its
registry in one namespace and Service Connect in another. Its manifests describe AWS exactly:
adopting them writes only tags, after which `plan` is in sync and a changed TTL is the one
change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sd_devkit.emulator import Emulator, assumed_session, client, trust_policy
from sd_operator.cli import EXIT_CHANGES, EXIT_OK
from sd_operator.model.parse import load_manifests
from sd_operator.model.spec import NamespaceSpec, ServiceDiscoverySpec
from support import REGION, calls_since, cli, cli_output, mutating_calls

VPC = "vpc-0a1b2c3d4e5f60718"
CLUSTER = "production"
PCA = f"arn:aws:acm-pca:{REGION}:123456789012:certificate-authority/0a1b2c3d"
ROLE = "arn:aws:iam::123456789012:role/ecs-service-connect-tls"
KMS = f"arn:aws:kms:{REGION}:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _operation_target(sd: Any, operation: dict[str, Any]) -> str:
    done = sd.get_operation(OperationId=operation["OperationId"])["Operation"]
    return str(done["Targets"]["NAMESPACE"])


def _namespaces(sd: Any) -> dict[str, tuple[str, str]]:
    """name -> (id, arn) of the three namespaces, made as a person would."""
    made = {
        "shop": sd.create_http_namespace(
            Name="shop", Description="the shop's APIs", Tags=[{"Key": "team", "Value": "shop"}]
        ),
        "myapp.local": sd.create_private_dns_namespace(Name="myapp.local", Vpc=VPC),
        "example.com": sd.create_public_dns_namespace(Name="example.com"),
    }
    found = {}
    for name, operation in made.items():
        ns = sd.get_namespace(Id=_operation_target(sd, operation))["Namespace"]
        found[name] = (ns["Id"], ns["Arn"])
    return found


def _service(sd: Any, name: str, namespace_id: str, **shape: Any) -> str:
    return str(sd.create_service(Name=name, NamespaceId=namespace_id, **shape)["Service"]["Arn"])


def _dns(*records: tuple[str, int], policy: str = "MULTIVALUE") -> dict[str, Any]:
    return {
        "DnsConfig": {
            "RoutingPolicy": policy,
            "DnsRecords": [{"Type": t, "TTL": ttl} for t, ttl in records],
        }
    }


def _task(ecs: Any, family: str, port: int, protocol: str | None) -> str:
    mapping: dict[str, Any] = {"name": "web", "containerPort": port}
    if protocol:
        mapping["appProtocol"] = protocol
    return str(
        ecs.register_task_definition(
            family=family,
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[
                {"name": "app", "image": "example/app:1", "portMappings": [mapping]}
            ],
        )["taskDefinition"]["taskDefinitionArn"]
    )


def _ecs_service(ecs: Any, name: str, task: str, **discovery: Any) -> None:
    ecs.create_service(
        cluster=CLUSTER,
        serviceName=name,
        taskDefinition=task,
        desiredCount=1,
        launchType="FARGATE",
        **discovery,
    )


def seed(endpoint: str) -> None:
    sd = client("servicediscovery", endpoint, REGION)
    ns = _namespaces(sd)
    shop, private, public = ns["shop"][0], ns["myapp.local"][0], ns["example.com"][0]
    _service(sd, "orders", shop, HealthCheckCustomConfig={}, Description="order API")
    catalog = _service(sd, "catalog", shop, Tags=[{"Key": "tier", "Value": "gold"}])
    sd.update_service_attributes(ServiceId=catalog.rsplit("/", 1)[-1], Attributes={"stage": "prod"})
    user = _service(sd, "user-service", private, **_dns(("A", 10)), HealthCheckCustomConfig={})
    payment = _service(sd, "payment-service", private, **_dns(("A", 15), ("AAAA", 15)))
    _service(sd, "batch", private, **_dns(("CNAME", 300), policy="WEIGHTED"))
    _service(sd, "jobs", private, **_dns(("SRV", 20)))
    _service(
        sd,
        "www",
        public,
        **_dns(("A", 60)),
        HealthCheckConfig={"Type": "HTTPS", "ResourcePath": "/health", "FailureThreshold": 3},
    )
    _service(sd, "status", public, **_dns(("AAAA", 30)), HealthCheckConfig={"Type": "TCP"})

    ecs = client("ecs", endpoint, REGION)
    ecs.create_cluster(clusterName=CLUSTER)
    _ecs_service(
        ecs,
        "user-service",
        _task(ecs, "user-service", 3000, "http"),
        serviceRegistries=[{"registryArn": user, "containerName": "app", "containerPort": 3000}],
        serviceConnectConfiguration={
            "enabled": True,
            "namespace": ns["myapp.local"][1],
            "services": [
                {
                    "portName": "web",
                    "discoveryName": "users",
                    "clientAliases": [{"port": 80, "dnsName": "users.myapp.local"}],
                    "ingressPortOverride": 3000,
                    "timeout": {"idleTimeoutSeconds": 300, "perRequestTimeoutSeconds": 15},
                }
            ],
        },
    )
    # Registry into myapp.local, Service Connect in shop: the middle of a move.
    _ecs_service(
        ecs,
        "payment-service",
        _task(ecs, "payment-service", 8443, "http2"),
        serviceRegistries=[{"registryArn": payment, "port": 8443}],
        serviceConnectConfiguration={
            "enabled": True,
            "namespace": ns["shop"][1],
            "services": [
                {
                    "portName": "web",
                    "clientAliases": [{"port": 443}],
                    "timeout": {"idleTimeoutSeconds": 120},
                    "tls": {
                        "issuerCertificateAuthority": {"awsPcaAuthorityArn": PCA},
                        "kmsKey": KMS,
                        "roleArn": ROLE,
                    },
                }
            ],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {"awslogs-group": "/ecs/payment", "awslogs-region": REGION},
            },
            "accessLogConfiguration": {"format": "JSON", "includeQueryParameters": "ENABLED"},
        },
    )
    # A Service Connect client only, in shop.
    _ecs_service(
        ecs,
        "gateway",
        _task(ecs, "gateway", 8080, None),
        serviceConnectConfiguration={"enabled": True, "namespace": "shop"},
    )


@pytest.fixture
def world(emulator: Emulator) -> Emulator:
    seed(emulator.endpoint_url)
    emulator.reset_calls()
    return emulator


def generate(emulator: Emulator, out: Path, *flags: str) -> int:
    return cli(emulator, "generate", "--output-dir", str(out), "--map", "shop=shop", *flags)


def plan_json(emulator: Emulator, path: Path) -> tuple[int, dict[str, Any]]:
    code, out = cli_output(emulator, "plan", "-f", str(path), "-o", "json")
    return code, json.loads(out)


def test_generate_writes_every_namespace_service_and_ecs_link_observe_only(
    world: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert generate(world, tmp_path) == EXIT_OK

    err = capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["default.yaml", "shop.yaml"]
    resources = load_manifests([str(tmp_path)])
    by_name = {(r.identity.kind, r.identity.name): r for r in resources}
    assert sorted(name for kind, name in by_name if kind == "CloudMapNamespace") == [
        "example.com",
        "myapp.local",
        "shop",
    ]
    assert sorted(name for kind, name in by_name if kind == "ServiceDiscovery") == [
        "batch",
        "catalog",
        "gateway",
        "jobs",
        "orders",
        "payment-service",
        "status",
        "user-service",
        "www",
    ]
    payment = by_name["ServiceDiscovery", "payment-service"].spec
    assert isinstance(payment, ServiceDiscoverySpec)
    assert payment.namespace_ref == "myapp.local"
    assert payment.ecs is not None
    assert payment.ecs.service_connect is not None
    assert payment.ecs.service_connect.namespace is not None
    assert payment.ecs.service_connect.namespace.endswith(by_name_id(world, "shop"))
    # Nothing applying them could change: observe-only, and retained on delete.
    texts = "".join(p.read_text() for p in tmp_path.iterdir())
    assert texts.count("managementPolicy: Observe") == len(resources)
    assert texts.count("deletionPolicy: Retain") == len(resources)
    # AWS's defaults are left out where the CRD defaults them.
    user = (tmp_path / "default.yaml").read_text()
    assert "routingPolicy: MULTIVALUE" not in user
    assert "idleTimeoutSeconds: 300" not in user
    assert "ingressPortOverride" not in user
    assert "includeQueryParameters: ENABLED" in user
    catalog = by_name["ServiceDiscovery", "catalog"].spec
    assert isinstance(catalog, ServiceDiscoverySpec)
    assert catalog.service is not None
    assert catalog.service.attributes == {"stage": "prod"}
    assert catalog.service.tags == {"tier": "gold"}
    # Nothing here the resources cannot express: no warning.
    assert "warning" not in err
    assert "# warning" not in texts


def by_name_id(emulator: Emulator, name: str) -> str:
    sd = client("servicediscovery", emulator.endpoint_url, REGION)
    return str(next(n["Id"] for n in sd.list_namespaces()["Namespaces"] if n["Name"] == name))


def test_adopting_generated_manifests_writes_only_tags_and_plans_in_sync(
    world: Emulator, tmp_path: Path
) -> None:
    assert generate(world, tmp_path, "--adopt") == EXIT_OK

    calls = world.calls()
    assert cli(world, "apply", "-f", str(tmp_path)) == EXIT_OK
    written = mutating_calls(calls_since(world, calls))
    assert set(written) == {"servicediscovery:TagResource", "ecs:TagResource"}

    code, after = plan_json(world, tmp_path)
    assert code == EXIT_OK
    assert after["summary"]["inSync"] == after["summary"]["resources"]


def test_after_adoption_a_changed_ttl_is_the_one_change(world: Emulator, tmp_path: Path) -> None:
    assert generate(world, tmp_path, "--adopt") == EXIT_OK
    assert cli(world, "apply", "-f", str(tmp_path)) == EXIT_OK
    manifests = tmp_path / "default.yaml"
    text = manifests.read_text()
    assert text.count("ttl: 20\n") == 1
    manifests.write_text(text.replace("ttl: 20\n", "ttl: 25\n"))

    code, plan = plan_json(world, tmp_path)

    assert code == EXIT_CHANGES
    changed = [r for r in plan["resources"] if r["actions"]]
    assert [(r["name"], [a["type"] for a in r["actions"]]) for r in changed] == [
        ("jobs", ["UpdateService"])
    ]
    assert [f["path"] for f in changed[0]["actions"][0]["fields"]] == [
        "spec.service.dns.records[0].ttl"
    ]
    assert cli(world, "apply", "-f", str(tmp_path)) == EXIT_OK
    assert plan_json(world, tmp_path)[0] == EXIT_OK


def test_namespace_spec_of_a_private_namespace_names_its_vpc(
    world: Emulator, tmp_path: Path
) -> None:
    assert (
        cli(
            world, "generate", "--output-dir", str(tmp_path), "--cloud-map-namespace", "myapp.local"
        )
        == EXIT_OK
    )
    resources = load_manifests([str(tmp_path)])
    (namespace,) = [r.spec for r in resources if isinstance(r.spec, NamespaceSpec)]
    assert namespace.vpc == VPC
    assert namespace.region == REGION


@pytest.mark.paged
def test_a_cluster_selects_its_services_and_the_namespaces_they_use(
    world: Emulator, tmp_path: Path
) -> None:
    """Two items per page (`paged`): ListServices of ECS and of Cloud Map take several."""
    assert cli(world, "generate", "--output-dir", str(tmp_path), "--cluster", CLUSTER) == EXIT_OK

    resources = load_manifests([str(tmp_path)])
    namespaces = sorted(r.identity.name for r in resources if isinstance(r.spec, NamespaceSpec))
    assert namespaces == ["myapp.local", "shop"]
    ecs = sorted(
        r.spec.ecs.service
        for r in resources
        if isinstance(r.spec, ServiceDiscoverySpec) and r.spec.ecs is not None
    )
    assert ecs == ["gateway", "payment-service", "user-service"]


def test_tags_narrow_the_namespaces_and_a_registry_left_out_is_a_warning(
    world: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = cli_output(world, "generate", "--tag", "team=shop")

    assert code == EXIT_OK
    (tmp_path / "stdout.yaml").write_text(out)
    resources = {r.identity.name for r in load_manifests([str(tmp_path)])}
    assert resources == {"shop", "orders", "catalog", "gateway"}
    warning = (
        "ECS service production/payment-service not generated: its registry "
        "arn:aws:servicediscovery:"
    )
    assert warning in capsys.readouterr().err
    assert f"# warning: {warning}" in out


def test_a_namespace_that_does_not_exist_is_an_error(
    world: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli(world, "generate", "--cloud-map-namespace", "nope.local")

    assert code == 1
    assert "error: no Cloud Map namespace named nope.local in us-east-1" in capsys.readouterr().err


def test_observe_only_manifests_plan_in_sync_and_apply_writes_nothing(
    world: Emulator, tmp_path: Path
) -> None:
    assert generate(world, tmp_path) == EXIT_OK

    code, plan = plan_json(world, tmp_path)
    assert code == EXIT_OK, [r for r in plan["resources"] if r["status"] != "inSync"]
    assert plan["summary"]["inSync"] == plan["summary"]["resources"] == 12
    # batch's 300 s TTL is what AWS holds: its maxTtlSeconds follows, so no Advisory either.
    assert [r["advisories"] for r in plan["resources"] if r["advisories"]] == []

    calls = world.calls()
    assert cli(world, "apply", "-f", str(tmp_path)) == EXIT_OK
    assert mutating_calls(calls_since(world, calls)) == {}


def _manage(document: str, name: str, change: tuple[str, str] | None = None) -> str:
    """`document` (one YAML document of a generated file) switched to Manage when it is
    `name`'s, with `change` made in it."""
    if f"\n  name: {name}\n" not in document:
        return document
    switched = document.replace(
        "managementPolicy: Observe", "managementPolicy: Manage\n  adoptionPolicy: Adopt"
    )
    return switched.replace(*change) if change else switched


def test_switching_one_service_to_manage_changes_only_its_ttl(
    world: Emulator, tmp_path: Path
) -> None:
    """A ServiceDiscovery is managed in a namespace its CloudMapNamespace owns: the namespace
    and the one service are switched; every other resource stays observe-only."""
    assert generate(world, tmp_path) == EXIT_OK
    manifests = tmp_path / "default.yaml"
    documents = manifests.read_text().split("---\n")
    documents = [_manage(d, "myapp.local") for d in documents]
    documents = [_manage(d, "jobs", ("ttl: 20\n", "ttl: 25\n")) for d in documents]
    manifests.write_text("---\n".join(documents))

    calls = world.calls()
    assert cli(world, "apply", "-f", str(tmp_path)) == EXIT_OK

    written = mutating_calls(calls_since(world, calls))
    assert written == {"servicediscovery:TagResource": 2, "servicediscovery:UpdateService": 1}
    # AWS holds the new TTL, and every observe-only resource still equals it.
    assert plan_json(world, tmp_path)[0] == EXIT_OK


def test_generate_reads_another_account_through_a_role_and_names_no_account(
    emulator: Emulator, tmp_path: Path
) -> None:
    """The account is the Kubernetes namespace's grant's to choose (or plan's --role-arn): the
    manifests read through a role plan in sync through it, and in no other account."""
    account, external_id = "491919191919", "gen-7f3a"
    role = emulator.create_role(
        account, "sd-operator-generate", trust_policy(emulator.account_id, external_id=external_id)
    )
    theirs = assumed_session(emulator.endpoint_url, role, REGION, external_id=external_id)
    sd = theirs.client("servicediscovery", endpoint_url=emulator.endpoint_url)
    _service(sd, "ledger", _operation_target(sd, sd.create_http_namespace(Name="billing")))
    own = client("servicediscovery", emulator.endpoint_url, REGION)
    own.create_http_namespace(Name="ours")
    through = ("--role-arn", role, "--external-id", external_id)

    assert cli(emulator, "generate", "--output-dir", str(tmp_path), *through) == EXIT_OK

    resources = load_manifests([str(tmp_path)])
    assert sorted(r.identity.name for r in resources) == ["billing", "ledger"]
    text = (tmp_path / "default.yaml").read_text()
    documents = [line for line in text.splitlines() if not line.startswith("#")]
    assert not [line for line in documents if account in line]
    assert f"# read through {role}" in text
    assert cli(emulator, "plan", "-f", str(tmp_path), *through) == EXIT_OK
    # With the emulator's own credentials they are observed missing: nothing would be created.
    code, out = cli_output(emulator, "plan", "-f", str(tmp_path))
    assert (code, out.count("blocked (ObservedMissing)")) == (1, 2)


def test_generate_refuses_an_external_id_without_a_role(
    world: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = world.calls()

    assert cli(world, "generate", "--external-id", "x") == 1

    assert "error: --external-id needs --role-arn" in capsys.readouterr().err
    assert calls_since(world, calls) == {}
