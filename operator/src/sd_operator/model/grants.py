"""DiscoveryGrant: what the resources of some Kubernetes namespaces may make sd-operator touch in
AWS, and the one decision made from it (docs/tenancy.md).

Pure: the grants and the Kubernetes namespace's labels are handed in (by the operator's watches,
or the CLI's --grants file). A resource is allowed when any grant selecting its namespace allows
everything it declares; otherwise the refusal names the grants and the first field none of
them allows. Nothing here knows what exists in AWS: a grant is about names, and is checked
before anything is read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import Any

from sd_operator.model import arns
from sd_operator.model.arns import is_arn
from sd_operator.model.spec import (
    AdoptionPolicy,
    DeletionPolicy,
    NamespaceSpec,
    Resource,
    ServiceDiscoverySpec,
    resource_region,
)

# In any list of names (not a DNS suffix, not an ECS pattern, which match `*` anyway): any value.
ANY = "*"


@dataclass(frozen=True)
class Requirement:
    """One matchExpressions entry of a label selector."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        match self.operator:
            case "In":
                return labels.get(self.key) in self.values
            case "NotIn":
                return labels.get(self.key) not in self.values
            case "Exists":
                return self.key in labels
            case _:  # DoesNotExist, the CRD's last choice
                return self.key not in labels


@dataclass(frozen=True)
class Selection:
    """spec.namespaces: namespaces by name, and by a label selector (None: no selector)."""

    names: tuple[str, ...] = ()
    match_labels: Mapping[str, str] | None = None
    match_expressions: tuple[Requirement, ...] = ()

    def selects(self, namespace: str, labels: Mapping[str, str]) -> bool:
        if namespace in self.names:
            return True
        if self.match_labels is None:
            return False
        return all(labels.get(k) == v for k, v in self.match_labels.items()) and all(
            r.matches(labels) for r in self.match_expressions
        )


@dataclass(frozen=True)
class CreateRule:
    names: tuple[str, ...] = ()
    dns_suffixes: tuple[str, ...] = ()
    vpcs: tuple[str, ...] = ()

    def names_allow(self, name: str) -> bool:
        name = name.rstrip(".").lower()
        names = {n.rstrip(".").lower() for n in self.names}
        return (
            ANY in names
            or name in names
            or any(
                name == s or name.endswith(f".{s}")
                for s in (x.strip(".").lower() for x in self.dns_suffixes)
            )
        )


@dataclass(frozen=True)
class EcsRule:
    cluster: str
    services: tuple[str, ...] = ()

    def allows(self, cluster: str, service: str) -> bool:
        return fnmatchcase(cluster, self.cluster) and any(
            fnmatchcase(service, p) for p in self.services
        )

    def __str__(self) -> str:
        return f"{self.cluster}/{{{','.join(self.services)}}}"


DEFAULT_SESSION_NAME = "sd-operator"
OWN_CREDENTIALS = "the operator's own credentials"


@dataclass(frozen=True)
class Role:
    """spec.aws: the IAM role a grant's namespaces act through, assumed with the operator's own
    identity. Hashable: the AWS sessions and API budgets are kept per role."""

    arn: str
    external_id: str | None = None
    session_name: str = DEFAULT_SESSION_NAME

    @property
    def account(self) -> str:
        """The 12-digit account the role, and so everything done through it, lives in."""
        parsed = arns.parse(self.arn)
        if parsed is None or not parsed.account:
            raise ValueError(f"{self.arn!r} is not an IAM role ARN")
        return parsed.account

    def __str__(self) -> str:
        return self.arn


# As the CRD's spec.aws.roleArn pattern: the CLI's --role-arn is checked the same way.
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$")


def role_denial(role: Role) -> str | None:
    """Why `role` cannot be a role to assume, or None."""
    if not ROLE_ARN.match(role.arn):
        return "not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
    return None


