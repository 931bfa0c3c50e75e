"""The pure ECS plan: every ECS rule of docs/aws-facts.md that needs no I/O."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sd_operator.model.actions import Plan, UpdateEcsService
from sd_operator.model.observed import NamedPort, ObservedEcsService, ObservedRegistry
from sd_operator.model.spec import (
    AccessLogConfiguration,
    CertificateAuthority,
    ClientAlias,
    DeletionPolicy,
    EcsSpec,
    LogConfiguration,
    Registry,
    SecretOption,
    ServiceConnect,
    ServiceConnectService,
    ServiceConnectTestTrafficHeaderMatchRules,
    ServiceConnectTestTrafficHeaderRules,
    ServiceConnectTestTrafficRules,
    Timeout,
    Tls,
)
from sd_operator.reconcile.ecs_plan import (
    IDLE_TIMEOUT_DEFAULT_HTTP,
    IDLE_TIMEOUT_DEFAULT_TCP,
    endpoints_namespace,
    plan_ecs,
    plan_ecs_delete,
    service_connect_spec,
)

REGION = "us-east-1"
ACCOUNT = "123456789012"
NS_NAME = "myapp.local"
NS_ARN = f"arn:aws:servicediscovery:{REGION}:{ACCOUNT}:namespace/ns-abc123"
CM_ARN = f"arn:aws:servicediscovery:{REGION}:{ACCOUNT}:service/srv-user"
OTHER_CM_ARN = f"arn:aws:servicediscovery:{REGION}:{ACCOUNT}:service/srv-other"
CLUSTER = "production"
SERVICE = "user-service"
SERVICE_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{CLUSTER}/{SERVICE}"
TASK_DEF = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/user-service:7"
DECLARED = "user-service"

PORTS = {
    "http": NamedPort("app", 8080, "http"),
    "grpc": NamedPort("app", 9090, "grpc"),
    "admin": NamedPort("app", 8081, "http2"),
    "db": NamedPort("sidecar", 5432, None),
}


def sc_spec(
    *services: ServiceConnectService,
    namespace: str | None = None,
    log_configuration: LogConfiguration | None = None,
) -> ServiceConnect:
    return ServiceConnect(True, namespace, services, log_configuration)


HTTP_SC = ServiceConnectService(
    port_name="http",
    discovery_name="user-api",
    client_aliases=(ClientAlias(port=80, dns_name="user-svc"),),
)
REGISTRY = Registry(container_name="app", container_port=8080)


def ecs_spec(
    registry: Registry | None = REGISTRY,
    service_connect: ServiceConnect | None = None,
) -> EcsSpec:
    if service_connect is None:
        service_connect = sc_spec(HTTP_SC)
    return EcsSpec(CLUSTER, SERVICE, registry=registry, service_connect=service_connect)


def observed(
    *,
    registries: tuple[ObservedRegistry, ...] = (ObservedRegistry(CM_ARN, None, "app", 8080),),
    service_connect: ServiceConnect | None = None,
    status: str = "ACTIVE",
    controller: str = "ECS",
    network_mode: str = "awsvpc",
    ports: dict[str, NamedPort] | None = None,
) -> ObservedEcsService:
    return ObservedEcsService(
        arn=SERVICE_ARN,
        cluster=f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{CLUSTER}",
        name=SERVICE,
        status=status,
        deployment_controller=controller,
        task_definition=TASK_DEF,
        network_mode=network_mode,
        port_mappings=PORTS if ports is None else ports,
        registries=registries,
        service_connect=service_connect,
    )


def plan(
    spec: EcsSpec,
    obs: ObservedEcsService | None,
    *,
    cloud_map_service_arn: str | None = CM_ARN,
    namespace_arn: str | None = NS_ARN,
    region: str | None = None,
) -> Plan:
    return plan_ecs(
        spec,
        observed=obs,
        namespace_name=NS_NAME,
        namespace_arn=namespace_arn,
        cloud_map_service_arn=cloud_map_service_arn,
        region=region,
    )


def echoed(spec: EcsSpec) -> ServiceConnect | None:
    """What ECS returns when it echoes the request (namespace as sent: the ARN)."""
    sc = spec.service_connect
    if sc is None or not sc.enabled:
        return None
    return replace(sc, namespace=NS_ARN)


def only_action(p: Plan) -> UpdateEcsService:
    assert p.refusal is None
    assert p.blocked is None
    assert len(p.actions) == 1
    action = p.actions[0]
    assert isinstance(action, UpdateEcsService)
    return action


def fields(p: Plan) -> list[str]:
    return [c.field for c in p.changes]


# No false diffs ---------------------------------------------------------------------------------


def test_unchanged_spec_sends_no_update() -> None:
    spec = ecs_spec()
    assert plan(spec, observed(service_connect=echoed(spec))).in_sync


def test_ecs_defaults_filled_in_are_not_a_diff() -> None:
    spec = ecs_spec(
        service_connect=sc_spec(
            ServiceConnectService(port_name="http", client_aliases=(ClientAlias(port=80),))
        )
    )
    reported = ServiceConnect(
        enabled=True,
        namespace=NS_ARN,
        services=(
            ServiceConnectService(
                port_name="http",
                discovery_name="http",
                client_aliases=(ClientAlias(80, f"http.{NS_NAME}"),),
                ingress_port_override=8080,
                timeout=Timeout(idle_timeout_seconds=IDLE_TIMEOUT_DEFAULT_HTTP),
            ),
        ),
    )
    assert plan(spec, observed(service_connect=reported)).in_sync


@pytest.mark.parametrize("reported", [NS_NAME, NS_ARN])
def test_namespace_by_name_or_arn_is_the_same_namespace(reported: str) -> None:
    spec = ecs_spec(service_connect=sc_spec(HTTP_SC, namespace=NS_NAME))
    sc = replace(sc_spec(HTTP_SC), namespace=reported)
    assert plan(spec, observed(service_connect=sc)).in_sync


def test_services_reported_in_another_order_are_not_a_diff() -> None:
    grpc = ServiceConnectService(port_name="grpc", client_aliases=(ClientAlias(9090),))
    spec = ecs_spec(service_connect=sc_spec(HTTP_SC, grpc))
    reported = ServiceConnect(True, NS_ARN, (grpc, HTTP_SC))
    assert plan(spec, observed(service_connect=reported)).in_sync


def test_explicit_idle_timeout_default_equals_unset() -> None:
    svc = replace(HTTP_SC, timeout=Timeout(idle_timeout_seconds=IDLE_TIMEOUT_DEFAULT_HTTP))
    spec = ecs_spec(service_connect=sc_spec(svc))
    assert plan(spec, observed(service_connect=ServiceConnect(True, NS_ARN, (HTTP_SC,)))).in_sync


def test_tcp_idle_default_is_one_hour_not_five_minutes() -> None:
    db = ServiceConnectService(port_name="db", client_aliases=(ClientAlias(5432),))
    spec = ecs_spec(service_connect=sc_spec(db))
    tcp_default = replace(db, timeout=Timeout(idle_timeout_seconds=IDLE_TIMEOUT_DEFAULT_TCP))
    assert plan(
        spec, observed(service_connect=ServiceConnect(True, NS_ARN, (tcp_default,)))
    ).in_sync
    five_minutes = replace(db, timeout=Timeout(idle_timeout_seconds=IDLE_TIMEOUT_DEFAULT_HTTP))
    p = plan(spec, observed(service_connect=ServiceConnect(True, NS_ARN, (five_minutes,))))
    assert fields(p) == ["ecs.serviceConnect.services[0].timeout.idleTimeoutSeconds"]


def test_ingress_override_equal_to_container_port_is_the_awsvpc_default() -> None:
    spec = ecs_spec(service_connect=sc_spec(replace(HTTP_SC, ingress_port_override=8080)))
    assert plan(spec, observed(service_connect=ServiceConnect(True, NS_ARN, (HTTP_SC,)))).in_sync


def test_disabled_service_connect_matches_absent() -> None:
    spec = ecs_spec(service_connect=ServiceConnect(enabled=False, services=(HTTP_SC,)))
    assert plan(spec, observed(service_connect=None)).in_sync
    reported_disabled = ServiceConnect(enabled=False, namespace=NS_ARN)
    assert plan(spec, observed(service_connect=reported_disabled)).in_sync


# Differences, named by field --------------------------------------------------------------------


def test_service_connect_disabled_out_of_band_is_restored() -> None:
    spec = ecs_spec()
    p = plan(spec, observed(service_connect=None))
    action = only_action(p)
    assert fields(p) == ["ecs.serviceConnect.enabled"]
    assert (p.changes[0].desired, p.changes[0].observed) == (True, False)
    assert action.set_service_connect
    assert not action.set_registries
    assert action.service_connect is not None
    assert action.service_connect.namespace == NS_ARN


def test_client_alias_port_change_names_the_field_and_sends_only_service_connect() -> None:
    spec = ecs_spec()
    before = replace(HTTP_SC, client_aliases=(ClientAlias(8000, "user-svc"),))
    p = plan(spec, observed(service_connect=ServiceConnect(True, NS_ARN, (before,))))
    action = only_action(p)
    assert fields(p) == ["ecs.serviceConnect.services[0].clientAliases[0].port"]
    assert (p.changes[0].desired, p.changes[0].observed) == (80, 8000)
    assert action.set_service_connect
    assert not action.set_registries
    assert action.service_connect == replace(sc_spec(HTTP_SC), namespace=NS_ARN)


def _with_rules(rules: ServiceConnectTestTrafficRules | None) -> ServiceConnectService:
    return replace(HTTP_SC, client_aliases=(ClientAlias(80, "user-svc", rules),))


def _rules(name: str, exact: str | None = None) -> ServiceConnectTestTrafficRules:
    value = None if exact is None else ServiceConnectTestTrafficHeaderMatchRules(exact)
    return ServiceConnectTestTrafficRules(ServiceConnectTestTrafficHeaderRules(name, value))


@pytest.mark.parametrize(
    ("declared", "reported"),
    [
        (_rules("x-canary", "yes"), _rules("x-canary", "yes")),
        # HTTP header names are case-insensitive: one rule however ECS spells it back
        (_rules("X-Canary", "yes"), _rules("x-canary", "yes")),
        # ECS's rule without testTrafficRules (blue/green guide): declaring it is the same
        (_rules("x-amzn-ecs-blue-green-test"), None),
        (None, _rules("X-Amzn-ECS-Blue-Green-Test")),
    ],
)
def test_test_traffic_rules_equal_with_aws_defaults_are_no_diff(
    declared: ServiceConnectTestTrafficRules | None,
    reported: ServiceConnectTestTrafficRules | None,
) -> None:
    spec = ecs_spec(service_connect=sc_spec(_with_rules(declared)))
    have = ServiceConnect(True, NS_ARN, (_with_rules(reported),))
    assert plan(spec, observed(service_connect=have)).in_sync


def test_test_traffic_rule_change_is_one_field_and_resends_the_whole_configuration() -> None:
    """ECS replaces serviceConnectConfiguration whole (docs/aws-facts.md): the update carries
    every service and the log configuration along with the new rule."""
    logs = LogConfiguration("awslogs", {"awslogs-group": "/ecs/sc"})
    grpc = ServiceConnectService(port_name="grpc", client_aliases=(ClientAlias(9090),))
    declared = sc_spec(_with_rules(_rules("x-canary", "yes")), grpc, log_configuration=logs)
    have = replace(
        declared, namespace=NS_ARN, services=(_with_rules(_rules("x-canary", "no")), grpc)
    )
    p = plan(ecs_spec(service_connect=declared), observed(service_connect=have))
    action = only_action(p)
    path = "ecs.serviceConnect.services[0].clientAliases[0].testTrafficRules.header.value.exact"
    assert [(c.field, c.desired, c.observed) for c in p.changes] == [(path, "yes", "no")]
    assert action.service_connect == replace(declared, namespace=NS_ARN)


def test_registry_container_port_change_sends_only_registries() -> None:
    spec = ecs_spec()
    p = plan(
        spec,
        observed(
            service_connect=echoed(spec),
            registries=(ObservedRegistry(CM_ARN, None, "app", 3000),),
        ),
    )
    action = only_action(p)
    assert fields(p) == ["ecs.registry.containerPort"]
    assert action.set_registries
    assert not action.set_service_connect
    assert action.registries == (ObservedRegistry(CM_ARN, None, "app", 8080),)


def test_registry_pointing_elsewhere_is_repointed() -> None:
    spec = ecs_spec()
    p = plan(
        spec,
        observed(
            service_connect=echoed(spec),
            registries=(ObservedRegistry(OTHER_CM_ARN, None, "app", 8080),),
        ),
    )
    assert fields(p) == ["ecs.registry"]
    assert (p.changes[0].desired, p.changes[0].observed) == (CM_ARN, OTHER_CM_ARN)
    assert only_action(p).registries[0].registry_arn == CM_ARN


def test_missing_registry_is_added() -> None:
    spec = ecs_spec()
    p = plan(spec, observed(service_connect=echoed(spec), registries=()))
    assert fields(p) == ["ecs.registry"]
    assert only_action(p).registries == (ObservedRegistry(CM_ARN, None, "app", 8080),)


def test_registry_removed_from_spec_is_removed_from_ecs() -> None:
    spec = ecs_spec(registry=None)
    p = plan(spec, observed(service_connect=echoed(spec)))
    action = only_action(p)
    assert fields(p) == ["ecs.registry"]
    assert action.set_registries
    assert action.registries == ()
    assert "remove registries" in action.summary()


def test_service_connect_disabled_in_spec_is_disabled() -> None:
    spec = ecs_spec(service_connect=ServiceConnect(enabled=False))
    p = plan(spec, observed(service_connect=ServiceConnect(True, NS_ARN, (HTTP_SC,))))
    action = only_action(p)
    assert fields(p) == ["ecs.serviceConnect.enabled"]
    assert action.set_service_connect
    assert action.service_connect is None
    assert "disable service connect" in action.summary()


def test_service_connect_and_registry_changes_share_one_update() -> None:
    spec = ecs_spec()
    p = plan(spec, observed(service_connect=None, registries=()))
    action = only_action(p)
    assert fields(p) == ["ecs.serviceConnect.enabled", "ecs.registry"]
    assert action.summary() == (
        "update ECS service production/user-service: service connect, registries "
        "(starts a new deployment)"
    )


def test_extra_observed_service_entry_is_a_change() -> None:
    grpc = ServiceConnectService(port_name="grpc", client_aliases=(ClientAlias(9090),))
    spec = ecs_spec()
    p = plan(spec, observed(service_connect=ServiceConnect(True, NS_ARN, (HTTP_SC, grpc))))
    assert fields(p) == ["ecs.serviceConnect.services"]
    assert p.changes[0].desired == ["http"]
    assert p.changes[0].observed == ["http", "grpc"]


def test_new_service_entry_is_named_by_index() -> None:
    grpc = ServiceConnectService(port_name="grpc", client_aliases=(ClientAlias(9090),))
    spec = ecs_spec(service_connect=sc_spec(HTTP_SC, grpc))
    p = plan(spec, observed(service_connect=ServiceConnect(True, NS_ARN, (HTTP_SC,))))
    assert fields(p) == ["ecs.serviceConnect.services[1]"]


def test_discovery_name_change() -> None:
    spec = ecs_spec()
    before = replace(HTTP_SC, discovery_name="users")
    p = plan(spec, observed(service_connect=ServiceConnect(True, NS_ARN, (before,))))
    assert fields(p) == ["ecs.serviceConnect.services[0].discoveryName"]


def test_tls_and_log_configuration_changes_name_their_fields() -> None:
    tls = Tls(
        CertificateAuthority("arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/ca"),
        kms_key="k1",
    )
    log = LogConfiguration(
        "awslogs", {"awslogs-group": "/ecs/sc"}, (SecretOption("token", "arn:secret"),)
    )
    spec = ecs_spec(service_connect=sc_spec(replace(HTTP_SC, tls=tls), log_configuration=log))
    have = ServiceConnect(
        True,
        NS_ARN,
        (replace(HTTP_SC, tls=replace(tls, kms_key="k2")),),
        LogConfiguration("awslogs", {"awslogs-group": "/ecs/other"}),
    )
    p = plan(spec, observed(service_connect=have))
    assert fields(p) == [
        "ecs.serviceConnect.services[0].tls.kmsKey",
        "ecs.serviceConnect.logConfiguration.options",
        "ecs.serviceConnect.logConfiguration.secretOptions",
    ]


# Access log (ServiceConnectConfiguration.accessLogConfiguration) -----------------------------

AWSLOGS = LogConfiguration("awslogs", {"awslogs-group": "/ecs/sc"})
JSON_LOG = AccessLogConfiguration("JSON")


def with_access_log(access: AccessLogConfiguration | None) -> ServiceConnect:
    return replace(sc_spec(HTTP_SC, log_configuration=AWSLOGS), access_log_configuration=access)


def test_an_access_log_in_the_spec_is_sent_with_service_connect() -> None:
    spec = ecs_spec(service_connect=with_access_log(JSON_LOG))
    have = replace(with_access_log(None), namespace=NS_ARN)
    p = plan(spec, observed(service_connect=have))
    assert fields(p) == ["ecs.serviceConnect.accessLogConfiguration"]
    sent = only_action(p).service_connect
    assert sent is not None
    assert sent.access_log_configuration == JSON_LOG


def test_an_access_log_turned_on_outside_the_spec_is_drift_and_the_update_removes_it() -> None:
    spec = ecs_spec(service_connect=with_access_log(None))
    have = replace(with_access_log(AccessLogConfiguration("TEXT", "ENABLED")), namespace=NS_ARN)
    p = plan(spec, observed(service_connect=have))
    assert [(c.field, c.desired, c.observed) for c in p.changes] == [
        (
            "ecs.serviceConnect.accessLogConfiguration",
            None,
            {"format": "TEXT", "includeQueryParameters": "ENABLED"},
        )
    ]
    sent = only_action(p).service_connect
    assert sent is not None
    assert sent.access_log_configuration is None


def test_query_parameters_disabled_is_the_ecs_default() -> None:
    declared = ecs_spec(service_connect=with_access_log(AccessLogConfiguration("JSON", "DISABLED")))
    reported = replace(with_access_log(JSON_LOG), namespace=NS_ARN)
    assert plan(declared, observed(service_connect=reported)).in_sync
    enabled = ecs_spec(service_connect=with_access_log(AccessLogConfiguration("JSON", "ENABLED")))
    assert fields(plan(enabled, observed(service_connect=reported))) == [
        "ecs.serviceConnect.accessLogConfiguration.includeQueryParameters"
    ]


def test_every_service_connect_update_resends_the_access_log() -> None:
    """ECS replaces serviceConnectConfiguration whole: an update for any other field that left
    the access log out would turn it off (docs/aws-facts.md, ECS)."""
    spec = ecs_spec(service_connect=with_access_log(JSON_LOG))
    renamed = replace(HTTP_SC, discovery_name="users")
    have = replace(with_access_log(JSON_LOG), namespace=NS_ARN, services=(renamed,))
    p = plan(spec, observed(service_connect=have))
    assert fields(p) == ["ecs.serviceConnect.services[0].discoveryName"]
    sent = only_action(p).service_connect
    assert sent is not None
    assert sent.access_log_configuration == JSON_LOG


def test_tls_added() -> None:
    tls = Tls(
        CertificateAuthority("arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/ca")
    )
    spec = ecs_spec(service_connect=sc_spec(replace(HTTP_SC, tls=tls)))
    p = plan(spec, observed(service_connect=ServiceConnect(True, NS_ARN, (HTTP_SC,))))
    assert fields(p) == ["ecs.serviceConnect.services[0].tls"]


def test_namespace_is_sent_by_name_while_its_arn_is_unknown() -> None:
    spec = ecs_spec()
    action = only_action(plan(spec, observed(service_connect=None), namespace_arn=None))
    assert action.service_connect is not None
    assert action.service_connect.namespace == NS_NAME


# Validation against AWS -------------------------------------------------------------------------


def test_unknown_port_name_is_refused_listing_the_named_ports() -> None:
    spec = ecs_spec(
        service_connect=sc_spec(HTTP_SC, ServiceConnectService(port_name="web", discovery_name="w"))
    )
    p = plan(spec, observed(service_connect=None))
    assert not p.actions
    assert p.refusal is not None
    assert p.refusal.reason == "UnknownPortName"
    assert p.refusal.field == "ecs.serviceConnect.services[1].portName"
    assert "admin, db, grpc, http" in p.refusal.message
    assert TASK_DEF in p.refusal.message


def test_unknown_port_name_without_any_named_port() -> None:
    p = plan(ecs_spec(), observed(ports={}))
    assert p.refusal is not None
    assert "named ports: none" in p.refusal.message


def test_per_request_timeout_on_tcp_port_is_refused() -> None:
    svc = ServiceConnectService(port_name="db", timeout=Timeout(per_request_timeout_seconds=15))
    p = plan(ecs_spec(service_connect=sc_spec(svc)), observed())
    assert p.refusal is not None
    assert p.refusal.reason == "InvalidTimeout"
    assert p.refusal.field == "ecs.serviceConnect.services[0].timeout.perRequestTimeoutSeconds"


@pytest.mark.parametrize("port_name", ["http", "grpc", "admin"])
def test_per_request_timeout_on_http_ports_is_allowed(port_name: str) -> None:
    svc = ServiceConnectService(
        port_name=port_name, timeout=Timeout(per_request_timeout_seconds=15)
    )
    p = plan(ecs_spec(service_connect=sc_spec(svc)), observed(service_connect=None))
    assert p.refusal is None
    assert p.actions


def test_code_deploy_controller_refuses_a_registry_change_without_looping() -> None:
    spec = ecs_spec()
    p = plan(spec, observed(service_connect=echoed(spec), registries=(), controller="CODE_DEPLOY"))
    assert not p.actions
    assert p.refusal is not None
    assert p.refusal.reason == "DeploymentControllerUnsupported"
    assert p.refusal.field == "ecs.registry"
    assert "CODE_DEPLOY" in p.refusal.message
    assert fields(p) == ["ecs.registry"]


def test_code_deploy_controller_refuses_a_service_connect_change() -> None:
    p = plan(ecs_spec(), observed(service_connect=None, controller="CODE_DEPLOY"))
    assert p.refusal is not None
    assert p.refusal.field == "ecs.serviceConnect.enabled"


def test_code_deploy_controller_in_sync_is_not_refused() -> None:
    spec = ecs_spec()
    assert plan(spec, observed(service_connect=echoed(spec), controller="CODE_DEPLOY")).in_sync


def test_registry_waits_for_the_cloud_map_service() -> None:
    p = plan(ecs_spec(), observed(registries=()), cloud_map_service_arn=None)
    assert not p.actions
    assert p.refusal is None
    assert p.blocked is not None
    assert p.blocked.reason == "CloudMapServicePending"


def test_service_connect_only_needs_no_cloud_map_service() -> None:
    spec = ecs_spec(registry=None)
    p = plan(spec, observed(registries=()), cloud_map_service_arn=None)
    assert fields(p) == ["ecs.serviceConnect.enabled"]


@pytest.mark.parametrize(
    ("obs", "state"),
    [
        (None, "does not exist"),
        (observed(status="INACTIVE"), "INACTIVE"),
        (observed(status="DRAINING"), "DRAINING"),
    ],
)
def test_missing_or_inactive_ecs_service_is_blocked_and_retried(
    obs: ObservedEcsService | None, state: str
) -> None:
    p = plan(ecs_spec(), obs)
    assert not p.actions
    assert p.refusal is None
    assert p.blocked is not None
    assert p.blocked.reason == "EcsServiceNotFound"
    assert p.blocked.retry_after == 30
    assert state in p.blocked.message
    assert "production/user-service" in p.blocked.message


@pytest.mark.parametrize("mode", ["bridge", "host"])
def test_bridge_and_host_modes_need_container_name_and_port(mode: str) -> None:
    spec = ecs_spec(registry=Registry(port=8080))
    p = plan(spec, observed(network_mode=mode))
    assert p.refusal is not None
    assert p.refusal.reason == "InvalidRegistry"
    assert p.refusal.field == "ecs.registry.containerName"
    assert mode in p.refusal.message
    spec = ecs_spec(registry=Registry(container_name="app", container_port=8080))
    assert plan(spec, observed(network_mode=mode, service_connect=echoed(spec))).in_sync


def test_awsvpc_registry_with_port_only_is_fine() -> None:
    spec = ecs_spec(registry=Registry(port=8080))
    p = plan(spec, observed(service_connect=echoed(spec)))
    assert fields(p) == [
        "ecs.registry.port",
        "ecs.registry.containerName",
        "ecs.registry.containerPort",
    ]


def test_namespace_in_another_region_is_refused() -> None:
    west = NS_ARN.replace(REGION, "eu-west-1")
    p = plan(ecs_spec(), observed(), namespace_arn=west)
    assert p.refusal is not None
    assert p.refusal.reason == "NamespaceRegionMismatch"
    assert p.refusal.field == "ecs.serviceConnect.namespace"
    assert "eu-west-1" in p.refusal.message


def test_namespace_region_from_operator_region_when_no_arn_tells() -> None:
    obs = replace(observed(), arn="user-service")
    west = NS_ARN.replace(REGION, "eu-west-1")
    assert plan(ecs_spec(), obs, namespace_arn=west, region="eu-west-1").refusal is None
    p = plan(ecs_spec(), obs, namespace_arn=west, region=REGION)
    assert p.refusal is not None
    assert p.refusal.reason == "NamespaceRegionMismatch"


OTHER_NS_ARN = f"arn:aws:servicediscovery:{REGION}:{ACCOUNT}:namespace/ns-other"


@pytest.mark.parametrize("other", ["other.local", OTHER_NS_ARN])
def test_registry_in_one_namespace_and_service_connect_in_another_is_in_sync(other: str) -> None:
    """AWS allows it, and it is usual in the middle of a move from DNS discovery to Service
    Connect: the registry stays in the resource's namespace, Service Connect names its own."""
    sc = sc_spec(HTTP_SC, namespace=other)
    p = plan(ecs_spec(service_connect=sc), observed(service_connect=sc))
    assert p.refusal is None
    assert p.in_sync


