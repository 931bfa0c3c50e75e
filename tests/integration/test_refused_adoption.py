"""A refused adoption adopts nothing: status names no namespace or service and is not Ready, and
AWS keeps its tags (against the emulator over HTTP)."""

from __future__ import annotations

from typing import Any

from fake_time import FakeTime
from sd_operator.model import conditions as cond
from sd_operator.model.reasons import REASON_IMMUTABLE
from sd_operator.model.spec import (
    AdoptionPolicy,
    CloudMapServiceSpec,
    Identity,
    NamespaceSpec,
    NamespaceType,
    Resource,
    ServiceDiscoverySpec,
)
from sd_operator.reconcile import status as status_rules
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.reconcile.result import Outcome, merge_status


def tags(sd: Any, arn: str) -> list[Any]:
    return list(sd.list_tags_for_resource(ResourceARN=arn)["Tags"])


def test_adopting_a_namespace_of_another_type_sets_no_namespace_id_and_is_not_ready(
    reconciler: Reconciler, sd: Any
) -> None:
    op = sd.create_http_namespace(Name="myapp.local")["OperationId"]
    ns_id = sd.get_operation(OperationId=op)["Operation"]["Targets"]["NAMESPACE"]
    arn = sd.get_namespace(Id=ns_id)["Namespace"]["Arn"]
    res = Resource(
        Identity("CloudMapNamespace", "payments", "myapp", uid="u-ns", generation=1),
        NamespaceSpec(
            name="myapp.local",
            type=NamespaceType.DNS_PRIVATE,
            vpc="vpc-0a1b2c3d4e5f60718",
            adoption_policy=AdoptionPolicy.ADOPT,
        ),
    )

    progress = FakeTime().converge(reconciler, res, None, timeout=30)

    result = progress.last
    assert result is not None
    assert (result.outcome, result.reason) == (Outcome.REFUSED, REASON_IMMUTABLE)
    status = merge_status({}, result)
    assert not status.get("namespaceId"), status
    assert not status.get("namespaceArn"), status
    derived = status_rules.derive(result, {}, 1)
    ready = next(c for c in derived.conditions if c.type == cond.READY)
    assert not ready.status
    assert tags(sd, arn) == []


def test_adopting_a_service_that_cannot_be_changed_sets_no_service_id(
    reconciler: Reconciler, sd: Any
) -> None:
    """The namespace is ours; a service of that name exists unowned with a custom health
    check the spec does not declare (which AWS can never remove): refused, not adopted."""
    namespace = Resource(
        Identity("CloudMapNamespace", "payments", "myapp", uid="u-ns"),
        NamespaceSpec(name="myapp.local", type=NamespaceType.HTTP),
    )
    created = FakeTime().converge(reconciler, namespace, None, timeout=30)
    ns_id = created.status["namespaceId"]
    existing = sd.create_service(
        Name="user-service", NamespaceId=ns_id, HealthCheckCustomConfig={}
    )["Service"]
    assert isinstance(namespace.spec, NamespaceSpec)
    discovery = Resource(
        Identity("ServiceDiscovery", "payments", "user-service", uid="u-sd"),
        ServiceDiscoverySpec(
            namespace_ref="myapp",
            service=CloudMapServiceSpec(name="user-service"),
            adoption_policy=AdoptionPolicy.ADOPT,
        ),
    )

    progress = FakeTime().converge(reconciler, discovery, namespace.spec, timeout=30)

    assert progress.last is not None
    assert progress.last.outcome is Outcome.REFUSED
    assert not progress.status.get("serviceId"), progress.status
    assert tags(sd, existing["Arn"]) == []
