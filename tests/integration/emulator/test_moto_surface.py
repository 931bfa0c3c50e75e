"""The moto the emulator runs on has every surface sd_devkit/emulator/moto_surface.py lists.

Each listed module and name must exist, and each listed attribute on real instances that moto's
own API made: a plain moto server in this process (no fidelity layer), in an account of its own
selected with the `x-moto-account-id` header, as the layer selects each emulator's. A moto
release that moves any of them fails here with one message naming each missing surface and the
moto version (`make test-moto MOTO=x.y.z` runs this on another moto release).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from emulator_helpers import REGION

import sd_devkit
from sd_devkit.emulator import client, moto_surface
from sd_devkit.emulator.moto_surface import SURFACES, missing_attributes, missing_names, report

pytestmark = pytest.mark.integration

ACCOUNT = "210987654321"  # no emulator's account (server._next_account_id)
API = {"SURFACES", "Surface", "missing_attributes", "missing_names", "report"}


def _listed(name: str) -> Any:
    """A listed moto name as the emulator gets it, or None when this moto lacks it."""
    try:
        return getattr(moto_surface, name)
    except (ImportError, AttributeError):
        return None


def _in_account(boto_client: Any) -> Any:
    def select(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = ACCOUNT

    boto_client.meta.events.register("before-sign", select)
    return boto_client


def _make_resources(endpoint: str) -> None:
    """One of each moto model the emulator touches, through moto's API only."""
    sd = _in_account(client("servicediscovery", endpoint, REGION))
    op_id = sd.create_private_dns_namespace(Name="surface.local", Vpc="vpc-1")["OperationId"]
    ns_id = sd.get_operation(OperationId=op_id)["Operation"]["Targets"]["NAMESPACE"]
    service_id = sd.create_service(
        Name="web",
        NamespaceId=ns_id,
        DnsConfig={"DnsRecords": [{"Type": "A", "TTL": 60}]},
        HealthCheckCustomConfig={"FailureThreshold": 1},
        Tags=[{"Key": "team", "Value": "surface"}],
    )["Service"]["Id"]
    sd.register_instance(
        ServiceId=service_id, InstanceId="i-1", Attributes={"AWS_INSTANCE_IPV4": "10.0.0.1"}
    )
    ecs = _in_account(client("ecs", endpoint, REGION))
    ecs.create_cluster(clusterName="surface")
    container = {"name": "app", "image": "app:1", "memory": 128}
    ecs.register_task_definition(
        family="surface",
        containerDefinitions=[{**container, "portMappings": [{"containerPort": 80}]}],
    )
    ecs.create_service(
        cluster="surface", serviceName="web", taskDefinition="surface", desiredCount=1
    )
    iam = _in_account(client("iam", endpoint, REGION))
    iam.create_role(RoleName="surface", AssumeRolePolicyDocument='{"Statement": []}')


def _account_objects(problems: list[str]) -> list[object]:
    """The moto objects of ACCOUNT the emulator would read: backends, models, zones."""
    objects: list[object] = []
    for name, key in (
        ("servicediscovery_backends", REGION),
        ("ecs_backends", REGION),
        ("route53_backends", "aws"),
        ("iam_backends", "aws"),
    ):
        backends = _listed(name)
        if backends is None:
            continue
        objects.append(backends)
        if not dict.__contains__(backends, ACCOUNT):
            problems.append(
                f"{name}: nothing in the account the x-moto-account-id header named "
                "(every emulator is an account of its own that way, layer.py)"
            )
            continue
        objects.append(backends[ACCOUNT][key])
    for backend in list(objects):
        objects.append(getattr(backend, "tagger", None))
        for store in ("namespaces", "services", "operations", "zones", "roles"):
            objects.extend(getattr(backend, store, {}).values())
        for revisions in getattr(backend, "task_definitions", {}).values():
            objects.extend(revisions.values())
    for service in list(objects):
        objects.extend(getattr(service, "instances", None) or [])
    return [o for o in objects if o is not None]


@pytest.fixture
def plain_moto() -> Iterator[tuple[object, str]]:
    server_class = _listed("ThreadedMotoServer")
    if server_class is None:
        pytest.fail(report(missing_names()), pytrace=False)
    server = server_class(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        yield server, f"http://127.0.0.1:{server.get_host_and_port()[1]}"
    finally:
        server.stop()
        try:
            from sd_devkit.emulator.server import _reset_account

            _reset_account(ACCOUNT)
        except ImportError:
            pass  # the test reports what is missing


def test_moto_has_every_listed_surface(plain_moto: tuple[object, str]) -> None:
    server, endpoint = plain_moto
    problems = missing_names()
    try:
        _make_resources(endpoint)
    except Exception as exc:
        problems.append(f"moto's API could not make the instances to check: {exc!r}")
    objects = [server, *_account_objects(problems)]
    problems += missing_attributes(objects)
    if problems:
        pytest.fail(report(problems), pytrace=False)


def test_the_emulator_imports_moto_only_through_moto_surface() -> None:
    """The table is the truth: no other devkit module imports moto (lazily either), every
    name imported from moto_surface is in its __all__, and each moto name there is a surface,
    imported for type checking from the module the table resolves it from."""
    by_export = {s.export: s for s in SURFACES}
    exported = set(moto_surface.__all__)
    assert exported - API <= set(by_export), "moto names exported but not listed"
    problems = []
    root = Path(sd_devkit.__file__).parent
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                modules = []
            from_moto = any(m == "moto" or m.startswith("moto.") for m in modules)
            where = f"{path.relative_to(root)}:{getattr(node, 'lineno', 0)}"
            if from_moto and path.name != "moto_surface.py":
                problems.append(f"{where} imports moto directly")
            if from_moto and isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    surface = by_export.get(alias.asname or alias.name)
                    if surface is None or (surface.module, surface.name) != (
                        node.module,
                        alias.name,
                    ):
                        problems.append(f"{where} {alias.name} is not the listed surface")
            if isinstance(node, ast.ImportFrom) and node.module == "moto_surface":
                problems += [
                    f"{path.name}: {a.name} is not exported by moto_surface"
                    for a in node.names
                    if a.name not in exported
                ]
    assert not problems, "\n".join(problems)