def test_service_connect_moved_to_another_namespace_sends_that_namespace() -> None:
    spec = ecs_spec(service_connect=sc_spec(HTTP_SC, namespace=OTHER_NS_ARN))
    p = plan(spec, observed(service_connect=echoed(spec)))
    action = only_action(p)
    assert action.service_connect is not None
    assert action.service_connect.namespace == OTHER_NS_ARN
    assert fields(p) == ["ecs.serviceConnect.namespace"]


def test_clients_of_an_endpoint_change_are_read_in_the_service_connect_namespace() -> None:
    spec = ecs_spec(service_connect=sc_spec(HTTP_SC, namespace=OTHER_NS_ARN))
    moved = replace(HTTP_SC, client_aliases=(ClientAlias(port=81, dns_name="user-svc"),))
    p = plan(spec, observed(service_connect=sc_spec(moved, namespace=OTHER_NS_ARN)))
    assert only_action(p).endpoints_change
    assert endpoints_namespace(p) == OTHER_NS_ARN


def test_another_service_connect_namespace_in_another_region_is_refused() -> None:
    west = OTHER_NS_ARN.replace(REGION, "eu-west-1")
    spec = ecs_spec(service_connect=sc_spec(HTTP_SC, namespace=west))
    p = plan(spec, observed())
    assert p.refusal is not None
    assert p.refusal.reason == "NamespaceRegionMismatch"