@dataclass(frozen=True)
class Grant:
    """One DiscoveryGrant's spec. `export` / `import_from`: None when not allowed at all.
    `role`: None for the operator's own credentials."""

    name: str
    namespaces: Selection
    regions: tuple[str, ...] = ()
    create: CreateRule = field(default_factory=CreateRule)
    use: tuple[str, ...] = ()
    adopt: tuple[str, ...] = ()
    ecs: tuple[EcsRule, ...] = ()
    export: tuple[str, ...] | None = None
    import_from: tuple[str, ...] | None = None
    deletion_policy: DeletionPolicy | None = None
    role: Role | None = None


@dataclass(frozen=True)
class NotGranted:
    """A resource outside its grants: the first spec field none of them allows, and why."""

    field: str
    message: str


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value or ())


def parse_grant(doc: Mapping[str, Any]) -> Grant:
    """A DiscoveryGrant object (already valid against its CRD) as a Grant."""
    spec = doc.get("spec") or {}
    selected = spec.get("namespaces") or {}
    selector = selected.get("selector")
    expressions = tuple(
        Requirement(e["key"], e["operator"], _strings(e.get("values")))
        for e in (selector or {}).get("matchExpressions") or ()
    )
    maps = spec.get("cloudMapNamespaces") or {}
    create = maps.get("create") or {}
    export, import_ = spec.get("export"), spec.get("import")
    policy = spec.get("deletionPolicy")
    aws = spec.get("aws")
    return Grant(
        name=str(doc["metadata"]["name"]),
        namespaces=Selection(
            names=_strings(selected.get("names")),
            match_labels=None if selector is None else dict(selector.get("matchLabels") or {}),
            match_expressions=expressions,
        ),
        regions=_strings(spec.get("regions")),
        create=CreateRule(
            _strings(create.get("names")),
            _strings(create.get("dnsSuffixes")),
            _strings(create.get("vpcs")),
        ),
        use=_strings(maps.get("use")),
        adopt=_strings(maps.get("adopt")),
        ecs=tuple(
            EcsRule(str(e["cluster"]), _strings(e.get("services"))) for e in spec.get("ecs") or ()
        ),
        export=None if export is None else _strings(export.get("cloudMapNamespaces")),
        import_from=None if import_ is None else _strings(import_.get("cloudMapNamespaces")),
        deletion_policy=None if policy is None else DeletionPolicy(policy),
        role=None if aws is None else parse_role(aws),
    )


def parse_role(aws: Mapping[str, Any]) -> Role:
    """spec.aws (or the CLI's --role-arn, --external-id) as a Role."""
    external = aws.get("externalId")
    return Role(
        str(aws["roleArn"]),
        None if external is None else str(external),
        str(aws.get("sessionName") or DEFAULT_SESSION_NAME),
    )


def selecting(
    grants: Iterable[Grant], namespace: str, labels: Mapping[str, str]
) -> tuple[Grant, ...]:
    """The grants that serve Kubernetes namespace `namespace` (with these labels)."""
    return tuple(g for g in grants if g.namespaces.selects(namespace, labels))


@dataclass(frozen=True)
class Acting:
    """The role a Kubernetes namespace's resources act through (None: the operator's own)."""

    role: Role | None


def acting_role(
    grants: Iterable[Grant], namespace: str, labels: Mapping[str, str]
) -> Acting | NotGranted:
    """The one role of every grant selecting `namespace`, or why there is none. Grants that
    name different roles (or one a role and one none) are refused as ambiguous rather than one
    chosen: which account a resource lives in must not depend on which grant allows it, or on
    the order grants were read in. Without a grant: the operator's own credentials (only a
    deletion gets this far, admit refuses everything else)."""
    serving = selecting(grants, namespace, labels)
    roles = {g.role for g in serving}
    if len(roles) <= 1:
        return Acting(next(iter(roles), None))
    named = ", ".join(
        f"DiscoveryGrant {g.name} ({g.role or OWN_CREDENTIALS})"
        for g in sorted(serving, key=lambda g: g.name)
    )
    return NotGranted(
        "metadata.namespace",
        f"the grants selecting Kubernetes namespace {namespace} name different AWS roles, "
        f"so the account to act in is ambiguous: {named}; make them name one role",
    )


