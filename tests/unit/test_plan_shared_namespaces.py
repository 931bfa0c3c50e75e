"""Namespaces another account shares through AWS RAM: the plan refuses what AWS would refuse,
creates by ARN, and never changes or deletes what another account created (reconcile/shared.py)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pytest
import yaml
from test_observe import FakeReader

from sd_operator.hybrid.export import CLUSTER_ATTRIBUTE, OWNER_ATTRIBUTE, plan_export
from sd_operator.model.actions import (
    CreateService,
    DeleteNamespace,
    DeleteService,
    TagResource,
    UntagResource,
    UpdateEcsService,
    UpdateNamespace,
)
from sd_operator.model.observed import (
    DiscoveryObservation,
    NamedPort,
    ObservedEcsService,
    ObservedInstance,
    ObservedNamespace,
    ObservedService,
    ShareObservation,
)
from sd_operator.model.parse import parse_resource
from sd_operator.model.reasons import (
    REASON_NAMESPACE_REGION,
    REASON_OWNED_ELSEWHERE,
    SHARE_PERMISSION_MISSING,
    VPC_NOT_ASSOCIATED,
)
from sd_operator.model.spec import (
    ClientAlias,
    CloudMapServiceSpec,
    ClusterIdentity,
    EcsSpec,
    ExternalNamespace,
    Identity,
    NamespaceType,
    Resource,
    ServiceConnect,
    ServiceConnectService,
    ServiceDiscoverySpec,
)
from sd_operator.model.status import DiscoveryStatus, StatusPatch
from sd_operator.reconcile.observe import Observer
from sd_operator.reconcile.ownership import owner_tags
from sd_operator.reconcile.plan import plan_resource, plan_teardown
from sd_operator.reconcile.shared import SERVICE_CONNECT_PERMISSION

REGION = "us-east-1"
OWNER = "111111111111"  # the account that shares the namespace
ME = "222222222222"  # the consumer: the account this step acts in
NS_ARN = f"arn:aws:servicediscovery:{REGION}:{OWNER}:namespace/ns-shared"
SRV_ARN = f"arn:aws:servicediscovery:{REGION}:{ME}:service/srv-mine"
CLUSTER = ClusterIdentity("prod")
IDENTITY = Identity("ServiceDiscovery", "team-b", "orders", uid="u-1")
ECS_ARN = f"arn:aws:ecs:{REGION}:{ME}:service/prod/orders"
SC = ServiceConnect(
    services=(ServiceConnectService("http", "orders", (ClientAlias(80, "orders"),)),)
)


def spec(
    *, vpc: str | None = None, service_connect: bool = False, **overrides: Any
) -> ServiceDiscoverySpec:
    ecs = EcsSpec("prod", "orders", service_connect=SC) if service_connect else None
    base = ServiceDiscoverySpec(
        cloud_map_namespace=ExternalNamespace(NS_ARN, vpc),
        service=CloudMapServiceSpec(name="orders"),
        ecs=ecs,
        region=REGION,
    )
    return replace(base, **overrides)


def namespace(type_: NamespaceType = NamespaceType.HTTP, **overrides: Any) -> ObservedNamespace:
    base = ObservedNamespace(
        id="ns-shared",
        arn=NS_ARN,
        name="shared.local",
        type=type_,
        hosted_zone_id="Z123" if type_ is NamespaceType.DNS_PRIVATE else None,
        owner_account=OWNER,
    )
    return replace(base, **overrides)


def ours(**overrides: Any) -> ObservedService:
    base = ObservedService(
        id="srv-mine",
        arn=SRV_ARN,
        name="orders",
        namespace_id="ns-shared",
        tags=owner_tags(IDENTITY, CLUSTER),
        created_by_account=ME,
    )
    return replace(base, **overrides)


def ecs_service() -> ObservedEcsService:
    return ObservedEcsService(
        arn=ECS_ARN,
        cluster=f"arn:aws:ecs:{REGION}:{ME}:cluster/prod",
        name="orders",
        status="ACTIVE",
        deployment_controller="ECS",
        task_definition=f"arn:aws:ecs:{REGION}:{ME}:task-definition/orders:1",
        network_mode="awsvpc",
        port_mappings={"http": NamedPort("app", 8080, "http")},
    )


def seen(
    ns: ObservedNamespace | None = None,
    *,
    service: ObservedService | None = None,
    share: ShareObservation | None = None,
    region: str = REGION,
    ecs: ObservedEcsService | None = None,
) -> DiscoveryObservation:
    ns = ns if ns is not None else namespace()
    return DiscoveryObservation(
        region=region,
        namespace_name=NS_ARN,
        namespace=ns,
        foreign_namespace=False,
        service=service,
        previous=None,
        service_recorded=service is not None,
        ecs=ecs,
        ids=StatusPatch(service_arn=service.arn if service else None),
        account=ME,
        share=share if share is not None else ShareObservation(frozenset(), None),
    )


def plan(s: ServiceDiscoverySpec, observed: DiscoveryObservation) -> Any:
    res = Resource(IDENTITY, s)
    return plan_resource(res, observed, CLUSTER, namespace=None, hold_reported=False).plan


def teardown(s: ServiceDiscoverySpec, observed: DiscoveryObservation) -> Any:
    return plan_teardown(Resource(IDENTITY, s), observed, CLUSTER)


FULL = ShareObservation(frozenset({SERVICE_CONNECT_PERMISSION}), True)


MANIFEST = f"""
apiVersion: sd-operator.io/v1alpha1
kind: ServiceDiscovery
metadata: {{name: orders, namespace: team-b}}
spec:
  cloudMapNamespace: {{name: "{NS_ARN}", vpc: vpc-0123456789abcdef0}}
  region: {REGION}
  service: {{healthCheck: {{custom: {{}}}}}}
  ecs:
    cluster: prod
    service: orders
    serviceConnect: {{services: [{{portName: http, clientAliases: [{{port: 80}}]}}]}}
