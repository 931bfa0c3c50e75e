"""The hybrid export and CloudMapImport act through the role of the grant selecting their
Kubernetes namespace, as the reconciler does, against the emulator's several accounts
(docs/tenancy.md, "Many AWS accounts"; docs/hybrid.md): instances are registered where the
resource's service is, in the tenant's own account or in a namespace another account shares;
an import discovers in its role's account; a role that cannot be assumed stalls only its own."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import uuid4

import kopf
import pytest
from test_hybrid_importer import ApiServer

from builders import ALLOW_ALL, CLUSTER, pay_slice
from sd_devkit.emulator import Emulator, assumed_session, trust_policy
from sd_operator.aws.adapters import Adapters
from sd_operator.handlers import imports
from sd_operator.handlers.units import Units
from sd_operator.hybrid.export import SliceView
from sd_operator.hybrid.importer import Importer
from sd_operator.model.grants import Grant, Role, Selection
from sd_operator.model.parse import parse_resource
from sd_operator.model.spec import GROUP, KIND_IMPORT, VERSION
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.reconcile.result import Outcome, StepResult
from support import REGION

TENANT = "488888888888"
SHARING = "499999999999"
ECS_FULL = "arn:aws:ram::aws:permission/AWSRAMPermissionCloudMapECSFullPermission"


def _role(emulator: Emulator, account: str) -> str:
    """A role of this test's own in `account` the operator may assume: the operator keeps its
    clients per role for the life of the process, and an earlier test's credentials are gone
    with the emulator's reset."""
    return emulator.create_role(
        account, f"sd-operator-{uuid4().hex[:8]}", trust_policy(emulator.account_id)
    )


def _client(emulator: Emulator, role_arn: str, service: str) -> Any:
    session = assumed_session(emulator.endpoint_url, role_arn, REGION)
    return session.client(service, endpoint_url=emulator.endpoint_url, region_name=REGION)


def _grant(name: str, k8s_namespace: str, role: Role | None, *namespaces: str) -> Grant:
    """ALLOW_ALL's permissions for one Kubernetes namespace through `role`; `namespaces`: the
    Cloud Map namespaces it may use, export into and import from (ALLOW_ALL's `*` reaches no
    shared namespace, only an ARN does)."""
    listed = namespaces or ("*",)
    return replace(
        ALLOW_ALL,
        name=name,
        namespaces=Selection(names=(k8s_namespace,)),
        use=listed,
        export=listed,
        import_from=listed,
        role=role,
    )


def _operator(emulator: Emulator, reconciler: Reconciler, *grants: Grant) -> Units:
    units = Units.build(reconciler, Adapters(REGION, emulator.endpoint_url), 30)
    units.live.grants = {g.name: [g] for g in grants}
    units.live.namespace_labels = {}
    return units


def _namespace(emulator: Emulator, role_arn: str, name: str) -> str:
    """An HTTP namespace made in the role's account; its id."""
    sd = _client(emulator, role_arn, "servicediscovery")
    op = sd.create_http_namespace(Name=name)["OperationId"]
    return str(sd.get_operation(OperationId=op)["Operation"]["Targets"]["NAMESPACE"])


def _discovery(k8s_namespace: str, cloud_map_namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ServiceDiscovery",
        "metadata": {
            "name": "pay",
            "namespace": k8s_namespace,
            "uid": f"uid-{k8s_namespace}-pay",
            "generation": 1,
        },
        "spec": {
            "cloudMapNamespace": {"name": cloud_map_namespace},
            "region": REGION,
            "service": {"name": "pay"},
            "endpoints": {"fromService": {"name": "pay"}},
        },
    }


def _shared_namespace(emulator: Emulator, owner_role: str) -> tuple[str, str]:
    """Namespace `shared` in the sharing account, shared through RAM with the tenant's
    account with the permission Service Connect needs: its id and ARN."""
    ns_id = _namespace(emulator, owner_role, "shared")
    owner_sd = _client(emulator, owner_role, "servicediscovery")
    arn = str(owner_sd.get_namespace(Id=ns_id)["Namespace"]["Arn"])
    _client(emulator, owner_role, "ram").create_resource_share(
        name="shared", resourceArns=[arn], principals=[TENANT], permissionArns=[ECS_FULL]
    )
    return ns_id, arn


def _slices(k8s_namespace: str, *ips: str) -> dict[tuple[str, str], list[SliceView]]:
    return {(k8s_namespace, "pay"): [pay_slice(*ips)]}


