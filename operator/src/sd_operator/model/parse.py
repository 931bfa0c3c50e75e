"""Manifests -> `Resource`: the API server's validation, without a cluster.

The schema below mirrors the CRDs in ``crds/`` node for node (types, enums, patterns, bounds,
defaults, required fields) and carries every static CEL rule of the CRDs as a `Rule` with the
CEL rule's message, so ``sd-operator plan`` refuses what ``kubectl apply`` would refuse, in the
same words. ``tests/unit/test_crds.py`` holds the two equal. Transition rules (immutable fields)
need the stored object and stay with the API server.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from sd_operator.model.spec import (
    API_VERSION,
    GROUP,
    KIND_DISCOVERY,
    KIND_NAMESPACE,
    AdoptionPolicy,
    ClientAlias,
    CloudMapServiceSpec,
    DeletionPolicy,
    DnsConfig,
    DnsRecord,
    DriftPolicy,
    EcsSpec,
    ExternalNamespace,
    HealthCheck,
    Identity,
    LogConfiguration,
    NamespaceSpec,
    NamespaceType,
    RecordType,
    Registry,
    Resource,
    Route53CheckType,
    Route53HealthCheck,
    RoutingPolicy,
    SecretOption,
    ServiceConnect,
    ServiceConnectService,
    ServiceDiscoverySpec,
    Timeout,
    Tls,
)

__all__ = ["KINDS", "KindSchema", "SpecError", "load_manifests", "parse_resource"]


class SpecError(Exception):
    """A manifest the API server would refuse: where it is, which resource, which field, why."""

    def __init__(self, message: str, *, source: str = "", resource: str = "", field: str = ""):
        super().__init__(message)
        self.message = message
        self.source = source
        self.resource = resource
        self.field = field

    def __str__(self) -> str:
        return ": ".join(p for p in (self.source, self.resource, self.field, self.message) if p)


class _Invalid(Exception):
    """A validation failure at a field path, before the resource it belongs to is known."""

    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path = path
        self.message = message


# The schema language: the subset of OpenAPI v3 the CRDs use, plus their CEL rules. -------------


@dataclass(frozen=True)
class Rule:
    """A static CEL rule of the CRD, at the same node and with the same message.

    `holds` gets the node's value with defaults applied; `field` is the rule's fieldPath
    relative to the node (without the leading dot), empty for the node itself.
    """

    holds: Callable[[Any], bool]
    message: str
    field: str = ""


@dataclass(frozen=True)
class Str:
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    enum: tuple[str, ...] = ()
    default: str | None = None
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class Int:
    minimum: int | None = None
    maximum: int | None = None
    default: int | None = None
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class Bool:
    default: bool | None = None
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class Obj:
    properties: Mapping[str, Schema] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class MapOf:
    values: Schema
    max_properties: int | None = None
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class ListOf:
    items: Schema
    min_items: int | None = None
    max_items: int | None = None
    rules: tuple[Rule, ...] = ()


Schema = Str | Int | Bool | Obj | MapOf | ListOf


@dataclass(frozen=True)
class KindSchema:
    """One kind: its spec schema and its root-level rules (which also see metadata.name)."""

    spec: Obj
    rules: tuple[Rule, ...] = ()


# Helpers for the schema and its rules. ------------------------------------------


def _values(enum: type[StrEnum]) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


def _lower_ascii(text: str) -> str:
    return "".join(c.lower() if c.isascii() else c for c in text)


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    # RE2 (CEL, OpenAPI) matches `$` only at the very end; Python's `$` also before a final "\n".
    return re.compile(pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern)


def _matches(text: str, pattern: str) -> bool:
    return _regex(pattern).search(text) is not None


def _record_types(dns: Mapping[str, Any]) -> list[str]:
    return [r["type"] for r in dns["records"]]


def _effective_discovery_name(entry: Mapping[str, Any]) -> str:
    return str(entry.get("discoveryName", entry["portName"]))


# Shared schema pieces -----------------------------------------------------------------------------

REGION = Str(max_length=32, pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$")
PRINTABLE = r"^[!-~]+$"
ARN_PREFIX = "^arn:aws[a-z-]*:"
PORT = Int(minimum=1, maximum=65535)
SECONDS = Int(minimum=0, maximum=2147483647)
SERVICE_NAME = r"^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$"
PORT_NAME = r"^[a-z0-9_][a-z0-9_-]{0,63}$"
DNS_LABEL = r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
PRIVATE_DNS_NAME = rf"^({DNS_LABEL}[.])*{DNS_LABEL}$"
PUBLIC_DNS_NAME = rf"^({DNS_LABEL}[.])+{DNS_LABEL}$"
K8S_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
K8S_NAMESPACE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

TAGS = MapOf(
    Str(max_length=256),
    max_properties=40,
    rules=(
        Rule(
            lambda tags: all(1 <= len(k) <= 128 for k in tags),
            "tag keys must be 1 to 128 characters long",
        ),
        Rule(
            lambda tags: (
                not any(
                    _lower_ascii(k).startswith("aws:") or k.startswith("sd-operator.io/")
                    for k in tags
                )
            ),
            "tag keys starting with 'aws:' or 'sd-operator.io/' are reserved",
        ),
    ),
)
DELETION_POLICY = Str(enum=_values(DeletionPolicy), default=DeletionPolicy.DELETE.value)
ADOPTION_POLICY = Str(enum=_values(AdoptionPolicy), default=AdoptionPolicy.NEVER.value)


# CloudMapNamespace --------------------------------------------------------------------------------

NAMESPACE = KindSchema(
    spec=Obj(
        properties={
            "name": Str(
                min_length=1,
                max_length=1024,
                pattern=PRINTABLE,
                rules=(
                    Rule(
                        lambda name: not name.startswith("arn:"),
                        "spec.name must not start with 'arn:'",
                    ),
                ),
            ),
            "type": Str(enum=_values(NamespaceType)),
            "vpc": Str(pattern=r"^vpc-[0-9a-f]{8,17}$"),
            "description": Str(max_length=1024),
            "tags": TAGS,
            "region": REGION,
            "deletionPolicy": DELETION_POLICY,
            "adoptionPolicy": ADOPTION_POLICY,
        },
        required=("name", "type"),
        rules=(
            Rule(
                lambda s: s["type"] != "DnsPrivate" or "vpc" in s,
                "spec.vpc is required when spec.type is DnsPrivate",
                "vpc",
            ),
            Rule(
                lambda s: s["type"] == "DnsPrivate" or "vpc" not in s,
                "spec.vpc is only valid when spec.type is DnsPrivate",
                "vpc",
            ),
            Rule(
                lambda s: (
                    s["type"] != "DnsPrivate"
                    or (len(s["name"]) <= 253 and _matches(s["name"], PRIVATE_DNS_NAME))
                ),
                "a DnsPrivate namespace name must be a DNS name: labels of letters, digits and"
                " '-' (at most 63 characters each, not starting or ending with '-') joined by"
                " dots, at most 253 characters, e.g. myapp.local",
                "name",
            ),
            Rule(
                lambda s: (
                    s["type"] != "DnsPublic"
                    or (len(s["name"]) <= 253 and _matches(s["name"], PUBLIC_DNS_NAME))
                ),
                "a DnsPublic namespace name must be a public domain name of at least two labels:"
                " letters, digits and '-' (at most 63 characters each, not starting or ending"
                " with '-') joined by dots, at most 253 characters, e.g. example.com",
                "name",
            ),
        ),
    )
)

# ServiceDiscovery ---------------------------------------------------------------------------------

ROUTE53 = Obj(
    properties={
        "type": Str(enum=_values(Route53CheckType)),
        "resourcePath": Str(max_length=255, pattern="^/"),
        "failureThreshold": Int(minimum=1, maximum=10, default=1),
    },
    required=("type",),
    rules=(
        Rule(
            lambda c: "resourcePath" not in c or c["type"] != "TCP",
            "resourcePath is only valid for HTTP and HTTPS route53 health checks",
            "resourcePath",
        ),
    ),
)

DNS = Obj(
    properties={
        "routingPolicy": Str(enum=_values(RoutingPolicy), default=RoutingPolicy.MULTIVALUE.value),
        "records": ListOf(
            Obj(
                properties={
                    "type": Str(enum=_values(RecordType)),
                    "ttl": Int(minimum=0, maximum=2147483647, default=10),
                },
                required=("type",),
            ),
            min_items=1,
            max_items=2,
        ),
    },
    required=("records",),
    rules=(
        Rule(
            lambda d: len(d["records"]) == 1 or sorted(_record_types(d)) == ["A", "AAAA"],
            "spec.service.dns.records must be one of: A, AAAA, A and AAAA, SRV, CNAME"
            " (each type at most once)",
            "records",
        ),
        Rule(
            lambda d: "CNAME" not in _record_types(d) or d["routingPolicy"] == "WEIGHTED",
            "a CNAME record requires spec.service.dns.routingPolicy WEIGHTED",
            "routingPolicy",
        ),
    ),
)

SERVICE = Obj(
    properties={
        "name": Str(max_length=63, pattern=SERVICE_NAME),
        "description": Str(max_length=1024),
        "tags": TAGS,
        "dns": DNS,
        "healthCheck": Obj(
            properties={"custom": Obj(), "route53": ROUTE53},
            rules=(
                Rule(
                    lambda h: ("custom" in h) != ("route53" in h),
                    "spec.service.healthCheck must set exactly one of custom or route53",
                ),
            ),
        ),
    },
    rules=(
        Rule(
            lambda s: (
                "dns" not in s
                or "route53" not in s.get("healthCheck", {})
                or "CNAME" not in _record_types(s["dns"])
            ),
            "a CNAME record cannot be combined with a route53 health check",
            "healthCheck",
        ),
    ),
)

SERVICE_CONNECT_SERVICE = Obj(
    properties={
        "portName": Str(max_length=64, pattern=PORT_NAME),
        "discoveryName": Str(max_length=64, pattern=PORT_NAME),
        "clientAliases": ListOf(
            Obj(
                properties={
                    "port": PORT,
                    "dnsName": Str(max_length=127, pattern=r"^[a-z0-9_][a-z0-9_.-]{0,126}$"),
                },
                required=("port",),
            ),
            max_items=8,
            rules=(
                Rule(
                    lambda aliases: len(aliases) <= 1,
                    "at most one clientAlias per Service Connect service entry",
                ),
            ),
        ),
        "ingressPortOverride": PORT,
        "timeout": Obj(
            properties={"idleTimeoutSeconds": SECONDS, "perRequestTimeoutSeconds": SECONDS}
        ),
        "tls": Obj(
            properties={
                "issuerCertificateAuthority": Obj(
                    properties={
                        "awsPcaAuthorityArn": Str(
                            max_length=2048,
                            pattern=ARN_PREFIX + r"acm-pca:[a-z0-9-]+:[0-9]{12}:"
                            r"certificate-authority/[A-Za-z0-9-]{1,128}$",
                        )
                    },
                    required=("awsPcaAuthorityArn",),
                ),
                "kmsKey": Str(min_length=1, max_length=2048),
                "roleArn": Str(
                    max_length=2048,
                    pattern=ARN_PREFIX + r"iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$",
                ),
            },
            required=("issuerCertificateAuthority",),
        ),
    },
    required=("portName",),
)

ECS = Obj(
    properties={
        "cluster": Str(
            max_length=1024,
            pattern=r"^([A-Za-z0-9_-]{1,255}|arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:cluster/"
            r"[A-Za-z0-9_-]{1,255})$",
        ),
        "service": Str(
            max_length=1024,
            pattern=r"^([A-Za-z0-9_-]{1,255}|arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:service/"
            r"([A-Za-z0-9_-]{1,255}/)?[A-Za-z0-9_-]{1,255})$",
        ),
        "registry": Obj(
            properties={
                "port": PORT,
                "containerName": Str(max_length=255, pattern=r"^[A-Za-z0-9_-]{1,255}$"),
                "containerPort": PORT,
            },
            rules=(
                Rule(
                    lambda r: ("containerName" in r) == ("containerPort" in r),
                    "spec.ecs.registry.containerName and containerPort must be set together",
                ),
                Rule(
                    lambda r: "port" not in r or "containerName" not in r,
                    "spec.ecs.registry takes either port or containerName with containerPort,"
                    " not both",
                ),
            ),
        ),
        "serviceConnect": Obj(
            properties={
                "enabled": Bool(default=True),
                "namespace": Str(min_length=1, max_length=1024, pattern=PRINTABLE),
                "services": ListOf(
                    SERVICE_CONNECT_SERVICE,
                    max_items=32,
                    rules=(
                        Rule(
                            lambda entries: (
                                len({_effective_discovery_name(e) for e in entries}) == len(entries)
                            ),
                            "each Service Connect service needs its own discoveryName"
                            " (portName when discoveryName is omitted)",
                        ),
                    ),
                ),
                "logConfiguration": Obj(
                    properties={
                        "logDriver": Str(
                            enum=(
                                "json-file",
                                "syslog",
                                "journald",
                                "gelf",
                                "fluentd",
                                "awslogs",
                                "splunk",
                                "awsfirelens",
                            )
                        ),
                        "options": MapOf(Str()),
                        "secretOptions": ListOf(
                            Obj(
                                properties={
                                    "name": Str(min_length=1),
                                    "valueFrom": Str(min_length=1),
                                },
                                required=("name", "valueFrom"),
                            )
                        ),
                    },
                    required=("logDriver",),
                ),
            }
        ),
    },
    required=("cluster", "service"),
    rules=(
        Rule(
            lambda e: "registry" in e or "serviceConnect" in e,
            "spec.ecs needs registry, serviceConnect, or both",
        ),
    ),
)


def _srv_has_port(s: Mapping[str, Any]) -> bool:
    registry = s.get("ecs", {}).get("registry")
    dns = s.get("service", {}).get("dns")
    if registry is None or dns is None or "SRV" not in _record_types(dns):
        return True
    return "port" in registry or "containerPort" in registry


def _discovery_names_differ(root: Mapping[str, Any]) -> bool:
    spec = root["spec"]
    entries = spec.get("ecs", {}).get("serviceConnect", {}).get("services")
    if "service" not in spec or entries is None:
        return True
    service = spec["service"]
    own = _lower_ascii(service["name"]) if "name" in service else root["metadata"]["name"]
    return all(_effective_discovery_name(e) != own for e in entries)


# The paths spec.driftFields may name: fields the plan can change in place (the CRD's pattern).
DRIFT_FIELD_PATH = Str(
    max_length=256,
    pattern=r"^spec\.(service(\.(description|tags(\..+)?|dns(\.records(\[([0-9]+|\*)\]"
    r"(\.ttl)?)?)?|healthCheck(\.route53(\.(resourcePath|failureThreshold))?)?))?"
    r"|ecs(\.(registry|serviceConnect))?)$",
)

DISCOVERY = KindSchema(
    spec=Obj(
        properties={
            "namespaceRef": Obj(
                properties={"name": Str(min_length=1, max_length=253, pattern=K8S_NAME)},
                required=("name",),
            ),
            "cloudMapNamespace": Obj(
                properties={"name": Str(min_length=1, max_length=1024, pattern=PRINTABLE)},
                required=("name",),
            ),
            "region": REGION,
            "service": SERVICE,
            "ecs": ECS,
            "drift": Str(enum=_values(DriftPolicy), default=DriftPolicy.CORRECT.value),
            "driftFields": Obj(
                properties={
                    "ignore": ListOf(DRIFT_FIELD_PATH, max_items=32),
                    "report": ListOf(DRIFT_FIELD_PATH, max_items=32),
                }
            ),
            "maxTtlSeconds": Int(minimum=0, maximum=2147483647, default=60),
            "deletionPolicy": DELETION_POLICY,
            "adoptionPolicy": ADOPTION_POLICY,
        },
        rules=(
            Rule(
                lambda s: ("namespaceRef" in s) != ("cloudMapNamespace" in s),
                "exactly one of spec.namespaceRef (a CloudMapNamespace in this Kubernetes"
                " namespace) and spec.cloudMapNamespace (a Cloud Map namespace managed"
                " elsewhere) must be set",
            ),
            Rule(
                lambda s: "service" in s or "ecs" in s,
                "set spec.service, spec.ecs, or both",
            ),
            Rule(
                lambda s: "region" not in s or "cloudMapNamespace" in s,
                "spec.region applies only with spec.cloudMapNamespace; with spec.namespaceRef"
                " the CloudMapNamespace's region is used",
                "region",
            ),
            Rule(
                lambda s: "registry" not in s.get("ecs", {}) or "service" in s,
                "spec.ecs.registry registers the ECS tasks into spec.service: set spec.service"
                " or remove spec.ecs.registry",
                "ecs.registry",
            ),
            Rule(
                _srv_has_port,
                "SRV records need a port: set spec.ecs.registry.port, or containerName and"
                " containerPort",
                "ecs.registry",
            ),
        ),
    ),
    rules=(
        Rule(
            lambda root: (
                "service" not in root["spec"]
                or "name" in root["spec"]["service"]
                or _matches(root["metadata"]["name"], SERVICE_NAME)
            ),
            "metadata.name is not a valid Cloud Map service name (1 to 63 letters, digits, '-'"
            " or '_', not starting or ending with '-'): set spec.service.name",
            "spec.service.name",
        ),
        Rule(
            _discovery_names_differ,
            "a Service Connect discoveryName (or the portName it defaults to) must differ from"
            " the Cloud Map service name (spec.service.name, default metadata.name): ECS creates"
            " the Cloud Map service named by discoveryName itself",
            "spec.ecs.serviceConnect.services",
        ),
    ),
)

KINDS: Mapping[str, KindSchema] = {KIND_NAMESPACE: NAMESPACE, KIND_DISCOVERY: DISCOVERY}


# Validation: one walk that checks, applies defaults and runs the rules bottom-up. ---------------


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path and name else path or name


def _type_name(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def _key(key: object) -> str:
    # sigs.k8s.io/yaml turns every mapping key into a JSON string.
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def _expect(value: object, expected: str, path: str) -> None:
    if _type_name(value) != expected:
        raise _Invalid(path, f'Invalid value: "{_type_name(value)}": must be of type {expected}')


def _check_rules(rules: tuple[Rule, ...], value: object, path: str) -> None:
    for rule in rules:
        if not rule.holds(value):
            raise _Invalid(_join(path, rule.field), rule.message)


def _validate(schema: Schema, value: object, path: str) -> Any:
    """The value with defaults applied; raises _Invalid at the first violation."""
    if isinstance(schema, Obj):
        return _validate_object(schema, value, path)
    if isinstance(schema, MapOf):
        _expect(value, "object", path)
        assert isinstance(value, Mapping)
        if schema.max_properties is not None and len(value) > schema.max_properties:
            raise _Invalid(
                path, f"Too many: {len(value)}: must have at most {schema.max_properties} items"
            )
        out_map = {
            _key(k): _validate(schema.values, v, f"{path}[{_key(k)}]")
            for k, v in value.items()
            if v is not None
        }
        _check_rules(schema.rules, out_map, path)
        return out_map
    if isinstance(schema, ListOf):
        _expect(value, "array", path)
        assert isinstance(value, list)
        if schema.min_items is not None and len(value) < schema.min_items:
            raise _Invalid(
                path, f"Invalid value: {len(value)}: should have at least {schema.min_items} items"
            )
        if schema.max_items is not None and len(value) > schema.max_items:
            raise _Invalid(
                path, f"Too many: {len(value)}: must have at most {schema.max_items} items"
            )
        out_list = [_validate(schema.items, item, f"{path}[{i}]") for i, item in enumerate(value)]
        _check_rules(schema.rules, out_list, path)
        return out_list
    if isinstance(schema, Str):
        _validate_string(schema, value, path)
    elif isinstance(schema, Int):
        _expect(value, "integer", path)
        assert isinstance(value, int)
        if schema.minimum is not None and value < schema.minimum:
            raise _Invalid(
                path, f"Invalid value: {value}: should be greater than or equal to {schema.minimum}"
            )
        if schema.maximum is not None and value > schema.maximum:
            raise _Invalid(
                path, f"Invalid value: {value}: should be less than or equal to {schema.maximum}"
            )
    else:
        _expect(value, "boolean", path)
    _check_rules(schema.rules, value, path)
    return value


def _validate_string(schema: Str, value: object, path: str) -> None:
    _expect(value, "string", path)
    assert isinstance(value, str)
    if schema.enum and value not in schema.enum:
        supported = ", ".join(f'"{e}"' for e in schema.enum)
        raise _Invalid(path, f'Unsupported value: "{value}": supported values: {supported}')
    if schema.min_length is not None and len(value) < schema.min_length:
        raise _Invalid(
            path, f'Invalid value: "{value}": should be at least {schema.min_length} chars long'
        )
    if schema.max_length is not None and len(value) > schema.max_length:
        raise _Invalid(path, f"Too long: may not be more than {schema.max_length} characters")
    if schema.pattern is not None and not _matches(value, schema.pattern):
        raise _Invalid(path, f"Invalid value: \"{value}\": should match '{schema.pattern}'")


def _validate_object(schema: Obj, value: object, path: str) -> dict[str, Any]:
    _expect(value, "object", path)
    assert isinstance(value, Mapping)
    given = {_key(k): v for k, v in value.items() if v is not None}
    for name in given:
        if name not in schema.properties:
            raise _Invalid(_join(path, name), f'unknown field "{_join(path, name)}"')
    out: dict[str, Any] = {}
    for name, sub in schema.properties.items():
        if name in given:
            out[name] = _validate(sub, given[name], _join(path, name))
        elif isinstance(sub, (Str, Int, Bool)) and sub.default is not None:
            out[name] = sub.default
        elif name in schema.required:
            raise _Invalid(_join(path, name), "Required value")
    _check_rules(schema.rules, out, path)
    return out


# Normalized dicts -> the typed model --------------------------------------------------------------


def _namespace_spec(s: Mapping[str, Any]) -> NamespaceSpec:
    return NamespaceSpec(
        name=s["name"],
        type=NamespaceType(s["type"]),
        vpc=s.get("vpc"),
        description=s.get("description"),
        tags=dict(s.get("tags", {})),
        region=s.get("region"),
        deletion_policy=DeletionPolicy(s["deletionPolicy"]),
        adoption_policy=AdoptionPolicy(s["adoptionPolicy"]),
    )


def _health_check(h: Mapping[str, Any]) -> HealthCheck:
    r53 = h.get("route53")
    return HealthCheck(
        custom="custom" in h,
        route53=None
        if r53 is None
        else Route53HealthCheck(
            type=Route53CheckType(r53["type"]),
            resource_path=r53.get("resourcePath"),
            failure_threshold=r53["failureThreshold"],
        ),
    )


def _cloud_map_service(s: Mapping[str, Any], default_name: str) -> CloudMapServiceSpec:
    dns = s.get("dns")
    return CloudMapServiceSpec(
        name=s.get("name", default_name),
        description=s.get("description"),
        tags=dict(s.get("tags", {})),
        dns=None
        if dns is None
        else DnsConfig(
            routing_policy=RoutingPolicy(dns["routingPolicy"]),
            records=tuple(DnsRecord(RecordType(r["type"]), r["ttl"]) for r in dns["records"]),
        ),
        health_check=_health_check(s["healthCheck"]) if "healthCheck" in s else None,
    )


def _service_connect_service(e: Mapping[str, Any]) -> ServiceConnectService:
    timeout, tls = e.get("timeout"), e.get("tls")
    return ServiceConnectService(
        port_name=e["portName"],
        discovery_name=e.get("discoveryName"),
        client_aliases=tuple(
            ClientAlias(port=a["port"], dns_name=a.get("dnsName"))
            for a in e.get("clientAliases", ())
        ),
        ingress_port_override=e.get("ingressPortOverride"),
        timeout=None
        if timeout is None
        else Timeout(
            idle_timeout_seconds=timeout.get("idleTimeoutSeconds"),
            per_request_timeout_seconds=timeout.get("perRequestTimeoutSeconds"),
        ),
        tls=None
        if tls is None
        else Tls(
            aws_pca_authority_arn=tls["issuerCertificateAuthority"]["awsPcaAuthorityArn"],
            kms_key=tls.get("kmsKey"),
            role_arn=tls.get("roleArn"),
        ),
    )


def _service_connect(sc: Mapping[str, Any]) -> ServiceConnect:
    logs = sc.get("logConfiguration")
    return ServiceConnect(
        enabled=sc["enabled"],
        namespace=sc.get("namespace"),
        services=tuple(_service_connect_service(e) for e in sc.get("services", ())),
        log_configuration=None
        if logs is None
        else LogConfiguration(
            log_driver=logs["logDriver"],
            options=dict(logs.get("options", {})),
            secret_options=tuple(
                SecretOption(o["name"], o["valueFrom"]) for o in logs.get("secretOptions", ())
            ),
        ),
    )


def _ecs(e: Mapping[str, Any]) -> EcsSpec:
    registry, sc = e.get("registry"), e.get("serviceConnect")
    return EcsSpec(
        cluster=e["cluster"],
        service=e["service"],
        registry=None
        if registry is None
        else Registry(
            port=registry.get("port"),
            container_name=registry.get("containerName"),
            container_port=registry.get("containerPort"),
        ),
        service_connect=None if sc is None else _service_connect(sc),
    )


def _discovery_spec(s: Mapping[str, Any], name: str) -> ServiceDiscoverySpec:
    ref, external = s.get("namespaceRef"), s.get("cloudMapNamespace")
    return ServiceDiscoverySpec(
        namespace_ref=None if ref is None else ref["name"],
        cloud_map_namespace=None if external is None else ExternalNamespace(external["name"]),
        service=_cloud_map_service(s["service"], name) if "service" in s else None,
        ecs=_ecs(s["ecs"]) if "ecs" in s else None,
        region=s.get("region"),
        drift=DriftPolicy(s["drift"]),
        drift_ignore=tuple(s.get("driftFields", {}).get("ignore", ())),
        drift_report=tuple(s.get("driftFields", {}).get("report", ())),
        max_ttl_seconds=s["maxTtlSeconds"],
        deletion_policy=DeletionPolicy(s["deletionPolicy"]),
        adoption_policy=AdoptionPolicy(s["adoptionPolicy"]),
    )


# Public API ---------------------------------------------------------------------------------------


def _identity(doc: Mapping[str, Any], kind: str, source: str) -> Identity:
    meta = doc.get("metadata")
    if not isinstance(meta, Mapping):
        raise SpecError("Required value", source=source, resource=kind, field="metadata")
    name, namespace = meta.get("name"), meta.get("namespace") or "default"
    uid, generation = meta.get("uid") or "", meta.get("generation") or 1
    resource = f"{kind}/{namespace}/{name if isinstance(name, str) else '?'}"
    for path, value, pattern, limit in (
        ("metadata.name", name, K8S_NAME, 253),
        ("metadata.namespace", namespace, K8S_NAMESPACE, 63),
    ):
        if not isinstance(value, str) or not value:
            raise SpecError("Required value", source=source, resource=resource, field=path)
        if len(value) > limit or not _matches(value, pattern):
            raise SpecError(
                f'Invalid value: "{value}": a lowercase RFC 1123 name of at most {limit}'
                " characters (letters, digits, '-'"
                + (", '.')" if path == "metadata.name" else ")")
                + " is required",
                source=source,
                resource=resource,
                field=path,
            )
    if not isinstance(uid, str) or isinstance(generation, bool) or not isinstance(generation, int):
        raise SpecError(
            "metadata.uid must be a string and metadata.generation an integer",
            source=source,
            resource=resource,
            field="metadata",
        )
    return Identity(kind=kind, namespace=namespace, name=str(name), uid=uid, generation=generation)


def parse_resource(doc: Mapping[str, Any], source: str = "") -> Resource:
    """Validate one CloudMapNamespace or ServiceDiscovery object and return it typed."""
    kind = doc.get("kind")
    if doc.get("apiVersion") != API_VERSION or kind not in KINDS:
        raise SpecError(
            f"not a {API_VERSION} object: apiVersion {doc.get('apiVersion')!r}, kind {kind!r}"
            f" (known kinds: {', '.join(KINDS)})",
            source=source,
            resource=str(kind or "?"),
            field="kind" if doc.get("apiVersion") == API_VERSION else "apiVersion",
        )
    assert isinstance(kind, str)
    identity = _identity(doc, kind, source)
    schema = KINDS[kind]
    try:
        if doc.get("spec") is None:
            raise _Invalid("spec", "Required value")
        spec = _validate(schema.spec, doc["spec"], "spec")
        _check_rules(schema.rules, {"metadata": {"name": identity.name}, "spec": spec}, "")
    except _Invalid as exc:
        raise SpecError(exc.message, source=source, resource=identity.key, field=exc.path) from None
    typed = (
        _namespace_spec(spec) if kind == KIND_NAMESPACE else _discovery_spec(spec, identity.name)
    )
    return Resource(identity=identity, spec=typed, source=source)


class _DuplicateKey(yaml.YAMLError):
    """A mapping names a key twice; kubectl (sigs.k8s.io/yaml) refuses such a document."""


class _Loader(yaml.SafeLoader):
    """YAML as kubectl reads it: timestamps stay strings (sigs.k8s.io/yaml has no timestamps),
    and a key given twice in one mapping is an error, not "the last one wins"."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *anchor` may be overridden by the keys beside it
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:
                continue  # unhashable: SafeConstructor reports it
            if duplicate:
                mark = key_node.start_mark
                raise _DuplicateKey(
                    f"duplicate key {key!r} (line {mark.line + 1}, column {mark.column + 1}):"
                    " each key may appear once in a mapping"
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


STDIN = "-"


def _files(paths: Sequence[str]) -> Iterator[Path | None]:
    """The files to read, each once (None: standard input), in the order given."""
    seen: set[Path | None] = set()
    for raw in paths:
        if raw == STDIN:
            found: Sequence[Path | None] = [None]
        else:
            path = Path(raw)
            if path.is_dir():
                found = sorted(
                    p for p in path.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml")
                )
            elif path.is_file():
                found = [path]
            else:
                raise SpecError("no such file or directory", source=raw)
        for file in found:
            key = None if file is None else file.resolve()
            if key not in seen:
                seen.add(key)
                yield file


def _read(file: Path | None) -> tuple[str, str]:
    """(source name, text) of a file or of standard input."""
    if file is None:
        return "<stdin>", sys.stdin.read()
    try:
        return str(file), file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"invalid YAML: {exc}", source=str(file)) from None