def test_disabled_service_connect_is_not_validated() -> None:
    bad = ServiceConnect(enabled=False, services=(ServiceConnectService("nope"),))
    spec = ecs_spec(service_connect=bad)
    assert plan(spec, observed(service_connect=None)).in_sync


def test_update_action_has_no_desired_count() -> None:
    assert "desired_count" not in UpdateEcsService.__dataclass_fields__


# Deletion ----------------------------------------------------------------------------------------


def test_delete_removes_registry_and_service_connect_in_one_update() -> None:
    spec = ecs_spec()
    p = plan_ecs_delete(spec, DeletionPolicy.DELETE, observed(service_connect=echoed(spec)))
    action = only_action(p)
    assert action.set_registries
    assert action.registries == ()
    assert action.set_service_connect
    assert action.service_connect is None
    assert fields(p) == ["ecs.serviceConnect.enabled", "ecs.registry"]


def test_delete_leaves_what_the_spec_did_not_set() -> None:
    spec = ecs_spec(registry=None)
    p = plan_ecs_delete(spec, DeletionPolicy.DELETE, observed(service_connect=echoed(spec)))
    action = only_action(p)
    assert not action.set_registries
    assert action.set_service_connect


def test_retain_leaves_the_ecs_service_as_it_is() -> None:
    spec = ecs_spec()
    obs = observed(service_connect=echoed(spec))
    assert plan_ecs_delete(spec, DeletionPolicy.RETAIN, obs) == Plan()


