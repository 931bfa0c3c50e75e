"""Endpoint -> instance mapping and the export diff (hybrid/export.py)."""

from __future__ import annotations

from typing import Any

from sd_operator.hybrid.export import (
    CLUSTER_ATTRIBUTE,
    INIT_HEALTH,
    MAX_INSTANCE_ID,
    OWNER_ATTRIBUTE,
    DesiredInstance,
    Endpoint,
    Refused,
    desired_instances,
    endpoints_of,
    instance_id,
    plan_export,
    registration_attributes,
    slice_view,
)
from sd_operator.model.observed import ObservedInstance
from sd_operator.model.spec import ClusterIdentity, Identity

OWNER = Identity("ServiceDiscovery", "payments", "payment-service", uid="u1")
CLUSTER = ClusterIdentity("eks-prod")


def _slice(
    name: str,
    endpoints: list[dict[str, Any]],
    ports: list[dict[str, Any]] | None = None,
    address_type: str = "IPv4",
    managed_by: str = "endpointslice-controller.k8s.io",
) -> dict[str, Any]:
    labels = {
        "kubernetes.io/service-name": "payment-service",
        "endpointslice.kubernetes.io/managed-by": managed_by,
    }
    return {
        "metadata": {"name": name, "labels": labels},
        "addressType": address_type,
        "ports": ports if ports is not None else [{"name": "http", "port": 8080}],
        "endpoints": endpoints,
    }


def _ep(ip: str, ready: bool | None = True, terminating: bool | None = None, pod: str = "") -> Any:
    conditions: dict[str, Any] = {}
    if ready is not None:
        conditions["ready"] = ready
    if terminating is not None:
        conditions["terminating"] = terminating
    out: dict[str, Any] = {"addresses": [ip], "conditions": conditions, "nodeName": "node-1"}
    if pod:
        out["targetRef"] = {"kind": "Pod", "name": pod, "namespace": "payments"}
    return out


def _desired(endpoints: tuple[Endpoint, ...], custom: bool = False) -> dict[str, DesiredInstance]:
    out = desired_instances(
        endpoints, owner=OWNER, cluster=CLUSTER, service="payment-service", custom_health=custom
    )
    assert not isinstance(out, Refused), out
    return out


def _endpoints(*slices: dict[str, Any], port: str | None = "http") -> tuple[Endpoint, ...]:
    found = endpoints_of([slice_view(s) for s in slices], "payment-service", port)
    assert not isinstance(found, Refused), found
    return found


def test_a_ready_endpoint_becomes_an_instance_naming_cluster_namespace_and_pod() -> None:
    desired = _desired(_endpoints(_slice("s1", [_ep("10.0.0.5", pod="pay-1")])))
    [instance] = desired.values()
    assert instance.id == "eks-prod/payments/payment-service/10.0.0.5"
    assert instance.attributes == {
        "AWS_INSTANCE_IPV4": "10.0.0.5",
        "AWS_INSTANCE_PORT": "8080",
        OWNER_ATTRIBUTE: "ServiceDiscovery/payments/payment-service",
        CLUSTER_ATTRIBUTE: "eks-prod",
        "sd-operator.io/namespace": "payments",
        "sd-operator.io/service": "payment-service",
        "sd-operator.io/pod": "pay-1",
        "sd-operator.io/node": "node-1",
    }
    assert instance.healthy


def test_ipv6_endpoints_use_the_ipv6_attribute() -> None:
    desired = _desired(_endpoints(_slice("s6", [_ep("fd00::5")], address_type="IPv6")))
    [instance] = desired.values()
    assert instance.attributes["AWS_INSTANCE_IPV6"] == "fd00::5"
    assert "AWS_INSTANCE_IPV4" not in instance.attributes


def test_ready_nil_is_ready_and_terminating_is_not() -> None:
    eps = _endpoints(
        _slice(
            "s1",
            [_ep("10.0.0.1", ready=None), _ep("10.0.0.2", ready=True, terminating=True)],
        )
    )
    assert [(e.address, e.ready) for e in eps] == [("10.0.0.1", True), ("10.0.0.2", False)]