def _objects(doc: object, source: str) -> Iterator[tuple[Mapping[str, Any], str]]:
    if doc is None:
        return
    if not isinstance(doc, Mapping):
        raise SpecError(f"not a Kubernetes object but a YAML {_type_name(doc)}", source=source)
    if doc.get("apiVersion") == "v1" and doc.get("kind") == "List":
        for i, item in enumerate(doc.get("items") or ()):
            yield from _objects(item, f"{source}.items[{i}]")
        return
    yield doc, source


def _ours(doc: Mapping[str, Any], source: str) -> bool:
    api_version = doc.get("apiVersion")
    group = api_version.rpartition("/")[0] if isinstance(api_version, str) else None
    if group == GROUP:
        return True
    if api_version is None and doc.get("kind") in KINDS:
        raise SpecError(
            f"apiVersion is required (kind {doc.get('kind')} is {API_VERSION})",
            source=source,
            field="apiVersion",
        )
    return False


# The namespace type decides what a service in it may declare; the operator's plan refuses the
# same for namespaces outside the set, in the same words (reconcile/plan.py).
HTTP_NAMESPACE_DNS = (
    "the namespace is an Http namespace, which has no DNS records: remove service.dns "
    "or use a DnsPrivate or DnsPublic namespace"
)
ROUTE53_NEEDS_PUBLIC = (
    "Route 53 health checks work only in DnsPublic namespaces: use healthCheck.custom"
)