def _listed(value: str, allowed: Sequence[str]) -> bool:
    return ANY in allowed or value in allowed


def _namespace_denial(grant: Grant, spec: NamespaceSpec) -> tuple[str, str] | None:
    if spec.adoption_policy is AdoptionPolicy.ADOPT:
        if not _listed(spec.name, grant.adopt):
            return "spec.name", f"may adopt Cloud Map namespaces {list(grant.adopt)}"
        return None
    if not grant.create.names_allow(spec.name):
        allowed = [*grant.create.names, *(f"*.{s}" for s in grant.create.dns_suffixes)]
        return "spec.name", f"may create Cloud Map namespaces {allowed}"
    if spec.vpc is not None and not _listed(spec.vpc, grant.create.vpcs):
        return "spec.vpc", f"may create namespaces in VPCs {list(grant.create.vpcs)}"
    return None


def _shared_listed(arn: str, allowed: Sequence[str]) -> bool:
    """A namespace another account shares (addressed by ARN) is allowed only by an ARN or ARN
    pattern naming it: `*` alone, written for this account's names, does not reach into
    another account."""
    return any(is_arn(a) and fnmatchcase(arn, a) for a in allowed)


def _usable(grant: Grant, name: str) -> bool:
    if is_arn(name):
        return _shared_listed(name, grant.use)
    return _listed(name, grant.use) or _listed(name, grant.adopt) or grant.create.names_allow(name)


def _namespace_listed(name: str, allowed: Sequence[str]) -> bool:
    """A Cloud Map namespace, by name or (shared) ARN, in an export or import list."""
    return _shared_listed(name, allowed) if is_arn(name) else _listed(name, allowed)


def _discovery_denial(
    grant: Grant, spec: ServiceDiscoverySpec, cloud_map_namespace: str | None
) -> tuple[str, str] | None:
    external = spec.cloud_map_namespace
    if external is not None and not _usable(grant, external.name):
        return "spec.cloudMapNamespace.name", f"may use Cloud Map namespaces {list(grant.use)}"
    ecs = spec.ecs
    if ecs is not None and not any(r.allows(ecs.cluster, ecs.service) for r in grant.ecs):
        return "spec.ecs.service", f"may manage ECS services {[str(r) for r in grant.ecs]}"
    if spec.endpoints is not None:
        if grant.export is None:
            return "spec.endpoints", "allows no export"
        if cloud_map_namespace is None or not _namespace_listed(cloud_map_namespace, grant.export):
            return "spec.endpoints", f"may export into Cloud Map namespaces {list(grant.export)}"
    return None


def _denial(
    grant: Grant, res: Resource, region: str, cloud_map_namespace: str | None
) -> tuple[str, str] | None:
    if not _listed(region, grant.regions):
        return "spec.region", f"allows regions {list(grant.regions)}"
    if isinstance(res.spec, NamespaceSpec):
        return _namespace_denial(grant, res.spec)
    return _discovery_denial(grant, res.spec, cloud_map_namespace)


def _declared(res: Resource, region: str, cloud_map_namespace: str | None) -> dict[str, str]:
    """What the resource declares at each field a refusal may name, as the refusal shows it."""
    spec = res.spec
    declared = {"spec.region": region}
    if isinstance(spec, NamespaceSpec):
        return {**declared, "spec.name": spec.name, "spec.vpc": spec.vpc or ""}
    if spec.ecs is not None:
        declared["spec.ecs.service"] = f"{spec.ecs.cluster}/{spec.ecs.service}"
    if spec.cloud_map_namespace is not None:
        declared["spec.cloudMapNamespace.name"] = spec.cloud_map_namespace.name
    declared["spec.endpoints"] = cloud_map_namespace or ""
    return declared