def _converge(
    units: Units, body: dict[str, Any], slices: Any, *, delete: bool = False
) -> StepResult:
    """The change handler's steps of `body` (its deletion with `delete`), its status kept
    between them, until it settles."""
    result: StepResult | None = None
    for _ in range(20):
        patch = kopf.Patch()
        args = (kopf.Body(body), patch, parse_resource(body), None)
        if delete:
            result = units.steps.delete_and_write(*args, slices=slices, post=_no_event)  # type: ignore[arg-type]
        else:
            result = units.steps.step_and_write(
                *args,  # type: ignore[arg-type]
                from_view=False,
                slices=slices,
                post=_no_event,
            )
        body["status"] = {**body.get("status", {}), **(patch.get("status") or {})}
        assert result is not None
        if result.outcome not in (Outcome.WAITING, Outcome.ERROR):
            return result
    assert result is not None
    return result


def _no_event(*_: Any, **__: Any) -> None: ...


def _instances(sd: Any, service_id: str) -> dict[str, str]:
    """Instance id -> the account that registered it (CreatedByAccount)."""
    found = sd.list_instances(ServiceId=service_id)["Instances"]
    return {i["Id"]: i.get("CreatedByAccount", "") for i in found}


def test_the_export_registers_in_the_account_of_the_grants_role(
    emulator: Emulator, reconciler: Reconciler, sd: Any
) -> None:
    role = _role(emulator, TENANT)
    _namespace(emulator, role, "apps")
    units = _operator(emulator, reconciler, _grant("team-a", "team-a", Role(role)))
    body = _discovery("team-a", "apps")

    done = _converge(units, body, _slices("team-a", "10.0.0.1", "10.0.0.2"))

    assert done.outcome is Outcome.IN_SYNC, (done.reason, done.message)
    assert body["status"]["account"] == TENANT
    assert body["status"]["endpoints"]["registered"] == 2
    tenant_sd = _client(emulator, role, "servicediscovery")
    assert sorted(_instances(tenant_sd, body["status"]["serviceId"])) == [
        f"{CLUSTER.name}/team-a/pay/10.0.0.1",
        f"{CLUSTER.name}/team-a/pay/10.0.0.2",
    ]
    assert sd.list_namespaces()["Namespaces"] == []  # nothing in the operator's own account

    gone = _converge(units, body, _slices("team-a", "10.0.0.1"), delete=True)
    assert gone.outcome is Outcome.GONE, (gone.reason, gone.message)
    assert tenant_sd.list_services()["Services"] == []


def test_the_export_into_a_shared_namespace_registers_as_the_consumer_and_removes_only_that(
    emulator: Emulator, reconciler: Reconciler
) -> None:
    owner_role, tenant_role = _role(emulator, SHARING), _role(emulator, TENANT)
    owner_sd = _client(emulator, owner_role, "servicediscovery")
    ns_id, arn = _shared_namespace(emulator, owner_role)
    units = _operator(emulator, reconciler, _grant("team-b", "team-b", Role(tenant_role), arn))
    body = _discovery("team-b", arn)

    done = _converge(units, body, _slices("team-b", "10.0.1.1"))

    assert done.outcome is Outcome.IN_SYNC, (done.reason, done.message)
    service_id = body["status"]["serviceId"]
    # The owner sees the consumer's instance in its namespace, created by the consumer.
    assert list(_instances(owner_sd, service_id).values()) == [TENANT]

    gone = _converge(units, body, _slices("team-b"), delete=True)
    assert gone.outcome is Outcome.GONE, (gone.reason, gone.message)
    assert (
        owner_sd.list_services(Filters=[{"Name": "NAMESPACE_ID", "Values": [ns_id]}])["Services"]
        == []
    )
    assert owner_sd.get_namespace(Id=ns_id)["Namespace"]["Name"] == "shared"


def test_a_role_that_cannot_be_assumed_stalls_only_its_own_export(
    emulator: Emulator, reconciler: Reconciler, log_lines: list[dict[str, Any]]
) -> None:
    good = _role(emulator, TENANT)
    _namespace(emulator, good, "apps")
    broken = Role(f"arn:aws:iam::{SHARING}:role/sd-operator-missing-{uuid4().hex[:8]}")
    units = _operator(
        emulator,
        reconciler,
        _grant("team-a", "team-a", Role(good)),
        _grant("team-c", "team-c", broken),
    )
    body = _discovery("team-a", "apps")
    assert _converge(units, body, _slices("team-a", "10.0.0.1")).outcome is Outcome.IN_SYNC
    # A resource of the broken grant with a service id in its status, as if it had converged
    # before its role broke: an EndpointSlice change exports nothing and says why.
    stranded = _discovery("team-c", "apps")
    stranded["status"] = {"serviceId": body["status"]["serviceId"]}

    units.exports.export_from_slice(stranded, None, _slices("team-c", "10.0.9.9"))
    units.exports.export_from_slice(body, None, _slices("team-a", "10.0.0.1", "10.0.0.2"))

    exported = {line["namespace"]: line for line in log_lines if line["event"] == "exported"}
    assert exported["team-c"]["outcome"] == str(Outcome.BLOCKED)
    assert exported["team-c"]["message"].startswith(f"cannot assume role {broken.arn}")
    tenant_sd = _client(emulator, good, "servicediscovery")
    instances = _instances(tenant_sd, body["status"]["serviceId"])
    assert sorted(instances) == [
        f"{CLUSTER.name}/team-a/pay/10.0.0.1",
        f"{CLUSTER.name}/team-a/pay/10.0.0.2",
    ]