@pytest.mark.parametrize("status", ["INACTIVE", "DRAINING"])
def test_delete_with_the_ecs_service_gone_does_nothing(status: str) -> None:
    assert plan_ecs_delete(ecs_spec(), DeletionPolicy.DELETE, observed(status=status)).in_sync
    assert plan_ecs_delete(ecs_spec(), DeletionPolicy.DELETE, None).in_sync


def test_delete_with_nothing_left_does_nothing() -> None:
    obs = observed(registries=(), service_connect=None)
    assert plan_ecs_delete(ecs_spec(), DeletionPolicy.DELETE, obs).in_sync


def test_delete_under_code_deploy_is_refused() -> None:
    spec = ecs_spec()
    obs = observed(service_connect=echoed(spec), controller="CODE_DEPLOY")
    p = plan_ecs_delete(spec, DeletionPolicy.DELETE, obs)
    assert not p.actions
    assert p.refusal is not None
    assert p.refusal.reason == "DeploymentControllerUnsupported"
    assert "deletionPolicy: Retain" in p.refusal.message


# Property: what ECS reports after an update never triggers another ------------------------------


def ecs_report(
    sent: ServiceConnect | None, *, fill_defaults: bool, namespace_as: str, network_mode: str
) -> ServiceConnect | None:
    """Service Connect as DescribeServices might report it after UpdateService was sent `sent`."""
    if sent is None:
        return None
    namespace = {"sent": sent.namespace, "name": NS_NAME, "arn": NS_ARN}[namespace_as]
    if not fill_defaults:
        return replace(sent, namespace=namespace)
    services = []
    for s in sent.services:
        port = PORTS[s.port_name]
        discovery = s.discovery_name or s.port_name
        timeout = s.timeout or Timeout()
        idle = timeout.idle_timeout_seconds
        if idle is None:
            http = port.app_protocol in {"http", "http2", "grpc"}
            idle = IDLE_TIMEOUT_DEFAULT_HTTP if http else IDLE_TIMEOUT_DEFAULT_TCP
        ingress = s.ingress_port_override
        if ingress is None and network_mode == "awsvpc":
            ingress = port.container_port
        services.append(
            ServiceConnectService(
                port_name=s.port_name,
                discovery_name=discovery,
                client_aliases=tuple(
                    ClientAlias(a.port, a.dns_name or f"{discovery}.{NS_NAME}")
                    for a in s.client_aliases
                ),
                ingress_port_override=ingress,
                timeout=Timeout(idle, timeout.per_request_timeout_seconds),
                tls=s.tls,
            )
        )
    return ServiceConnect(True, namespace, tuple(services), sent.log_configuration)


