"""The pure ECS plan: keep an existing ECS service's discovery configuration equal to `spec.ecs`.

The operator owns exactly two things of the named ECS service: `serviceRegistries` and
`serviceConnectConfiguration` (never its existence, task definition or desired count). Both are
owned whole: an absent `registry` means no registry, an absent or disabled `serviceConnect` means
Service Connect off.

Neither is ever taken from someone else (`plan_ecs_owned`, `plan_ecs_release`): the ECS service
carries a marker (tags, reconcile/ownership.py) naming the resource that set or adopted each part,
and a part that is set and not ours is refused (OwnedElsewhere, AdoptionRequired) before anything
is compared. `plan_ecs` and `plan_ecs_delete` plan the parts they are given.

Every UpdateService that carries either field starts a new ECS deployment (every task is
replaced), so desired and observed are compared only after both are brought to one canonical
form in which AWS defaults are filled in the same way: an unchanged spec must never send an update,
whether ECS echoes what it was sent or reports it with its defaults applied.

No boto3, no kopf, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import TypeGuard

from sd_operator.model import arns
from sd_operator.model.actions import (
    Blocked,
    Change,
    Plan,
    Refusal,
    TagResource,
    UntagResource,
    UpdateEcsService,
)
from sd_operator.model.observed import (
    NamedPort,
    ObservedEcsService,
    ObservedRegistry,
)
from sd_operator.model.reasons import (
    REASON_ADOPTION_REQUIRED,
    REASON_CLOUD_MAP_SERVICE_PENDING,
    REASON_CONTROLLER_UNSUPPORTED,
    REASON_ECS_SERVICE_NOT_FOUND,
    REASON_INVALID_REGISTRY,
    REASON_INVALID_TIMEOUT,
    REASON_NAMESPACE_REGION,
    REASON_OWNED_ELSEWHERE,
    REASON_UNKNOWN_PORT_NAME,
)
from sd_operator.model.spec import (
    AdoptionPolicy,
    ClientAlias,
    ClusterIdentity,
    DeletionPolicy,
    EcsSpec,
    Identity,
    Registry,
    ServiceConnect,
    ServiceConnectService,
    ServiceConnectTestTrafficHeaderRules,
    ServiceConnectTestTrafficRules,
    Timeout,
)
from sd_operator.model.status import EcsDeployment
from sd_operator.model.wire import differences
from sd_operator.reconcile.deployments import Rollout, gated, held_back
from sd_operator.reconcile.ownership import (
    ECS_PART_TAGS,
    PART_ADOPTED,
    PART_SET,
    EcsPart,
    Ownership,
    claim_plan,
    ecs_marker,
    ecs_marker_keys,
    ecs_parts,
    owner_of,
    ownership,
)

ECS_SERVICE_RETRY_SECONDS = 30.0
CLOUD_MAP_SERVICE_RETRY_SECONDS = 10.0

STATUS_ACTIVE = "ACTIVE"
CONTROLLER_ECS = "ECS"
AWSVPC = "awsvpc"
_CONTAINER_PAIR_MODES = frozenset({"bridge", "host"})

# ECS API reference, TimeoutConfiguration.idleTimeoutSeconds: 5 minutes for HTTP/HTTP2/GRPC,
# 1 hour for TCP. PortMapping.appProtocol: unset means TCP.
_HTTP_APP_PROTOCOLS = frozenset({"http", "http2", "grpc"})
IDLE_TIMEOUT_DEFAULT_HTTP = 300
IDLE_TIMEOUT_DEFAULT_TCP = 3600
# ServiceConnectAccessLogConfiguration.includeQueryParameters: "By default, ... DISABLED".
QUERY_PARAMETERS_DEFAULT = "DISABLED"
# ECS developer guide, Service Connect for blue/green deployments: without testTrafficRules,
# "Service Connect recognizes the x-amzn-ecs-blue-green-test header" (any value).
TEST_TRAFFIC_DEFAULT = ServiceConnectTestTrafficRules(
    ServiceConnectTestTrafficHeaderRules("x-amzn-ecs-blue-green-test")
)

_SC = "ecs.serviceConnect"
_REGISTRY = "ecs.registry"


# Canonical form --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Namespace:
    """The ServiceDiscovery's Cloud Map namespace, the one Service Connect is configured in."""

    name: str
    arn: str | None

    def is_same(self, ref: str | None) -> bool:
        """ECS reports the namespace as a name or an ARN (either, depending on how it was set)."""
        if ref is None or ref in (self.name, self.arn):
            return True
        return (
            self.arn is not None
            and arns.is_arn(ref)
            and arns.resource_id(ref) == arns.resource_id(self.arn)
        )

    def canonical(self, ref: str | None) -> str:
        return self.name if ref is None or self.is_same(ref) else ref

    @property
    def reference(self) -> str:
        """What UpdateService is sent: the ARN when known (unambiguous), else the name."""
        return self.arn or self.name

    def for_service_connect(self, ref: str | None) -> _Namespace:
        """The namespace Service Connect uses: this one unless `ref` (serviceConnect.namespace)
        names another. AWS allows a registry into one namespace and Service Connect in another
        (the middle of a move from DNS discovery to Service Connect); that one is known only by
        what the spec says, a name or an ARN."""
        if self.is_same(ref) or ref is None:
            return self
        return _Namespace(ref, ref if arns.is_arn(ref) else None)