def _check_against_namespace(
    res: Resource, spec: ServiceDiscoverySpec, namespace: NamespaceSpec
) -> None:
    service = spec.service
    if service is None:
        return
    if namespace.type is NamespaceType.HTTP and service.dns is not None:
        raise SpecError(
            HTTP_NAMESPACE_DNS,
            source=res.source,
            resource=res.identity.key,
            field="spec.service.dns",
        )
    check = service.health_check
    if (
        check is not None
        and check.route53 is not None
        and namespace.type is not NamespaceType.DNS_PUBLIC
    ):
        raise SpecError(
            ROUTE53_NEEDS_PUBLIC,
            source=res.source,
            resource=res.identity.key,
            field="spec.service.healthCheck.route53",
        )


def load_manifests(paths: Sequence[str]) -> list[Resource]:
    """Every CloudMapNamespace and ServiceDiscovery in the files and directories given.

    Directories are read recursively (*.yaml, *.yml, sorted); objects of other API groups are
    skipped; "-" is standard input; a file named twice (also through a directory) is read
    once. Duplicate resources, duplicate keys in a YAML mapping, namespaceRefs to
    CloudMapNamespaces not in the set, and services the referenced namespace's type cannot hold
    are errors. Namespaces come first, each kind in the order read.
    """
    resources: list[Resource] = []
    seen: dict[str, str] = {}
    for file in _files(paths):
        name, text = _read(file)
        try:
            docs = list(yaml.load_all(text, Loader=_Loader))
        except _DuplicateKey as exc:
            raise SpecError(str(exc), source=name) from None
        except yaml.YAMLError as exc:
            raise SpecError(f"invalid YAML: {exc}", source=name) from None
        for index, doc in enumerate(docs):
            for obj, source in _objects(doc, f"{name}#{index}"):
                if not _ours(obj, source):
                    continue
                res = parse_resource(obj, source)
                key = res.identity.key
                if key in seen:
                    raise SpecError(
                        f"duplicate resource: also defined in {seen[key]}",
                        source=source,
                        resource=key,
                    )
                seen[key] = source
                resources.append(res)
    namespaces = {r.identity.key: r.spec for r in resources if isinstance(r.spec, NamespaceSpec)}
    for res in resources:
        spec = res.spec
        if isinstance(spec, ServiceDiscoverySpec) and spec.namespace_ref is not None:
            ref = Identity(KIND_NAMESPACE, res.identity.namespace, spec.namespace_ref).key
            if ref not in seen:
                raise SpecError(
                    f"missing reference: CloudMapNamespace {spec.namespace_ref!r} in namespace"
                    f" {res.identity.namespace!r} is not among the manifests given",
                    source=res.source,
                    resource=res.identity.key,
                    field="spec.namespaceRef.name",
                )
            _check_against_namespace(res, spec, namespaces[ref])
    return sorted(resources, key=lambda r: r.identity.kind != KIND_NAMESPACE)