def after_update(
    before: ObservedEcsService, action: UpdateEcsService, *, fill_defaults: bool, namespace_as: str
) -> ObservedEcsService:
    registries = action.registries if action.set_registries else before.registries
    sc = before.service_connect
    if action.set_service_connect:
        sc = ecs_report(
            action.service_connect,
            fill_defaults=fill_defaults,
            namespace_as=namespace_as,
            network_mode=before.network_mode,
        )
    return replace(before, registries=registries, service_connect=sc)


_names = st.from_regex(r"\A[a-z0-9_][a-z0-9_-]{0,20}\Z").filter(lambda n: n != DECLARED)


@st.composite
def sc_services(draw: st.DrawFn) -> ServiceConnectService:
    port_name = draw(st.sampled_from(sorted(PORTS)))
    http = PORTS[port_name].app_protocol is not None
    per_request = draw(st.none() | st.integers(0, 600)) if http else None
    timeout = draw(
        st.none()
        | st.builds(Timeout, st.none() | st.sampled_from([0, 60, 300, 3600]), st.just(per_request))
    )
    return ServiceConnectService(
        port_name=port_name,
        discovery_name=draw(st.none() | _names),
        client_aliases=draw(
            st.lists(
                st.builds(
                    ClientAlias,
                    st.integers(1, 65535),
                    st.none() | st.from_regex(r"\A[a-z0-9][a-z0-9.-]{0,30}\Z"),
                ),
                max_size=1,
            ).map(tuple)
        ),
        ingress_port_override=draw(
            st.none() | st.just(PORTS[port_name].container_port) | st.integers(1024, 65535)
        ),
        timeout=timeout,
        tls=draw(
            st.none()
            | st.builds(
                Tls,
                st.just("arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/ca"),
                st.none() | st.just("alias/sc"),
                st.none() | st.just("arn:aws:iam::123456789012:role/sc"),
            )
        ),
    )


