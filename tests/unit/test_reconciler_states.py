"""The Reconciler's state machine, in process: one table of cases, each with the reason it holds,
against in-memory AWS (tests/fakes.py) and fake time, as crossplane-runtime tests its reconciler
with ExternalClientFns. Each case arranges the world (and the status a previous step left),
acts (one step, or converge as the CLI's apply / delete does), and asserts the outcome, its
reason, the writes AWS saw and, where it matters, what AWS holds after.

The emulator's integration tests (tests/integration) stay for the adapters and the wire."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
import yaml

from builders import (
    ADOPT_API,
    ADOPT_SERVICE_CONNECT,
    BOTH_ON_OWN,
    CLUSTER,
    REGION,
    REGISTRY_ON_VICTIM,
    SERVICE_CONNECT_ON_VICTIM,
    TEAM_A_NAMESPACE,
    VPC,
    discovery,
    namespace,
)
from fake_time import FakeTime
from fakes import FakeAdapters
from sd_operator.aws.errors import RETRY_DELAY_SECONDS, Retryable, Terminal
from sd_operator.model import conditions as cond
from sd_operator.model.observed import ObservedRegistry
from sd_operator.model.parse import parse_resource
from sd_operator.model.reasons import (
    REASON_ADOPTION_REQUIRED,
    REASON_ALREADY_EXISTS,
    REASON_NAMESPACE_NOT_OWNED,
    REASON_OWNED_ELSEWHERE,
)
from sd_operator.model.spec import (
    AdoptionPolicy,
    DeletionPolicy,
    DnsConfig,
    DnsRecord,
    DriftPolicy,
    NamespaceSpec,
    NamespaceType,
    RecordType,
    Resource,
    RoutingPolicy,
    ServiceConnect,
)
from sd_operator.model.wire import decode
from sd_operator.reconcile.converge import FIRST_POLL_SECONDS
from sd_operator.reconcile.ownership import (
    CLUSTER_TAG,
    ECS_PART_TAGS,
    OWNER_TAG,
    EcsPart,
)
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.reconcile.result import Outcome, StepResult, merge_status


def namespace_spec(res: Resource) -> NamespaceSpec:
    assert isinstance(res.spec, NamespaceSpec)
    return res.spec


NS = namespace()
NS_SPEC = namespace_spec(NS)
DISCOVERY = discovery()
REQUEST_ID = "sdop-recorded"
ECS_CLUSTER = "prod"
REGISTRY_TAG = ECS_PART_TAGS[EcsPart.REGISTRY]
SC_TAG = ECS_PART_TAGS[EcsPart.SERVICE_CONNECT]


class World:
    """One test's AWS (FakeAdapters), its clock, and the operator's reconciler against them."""

    def __init__(self) -> None:
        self.adapters = FakeAdapters(REGION)
        self.aws = self.adapters.aws
        self.cm = self.adapters.cloudmap(REGION)
        self.ecs = self.adapters.ecs(REGION)
        self.time = FakeTime()
        self.reconciler = Reconciler(self.adapters, CLUSTER)
        self.performed: list[str] = []  # what the last converge did, every step of it

    def converge(
        self, res: Resource, ns: NamespaceSpec | None = None, *, deleting: bool = False
    ) -> tuple[StepResult, dict[str, Any]]:
        # A CLI run: a process of its own, with an account view of its own.
        cli = Reconciler(self.adapters, CLUSTER)
        run = self.time.converge_delete if deleting else self.time.converge
        progress = run(cli, res, ns, timeout=60)
        assert progress.last is not None
        self.performed = progress.performed
        return progress.last, progress.status

    def applied(self, res: Resource, ns: NamespaceSpec | None = None) -> dict[str, Any]:
        """`res` made in sync by the operator; the status it leaves (steady: Synced)."""
        result, status = self.converge(res, ns)
        assert result.outcome is Outcome.IN_SYNC, (result.reason, result.message)
        return steady(status, res)


def steady(status: dict[str, Any], res: Resource) -> dict[str, Any]:
    """The status the operator leaves after a successful sync of the resource's generation."""
    return {
        **status,
        "observedGeneration": res.identity.generation,
        "conditions": [{"type": cond.SYNCED, "status": "True"}],
    }