def _idle_default(app_protocol: str | None) -> int:
    if app_protocol is not None and app_protocol.lower() in _HTTP_APP_PROTOCOLS:
        return IDLE_TIMEOUT_DEFAULT_HTTP
    return IDLE_TIMEOUT_DEFAULT_TCP


def _canonical_timeout(timeout: Timeout | None, port: NamedPort | None) -> Timeout | None:
    if timeout is None:
        return None
    idle = timeout.idle_timeout_seconds
    if port is not None and idle == _idle_default(port.app_protocol):
        idle = None
    if idle is None and timeout.per_request_timeout_seconds is None:
        return None
    return Timeout(idle, timeout.per_request_timeout_seconds)


def _canonical_test_traffic(
    rules: ServiceConnectTestTrafficRules | None,
) -> ServiceConnectTestTrafficRules | None:
    """HTTP header names are case-insensitive (RFC 9110, 5.1): one spelling, lower case. The
    rule ECS applies when none is given is the same as none."""
    if rules is None:
        return None
    header = replace(rules.header, name=rules.header.name.lower())
    canonical = ServiceConnectTestTrafficRules(header)
    return None if canonical == TEST_TRAFFIC_DEFAULT else canonical


def _canonical_service(
    svc: ServiceConnectService,
    namespace: str | None,
    ports: Mapping[str, NamedPort],
    network_mode: str | None,
) -> ServiceConnectService:
    discovery = svc.discovery_name or svc.port_name
    port = ports.get(svc.port_name)
    ingress = svc.ingress_port_override
    if network_mode == AWSVPC and port is not None and ingress == port.container_port:
        ingress = None
    aliases = tuple(
        ClientAlias(
            a.port,
            a.dns_name
            if a.dns_name is not None or namespace is None
            else f"{discovery}.{namespace}",
            _canonical_test_traffic(a.test_traffic_rules),
        )
        for a in svc.client_aliases
    )
    tls = svc.tls
    if tls is not None:
        tls = replace(tls, kms_key=tls.kms_key or None, role_arn=tls.role_arn or None)
    return ServiceConnectService(
        port_name=svc.port_name,
        discovery_name=discovery,
        client_aliases=aliases,
        ingress_port_override=ingress,
        timeout=_canonical_timeout(svc.timeout, port),
        tls=tls,
    )