"""


def test_a_manifest_names_a_shared_namespace_by_arn_and_our_vpc() -> None:
    parsed = parse_resource(yaml.safe_load(MANIFEST)).spec
    assert isinstance(parsed, ServiceDiscoverySpec)
    assert parsed.cloud_map_namespace == ExternalNamespace(NS_ARN, "vpc-0123456789abcdef0")
    assert parsed.cloud_map_namespace.arn == NS_ARN
    assert ExternalNamespace("shared.local").arn is None


# What AWS would refuse, refused first, naming the cause ------------------------------------------


@pytest.mark.parametrize(
    ("case", "s", "observed", "reason", "field", "cause"),
    [
        (
            "another Region",
            spec(region="eu-west-1"),
            seen(region="eu-west-1"),
            REASON_NAMESPACE_REGION,
            "cloudMapNamespace.name",
            "is in us-east-1, this resource in eu-west-1",
        ),
        (
            "a share without the Service Connect permission",
            spec(service_connect=True),
            seen(share=ShareObservation(frozenset({"AWSRAMDefaultPermissionCloudMapNamespace"}))),
            SHARE_PERMISSION_MISSING,
            "ecs.serviceConnect",
            SERVICE_CONNECT_PERMISSION,
        ),
        (
            "a private namespace, no VPC named",
            spec(),
            seen(namespace(NamespaceType.DNS_PRIVATE)),
            VPC_NOT_ASSOCIATED,
            "cloudMapNamespace.vpc",
            "name the VPC",
        ),
        (
            "a private namespace our VPC is not associated with",
            spec(vpc="vpc-0123456789abcdef0"),
            seen(namespace(NamespaceType.DNS_PRIVATE), share=ShareObservation(None, False)),
            VPC_NOT_ASSOCIATED,
            "cloudMapNamespace.vpc",
            "vpc-0123456789abcdef0 is not associated with the hosted zone Z123",
        ),
    ],
)
def test_the_plan_refuses_what_aws_would_refuse(
    case: str,
    s: ServiceDiscoverySpec,
    observed: DiscoveryObservation,
    reason: str,
    field: str,
    cause: str,
) -> None:
    refused = plan(s, observed)
    assert refused.refusal is not None, case
    assert (refused.refusal.reason, refused.refusal.field) == (reason, field)
    assert cause in refused.refusal.message
    assert refused.actions == ()


def test_a_share_with_the_permission_and_an_associated_vpc_is_used() -> None:
    s = spec(vpc="vpc-0123456789abcdef0")
    made = plan(s, seen(namespace(NamespaceType.DNS_PRIVATE), share=FULL))
    assert made.refusal is None
    assert [type(a) for a in made.actions] == [CreateService]


def test_unreadable_share_details_advise_and_do_not_refuse() -> None:
    s = spec(vpc="vpc-0123456789abcdef0", service_connect=True)
    made = plan(s, seen(namespace(NamespaceType.DNS_PRIVATE), share=ShareObservation()))
    assert made.refusal is None
    assert any(SERVICE_CONNECT_PERMISSION in a for a in made.advisories)
    assert any(a.startswith("cloudMapNamespace.vpc: cannot tell") for a in made.advisories)


def test_a_namespace_our_own_account_owns_needs_no_share() -> None:
    mine = namespace(NamespaceType.DNS_PRIVATE, owner_account=ME)
    made = plan(spec(service_connect=True), seen(mine, share=ShareObservation(frozenset())))
    assert made.refusal is None


# Created there by ARN; Service Connect pointed at the ARN ----------------------------------------


def test_the_service_is_created_by_the_namespace_arn() -> None:
    (create,) = plan(spec(), seen(share=FULL)).actions
    assert isinstance(create, CreateService)
    assert create.namespace_id == NS_ARN


def test_service_connect_is_pointed_at_the_namespace_arn() -> None:
    observed = seen(service=ours(), share=FULL, ecs=ecs_service())
    actions = plan(spec(service_connect=True), observed).actions
    update = next(a for a in actions if isinstance(a, UpdateEcsService))
    assert update.service_connect is not None
    assert update.service_connect.namespace == NS_ARN


# Whose things are whose: AWS's CreatedByAccount, not the tags ---------------------------------


def test_a_service_another_account_created_is_never_changed() -> None:
    # Tagged as ours, with other tags than the spec's: only the owner field tells.
    theirs = ours(created_by_account="333333333333", tags={**ours().tags, "team": "c"})
    blocked = plan(spec(), seen(service=theirs, share=FULL))
    assert blocked.blocked is not None
    assert blocked.blocked.reason == REASON_OWNED_ELSEWHERE
    assert "belongs to account 333333333333" in blocked.blocked.message
    assert blocked.actions == ()


def test_deleting_removes_only_the_service_our_account_created() -> None:
    assert teardown(spec(), seen(service=ours(), share=FULL)).actions == (
        DeleteService("srv-mine", "orders"),
    )
    theirs = ours(created_by_account="333333333333")
    assert teardown(spec(), seen(service=theirs, share=FULL)).actions == ()


def test_a_consumer_never_deletes_or_retags_the_owners_namespace() -> None:
    def touches_namespace(action: object) -> bool:
        if isinstance(action, (DeleteNamespace, UpdateNamespace)):
            return True
        return isinstance(action, (TagResource, UntagResource)) and action.arn == NS_ARN

    # A service of ours to create; one to retag (a tag the spec does not declare) and delete.
    retag = ours(tags={**ours().tags, "extra": "x"})
    for observed in (seen(share=FULL), seen(service=retag, share=FULL)):
        for made in (plan(spec(), observed), teardown(spec(), observed)):
            assert not [a for a in made.actions if touches_namespace(a)]


# Instances exported into a shared namespace: CreatedByAccount, not the attributes ---------------


def _instance(created_by: str) -> ObservedInstance:
    attributes = {OWNER_ATTRIBUTE: IDENTITY.key, CLUSTER_ATTRIBUTE: CLUSTER.name}
    return ObservedInstance(
        "i-1", {"AWS_INSTANCE_IPV4": "10.0.0.1", **attributes}, created_by_account=created_by
    )


def test_export_deregisters_only_instances_our_account_registered() -> None:
    def deregistered(created_by: str, account: str | None) -> tuple[str, ...]:
        plan = plan_export(
            {},
            [_instance(created_by)],
            owner=IDENTITY,
            cluster=CLUSTER,
            custom_health=False,
            account=account,
        )
        return plan.deregister

    assert deregistered(ME, ME) == ("i-1",)
    # Our attributes, written by another account into our service: not ours to remove.
    assert deregistered("333333333333", ME) == ()
    # The account not known (an exporter told none): the attributes decide, as before.
    assert deregistered("333333333333", None) == ("i-1",)


# What a step reads of a namespace addressed by ARN ------------------------------------------------


@dataclass
class SharingReader(FakeReader):
    """FakeReader acting in account ME, answering a share's reads as given."""

    answer: ShareObservation = field(default_factory=ShareObservation)
    asked: list[tuple[bool, str | None]] = field(default_factory=list)

    def account(self, region: str) -> str:
        return ME

    def share(
        self, region: str, namespace: ObservedNamespace, *, permissions: bool, vpc: str | None
    ) -> ShareObservation:
        self._read("share")
        self.asked.append((permissions, vpc))
        return self.answer