def ttl(world: World, service_id: str) -> int:
    dns = world.cm.services[service_id].dns
    assert dns is not None
    return dns.records[0].ttl


# ECS: team B's world (as Terraform made it) and team A's resources (test_ecs_ownership) ----------


def manifest(text: str, service: str = "teamb-api") -> Resource:
    return parse_resource(yaml.safe_load(text.replace("SERVICE", service)))


TEAM_A = manifest(TEAM_A_NAMESPACE)
TEAM_A_SPEC = namespace_spec(TEAM_A)
SC_ON_VICTIM = manifest(SERVICE_CONNECT_ON_VICTIM)
WEB = manifest(BOTH_ON_OWN)
WEB_REPORTING = manifest(BOTH_ON_OWN + "  driftPolicy: Report\n")
WEB2 = manifest(BOTH_ON_OWN.replace("name: web", "name: web2"))


def service_connect(namespace_ref: str, discovery_name: str) -> ServiceConnect:
    raw = {
        "enabled": True,
        "namespace": namespace_ref,
        "services": [
            {"portName": "http", "discoveryName": discovery_name, "clientAliases": [{"port": 80}]}
        ],
    }
    return decode(ServiceConnect, raw)


def team_b(world: World) -> dict[str, Any]:
    """Team B's namespace `teamb`, its service `api` (tags team=b, CostCenter=42) and its ECS
    service prod/teamb-api (a registry into `api`, Service Connect in `teamb`); team A's own
    empty ECS service prod/teama-web beside it. Team A's namespace made by the operator."""
    ns = world.cm.add_namespace("teamb")
    api = world.cm.add_service(ns.id, "api", tags={"team": "b", "CostCenter": "42"})
    world.ecs.put_ecs_service(
        ECS_CLUSTER,
        "teamb-api",
        tags={"team": "b"},
        registries=(ObservedRegistry(api.arn),),
        service_connect=service_connect(ns.arn, "api"),
    )
    world.ecs.put_ecs_service(ECS_CLUSTER, "teama-web", tags={"team": "a"})
    world.applied(TEAM_A)
    return {}


def victim(world: World) -> Any:
    return world.ecs.services[(ECS_CLUSTER, "teamb-api")]


def web(world: World) -> Any:
    return world.ecs.services[(ECS_CLUSTER, "teama-web")]


def configured_without_marker(res: Resource) -> Callable[[World], dict[str, Any]]:
    """`res` configured teama-web, whose marker is then removed (as an operator before the
    marker left it)."""

    def arrange(world: World) -> dict[str, Any]:
        team_b(world)
        status = world.applied(res, TEAM_A_SPEC)
        world.ecs.untag(web(world).arn, [OWNER_TAG, CLUSTER_TAG, REGISTRY_TAG, SC_TAG])
        return status

    return arrange


# Arrangements: what AWS holds and the status the previous step left -----------------------------


def nothing(world: World) -> dict[str, Any]:
    return {}


def namespace_ready(world: World) -> dict[str, Any]:
    world.applied(NS)
    return {}


def polls_pending(world: World) -> dict[str, Any]:
    world.aws.pending_polls = 3
    return {}


def request_recorded(world: World) -> dict[str, Any]:
    return {"creatorRequestId": REQUEST_ID}


def create_in_flight(polls: int) -> Callable[[World], dict[str, Any]]:
    def arrange(world: World) -> dict[str, Any]:
        world.aws.pending_polls = polls
        sent = world.reconciler.step(NS, request_recorded(world))
        return merge_status(request_recorded(world), sent)

    return arrange


def create_sent_then_crash(world: World) -> dict[str, Any]:
    """The create went out; its operation id never reached status."""
    world.aws.pending_polls = 2
    world.reconciler.step(NS, request_recorded(world))
    return request_recorded(world)


def operation_forgotten(world: World) -> dict[str, Any]:
    return {"operation": {"id": "op-expired", "type": "CREATE_NAMESPACE"}}


def namespace_ours(world: World) -> dict[str, Any]:
    return world.applied(NS)


def namespace_ours_retained(world: World) -> dict[str, Any]:
    return world.applied(namespace(deletion_policy=DeletionPolicy.RETAIN))


def namespace_foreign(world: World) -> dict[str, Any]:
    world.cm.add_namespace("myapp.local", NamespaceType.DNS_PRIVATE, vpc=VPC)
    return {}