def canonical_service_connect(
    sc: ServiceConnect | None,
    namespace: _Namespace,
    ports: Mapping[str, NamedPort],
    network_mode: str | None,
) -> ServiceConnect | None:
    """One configuration with the ECS API defaults applied, so that both sides compare equal.

    Defaults (ECS API reference unless said otherwise):
    - `enabled: false` is the same as no configuration (Service Connect off);
    - namespace: a name or an ARN of the same namespace are one (ECS reports whichever it was
      given: kayac/ecspresso #745, #759); omitted means the resource's namespace;
    - ServiceConnectService.discoveryName defaults to portName;
    - ServiceConnectClientAlias.dnsName defaults to `discoveryName.namespace`;
    - ServiceConnectService.ingressPortOverride defaults to the container port in awsvpc mode;
    - TimeoutConfiguration.idleTimeoutSeconds defaults to 300 for http/http2/grpc, 3600 for TCP
      (PortMapping.appProtocol unset means TCP);
    - ServiceConnectAccessLogConfiguration.includeQueryParameters defaults to DISABLED;
    - ServiceConnectClientAlias.testTrafficRules defaults to the header
      x-amzn-ecs-blue-green-test, any value (ECS developer guide, blue/green deployments).
    """
    if sc is None or not sc.enabled:
        return None
    ns = namespace.canonical(sc.namespace)
    access = sc.access_log_configuration
    if access is not None and access.include_query_parameters == QUERY_PARAMETERS_DEFAULT:
        access = replace(access, include_query_parameters=None)
    return ServiceConnect(
        enabled=True,
        namespace=ns,
        # A namespace known only by its ARN (another one than the resource's) has no name to
        # default client aliases' DNS names from: those are compared as written.
        services=tuple(
            _canonical_service(s, None if arns.is_arn(ns) else ns, ports, network_mode)
            for s in sc.services
        ),
        log_configuration=sc.log_configuration,
        access_log_configuration=access,
    )


def service_connect_spec(
    sc: ServiceConnect | None,
    namespace_name: str,
    namespace_arn: str | None,
    ports: Mapping[str, NamedPort],
    network_mode: str | None,
) -> ServiceConnect | None:
    """`sc` as ECS reports it, written as a spec would (`generate`): every value
    `canonical_service_connect` fills in by default left out, so both canonical forms are
    equal; the namespace only when it is not the resource's (`namespace_*`)."""
    namespace = _Namespace(namespace_name, namespace_arn)
    canonical = canonical_service_connect(sc, namespace, ports, network_mode)
    if sc is None or canonical is None:
        return None
    ns = canonical.namespace
    alias_namespace = None if ns is None or arns.is_arn(ns) else ns
    return replace(
        canonical,
        namespace=None if namespace.is_same(sc.namespace) else sc.namespace,
        services=tuple(_bare_service(s, alias_namespace) for s in canonical.services),
    )


def _bare_service(svc: ServiceConnectService, namespace: str | None) -> ServiceConnectService:
    """A canonical service without the discoveryName and client alias DNS names it defaults."""
    discovery = svc.discovery_name
    aliases = tuple(
        replace(a, dns_name=None)
        if namespace is not None and a.dns_name == f"{discovery}.{namespace}"
        else a
        for a in svc.client_aliases
    )
    return replace(
        svc,
        discovery_name=None if discovery == svc.port_name else discovery,
        client_aliases=aliases,
    )


def desired_registries(
    registry: Registry | None, cloud_map_service_arn: str | None
) -> tuple[ObservedRegistry, ...]:
    if registry is None or cloud_map_service_arn is None:
        return ()
    return (
        ObservedRegistry(
            cloud_map_service_arn, registry.port, registry.container_name, registry.container_port
        ),
    )


# Field-by-field differences --------------------------------------------------------------------


def _changes_if(path: str, desired: object, observed: object) -> list[Change]:
    return [] if desired == observed else [Change(path, desired, observed)]


def service_connect_changes(
    want: ServiceConnect | None, have: ServiceConnect | None
) -> list[Change]:
    """Differences between two canonical configurations, field by field (model/wire.py;
    services are matched by portName). Off on either side is the one change `enabled`."""
    if want is None or have is None:
        return _changes_if(f"{_SC}.enabled", want is not None, have is not None)
    return [Change(*d) for d in differences(_SC, want, have)]


def registry_changes(
    want: tuple[ObservedRegistry, ...], have: tuple[ObservedRegistry, ...]
) -> list[Change]:
    if want == have:
        return []
    if len(want) == 1 and len(have) == 1:
        w, h = want[0], have[0]
        return (
            _changes_if(_REGISTRY, w.registry_arn, h.registry_arn)
            + _changes_if(f"{_REGISTRY}.port", w.port, h.port)
            + _changes_if(f"{_REGISTRY}.containerName", w.container_name, h.container_name)
            + _changes_if(f"{_REGISTRY}.containerPort", w.container_port, h.container_port)
        )
    return [
        Change(
            _REGISTRY,
            want[0].registry_arn if want else None,
            [r.registry_arn for r in have]
            if len(have) > 1
            else (have[0].registry_arn if have else None),
        )
    ]