def _import_body(k8s_namespace: str, cloud_map_namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND_IMPORT,
        "metadata": {
            "name": "billing",
            "namespace": k8s_namespace,
            "uid": f"uid-{k8s_namespace}-billing",
            "generation": 1,
        },
        "spec": {
            "cloudMapNamespace": {"name": cloud_map_namespace},
            "region": REGION,
            "port": 80,
        },
    }


def _refresh(
    emulator: Emulator, units: Units, api: ApiServer, body: dict[str, Any], patch: kopf.Patch
) -> None:
    """One refresh of the import as its handler runs it, its status into `patch`."""
    adapters = Adapters(REGION, emulator.endpoint_url)
    imports.refresh(
        lambda role: Importer(adapters.acting(role).cloudmap, lambda: api),  # type: ignore[arg-type,return-value]
        units.locks,
        kopf.Body(body),
        patch,
        None,
        units.live.grants,
        {},
    )


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The import's Events: kopf posts them only inside its running operator, so kept here."""
    posted: list[str] = []
    monkeypatch.setattr(kopf, "info", lambda _body, reason, message: posted.append(message))
    return posted


def _billing(emulator: Emulator, role_arn: str, namespace: str) -> None:
    """Cloud Map service `billing` with one instance, made by the role's account in the
    namespace (an id, or the ARN of one shared with it)."""
    sd = _client(emulator, role_arn, "servicediscovery")
    service = sd.create_service(Name="billing", NamespaceId=namespace)["Service"]["Id"]
    sd.register_instance(
        ServiceId=service,
        InstanceId="b1",
        Attributes={"AWS_INSTANCE_IPV4": "10.2.0.1", "AWS_INSTANCE_PORT": "3000"},
    )


def _addresses(api: ApiServer) -> list[str]:
    return [a for s in api.slices_.values() for e in s["endpoints"] for a in e["addresses"]]


def test_an_import_discovers_in_the_account_of_the_grants_role(
    emulator: Emulator, reconciler: Reconciler, events: list[str]
) -> None:
    role = _role(emulator, TENANT)
    _billing(emulator, role, _namespace(emulator, role, "billing-ns"))
    units = _operator(emulator, reconciler, _grant("team-a", "team-a", Role(role)))
    api, patch = ApiServer(), kopf.Patch()

    _refresh(emulator, units, api, _import_body("team-a", "billing-ns"), patch)

    [ready] = patch["status"]["conditions"]
    assert ready["status"] == "True", ready
    assert "created Service billing" in events
    assert _addresses(api) == ["10.2.0.1"]


def test_an_import_from_a_namespace_shared_with_the_grants_account(
    emulator: Emulator, reconciler: Reconciler, events: list[str]
) -> None:
    owner_role, tenant_role = _role(emulator, SHARING), _role(emulator, TENANT)
    ns_id, arn = _shared_namespace(emulator, owner_role)
    _billing(emulator, owner_role, ns_id)
    units = _operator(emulator, reconciler, _grant("team-b", "team-b", Role(tenant_role), arn))
    api, patch = ApiServer(), kopf.Patch()

    _refresh(emulator, units, api, _import_body("team-b", arn), patch)

    [ready] = patch["status"]["conditions"]
    assert ready["status"] == "True", ready
    assert _addresses(api) == ["10.2.0.1"]


def test_an_import_whose_role_cannot_be_assumed_says_so_and_holds_up_no_other(
    emulator: Emulator, reconciler: Reconciler, events: list[str]
) -> None:
    good = _role(emulator, TENANT)
    _billing(emulator, good, _namespace(emulator, good, "billing-ns"))
    broken = Role(f"arn:aws:iam::{SHARING}:role/sd-operator-missing-{uuid4().hex[:8]}")
    units = _operator(
        emulator,
        reconciler,
        _grant("team-a", "team-a", Role(good)),
        _grant("team-c", "team-c", broken),
    )
    patch, other = kopf.Patch(), kopf.Patch()

    with pytest.raises(kopf.TemporaryError):
        _refresh(emulator, units, ApiServer(), _import_body("team-c", "billing-ns"), patch)
    api = ApiServer()
    _refresh(emulator, units, api, _import_body("team-a", "billing-ns"), other)

    [ready] = patch["status"]["conditions"]
    assert (ready["status"], ready["reason"]) == ("False", "AssumeRoleFailed")
    assert ready["message"].startswith(f"cannot assume role {broken.arn}")
    assert other["status"]["conditions"][0]["status"] == "True"
    assert _addresses(api) == ["10.2.0.1"]
