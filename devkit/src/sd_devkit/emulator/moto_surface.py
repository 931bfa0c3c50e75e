"""Every piece of moto the emulator relies on, as data, and the only emulator module importing moto.

SURFACES names each moto object the emulator uses (module, name), the attributes it reads or
writes on it (on its instances, for a class) and why. The emulator imports these names from here,
and they are resolved from SURFACES when this module loads: the table is what the emulator runs
on, not a comment about it. Answers are rendered from the stored attributes listed here, never
from moto's renderers (`to_json`, `response_object`, ...): 5.2.6 removed `Service.to_json` in a
patch release, and turned stored epoch floats into datetimes (cloudmap._seconds reads both).

Beyond Python names the emulator relies on one HTTP convention: moto serves the account the
`x-moto-account-id` header names (every emulator is an account of its own, layer.py).

tests/integration/emulator/test_moto_surface.py checks every entry against the installed moto, on
instances made through moto's API, and names each one missing with the moto version. A name
missing here already fails `from .moto_surface import ...` with the same list. `make test-moto
MOTO=x.y.z` runs the emulator's own tests, this one included, on another moto release.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from moto.core.base_backend import BackendDict, backend_lock
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.core.utils import utcnow
    from moto.ecs.models import EC2ContainerServiceBackend, TaskDefinition, ecs_backends
    from moto.ecs.models import Service as EcsService
    from moto.iam.models import Role, iam_backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from moto.route53.models import FakeZone, route53_backends
    from moto.servicediscovery.models import (
        Namespace,
        Operation,
        Service,
        ServiceDiscoveryBackend,
        servicediscovery_backends,
    )
    from moto.utilities.utils import get_partition

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "SURFACES",
    "BackendDict",
    "DomainDispatcherApplication",
    "EC2ContainerServiceBackend",
    "EcsService",
    "FakeZone",
    "Namespace",
    "Operation",
    "Role",
    "Service",
    "ServiceDiscoveryBackend",
    "Surface",
    "TaskDefinition",
    "backend_lock",
    "create_backend_app",
    "ecs_backends",
    "get_partition",
    "iam_backends",
    "missing_attributes",
    "missing_names",
    "report",
    "route53_backends",
    "servicediscovery_backends",
    "utcnow",
]


@dataclass(frozen=True)
class Surface:
    module: str
    name: str
    attributes: tuple[str, ...]  # read or written on its instances (a class) or on it
    why: str
    alias: str = ""  # the name it is imported under from this module, when not `name`

    @property
    def path(self) -> str:
        return f"{self.module}.{self.name}"

    @property
    def export(self) -> str:
        return self.alias or self.name


_SD = "moto.servicediscovery.models"
_ECS = "moto.ecs.models"
_R53 = "moto.route53.models"
_CORE = "moto.core.base_backend"

SURFACES: tuple[Surface, ...] = (
    # Cloud Map (cloudmap.py, tagging.py, ecs.py ListServicesByNamespace and Service Connect)
    Surface(_SD, "servicediscovery_backends", (), "Cloud Map state, [account][region]"),
    Surface(
        _SD,
        "ServiceDiscoveryBackend",
        ("namespaces", "services", "operations", "tagger", "create_service", "delete_service"),
        "dicts by id the hooks read and correct (namespaces kept aside while created/deleted);"
        " ECS Service Connect creates its Cloud Map services (ecs.py)",
    ),
    Surface(
        _SD,
        "Namespace",
        ("id", "arn", "name", "type", "vpc", "dns_properties", "creator_request_id"),
        "name collisions, VPC conflicts, dns_properties.HostedZoneId; copied for updates",
    ),
    Surface(
        _SD,
        "Service",
        (
            "id",
            "arn",
            "name",
            "namespace_id",
            "description",
            "service_type",
            "created",
            "creator_request_id",
            "dns_config",
            "health_check_config",
            "health_check_custom_config",
            "instances",
            "instances_revision",
        ),
        "rendered by cloudmap._service_json; UpdateService and instance upserts rewrite them",
    ),
    Surface(
        _SD,
        "ServiceInstance",
        ("instance_id", "health_status"),
        "items of Service.instances: upsert by InstanceId, AWS_INIT_HEALTH_STATUS",
    ),
    Surface(
        _SD,
        "Operation",
        ("id", "operation_type", "targets", "updated"),
        "operation lifecycle and ListOperations (updated: epoch float or datetime)",
    ),
    Surface(
        "moto.utilities.tagging_service",
        "TaggingService",
        ("tags", "delete_all_tags_for_resource"),
        "ServiceDiscoveryBackend.tagger: tag:GetResources reads {arn: {key: value}}; the"
        " Cloud Map services ECS removes lose their tags",
    ),
    # Route 53 (cloudmap.py: the hosted zone of a DNS namespace)
    Surface(_R53, "route53_backends", (), "hosted zones, [account][partition]"),
    Surface(_R53, "Route53Backend", ("zones",), "zones by id: a failed create drops its zone"),
    Surface(
        _R53,
        "FakeZone",
        ("resource_id", "name", "private_zone", "vpcs", "add_vpc"),
        "a private namespace's zone lists the namespace's VPC, as in AWS; another account's VPC"
        " joins it once authorized (route53.py)",
    ),
    Surface("moto.utilities.utils", "get_partition", (), "route53_backends' key for a region"),
    # IAM (sts.py: the roles AssumeRole may enter)
    Surface("moto.iam.models", "iam_backends", (), "IAM state, [account][partition]"),
    Surface(
        "moto.iam.models",
        "IAMBackend",
        ("roles", "create_role"),
        "roles by id: AssumeRole looks the role up by ARN; Emulator.create_role seeds one",
    ),
    Surface(
        "moto.iam.models",
        "Role",
        ("id", "arn", "name", "assume_role_policy_document", "max_session_duration"),
        "the trust policy AssumeRole checks, the session's AssumedRoleId and its maximum",
    ),
    # ECS (ecs.py)
    Surface(_ECS, "ecs_backends", (), "ECS state, [account][region]"),
    Surface(
        _ECS,
        "EC2ContainerServiceBackend",
        ("services", "task_definitions"),
        'services by "cluster:name"; task definitions {family: {revision: definition}}',
    ),
    Surface(
        _ECS,
        "Service",
        (
            "name",
            "arn",
            "status",
            "cluster_name",
            "desired_count",
            "task_definition",
            "deployment_controller",
            "deployments",
            "tags",
        ),
        "deployments (dicts) carry Service Connect; INACTIVE services unlisted; tags for the"
        " call log",
        alias="EcsService",
    ),
    Surface(_ECS, "TaskDefinition", ("container_definitions",), "portName must name a port"),
    Surface("moto.core.utils", "utcnow", (), "dates of the ECS deployments the layer starts"),
    # The server (server.py)
    Surface(
        _CORE,
        "BackendDict",
        ("_instances",),
        "every backend dict (a dict by account) to drop one emulator's account on reset",
    ),
    Surface(_CORE, "BaseBackend", ("reset",), "each dropped backend is reset first"),
    Surface(_CORE, "backend_lock", ("__enter__", "__exit__"), "held while an account is dropped"),
    Surface("moto.core.models", "DEFAULT_ACCOUNT_ID", (), "the first emulator's account"),
    Surface(
        "moto.moto_server.werkzeug_app",
        "DomainDispatcherApplication",
        (),
        "moto's server WSGI app, behind the fidelity layer",
    ),
    Surface("moto.moto_server.werkzeug_app", "create_backend_app", (), "its per-service apps"),
    # tests/integration/test_plain_moto.py: the CLI against moto's own server, no layer
    Surface(
        "moto.server",
        "ThreadedMotoServer",
        ("start", "stop", "get_host_and_port"),
        "plain moto server for the compatibility test",
    ),
)


def moto_version() -> str:
    try:
        return version("moto")
    except PackageNotFoundError:
        return "(not installed)"


def _resolve(surface: Surface) -> object:
    return getattr(importlib.import_module(surface.module), surface.name)


def missing_names() -> list[str]:
    """The listed modules and names the installed moto lacks."""
    missing = []
    for surface in SURFACES:
        try:
            _resolve(surface)
        except (ImportError, AttributeError) as exc:
            missing.append(f"{surface.path} ({surface.why}): {exc}")
    return missing


def missing_attributes(instances: Iterable[object]) -> list[str]:
    """The listed attributes absent on the given moto objects (every instance of each listed
    class among them), or on the listed object itself when it is not a class. A listed class
    with attributes but no instance among `instances` is reported too: it went unchecked."""
    objects = list(instances)
    missing = []
    for surface in SURFACES:
        if not surface.attributes:
            continue
        try:
            target = _resolve(surface)
        except (ImportError, AttributeError):
            continue  # missing_names reports it
        if isinstance(target, type):
            checked = [o for o in objects if isinstance(o, target)]
            if not checked:
                missing.append(f"{surface.path}: no instance to check {surface.attributes} on")
                continue
        else:
            checked = [target]
        for attribute in surface.attributes:
            if not all(hasattr(o, attribute) for o in checked):
                missing.append(f"{surface.path}.{attribute} ({surface.why})")
    return missing


def report(missing: Iterable[str]) -> str:
    lines = "\n".join(f"  - {m}" for m in missing)
    return (
        f"moto {moto_version()} lacks what the sd-devkit emulator relies on "
        f"(devkit/src/sd_devkit/emulator/moto_surface.py):\n{lines}"
    )


if not TYPE_CHECKING:
    # A name missing from moto stays unbound here: importing it raises, naming all (__getattr__).
    for _surface in SURFACES:
        with contextlib.suppress(ImportError, AttributeError):
            globals()[_surface.export] = _resolve(_surface)
    del _surface

    def __getattr__(name: str) -> object:
        if any(s.export == name for s in SURFACES):
            raise ImportError(report(missing_names()))
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