# Validation ------------------------------------------------------------------------------------


def _refuse(reason: str, path: str, message: str) -> Plan:
    return Plan(refusal=Refusal(reason, path, message))


def _namespace_checks(spec: EcsSpec, namespace: _Namespace, cluster_region: str | None) -> Plan:
    """`namespace`: the one Service Connect uses (`_Namespace.for_service_connect`)."""
    sc = spec.service_connect
    if sc is None or not sc.enabled:
        return Plan()
    ns_region = arns.region(namespace.arn) or arns.region(sc.namespace)
    if ns_region is not None and cluster_region is not None and ns_region != cluster_region:
        return _refuse(
            REASON_NAMESPACE_REGION,
            f"{_SC}.namespace",
            f"namespace {namespace.name!r} is in {ns_region}, the ECS cluster in "
            f"{cluster_region}: Service Connect needs both in the same region",
        )
    return Plan()


def _observed_checks(spec: EcsSpec, observed: ObservedEcsService) -> Plan:
    """Rules that need the service and its task definition."""
    sc = spec.service_connect
    if sc is not None and sc.enabled:
        for i, svc in enumerate(sc.services):
            path = f"{_SC}.services[{i}]"
            port = observed.port_mappings.get(svc.port_name)
            if port is None:
                names = ", ".join(sorted(observed.port_mappings)) or "none"
                return _refuse(
                    REASON_UNKNOWN_PORT_NAME,
                    f"{path}.portName",
                    f"portName {svc.port_name!r} is not a named portMapping of task definition "
                    f"{observed.task_definition} (named ports: {names}); name the port in the "
                    "task definition or use one of those",
                )
            per_request = svc.timeout.per_request_timeout_seconds if svc.timeout else None
            protocol = (port.app_protocol or "tcp").lower()
            if per_request is not None and protocol not in _HTTP_APP_PROTOCOLS:
                return _refuse(
                    REASON_INVALID_TIMEOUT,
                    f"{path}.timeout.perRequestTimeoutSeconds",
                    f"port {svc.port_name!r} has appProtocol {protocol}: perRequestTimeoutSeconds "
                    "applies only to http, http2 and grpc; use idleTimeoutSeconds",
                )
    reg = spec.registry
    if (
        reg is not None
        and observed.network_mode in _CONTAINER_PAIR_MODES
        and reg.container_name is None
    ):
        return _refuse(
            REASON_INVALID_REGISTRY,
            f"{_REGISTRY}.containerName",
            f"the task definition uses the {observed.network_mode} network mode: ECS needs "
            "registry.containerName and registry.containerPort (registry.port is for awsvpc)",
        )
    return Plan()


# Plans -----------------------------------------------------------------------------------------


def plan_ecs(
    spec: EcsSpec,
    *,
    observed: ObservedEcsService | None,
    namespace_name: str,
    namespace_arn: str | None,
    cloud_map_service_arn: str | None,
    region: str | None = None,
    manage: frozenset[EcsPart] = frozenset(EcsPart),
    generation: int | None = None,
) -> Plan:
    """Plan the one UpdateService (or none) that makes the ECS service's discovery equal the spec.

    `namespace_*` name the resource's Cloud Map namespace (Service Connect uses it unless
    serviceConnect.namespace names another);
    `cloud_map_service_arn` is the resource's Cloud Map service (the registry target), None while
    not created; `region` is the operator's region for the resource, used when no ARN tells the
    cluster's. `manage`: the parts this resource holds (`plan_ecs_owned` decides); a part it
    does not hold is left as it is. The shape of `spec` (names, registry fields, client aliases)
    was checked against the CRD when the resource was parsed (model/schema.py); only what needs
    AWS is checked here.
    """
    where = f"{spec.cluster}/{spec.service}"
    if observed is None or observed.status != STATUS_ACTIVE:
        state = "does not exist" if observed is None else f"is {observed.status}"
        return Plan(
            blocked=Blocked(
                REASON_ECS_SERVICE_NOT_FOUND,
                f"ECS service {where} {state}; the operator configures an existing service and "
                "never creates one",
                ECS_SERVICE_RETRY_SECONDS,
            )
        )
    namespace = _Namespace(namespace_name, namespace_arn).for_service_connect(
        spec.service_connect.namespace if spec.service_connect else None
    )
    cluster_region = arns.region(observed.arn) or arns.region(spec.cluster) or region
    for check in (
        _namespace_checks(spec, namespace, cluster_region),
        _observed_checks(spec, observed),
    ):
        if not check.in_sync:
            return check
    if spec.registry is not None and cloud_map_service_arn is None:
        return Plan(
            blocked=Blocked(
                REASON_CLOUD_MAP_SERVICE_PENDING,
                f"ecs.registry of {where} waits for the Cloud Map service to exist",
                CLOUD_MAP_SERVICE_RETRY_SECONDS,
            )
        )
    return _update(spec, observed, namespace, cloud_map_service_arn, manage, generation)