def test_not_ready_endpoints_leave_without_custom_health_and_turn_unhealthy_with_it() -> None:
    eps = _endpoints(_slice("s1", [_ep("10.0.0.1"), _ep("10.0.0.2", ready=False)]))
    assert [i.attributes["AWS_INSTANCE_IPV4"] for i in _desired(eps).values()] == ["10.0.0.1"]
    custom = _desired(eps, custom=True)
    assert {i.attributes["AWS_INSTANCE_IPV4"]: i.healthy for i in custom.values()} == {
        "10.0.0.1": True,
        "10.0.0.2": False,
    }
    unhealthy = next(i for i in custom.values() if not i.healthy)
    assert registration_attributes(unhealthy, True)[INIT_HEALTH] == "UNHEALTHY"


def test_an_address_in_two_slices_is_one_endpoint_ready_if_either_says_so() -> None:
    eps = _endpoints(
        _slice("a", [_ep("10.0.0.1", ready=False)]), _slice("b", [_ep("10.0.0.1", ready=True)])
    )
    assert [(e.address, e.ready) for e in eps] == [("10.0.0.1", True)]


def test_the_named_port_is_exported_and_a_second_port_needs_a_name() -> None:
    ports = [{"name": "http", "port": 8080}, {"name": "metrics", "port": 9090}]
    body = _slice("s1", [_ep("10.0.0.1")], ports=ports)
    assert [e.port for e in _endpoints(body, port="metrics")] == [9090]
    refused = endpoints_of([slice_view(body)], "payment-service", None)
    assert isinstance(refused, Refused)
    assert refused.field == "endpoints.fromService.port"
    assert "http, metrics" in refused.message
    assert [e.port for e in _endpoints(_slice("s1", [_ep("10.0.0.1")]), port=None)] == [8080]


def test_fqdn_slices_are_left_out() -> None:
    assert _endpoints(_slice("f", [_ep("db.example.com")], address_type="FQDN")) == ()


def test_long_identities_are_hashed_to_64_characters_stably() -> None:
    owner = Identity("ServiceDiscovery", "n" * 63, "s" * 63)
    first = instance_id(CLUSTER.name, owner, "fd00:1234:5678:9abc:def0:1234:5678:9abc")
    again = instance_id(CLUSTER.name, owner, "fd00:1234:5678:9abc:def0:1234:5678:9abc")
    other = instance_id("another", owner, "fd00:1234:5678:9abc:def0:1234:5678:9abc")
    assert first == again != other
    assert len(first) <= MAX_INSTANCE_ID
    assert first.startswith("k8s-fd00:1234")
    # characters Cloud Map does not take in an InstanceId are hashed too
    assert instance_id("a=b", OWNER, "10.0.0.1").startswith("k8s-10.0.0.1-")


def test_more_than_1000_instances_are_refused_clearly() -> None:
    eps = tuple(Endpoint(f"10.0.{i // 250}.{i % 250}", "IPv4", 80, True) for i in range(1001))
    refused = desired_instances(
        eps, owner=OWNER, cluster=CLUSTER, service="big", custom_health=False
    )
    assert isinstance(refused, Refused)
    assert "1001 endpoints" in refused.message
    assert "1000 instances per Cloud Map service" in (refused.message)


def test_more_than_30_custom_attributes_are_refused_clearly() -> None:
    extra = {f"k{i}": "v" for i in range(25)}
    refused = desired_instances(
        (Endpoint("10.0.0.1", "IPv4", 80, True, pod="p", node="n"),),
        owner=OWNER,
        cluster=CLUSTER,
        service="svc",
        custom_health=False,
        extra_attributes=extra,
    )
    assert isinstance(refused, Refused)
    assert refused.field == "endpoints.attributes"
    assert "30" in refused.message


def _observed(desired: dict[str, DesiredInstance], healthy: bool | None = None) -> list[Any]:
    return [ObservedInstance(i.id, dict(i.attributes), healthy) for i in desired.values()]