def namespace_ours_holding_foreign_service(world: World) -> dict[str, Any]:
    status = namespace_ours(world)
    world.cm.add_service(status["namespaceId"], "legacy")
    return status


def namespace_gone(world: World) -> dict[str, Any]:
    status = namespace_ours(world)
    world.cm.namespaces.pop(status["namespaceId"])
    return status


def throttled(api: str, method: str) -> Callable[[World], dict[str, Any]]:
    def arrange(world: World) -> dict[str, Any]:
        world.aws.errors[method] = Retryable(api, "ThrottlingException", "Rate exceeded")
        return {}

    return arrange


def throttled_once(world: World) -> dict[str, Any]:
    first = [Retryable("ListNamespaces", "ThrottlingException", "Rate exceeded")]
    world.aws.errors["cloudmap.find_namespace"] = lambda name: first.pop() if first else None
    return {}


def refused_create(world: World) -> dict[str, Any]:
    world.aws.errors["cloudmap.create_namespace"] = Terminal(
        "CreatePrivateDnsNamespace", "AccessDeniedException", "not authorized"
    )
    return request_recorded(world)


def namespace_create_fails(world: World) -> dict[str, Any]:
    world.aws.fail_operations["CREATE_NAMESPACE"] = ("CANNOT_CREATE_HOSTED_ZONE", "no zone")
    return {}


def namespace_ours_delete_in_use(world: World) -> dict[str, Any]:
    status = namespace_ours(world)
    world.aws.errors["cloudmap.delete_namespace"] = Retryable(
        "DeleteNamespace", "ResourceInUse", "a service was registered meanwhile"
    )
    return status


def service_ours(res: Resource = DISCOVERY) -> Callable[[World], dict[str, Any]]:
    def arrange(world: World) -> dict[str, Any]:
        world.applied(NS)
        return world.applied(res, NS_SPEC)

    return arrange


def service_taken_since_the_view_was_read(world: World) -> dict[str, Any]:
    """The step that recorded the request id read the account view; the name is taken after."""
    world.applied(NS)
    recorded = world.reconciler.step(discovery(), {}, namespace=NS_SPEC)
    assert recorded.reason == "RecordingRequest"
    ns_id = world.cm.find_namespace("myapp.local")
    assert ns_id is not None
    world.cm.add_service(ns_id.id, "user-service", tags={"team": "b"})
    return merge_status({}, recorded)


def service_drifted(res: Resource) -> Callable[[World], dict[str, Any]]:
    def arrange(world: World) -> dict[str, Any]:
        status = service_ours(res)(world)
        dns = DnsConfig(RoutingPolicy.MULTIVALUE, (DnsRecord(RecordType.A, 300),))
        world.cm.change_service(status["serviceId"], dns=dns)
        return status

    return arrange


def service_update_fails(world: World) -> dict[str, Any]:
    status = service_ours()(world)
    world.aws.fail_operations["UPDATE_SERVICE"] = ("INTERNAL_FAILURE", "try again")
    return status


def service_ours_with_instances(world: World) -> dict[str, Any]:
    status = service_ours()(world)
    world.cm.instances[status["serviceId"]] = {"i-1"}
    return status


def service_gone(world: World) -> dict[str, Any]:
    status = service_ours()(world)
    world.cm.services.pop(status["serviceId"])
    return status


def api_adopted(world: World) -> dict[str, Any]:
    team_b(world)
    return world.applied(manifest(ADOPT_API))


def web_configured(world: World) -> dict[str, Any]:
    team_b(world)
    return world.applied(WEB, TEAM_A_SPEC)


def web_service_connect_disabled(world: World) -> dict[str, Any]:
    status = web_configured(world)
    world.ecs.services[(ECS_CLUSTER, "teama-web")] = replace(web(world), service_connect=None)
    return status


def web_held_by_web(world: World) -> dict[str, Any]:
    web_configured(world)
    return {}


# Checks of what AWS holds after --------------------------------------------------------------


Check = Callable[[World, StepResult, dict[str, Any]], None]


def no_check(world: World, result: StepResult, status: dict[str, Any]) -> None:
    pass