def _update(
    spec: EcsSpec,
    observed: ObservedEcsService,
    namespace: _Namespace,
    cloud_map_service_arn: str | None,
    manage: frozenset[EcsPart],
    generation: int | None,
) -> Plan:
    """The UpdateService (or none) of `plan_ecs`, once its checks passed."""
    where = f"{spec.cluster}/{spec.service}"
    want_sc = canonical_service_connect(
        spec.service_connect, namespace, observed.port_mappings, observed.network_mode
    )
    have_sc = canonical_service_connect(
        observed.service_connect, namespace, observed.port_mappings, observed.network_mode
    )
    sc_changes = (
        service_connect_changes(want_sc, have_sc) if EcsPart.SERVICE_CONNECT in manage else []
    )
    want_reg = desired_registries(spec.registry, cloud_map_service_arn)
    reg_changes = (
        registry_changes(want_reg, observed.registries) if EcsPart.REGISTRY in manage else []
    )
    changes = tuple(sc_changes + reg_changes)
    if not changes:
        return Plan()
    if observed.deployment_controller != CONTROLLER_ECS:
        return Plan(
            changes=changes,
            refusal=Refusal(
                REASON_CONTROLLER_UNSUPPORTED,
                changes[0].field,
                f"ECS service {where} uses the {observed.deployment_controller} deployment "
                "controller, whose UpdateService cannot change service registries or Service "
                "Connect; change it through that controller (or recreate the service with the "
                "ECS controller). Nothing was sent",
            ),
        )
    send_sc = None
    if want_sc is not None and spec.service_connect is not None:
        send_sc = replace(spec.service_connect, enabled=True, namespace=namespace.reference)
    action = UpdateEcsService(
        cluster=spec.cluster,
        service=spec.service,
        set_registries=bool(reg_changes),
        registries=want_reg,
        set_service_connect=bool(sc_changes),
        service_connect=send_sc,
        tasks_running=observed.running_count,
        tasks_desired=observed.desired_count,
        endpoints_change=_endpoints_change(want_sc, have_sc),
        generation=generation,
    )
    return Plan(actions=(action,), changes=changes)


def _endpoints_change(want: ServiceConnect | None, have: ServiceConnect | None) -> bool:
    """Whether what clients reach changes: the services a configuration publishes. A client-only
    configuration (no services) or a log configuration changes nothing for other services."""
    return (want.services if want else ()) != (have.services if have else ())