def test_nothing_is_sent_when_nothing_changed() -> None:
    desired = _desired(_endpoints(_slice("s1", [_ep("10.0.0.1"), _ep("10.0.0.2")])))
    plan = plan_export(
        desired, _observed(desired, True), owner=OWNER, cluster=CLUSTER, custom_health=True
    )
    assert plan.calls == 0


def test_scale_down_deregisters_only_what_left() -> None:
    before = _desired(_endpoints(_slice("s1", [_ep(f"10.0.0.{i}") for i in range(1, 5)])))
    after = _desired(_endpoints(_slice("s1", [_ep("10.0.0.1"), _ep("10.0.0.2")])))
    plan = plan_export(after, _observed(before), owner=OWNER, cluster=CLUSTER, custom_health=False)
    assert plan.register == ()
    assert [i.rsplit("/", 1)[1] for i in plan.deregister] == ["10.0.0.3", "10.0.0.4"]


def test_a_changed_port_is_registered_again_in_place() -> None:
    before = _desired(_endpoints(_slice("s1", [_ep("10.0.0.1")])))
    after = _desired(
        _endpoints(_slice("s1", [_ep("10.0.0.1")], ports=[{"name": "http", "port": 9000}]))
    )
    plan = plan_export(after, _observed(before), owner=OWNER, cluster=CLUSTER, custom_health=False)
    assert [i.attributes["AWS_INSTANCE_PORT"] for i in plan.register] == ["9000"]
    assert plan.deregister == ()


def test_readiness_change_with_custom_health_only_flips_the_status() -> None:
    ready = _desired(_endpoints(_slice("s1", [_ep("10.0.0.1")])), custom=True)
    not_ready = _desired(_endpoints(_slice("s1", [_ep("10.0.0.1", ready=False)])), custom=True)
    plan = plan_export(
        not_ready, _observed(ready, True), owner=OWNER, cluster=CLUSTER, custom_health=True
    )
    assert plan.register == ()
    assert plan.deregister == ()
    assert plan.set_health == ((next(iter(ready)), False),)


def test_instances_of_other_writers_are_never_touched() -> None:
    desired = _desired(_endpoints(_slice("s1", [_ep("10.0.0.1")])))
    ecs_task = ObservedInstance(
        "task-abc", {"AWS_INSTANCE_IPV4": "10.1.0.1", "ECS_CLUSTER_NAME": "c"}
    )
    other_cluster = ObservedInstance(
        "eks-other/payments/payment-service/10.0.0.9",
        {
            OWNER_ATTRIBUTE: OWNER.key,
            CLUSTER_ATTRIBUTE: "eks-other",
            "AWS_INSTANCE_IPV4": "10.0.0.9",
        },
    )
    squatter = ObservedInstance(next(iter(desired)), {"AWS_INSTANCE_IPV4": "10.9.9.9"})
    plan = plan_export(
        desired,
        [ecs_task, other_cluster, squatter],
        owner=OWNER,
        cluster=CLUSTER,
        custom_health=False,
    )
    assert plan.register == ()
    assert plan.deregister == ()
    assert plan.conflicts == (squatter.id,)
    empty = plan_export(
        {}, [ecs_task, other_cluster], owner=OWNER, cluster=CLUSTER, custom_health=False
    )
    assert empty.calls == 0


def test_only_the_endpointslice_controllers_slices_are_exported() -> None:
    """A slice anyone can write (by hand, or our own import's) names addresses that are not
    the Service's pods: exporting it would register them under this cluster's name."""
    by_hand = _slice("by-hand", [_ep("169.254.169.254")])
    del by_hand["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"]
    imported = _slice("imported", [_ep("10.9.0.1")], managed_by="sd-operator.io")
    pods = _slice("pods", [_ep("10.0.0.1")])
    eps = _endpoints(by_hand, imported, pods)
    assert [e.address for e in eps] == ["10.0.0.1"]