def _unique_discovery(services: list[ServiceConnectService]) -> bool:
    names = [s.discovery_name or s.port_name for s in services]
    return len(names) == len(set(names))


@st.composite
def ecs_specs(draw: st.DrawFn, network_mode: str) -> EcsSpec:
    pair = st.builds(Registry, st.none(), st.just("app"), st.just(8080))
    registries = (
        pair
        if network_mode != "awsvpc"
        else pair | st.builds(Registry, st.integers(1, 65535)) | st.just(Registry())
    )
    services = draw(st.lists(sc_services(), max_size=3).filter(_unique_discovery))
    log = draw(
        st.none()
        | st.builds(
            LogConfiguration,
            st.sampled_from(["awslogs", "json-file"]),
            st.dictionaries(st.sampled_from(["a", "b"]), st.text("xyz", max_size=3)),
            st.lists(st.builds(SecretOption, st.just("t"), st.just("arn:s")), max_size=1).map(
                tuple
            ),
        )
    )
    sc = draw(
        st.none()
        | st.builds(
            ServiceConnect,
            st.booleans(),
            st.sampled_from([None, NS_NAME, NS_ARN]),
            st.just(tuple(services)),
            st.just(log),
        )
    )
    return EcsSpec(CLUSTER, SERVICE, registry=draw(st.none() | registries), service_connect=sc)