def plan_ecs_delete(
    spec: EcsSpec,
    policy: DeletionPolicy | None,
    observed: ObservedEcsService | None,
    parts: frozenset[EcsPart] | None = None,
) -> Plan:
    """Delete: remove the registries and Service Connect this spec set (one UpdateService).

    `parts`: the parts to clear (`plan_ecs_release` decides); None: the ones the spec declares.
    Retain, or an ECS service already gone, leaves everything as it is.
    """
    if policy is DeletionPolicy.RETAIN or observed is None or observed.status != STATUS_ACTIVE:
        return Plan()
    if parts is None:
        sc_declared = spec.service_connect is not None and spec.service_connect.enabled
        parts = frozenset(
            [EcsPart.REGISTRY] * (spec.registry is not None)
            + [EcsPart.SERVICE_CONNECT] * sc_declared
        )
    clear_registries = EcsPart.REGISTRY in parts and bool(observed.registries)
    clear_sc = EcsPart.SERVICE_CONNECT in parts and observed.service_connect is not None
    if not (clear_registries or clear_sc):
        return Plan()
    changes: list[Change] = []
    if clear_sc:
        changes.append(Change(f"{_SC}.enabled", False, True))
    if clear_registries:
        changes.append(Change(_REGISTRY, None, observed.registries[0].registry_arn))
    where = f"{spec.cluster}/{spec.service}"
    if observed.deployment_controller != CONTROLLER_ECS:
        return Plan(
            changes=tuple(changes),
            refusal=Refusal(
                REASON_CONTROLLER_UNSUPPORTED,
                changes[0].field,
                f"ECS service {where} uses the {observed.deployment_controller} deployment "
                "controller: its registries and Service Connect cannot be removed with "
                "UpdateService. Remove them through that controller, or set deletionPolicy: "
                "Retain",
            ),
        )
    action = UpdateEcsService(
        cluster=spec.cluster,
        service=spec.service,
        set_registries=clear_registries,
        registries=(),
        set_service_connect=clear_sc,
        service_connect=None,
        tasks_running=observed.running_count,
        tasks_desired=observed.desired_count,
        endpoints_change=clear_sc and _endpoints_change(None, observed.service_connect),
    )
    return Plan(actions=(action,), changes=tuple(changes))


# Ownership -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EcsOwner:
    """Who plans for an ECS service, and what of theirs the plan can recognise without a
    marker. `cloud_map_service_ours`: the resource's Cloud Map service (the registry target)
    carries its owner tags; `..._created`: and was created, not adopted, so a delete removes
    it. `namespace_ours`: its CloudMapNamespace owns the resource's namespace."""

    identity: Identity
    cluster: ClusterIdentity
    adoption: AdoptionPolicy = AdoptionPolicy.NEVER
    deletion: DeletionPolicy | None = None
    cloud_map_service_ours: bool = False
    cloud_map_service_created: bool = False
    namespace_ours: bool = False


def _declared(spec: EcsSpec) -> frozenset[EcsPart]:
    """The parts the spec says anything about (`serviceConnect: {enabled: false}` too: it asks
    for Service Connect off, which changes someone else's as much as setting it would)."""
    return frozenset(
        [EcsPart.REGISTRY] * (spec.registry is not None)
        + [EcsPart.SERVICE_CONNECT] * (spec.service_connect is not None)
    )


def _present(observed: ObservedEcsService) -> frozenset[EcsPart]:
    return frozenset(
        [EcsPart.REGISTRY] * bool(observed.registries)
        + [EcsPart.SERVICE_CONNECT] * (observed.service_connect is not None)
    )


def _legacy(
    observed: ObservedEcsService,
    owner: EcsOwner,
    namespace: _Namespace,
    cloud_map_service_arn: str | None,
) -> frozenset[EcsPart]:
    """Parts set before the marker existed that are recognisably this resource's: a registry
    into its own Cloud Map service, Service Connect in a namespace its CloudMapNamespace owns."""
    registry = (
        owner.cloud_map_service_ours
        and cloud_map_service_arn is not None
        and bool(observed.registries)
        and all(r.registry_arn == cloud_map_service_arn for r in observed.registries)
    )
    sc = observed.service_connect
    service_connect = (
        owner.namespace_ours
        and sc is not None
        and sc.namespace is not None
        and namespace.is_same(sc.namespace)
    )
    return frozenset([EcsPart.REGISTRY] * registry + [EcsPart.SERVICE_CONNECT] * service_connect)


def _found(part: EcsPart, observed: ObservedEcsService) -> str:
    if part is EcsPart.REGISTRY:
        arns = ", ".join(r.registry_arn for r in observed.registries)
        return f"registry {arns}"
    sc = observed.service_connect
    return f"Service Connect in namespace {sc.namespace if sc else '?'}"


@dataclass(frozen=True)
class _Claim:
    """The parts the resource holds once this plan is carried out (part -> set / adopted),
    and the ones it adopts with it."""

    held: dict[EcsPart, str]
    adopted: tuple[EcsPart, ...]