@dataclass(frozen=True)
class Case:
    reason: str
    res: Resource
    arrange: Callable[[World], dict[str, Any]]
    outcome: Outcome
    why: str  # the result's reason ("" for none)
    writes: tuple[str, ...] = ()
    namespace: NamespaceSpec | None = None
    deleting: bool = False
    converge: bool = False  # the CLI's apply / delete (not durable), else one operator step
    then: Check = field(default=no_check)


def _operation_recorded(world: World, result: StepResult, status: dict[str, Any]) -> None:
    assert status["operation"]["type"] == "CREATE_NAMESPACE"
    assert status["creatorRequestId"] == REQUEST_ID
    assert world.aws.writes() == ["cloudmap.create_namespace"]
    (sent,) = [args for name, args in world.aws.calls if name == "cloudmap.create_namespace"]
    assert sent[1] == REQUEST_ID


def _namespace_made_and_ours(world: World, result: StepResult, status: dict[str, Any]) -> None:
    (made,) = world.cm.namespaces.values()
    assert status["namespaceId"] == made.id
    assert status["operation"] is None
    assert status["creatorRequestId"] is None
    assert world.cm.tags_of(made.arn)[OWNER_TAG] == NS.identity.key


def _same_operation(world: World, result: StepResult, status: dict[str, Any]) -> None:
    assert len(world.cm.operations) == 1
    assert status["operation"]["id"] == next(iter(world.cm.operations))


def _new_request_id_next(world: World, result: StepResult, status: dict[str, Any]) -> None:
    assert status["creatorRequestId"] is None
    assert world.cm.namespaces == {}


def _polled_soon_then_less_often(world: World, result: StepResult, s: dict[str, Any]) -> None:
    assert world.time.slept == [FIRST_POLL_SECONDS * 2**n for n in range(4)]
    assert world.aws.names().count("cloudmap.get_operation") == 4


def _operation_dropped(world: World, result: StepResult, status: dict[str, Any]) -> None:
    assert status["operation"] is None
    assert status["creatorRequestId"]


def _left_untagged(world: World, result: StepResult, status: dict[str, Any]) -> None:
    (found,) = world.cm.namespaces.values()
    assert world.cm.tags_of(found.arn) == {}


def _adopted(world: World, result: StepResult, status: dict[str, Any]) -> None:
    (found,) = world.cm.namespaces.values()
    assert status["namespaceId"] == found.id
    assert world.cm.tags_of(found.arn)[OWNER_TAG] == NS.identity.key


def _retry_later(world: World, result: StepResult, status: dict[str, Any]) -> None:
    assert result.retry_after


def _waited_out_the_throttle(world: World, result: StepResult, s: dict[str, Any]) -> None:
    assert world.time.slept[0] == RETRY_DELAY_SECONDS
    assert world.cm.namespaces


def _refused_rename(world: World, result: StepResult, status: dict[str, Any]) -> None:
    assert result.message.startswith("spec.name: ")
    assert [n.name for n in world.cm.namespaces.values()] == ["myapp.local"]


def _namespace_kept(world: World, result: StepResult, status: dict[str, Any]) -> None:
    assert [n.name for n in world.cm.namespaces.values()] == ["myapp.local"]


def _names_legacy(world: World, result: StepResult, status: dict[str, Any]) -> None:
    assert "legacy" in result.message
    _namespace_kept(world, result, status)


def _namespace_deleted(world: World, result: StepResult, status: dict[str, Any]) -> None:
    assert world.cm.namespaces == {}


def _service_made_not_read_back(world: World, result: StepResult, s: dict[str, Any]) -> None:
    (made,) = world.cm.services.values()
    assert s["serviceId"] == made.id
    assert "cloudmap.get_service" not in world.aws.names()
    assert "cloudmap.tags" not in world.aws.names()
    assert world.cm.tags_of(made.arn)[OWNER_TAG] == "ServiceDiscovery/payments/user-service"
    assert ttl(world, made.id) == 10


def _no_twin(world: World, result: StepResult, status: dict[str, Any]) -> None:
    (only,) = world.cm.services.values()
    assert world.cm.tags_of(only.arn) == {"team": "b"}


def _nothing_created(world: World, result: StepResult, status: dict[str, Any]) -> None:
    assert world.cm.services == {}


