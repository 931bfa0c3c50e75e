"""The manifests `generate` builds from what it read (cli/generated.py): names, layout, and
every case it cannot express said as a note, never dropped."""

from __future__ import annotations

from sd_operator.cli.generated import Inventory, Layout, build, kubernetes_name, owned_namespace
from sd_operator.model.observed import (
    ObservedEcsService,
    ObservedNamespace,
    ObservedRegistry,
    ObservedService,
)
from sd_operator.model.parse import parse_resource
from sd_operator.model.spec import NamespaceType

REGION = "us-east-1"
PREFIX = f"arn:aws:servicediscovery:{REGION}:123456789012"
NS = ObservedNamespace("ns-1", f"{PREFIX}:namespace/ns-1", "shop", NamespaceType.HTTP)


def service(name: str, **tags: str) -> ObservedService:
    return ObservedService(f"srv-{name}", f"{PREFIX}:service/srv-{name}", name, NS.id, tags=tags)


def ecs(name: str, *targets: str) -> ObservedEcsService:
    return ObservedEcsService(
        arn=f"arn:aws:ecs:{REGION}:123456789012:service/production/{name}",
        cluster=f"arn:aws:ecs:{REGION}:123456789012:cluster/production",
        name=name,
        status="ACTIVE",
        deployment_controller="ECS",
        task_definition="td",
        network_mode="awsvpc",
        registries=tuple(ObservedRegistry(t, port=80) for t in targets),
    )


def inventory(
    *services: ObservedService, ecs_services: tuple[ObservedEcsService, ...] = ()
) -> Inventory:
    return Inventory(REGION, (NS,), {NS.id: services}, {}, ecs_services)


def test_names_are_kubernetes_names() -> None:
    assert kubernetes_name("My_Service.Local") == "my-service.local"
    assert kubernetes_name("__") == "unnamed"


def test_every_manifest_parses_and_a_service_name_kubernetes_cannot_hold_is_kept() -> None:
    manifests, notes = build(inventory(service("Orders_API")), Layout("apps"))
    assert notes == []
    parsed = [parse_resource(m.document) for m in manifests]
    assert [(r.identity.kind, r.identity.namespace, r.identity.name) for r in parsed] == [
        ("CloudMapNamespace", "apps", "shop"),
        ("ServiceDiscovery", "apps", "orders-api"),
    ]
    assert manifests[1].document["spec"]["service"]["name"] == "Orders_API"


def test_mapping_moves_a_namespace_and_its_services() -> None:
    manifests, _ = build(inventory(service("orders")), Layout("apps", {"shop": "shop-team"}))
    assert {m.namespace for m in manifests} == {"shop-team"}


def test_reserved_tags_are_notes() -> None:
    manifests, _ = build(
        inventory(service("orders", **{"aws:owner": "x", "team": "a"})), Layout("d")
    )
    assert manifests[1].document["spec"]["service"]["tags"] == {"team": "a"}
    assert manifests[1].notes == ["tag aws:owner='x' not generated: a reserved key"]


def test_ecs_service_with_two_registries_is_a_note() -> None:
    orders = service("orders")
    manifests, notes = build(
        inventory(orders, ecs_services=(ecs("orders", orders.arn, orders.arn),)), Layout("d")
    )
    assert "ecs" not in manifests[1].document["spec"]
    assert notes == [
        "ECS service production/orders not generated: it has 2 service registries, a "
        "ServiceDiscovery holds one"
    ]


def test_second_ecs_service_registering_into_one_cloud_map_service_is_a_note() -> None:
    orders = service("orders")
    both = (ecs("orders", orders.arn), ecs("orders-canary", orders.arn))
    manifests, notes = build(inventory(orders, ecs_services=both), Layout("d"))
    assert manifests[1].document["spec"]["ecs"]["service"] == "orders"
    assert len(notes) == 1
    assert notes[0].startswith("ECS service production/orders-canary not generated")


def test_services_already_managed_by_sd_operator_are_left_out() -> None:
    owned = service("orders", **{"sd-operator.io/owner": "ServiceDiscovery/a/orders"})
    manifests, notes = build(inventory(owned), Layout("d"))
    assert [m.document["kind"] for m in manifests] == ["CloudMapNamespace"]
    assert notes == [
        "Cloud Map service orders in shop is already managed by sd-operator "
        "(ServiceDiscovery/a/orders): not generated"
    ]
    assert owned_namespace(NS) is None


def test_a_service_connect_service_is_left_to_its_ecs_service() -> None:
    managed = service("orders", AmazonECSManaged="true")
    manifests, notes = build(inventory(managed), Layout("d"))
    assert [m.document["kind"] for m in manifests] == ["CloudMapNamespace"]
    assert notes == [
        "Cloud Map service orders in shop is ECS Service Connect's, and no ECS service "
        "generated publishes it: not generated"
    ]


def test_two_namespaces_of_one_name_are_a_note() -> None:
    twin = ObservedNamespace("ns-2", f"{PREFIX}:namespace/ns-2", "shop", NamespaceType.HTTP)
    both = Inventory(REGION, (NS, twin), {}, {}, ())
    manifests, notes = build(both, Layout("d"))
    assert [m.document["metadata"]["name"] for m in manifests] == ["shop", "shop-2"]
    assert notes == [
        "two Cloud Map namespaces are named shop (ns-1, ns-2): sd-operator manages one "
        "namespace per name and region, so plan and apply refuse both manifests; remove one "
        "of them"
    ]