def _claim(
    spec: EcsSpec,
    owner: EcsOwner,
    observed: ObservedEcsService,
    legacy: frozenset[EcsPart],
) -> _Claim | Plan:
    """The one ownership rule, per part: ours (our marker), unclaimed and empty (taken),
    set by someone else (adopted only with adoptionPolicy: Adopt). Another owner's marker
    refuses the whole service: one owner per ECS service."""
    where = f"{spec.cluster}/{spec.service}"
    match ownership(observed.tags, owner.identity, owner.cluster):
        case Ownership.OTHER:
            return Plan(
                blocked=Blocked(
                    REASON_OWNED_ELSEWHERE,
                    f"ECS service {where}: its discovery configuration is managed by "
                    f"{owner_of(observed.tags, owner.cluster)}; nothing was changed",
                    blockers=(f"ECS service {where} ({observed.arn})",),
                )
            )
        case Ownership.OURS:
            what = f"ECS service {where}"
            claim = claim_plan(what, observed.arn, observed.tags, owner.identity, owner.cluster)
            if claim is not None:
                return claim
            held = ecs_parts(observed.tags)
        case _:
            held = {}
    present = _present(observed)
    adopted: list[EcsPart] = []
    foreign: list[EcsPart] = []
    for part in EcsPart:
        if part in held or part not in _declared(spec):
            continue
        if part not in present or part in legacy:
            held[part] = PART_SET
        elif owner.adoption is AdoptionPolicy.ADOPT:
            held[part] = PART_ADOPTED
            adopted.append(part)
        else:
            foreign.append(part)
    if foreign:
        found = [_found(p, observed) for p in foreign]
        return Plan(
            blocked=Blocked(
                REASON_ADOPTION_REQUIRED,
                f"ECS service {where} already has {' and '.join(found)}, not set by "
                "sd-operator; nothing was changed. Set adoptionPolicy: Adopt to take it over, "
                "or remove it from the ECS service",
                blockers=tuple(f"ECS service {where}: {f}" for f in found),
            )
        )
    return _Claim(held, tuple(adopted))


def plan_ecs_owned(
    spec: EcsSpec,
    owner: EcsOwner,
    *,
    observed: ObservedEcsService | None,
    namespace_name: str,
    namespace_arn: str | None,
    cloud_map_service_arn: str | None,
    region: str | None = None,
    rollout: Rollout | None = None,
) -> Plan:
    """`plan_ecs` for the parts this resource holds, after the ownership rule (`_claim`); the
    marker is written before the UpdateService it covers (a write that fails after it leaves
    a claim we retry, never a configuration nobody claims). `rollout`: the generation planned
    and the deployment our last update started; an update waits for a deployment in progress
    and is refused for a generation ECS rolled back (reconcile/deployments.py)."""
    content = partial(
        plan_ecs,
        spec,
        observed=observed,
        namespace_name=namespace_name,
        namespace_arn=namespace_arn,
        cloud_map_service_arn=cloud_map_service_arn,
        region=region,
        generation=rollout.generation if rollout else None,
    )
    if observed is None or observed.status != STATUS_ACTIVE:
        return content()
    namespace = _Namespace(namespace_name, namespace_arn)
    legacy = _legacy(observed, owner, namespace, cloud_map_service_arn)
    claim = _claim(spec, owner, observed, legacy)
    if isinstance(claim, Plan):
        return claim
    update = content(manage=frozenset(claim.held))
    if rollout is not None:
        update = gated(update, observed, rollout, f"{spec.cluster}/{spec.service}")
    if update.refusal is not None or update.blocked is not None:
        return update
    declared = _declared(spec)
    marker = ecs_marker(
        owner.identity, owner.cluster, {p: h for p, h in claim.held.items() if p in declared}
    )
    to_set = {k: v for k, v in marker.items() if observed.tags.get(k) != v}
    # A part we hold and no longer declare is cleared by `content`; its tag goes once it is.
    present = _present(observed)
    released = tuple(ECS_PART_TAGS[p] for p in claim.held if p not in declared and p not in present)
    plan = Plan()
    if claim.adopted:
        where = f"{spec.cluster}/{spec.service}"
        found = " and ".join(_found(p, observed) for p in claim.adopted)
        plan = Plan(changes=(Change("adoptionPolicy", "Adopt", f"ECS service {where}: {found}"),))
    if to_set:
        plan = plan.then(Plan(actions=(TagResource(observed.arn, to_set),)))
    plan = plan.then(update)
    if released:
        plan = plan.then(Plan(actions=(UntagResource(observed.arn, released),)))
    return plan


