"""Namespaces another AWS account shares with ours through AWS RAM (docs/tenancy.md, "Shared
namespaces"): what AWS would refuse, refused by the plan first, naming the cause; and whose
things in them are ours.

Pure. The namespace is the owner's: nothing here, nor anywhere in the plan, writes to it (a
ServiceDiscovery's spec.cloudMapNamespace is read, never changed). What our account makes in it
is ours only by AWS's word (ResourceOwner, CreatedByAccount), not by who asks.
"""

from __future__ import annotations

from sd_operator.model import arns
from sd_operator.model.actions import Plan, Refusal
from sd_operator.model.observed import DiscoveryObservation, ObservedNamespace, is_foreign
from sd_operator.model.reasons import (
    REASON_NAMESPACE_REGION,
    SHARE_PERMISSION_MISSING,
    VPC_NOT_ASSOCIATED,
)
from sd_operator.model.spec import NamespaceType, ServiceDiscoverySpec

# The AWS-managed RAM permission a share needs before ECS Service Connect may use the namespace
# from the consumer's account (docs/aws-facts.md, "Shared namespaces").
SERVICE_CONNECT_PERMISSION = "AWSRAMPermissionCloudMapECSFullPermission"
FIELD = "cloudMapNamespace.name"


def shared_namespace_plan(spec: ServiceDiscoverySpec, seen: DiscoveryObservation) -> Plan:
    """The refusals of a ServiceDiscovery whose namespace is addressed by ARN: another Region
    than the resource's; for a namespace another account owns, a share without the permission
    Service Connect needs, and a private namespace our VPC cannot resolve. An empty plan when
    AWS would take it (or it is not addressed by ARN)."""
    external = spec.cloud_map_namespace
    arn = external.arn if external is not None else None
    if arn is None:
        return Plan()
    region = arns.region(arn)
    if region is not None and region != seen.region:
        return Plan(
            refusal=Refusal(
                REASON_NAMESPACE_REGION,
                FIELD,
                f"namespace {arn} is in {region}, this resource in {seen.region}: AWS uses a "
                "shared namespace only from its own Region; set spec.region to "
                f"{region}, or use a namespace shared in {seen.region}",
            )
        )
    ns = seen.namespace
    if ns is None or seen.share is None or not is_foreign(ns.owner_account, seen.account):
        return Plan()
    return _permission_plan(spec, ns, seen).then(_vpc_plan(spec, ns, seen))


def _permission_plan(
    spec: ServiceDiscoverySpec, ns: ObservedNamespace, seen: DiscoveryObservation
) -> Plan:
    sc = spec.ecs.service_connect if spec.ecs is not None else None
    if sc is None or not sc.enabled or seen.share is None:
        return Plan()
    held = seen.share.permissions
    if held is None:
        return Plan(
            advisories=(
                f"{FIELD}: cannot tell whether the share of {ns.arn} carries "
                f"{SERVICE_CONNECT_PERMISSION} (RAM did not answer); ECS refuses Service "
                "Connect without it",
            )
        )
    if SERVICE_CONNECT_PERMISSION in held:
        return Plan()
    return Plan(
        refusal=Refusal(
            SHARE_PERMISSION_MISSING,
            "ecs.serviceConnect",
            f"account {ns.owner_account} shares namespace {ns.name} ({ns.arn}) with permissions "
            f"{sorted(held) or 'none'}, not {SERVICE_CONNECT_PERMISSION}, which ECS Service "
            'Connect needs: the owner adds it to the share (docs/tenancy.md, "Shared namespaces")',
        )
    )


def _vpc_plan(
    spec: ServiceDiscoverySpec, ns: ObservedNamespace, seen: DiscoveryObservation
) -> Plan:
    if ns.type is not NamespaceType.DNS_PRIVATE or seen.share is None:
        return Plan()
    vpc = spec.cloud_map_namespace.vpc if spec.cloud_map_namespace is not None else None
    owner = f"account {ns.owner_account}'s private namespace {ns.name} ({ns.arn})"
    if vpc is None:
        return Plan(
            refusal=Refusal(
                VPC_NOT_ASSOCIATED,
                "cloudMapNamespace.vpc",
                f"{owner} resolves only in the VPCs associated with its hosted zone: name the VPC "
                "of this account whose tasks use it in spec.cloudMapNamespace.vpc",
            )
        )
    associated = seen.share.vpc_associated
    if associated is None:
        return Plan(
            advisories=(
                f"cloudMapNamespace.vpc: cannot tell whether {vpc} is associated with "
                f"{owner}'s hosted zone (Route 53 did not answer)",
            )
        )
    if associated:
        return Plan()
    return Plan(
        refusal=Refusal(
            VPC_NOT_ASSOCIATED,
            "cloudMapNamespace.vpc",
            f"{vpc} is not associated with the hosted zone {ns.hosted_zone_id} of {owner}: "
            f"the owner authorizes it (route53 create-vpc-association-authorization), then this "
            f"account associates it (route53 associate-vpc-with-hosted-zone)",
        )
    )