def admit(
    res: Resource,
    grants: Iterable[Grant],
    labels: Mapping[str, str],
    *,
    region: str,
    cloud_map_namespace: str | None = None,
) -> Resource | NotGranted:
    """`res` with its grants' default deletionPolicy, or why no grant allows it. `region`: the
    one it acts in; `cloud_map_namespace`: the name of the Cloud Map namespace a
    ServiceDiscovery's services are in (its CloudMapNamespace's, or spec.cloudMapNamespace)."""
    namespace = res.identity.namespace
    serving = selecting(grants, namespace, labels)
    if not serving:
        return NotGranted(
            "metadata.namespace",
            f"no DiscoveryGrant selects Kubernetes namespace {namespace}: nothing is allowed "
            "there until the platform team grants it (docs/tenancy.md)",
        )
    acting = acting_role(serving, namespace, labels)
    if isinstance(acting, NotGranted):
        return acting
    denials = {g.name: _denial(g, res, region, cloud_map_namespace) for g in serving}
    allowing = [g for g in serving if denials[g.name] is None]
    if allowing:
        return _with_default_policy(res, allowing)
    first = next(d for d in denials.values() if d is not None)[0]
    declared = _declared(res, region, cloud_map_namespace)[first]
    why = "; ".join(f"DiscoveryGrant {name} {d[1]}" for name, d in denials.items() if d)
    return NotGranted(first, f"{first} {declared!r} is not granted: {why}")


def check(
    res: Resource,
    namespace: NamespaceSpec | None,
    grants: Iterable[Grant],
    labels: Mapping[str, str],
    default_region: str,
) -> Resource | NotGranted:
    """`admit`, for a resource whose ServiceDiscovery's CloudMapNamespace is `namespace`: the
    operator and the CLI alike."""
    spec = res.spec
    cloud_map = None
    if isinstance(spec, ServiceDiscoverySpec):
        external = spec.cloud_map_namespace
        cloud_map = namespace.name if namespace else external.name if external else None
    region = resource_region(res, namespace) or default_region
    return admit(res, grants, labels, region=region, cloud_map_namespace=cloud_map)


def deletion_default(res: Resource, grants: Iterable[Grant], labels: Mapping[str, str]) -> Resource:
    """`res` with the default deletionPolicy of every grant serving its namespace: a delete is
    never refused (what the resource made is its to remove), only given the grants' default."""
    return _with_default_policy(res, selecting(grants, res.identity.namespace, labels))


def _with_default_policy(res: Resource, grants: Sequence[Grant]) -> Resource:
    """Retain wins: of two grants, keeping what exists is the one that cannot lose anything."""
    if res.spec.deletion_policy is not None:
        return res
    policies = {g.deletion_policy for g in grants} - {None}
    if not policies:
        return res
    policy = DeletionPolicy.RETAIN if DeletionPolicy.RETAIN in policies else DeletionPolicy.DELETE
    return replace(res, spec=replace(res.spec, deletion_policy=policy))


def import_denial(
    grants: Iterable[Grant], namespace: str, labels: Mapping[str, str], cloud_map_namespace: str
) -> str | None:
    """Why a CloudMapImport in `namespace` may not read `cloud_map_namespace`, or None."""
    serving = selecting(grants, namespace, labels)
    if not serving:
        return f"no DiscoveryGrant selects Kubernetes namespace {namespace} (docs/tenancy.md)"
    allowed = (g.import_from for g in serving if g.import_from is not None)
    if any(_namespace_listed(cloud_map_namespace, a) for a in allowed):
        return None
    why = "; ".join(f"DiscoveryGrant {g.name} {_imports(g)}" for g in serving)
    return f"importing from Cloud Map namespace {cloud_map_namespace!r} is not granted: {why}"


def _imports(grant: Grant) -> str:
    if grant.import_from is None:
        return "allows no import"
    return f"may import from {list(grant.import_from)}"