def _ttl_updated(world: World, result: StepResult, status: dict[str, Any]) -> None:
    service_id = status["serviceId"]
    assert world.performed == [
        f"update service user-service ({service_id}) in place; resolvers may keep answering "
        "with the old records for up to 10s (the TTL AWS holds now)"
    ]
    assert ttl(world, service_id) == 30


def _drift_corrected(world: World, result: StepResult, status: dict[str, Any]) -> None:
    assert [(c.field, c.desired, c.observed) for c in result.drift] == [
        ("service.dns.records[0].ttl", 10, 300)
    ]
    assert status["drift"][-1]["action"] == "Corrected"


def _drift_left(world: World, result: StepResult, status: dict[str, Any]) -> None:
    assert result.performed == ()
    assert ttl(world, status["serviceId"]) == 300


def _service_deleted(world: World, result: StepResult, status: dict[str, Any]) -> None:
    assert world.cm.services == {}


def _service_kept(world: World, result: StepResult, status: dict[str, Any]) -> None:
    assert status["serviceId"] in world.cm.services


def _created_again(world: World, result: StepResult, status: dict[str, Any]) -> None:
    assert status["serviceId"] is None
    assert status["creatorRequestId"]


def _given_back(world: World, result: StepResult, status: dict[str, Any]) -> None:
    (api,) = world.cm.services.values()
    assert world.cm.tags_of(api.arn) == {"team": "b", "CostCenter": "42"}


def _victim_untouched(world: World, result: StepResult, status: dict[str, Any]) -> None:
    ns = world.cm.find_namespace("teamb")
    assert ns is not None
    assert victim(world).service_connect == service_connect(ns.arn, "api")
    assert victim(world).tags == {"team": "b"}
    assert world.ecs.deployments[victim(world).arn] == 1


def _refused_naming_victim(world: World, result: StepResult, status: dict[str, Any]) -> None:
    assert f"ECS service {ECS_CLUSTER}/teamb-api" in result.message
    _victim_untouched(world, result, status)


def _names_the_other_resource(world: World, result: StepResult, s: dict[str, Any]) -> None:
    assert f"ECS service {ECS_CLUSTER}/teama-web" in result.message
    assert "ServiceDiscovery/team-a/web in cluster" in result.message
    assert web(world).tags[OWNER_TAG] == "ServiceDiscovery/team-a/web"


def _web_marked_and_configured(world: World, result: StepResult, s: dict[str, Any]) -> None:
    held = web(world)
    assert held.service_connect is not None
    assert held.service_connect.services[0].discovery_name == "web-sc"
    assert len(held.registries) == 1
    assert held.tags == {
        "team": "a",
        OWNER_TAG: "ServiceDiscovery/team-a/web",
        CLUSTER_TAG: CLUSTER.name,
        REGISTRY_TAG: "set",
        SC_TAG: "set",
    }
    assert world.ecs.deployments[held.arn] == 2  # created + the one update


def _web_marked_only(world: World, result: StepResult, s: dict[str, Any]) -> None:
    held = web(world)
    assert held.tags[OWNER_TAG] == "ServiceDiscovery/team-a/web"
    assert held.tags[REGISTRY_TAG] == held.tags[SC_TAG] == "set"
    assert world.ecs.deployments[held.arn] == 2
    assert result.drift == ()


def _web_cleared(world: World, result: StepResult, s: dict[str, Any]) -> None:
    held = web(world)
    assert (held.registries, held.service_connect, held.tags) == ((), None, {"team": "a"})


def _web_restored(world: World, result: StepResult, status: dict[str, Any]) -> None:
    assert [(c.field, c.desired, c.observed) for c in result.drift] == [
        ("ecs.serviceConnect.enabled", True, False)
    ]
    assert web(world).service_connect is not None


def _sc_adopted(world: World, result: StepResult, status: dict[str, Any]) -> None:
    assert victim(world).tags == {
        "team": "b",
        OWNER_TAG: "ServiceDiscovery/team-a/api",
        CLUSTER_TAG: CLUSTER.name,
        SC_TAG: "adopted",
    }
    assert world.ecs.deployments[victim(world).arn] == 1