@st.composite
def starting_points(draw: st.DrawFn) -> ObservedEcsService:
    """An ECS service as found: no discovery config, or someone else's."""
    foreign_sc = ServiceConnect(
        True, NS_NAME, (ServiceConnectService("admin", client_aliases=(ClientAlias(1),)),)
    )
    return observed(
        network_mode=draw(st.sampled_from(["awsvpc", "bridge", "host"])),
        registries=draw(st.sampled_from([(), (ObservedRegistry(OTHER_CM_ARN, 1),)])),
        service_connect=draw(st.sampled_from([None, foreign_sc])),
    )


@settings(suppress_health_check=[HealthCheck.too_slow])  # examples: tests/conftest.py profile
@given(
    data=st.data(),
    start=starting_points(),
    fill_defaults=st.booleans(),
    namespace_as=st.sampled_from(["sent", "name", "arn"]),
)
def test_what_ecs_reports_after_an_update_never_triggers_another(
    data: st.DataObject, start: ObservedEcsService, fill_defaults: bool, namespace_as: str
) -> None:
    spec = data.draw(ecs_specs(start.network_mode))
    first = plan(spec, start)
    assert first.refusal is None
    assert first.blocked is None
    assert len(first.actions) <= 1
    after = start
    if first.actions:
        action = first.actions[0]
        assert isinstance(action, UpdateEcsService)
        assert action.set_registries or action.set_service_connect
        after = after_update(start, action, fill_defaults=fill_defaults, namespace_as=namespace_as)
    second = plan(spec, after)
    assert second.in_sync, second.changes
    assert plan_ecs_delete(spec, DeletionPolicy.RETAIN, after).in_sync