def observe(reader: SharingReader, s: ServiceDiscoverySpec) -> DiscoveryObservation:
    observed = Observer(CLUSTER, REGION).observe(
        reader, Resource(IDENTITY, s), namespace=None, known=DiscoveryStatus()
    )
    assert isinstance(observed, DiscoveryObservation)
    return observed


def test_a_namespace_by_arn_is_read_by_arn_and_its_services_by_a_list_of_that_arn() -> None:
    reader = SharingReader(namespace=namespace())
    observed = observe(reader, spec())
    assert (observed.account, observed.namespace) == (ME, namespace())
    assert reader.calls == ["get_namespace", "share", "list_services"]


def test_the_share_is_read_for_what_the_spec_uses_of_it() -> None:
    http = SharingReader(namespace=namespace())
    observe(http, spec(vpc="vpc-0123456789abcdef0"))
    private = SharingReader(namespace=namespace(NamespaceType.DNS_PRIVATE))
    observe(private, spec(vpc="vpc-0123456789abcdef0", service_connect=True))
    # No Service Connect: no RAM read; an Http namespace: no VPC to check.
    assert http.asked == [(False, None)]
    assert private.asked == [(True, "vpc-0123456789abcdef0")]


def test_a_namespace_of_our_own_account_by_arn_reads_no_share() -> None:
    reader = SharingReader(namespace=namespace(owner_account=ME))
    assert observe(reader, spec(service_connect=True)).share is None
    assert "share" not in reader.calls