CASES = [
    # CloudMapNamespace: create, operations, crashes --------------------------------------------
    Case(
        "a new namespace: the step records the create's request id before sending anything",
        NS,
        nothing,
        Outcome.WAITING,
        "RecordingRequest",
    ),
    Case(
        "request id recorded: the create goes out with it and its operation is recorded",
        NS,
        request_recorded,
        Outcome.WAITING,
        "OperationPending",
        ("cloudmap.create_namespace",),
        then=_operation_recorded,
    ),
    Case(
        "operation still pending: the step waits and sends nothing",
        NS,
        create_in_flight(polls=3),
        Outcome.WAITING,
        "OperationPending",
    ),
    Case(
        "operation done: the namespace's id is recorded, it is ours and in sync",
        NS,
        create_in_flight(polls=0),
        Outcome.IN_SYNC,
        "",
        then=_namespace_made_and_ours,
    ),
    Case(
        "crash after the create was sent: the recorded request id answers the same operation",
        NS,
        create_sent_then_crash,
        Outcome.WAITING,
        "OperationPending",
        ("cloudmap.create_namespace",),
        then=_same_operation,
    ),
    Case(
        "the CLI's apply sends the create at once and polls its operation soon, then less often",
        NS,
        polls_pending,
        Outcome.IN_SYNC,
        "",
        ("cloudmap.create_namespace",),
        converge=True,
        then=_polled_soon_then_less_often,
    ),
    Case(
        "operation failed: FAILED with AWS's code, and the next attempt draws a new request id",
        NS,
        namespace_create_fails,
        Outcome.FAILED,
        "CANNOT_CREATE_HOSTED_ZONE",
        ("cloudmap.create_namespace",),
        converge=True,
        then=_new_request_id_next,
    ),
    Case(
        "an operation AWS no longer knows is dropped and the step goes on",
        NS,
        operation_forgotten,
        Outcome.WAITING,
        "RecordingRequest",
        then=_operation_dropped,
    ),
    # Errors --------------------------------------------------------------------------------------
    Case(
        "throttled past the retries: ERROR with AWS's code, retried later",
        NS,
        throttled("ListNamespaces", "cloudmap.find_namespace"),
        Outcome.ERROR,
        "ThrottlingException",
        then=_retry_later,
    ),
    Case(
        "throttled once: the CLI's apply waits the retry delay and goes on",
        NS,
        throttled_once,
        Outcome.IN_SYNC,
        "",
        ("cloudmap.create_namespace",),
        converge=True,
        then=_waited_out_the_throttle,
    ),
    Case(
        "a create AWS refuses (access denied) is FAILED, not retried",
        NS,
        refused_create,
        Outcome.FAILED,
        "AccessDeniedException",
        ("cloudmap.create_namespace",),
    ),
    # Ownership, drift, refusals ------------------------------------------------------------------
    Case(
        "a namespace of that name someone else made is left alone",
        namespace(description="taken over"),
        namespace_foreign,
        Outcome.BLOCKED,
        REASON_ALREADY_EXISTS,
        converge=True,
        then=_left_untagged,
    ),
    Case(
        "adoptionPolicy Adopt takes someone else's namespace: owner tags written, in sync",
        namespace(adoption_policy=AdoptionPolicy.ADOPT),
        namespace_foreign,
        Outcome.IN_SYNC,
        "",
        ("cloudmap.tag",),
        converge=True,
        then=_adopted,
    ),
    Case(
        "an unchanged namespace in sync: nothing is written",
        NS,
        namespace_ours,
        Outcome.IN_SYNC,
        "",
    ),
    Case(
        "renaming the namespace in the manifest is refused",
        namespace(name="myapp-v2.local"),
        namespace_ours,
        Outcome.REFUSED,
        "ImmutableField",
        converge=True,
        then=_refused_rename,
    ),
    # CloudMapNamespace: delete -------------------------------------------------------------------
    Case(
        "delete of an owned empty namespace: DeleteNamespace, then gone",
        NS,
        namespace_ours,
        Outcome.GONE,
        "",
        ("cloudmap.delete_namespace",),
        deleting=True,
        converge=True,
        then=_namespace_deleted,
    ),
    Case(
        "delete of a namespace holding a foreign service is kept, naming it",
        NS,
        namespace_ours_holding_foreign_service,
        Outcome.BLOCKED,
        "NamespaceNotEmpty",
        deleting=True,
        converge=True,
        then=_names_legacy,
    ),
    Case(
        "deletionPolicy Retain: the delete leaves AWS alone",
        namespace(deletion_policy=DeletionPolicy.RETAIN),
        namespace_ours_retained,
        Outcome.GONE,
        "",
        deleting=True,
        converge=True,
        then=_namespace_kept,
    ),
    Case(
        "delete when the namespace is already gone: gone, nothing sent",
        NS,
        namespace_gone,
        Outcome.GONE,
        "",
        deleting=True,
    ),
    Case(
        "DeleteNamespace in use (a service registered meanwhile) is retried",
        NS,
        namespace_ours_delete_in_use,
        Outcome.ERROR,
        "ResourceInUse",
        ("cloudmap.delete_namespace",),
        deleting=True,
        then=_retry_later,
    ),
    # ServiceDiscovery: Cloud Map service ---------------------------------------------------------
    Case(
        "a new service: the request id is recorded before CreateService",
        discovery(),
        namespace_ready,
        Outcome.WAITING,
        "RecordingRequest",
        namespace=NS_SPEC,
    ),
    Case(
        "a new service costs one create and is not read back",
        discovery(),
        namespace_ready,
        Outcome.IN_SYNC,
        "",
        ("cloudmap.create_service",),
        namespace=NS_SPEC,
        converge=True,
        then=_service_made_not_read_back,
    ),
    Case(
        "a name taken since the view was read: CreateService's conflict names it, no twin",
        discovery(),
        service_taken_since_the_view_was_read,
        Outcome.BLOCKED,
        REASON_ALREADY_EXISTS,
        ("cloudmap.create_service",),
        namespace=NS_SPEC,
        then=_no_twin,
    ),
    Case(
        "a service in a namespace our CloudMapNamespace does not own is not created",
        discovery(),
        namespace_foreign,
        Outcome.BLOCKED,
        REASON_NAMESPACE_NOT_OWNED,
        namespace=NS_SPEC,
        converge=True,
        then=_nothing_created,
    ),
    Case(
        "a TTL change in the spec is updated in place",
        discovery(ttl=30, generation=2),
        service_ours(),
        Outcome.IN_SYNC,
        "",
        ("cloudmap.update_service",),
        namespace=NS_SPEC,
        converge=True,
        then=_ttl_updated,
    ),
    Case(
        "an out-of-band TTL change is drift, corrected (driftPolicy Correct)",
        discovery(),
        service_drifted(discovery()),
        Outcome.WAITING,
        "OperationPending",
        ("cloudmap.update_service",),
        namespace=NS_SPEC,
        then=_drift_corrected,
    ),
    Case(
        "driftPolicy Report records the drift and writes nothing",
        discovery(drift_policy=DriftPolicy.REPORT),
        service_drifted(discovery(drift_policy=DriftPolicy.REPORT)),
        Outcome.DRIFT_REPORTED,
        "DriftReported",
        namespace=NS_SPEC,
        then=_drift_left,
    ),
    Case(
        "UpdateService's operation failed: FAILED with its code",
        discovery(ttl=30, generation=2),
        service_update_fails,
        Outcome.FAILED,
        "INTERNAL_FAILURE",
        ("cloudmap.update_service",),
        namespace=NS_SPEC,
        converge=True,
    ),
    Case(
        "a service deleted out of band is created again, a new request id recorded first",
        discovery(),
        service_gone,
        Outcome.WAITING,
        "RecordingRequest",
        namespace=NS_SPEC,
        then=_created_again,
    ),
    # ServiceDiscovery: delete --------------------------------------------------------------------
    Case(
        "delete of an owned service: DeleteService, then gone",
        discovery(),
        service_ours(),
        Outcome.GONE,
        "",
        ("cloudmap.delete_service",),
        namespace=NS_SPEC,
        deleting=True,
        converge=True,
        then=_service_deleted,
    ),
    Case(
        "delete of an owned service with instances is held until they are deregistered",
        discovery(),
        service_ours_with_instances,
        Outcome.BLOCKED,
        "ServiceInUse",
        namespace=NS_SPEC,
        deleting=True,
        then=_service_kept,
    ),
    Case(
        "delete when the service is already gone: gone, nothing sent",
        discovery(),
        service_gone,
        Outcome.GONE,
        "",
        namespace=NS_SPEC,
        deleting=True,
    ),
    Case(
        "delete of an adopted service gives it back: our tags removed, the service kept",
        manifest(ADOPT_API),
        api_adopted,
        Outcome.GONE,
        "",
        ("cloudmap.untag",),
        deleting=True,
        converge=True,
        then=_given_back,
    ),
    # ECS ownership (docs/ownership.md) -----------------------------------------------------------
    Case(
        "Service Connect on another team's ECS service is refused, naming it",
        SC_ON_VICTIM,
        team_b,
        Outcome.BLOCKED,
        REASON_ADOPTION_REQUIRED,
        namespace=TEAM_A_SPEC,
        converge=True,
        then=_refused_naming_victim,
    ),
    Case(
        "a registry-only spec does not replace another team's registry",
        manifest(REGISTRY_ON_VICTIM),
        team_b,
        Outcome.BLOCKED,
        REASON_ADOPTION_REQUIRED,
        ("cloudmap.create_service",),  # its own Cloud Map service, ahead of the block
        namespace=TEAM_A_SPEC,
        converge=True,
        then=_refused_naming_victim,
    ),
    Case(
        "delete of a resource naming another team's ECS service strips nothing",
        SC_ON_VICTIM,
        team_b,
        Outcome.GONE,
        "",
        namespace=TEAM_A_SPEC,
        deleting=True,
        converge=True,
        then=_victim_untouched,
    ),
    Case(
        "an ECS service marked by another resource is owned elsewhere",
        WEB2,
        web_held_by_web,
        Outcome.BLOCKED,
        REASON_OWNED_ELSEWHERE,
        ("cloudmap.create_service",),
        namespace=TEAM_A_SPEC,
        converge=True,
        then=_names_the_other_resource,
    ),
    Case(
        "an empty ECS service is configured and marked",
        WEB,
        team_b,
        Outcome.IN_SYNC,
        "",
        # The marker first: a failed update leaves a claim to retry, never an unclaimed change.
        ("cloudmap.create_service", "ecs.tag", "ecs.update"),
        namespace=TEAM_A_SPEC,
        converge=True,
        then=_web_marked_and_configured,
    ),
    Case(
        "an ECS service configured before the marker is recognised and only marked",
        WEB,
        configured_without_marker(WEB),
        Outcome.IN_SYNC,
        "",
        ("ecs.tag",),
        namespace=TEAM_A_SPEC,
        converge=True,
        then=_web_marked_only,
    ),
    Case(
        "marking an ECS service configured before the marker is not drift to report",
        WEB_REPORTING,
        configured_without_marker(WEB_REPORTING),
        Outcome.IN_SYNC,
        "",
        ("ecs.tag",),
        namespace=TEAM_A_SPEC,
        then=_web_marked_only,
    ),
    Case(
        "Service Connect disabled out of band is restored and recorded as drift",
        WEB,
        web_service_connect_disabled,
        Outcome.IN_SYNC,
        "",
        ("ecs.update",),
        namespace=TEAM_A_SPEC,
        then=_web_restored,
    ),
    Case(
        "adopting Service Connect takes ownership with the marker, no UpdateService",
        manifest(ADOPT_SERVICE_CONNECT),
        team_b,
        Outcome.IN_SYNC,
        "",
        ("ecs.tag",),
        converge=True,
        then=_sc_adopted,
    ),
    Case(
        "delete of our ECS configuration clears it and the marker",
        WEB,
        web_configured,
        Outcome.GONE,
        "",
        ("ecs.update", "ecs.untag", "cloudmap.delete_service"),
        namespace=TEAM_A_SPEC,
        deleting=True,
        converge=True,
        then=_web_cleared,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.reason for c in CASES])
def test_reconciler_state(case: Case) -> None:
    world = World()
    status = case.arrange(world)
    world.aws.calls.clear()

    if case.converge:
        result, status = world.converge(case.res, case.namespace, deleting=case.deleting)
    else:
        step = world.reconciler.delete_step if case.deleting else world.reconciler.step
        result = step(case.res, status, namespace=case.namespace)
        status = merge_status(status, result)

    assert (result.outcome, result.reason) == (case.outcome, case.why), result.message
    assert world.aws.writes() == list(case.writes)
    case.then(world, result, status)


def test_the_cases_have_distinct_reasons() -> None:
    assert len({c.reason for c in CASES}) == len(CASES)