# The spec form `generate` writes ---------------------------------------------------------------


AS_REPORTED = ServiceConnect(
    enabled=True,
    namespace=NS_ARN,
    services=(
        ServiceConnectService(
            port_name="http",
            discovery_name="http",
            client_aliases=(ClientAlias(port=80, dns_name=f"http.{NS_NAME}"),),
            ingress_port_override=8080,
            timeout=Timeout(IDLE_TIMEOUT_DEFAULT_HTTP, 15),
        ),
        ServiceConnectService(
            port_name="db",
            discovery_name="database",
            client_aliases=(ClientAlias(port=5432, dns_name="db.internal"),),
            timeout=Timeout(IDLE_TIMEOUT_DEFAULT_TCP),
        ),
    ),
    access_log_configuration=AccessLogConfiguration("TEXT", "DISABLED"),
)


def test_spec_form_leaves_out_what_the_plan_defaults() -> None:
    spec = service_connect_spec(AS_REPORTED, NS_NAME, NS_ARN, PORTS, "awsvpc")
    assert spec == ServiceConnect(
        enabled=True,
        services=(
            ServiceConnectService(
                port_name="http",
                client_aliases=(ClientAlias(port=80),),
                timeout=Timeout(per_request_timeout_seconds=15),
            ),
            ServiceConnectService(
                port_name="db",
                discovery_name="database",
                client_aliases=(ClientAlias(port=5432, dns_name="db.internal"),),
            ),
        ),
        access_log_configuration=AccessLogConfiguration("TEXT"),
    )
    assert plan(ecs_spec(service_connect=spec), observed(service_connect=AS_REPORTED)).in_sync


def test_spec_form_keeps_another_namespace_as_ecs_reports_it() -> None:
    reported = replace(AS_REPORTED, namespace=OTHER_NS_ARN)
    spec = service_connect_spec(reported, NS_NAME, NS_ARN, PORTS, "awsvpc")
    assert spec is not None
    assert spec.namespace == OTHER_NS_ARN
    # No name to default client aliases' DNS names from: kept as reported.
    assert spec.services[0].client_aliases == (ClientAlias(port=80, dns_name=f"http.{NS_NAME}"),)
    assert plan(ecs_spec(service_connect=spec), observed(service_connect=reported)).in_sync
