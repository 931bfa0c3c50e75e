"""One owner per AWS resource: which resources claim the same thing, and which of them wins.

Three things can be claimed twice: an ECS service (account, region, cluster, service: two
resources would each start deployments of their own discovery config), an AWS Cloud Map namespace
name in an account and region, and a Cloud Map service in a namespace (a namespace named by ARN
is the same one from every account: RAM sharing). The CLI refuses a set holding two claimants of
one of them before any change; the operator lets the earliest resource (creationTimestamp, then
namespace/name) manage it and gives every later one a Conflict, changing nothing in AWS for it.

Pure: no I/O. Callers resolve each ServiceDiscovery's CloudMapNamespace (from the set, or from
the operator's index) and pass it in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sd_operator.model import arns
from sd_operator.model.spec import NamespaceSpec, Resource, ServiceDiscoverySpec


@dataclass(frozen=True)
class Claim:
    """`key` compares claims; `what` names the AWS resource for people."""

    key: tuple[str, ...]
    what: str


@dataclass(frozen=True)
class Clash:
    claim: Claim
    earlier: str
    later: str

    @property
    def message(self) -> str:
        return (
            f"{self.later} and {self.earlier} both manage {self.claim.what}; an AWS resource "
            f"has one owner, {self.earlier} (the earlier one): remove or change {self.later}"
        )


def label(res: Resource) -> str:
    return f"{res.identity.kind} {res.identity.namespace}/{res.identity.name}"


def _dns_name(name: str) -> str:
    """Cloud Map names are DNS names: case and a trailing dot do not make another one."""
    return name.lower().rstrip(".")


def coarse_keys(res: Resource) -> tuple[tuple[str, ...], ...]:
    """Keys that every two claimants of one thing share, knowing the resource alone (no region,
    no referenced namespace): the operator's index groups candidates by them."""
    spec = res.spec
    if isinstance(spec, NamespaceSpec):
        return (("namespace", _dns_name(spec.name)),)
    keys: list[tuple[str, ...]] = []
    if spec.service is not None:
        keys.append(("service", _dns_name(spec.service.name)))
    if spec.ecs is not None:
        keys.append(("ecs", arns.resource_id(spec.ecs.cluster), arns.resource_id(spec.ecs.service)))
    return tuple(keys)


def claims(
    res: Resource, namespace: NamespaceSpec | None, default_region: str, account: str = ""
) -> tuple[Claim, ...]:
    """What `res` manages in AWS. `namespace`: the CloudMapNamespace a ServiceDiscovery's
    namespaceRef names (None when it has none, or it is not known: then its service claims
    nothing yet, as the operator would not create it either). `account`: the 12-digit AWS account
    `res` acts in (its grant's role's, or the operator's own: the same number either way, or
    two resources of one account would not clash); "" where every resource compared acts in
    one account (the CLI's set). Names are per account."""
    spec = res.spec
    where = f" (account {account})" if account else ""
    if isinstance(spec, NamespaceSpec):
        region = spec.region or default_region
        name = _dns_name(spec.name)
        return (
            Claim(
                ("namespace", account, region, name),
                f"Cloud Map namespace {name} in {region}{where}",
            ),
        )
    assert isinstance(spec, ServiceDiscoverySpec)
    if spec.cloud_map_namespace is not None:
        ns_name: str | None = spec.cloud_map_namespace.name
        region = spec.region or default_region
    elif namespace is not None:
        ns_name, region = namespace.name, namespace.region or spec.region or default_region
    else:
        ns_name, region = None, spec.region or default_region
    out: list[Claim] = []
    if spec.service is not None and ns_name is not None:
        ns, name = _dns_name(ns_name), _dns_name(spec.service.name)
        # A shared namespace's ARN names it in its owner's account, whoever uses it.
        ns_account = "" if arns.parse(ns_name) is not None else account
        out.append(
            Claim(
                ("service", ns_account, region, ns, name),
                f"Cloud Map service {name} in namespace {ns} ({region}){where}",
            )
        )
    if spec.ecs is not None:
        cluster, service = arns.resource_id(spec.ecs.cluster), arns.resource_id(spec.ecs.service)
        out.append(
            Claim(
                ("ecs", account, region, cluster, service),
                f"ECS service {service} in cluster {cluster} ({region}){where}",
            )
        )
    return tuple(out)


def clashes(ordered: Iterable[tuple[str, Sequence[Claim]]]) -> list[Clash]:
    """(label, claims) in precedence order, earliest first: every claim someone earlier holds,
    with who holds it. A resource is reported once per claim it loses."""
    holders: dict[tuple[str, ...], str] = {}
    found: list[Clash] = []
    for name, held in ordered:
        for claim in dict.fromkeys(held):
            earlier = holders.setdefault(claim.key, name)
            if earlier != name:
                found.append(Clash(claim, earlier, name))
    return found