def plan_ecs_release(
    spec: EcsSpec,
    owner: EcsOwner,
    observed: ObservedEcsService | None,
    cloud_map_service_arn: str | None,
    namespace_name: str | None,
    namespace_arn: str | None,
    deployment: EcsDeployment | None = None,
) -> Plan:
    """Delete: clear only what this resource holds, then remove its marker.

    A part it set is cleared. A part it adopted is given back as it is, unless
    `deletionPolicy: Delete` says otherwise, or it is a registry into the Cloud Map service
    this resource created (which the delete removes: ECS would keep registering tasks into
    it, and Cloud Map refuses to delete a service that holds instances). Someone else's
    marker, or none we can recognise, leaves the ECS service as it is. The UpdateService waits
    for a deployment in progress (`deployment`: the one our last update started)."""
    if owner.deletion is DeletionPolicy.RETAIN or observed is None:
        return Plan()
    if observed.status != STATUS_ACTIVE:
        return Plan()
    found = ownership(observed.tags, owner.identity, owner.cluster)
    if found is Ownership.OTHER:
        return Plan()
    where = f"ECS service {spec.cluster}/{spec.service}"
    claim = claim_plan(where, observed.arn, observed.tags, owner.identity, owner.cluster)
    if claim is not None:
        return claim
    held = ecs_parts(observed.tags) if found is Ownership.OURS else {}
    namespace = _Namespace(namespace_name or "", namespace_arn)
    legacy = _legacy(observed, owner, namespace, cloud_map_service_arn) & _declared(spec)
    into_created = (
        owner.cloud_map_service_created
        and cloud_map_service_arn is not None
        and all(r.registry_arn == cloud_map_service_arn for r in observed.registries)
    )
    clear = {p for p in legacy if p not in held}
    for part, how in held.items():
        if (
            how != PART_ADOPTED
            or owner.deletion is DeletionPolicy.DELETE
            or (part is EcsPart.REGISTRY and into_created)
        ):
            clear.add(part)
    plan = plan_ecs_delete(spec, owner.deletion, observed, frozenset(clear))
    if plan.refusal is None:
        plan = held_back(plan, observed, deployment, f"{spec.cluster}/{spec.service}")
    keys = ecs_marker_keys(observed.tags) if found is Ownership.OURS else ()
    if keys and plan.refusal is None:
        plan = plan.then(Plan(actions=(UntagResource(observed.arn, keys),)))
    return plan


def _changes_endpoint(action: object) -> TypeGuard[UpdateEcsService]:
    return isinstance(action, UpdateEcsService) and action.endpoints_change


def changes_endpoints(plan: Plan) -> bool:
    """The plan changes an endpoint other services reach through Service Connect: the step
    then reads which services use the namespace (observe.ecs_clients) for `with_clients`."""
    return any(_changes_endpoint(a) for a in plan.actions)


def endpoints_namespace(plan: Plan) -> str | None:
    """The namespace (name or ARN) whose clients see the endpoint change: the one the
    Service Connect update sends, which may not be the resource's own; None when it turns
    Service Connect off."""
    return next(
        (
            a.service_connect.namespace
            for a in plan.actions
            if _changes_endpoint(a) and a.service_connect is not None
        ),
        None,
    )


def with_clients(plan: Plan, users: Sequence[str], own: str | None) -> Plan:
    """Name the services that must be redeployed to see a changed Service Connect endpoint
    (docs/aws-facts.md, ECS: clients learn endpoints only when their tasks are replaced):
    every ECS service using the namespace (`users`, ARNs) but the one changed (`own`)."""
    clients = tuple(arns.resource_path(arn) for arn in users if arn != own)
    actions = tuple(
        replace(a, clients=clients) if _changes_endpoint(a) else a for a in plan.actions
    )
    return replace(plan, actions=actions)
