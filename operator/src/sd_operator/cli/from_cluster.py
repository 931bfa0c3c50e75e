"""`plan --from-cluster`: the resources the operator manages, planned as the operator would."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sd_operator import kube
from sd_operator.cli.plan import PlanReport
from sd_operator.model.parse import SpecError, parse_resource
from sd_operator.model.reasons import REASON_OWNED_ELSEWHERE
from sd_operator.model.spec import Resource
from sd_operator.settings import cluster_id_given, cluster_name_given


@dataclass(frozen=True)
class FromCluster:
    resources: list[Resource]
    grants: list[tuple[Mapping[str, Any], str]] | None
    """The cluster's DiscoveryGrants and Namespaces (each with where it is from), which the
    operator judges the resources by; None when --grants was given or they cannot be read."""


def _from_cluster(args: argparse.Namespace, environ: Mapping[str, str]) -> FromCluster | None:
    """The resources the operator manages, parsed as it parses them, and the grants it judges
    them by unless --grants names others; the operator's --cluster-name and --cluster-id
    unless given (flags, or SD_OPERATOR_CLUSTER_NAME and SD_OPERATOR_CLUSTER_ID)."""
    from sd_operator import kube

    try:
        cluster = kube.connect(args.kubeconfig, args.context)
        namespace = None if args.all_namespaces else (args.namespace or cluster.namespace)
        items = kube.list_resources(cluster, namespace)
        if not cluster_name_given(args, environ):
            names = kube.operator_cluster_names(cluster)
            agreed, name = _agreed("--cluster-name", names)
            if not agreed:
                return None
            if name is not None:
                args.cluster_name = name
                where = ", ".join(sorted(names))
                print(f"using --cluster-name {name} of the operator ({where})", file=sys.stderr)
        if not cluster_id_given(args, environ):
            args.cluster_id = _operator_cluster_id(cluster)
            if args.cluster_id is None:
                return None
    except kube.KubeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    grants = None if args.grants else _cluster_grants(cluster)
    resources: list[Resource] = []
    for item in items:
        meta = item.get("metadata", {})
        source = f"cluster:{meta.get('namespace')}/{meta.get('name')}"
        try:
            parsed = parse_resource(item, source=source)
            resources.append(replace(parsed, status=item.get("status")))
        except SpecError as exc:
            print(f"warning: skipped {item['kind']} {source[8:]}: {exc}", file=sys.stderr)
    return FromCluster(resources, grants)


def _cluster_grants(cluster: kube.Cluster) -> list[tuple[Mapping[str, Any], str]] | None:
    """The cluster's grants and Namespaces; None, said on stderr, when this user may not list
    them (both are cluster-scoped; a team's Role usually reads only its namespace): the plan
    is then made without them, as the CLI's plans are without --grants."""
    try:
        objects = kube.list_grants(cluster)
    except kube.KubeError as exc:
        print(
            f"warning: the cluster's DiscoveryGrants were not read ({exc}): planned without "
            "them, so a resource they refuse shows as the operator would act without grants; "
            "--grants FILE checks against a file",
            file=sys.stderr,
        )
        return None
    return [(obj, f"cluster:{obj['kind']}/{obj['metadata']['name']}") for obj in objects]


def _agreed(flag: str, values: Mapping[str, str]) -> tuple[bool, str | None]:
    """The value of `flag` the operators' Deployments (name -> value) agree on, None when none
    sets it; (False, None) when they disagree, which is said on stderr."""
    distinct = sorted(set(values.values()))
    if len(distinct) > 1:
        listed = "; ".join(f"{k}: {v}" for k, v in sorted(values.items()))
        print(
            f"error: operators run with different {flag} values ({listed}): "
            f"pass {flag} to say which one to plan as",
            file=sys.stderr,
        )
        return False, None
    return True, (distinct[0] if distinct else None)


def _operator_cluster_id(cluster: kube.Cluster) -> str | None:
    """The --cluster-id the operator runs with: its Deployment's, else what it reads at start
    (the kube-system namespace's UID)."""
    ids = kube.operator_cluster_ids(cluster)
    agreed, found = _agreed("--cluster-id", ids)
    if not agreed:
        return None
    if found is not None:
        where = f"of the operator ({', '.join(sorted(ids))})"
    else:
        where = f"the UID of namespace {kube.ID_NAMESPACE}, as the operator reads it"
        found = kube.cluster_id(cluster)
    print(f"using --cluster-id {found}, {where}", file=sys.stderr)
    return found


def _hint_cluster_name(
    reports: Sequence[PlanReport], args: argparse.Namespace, environ: Mapping[str, str]
) -> None:
    """A plan made as --cluster-name default that finds resources owned elsewhere is most
    often a laptop planning against what an operator with its own --cluster-name manages."""
    owned = [
        r
        for r in reports
        if r.plan is not None
        and r.plan.blocked is not None
        and r.plan.blocked.reason == REASON_OWNED_ELSEWHERE
    ]
    if owned and not cluster_name_given(args, environ):
        print(
            f"hint: {len(owned)} resource(s) are OwnedElsewhere as seen with --cluster-name "
            "default. If the operator managing them runs with another --cluster-name, plan "
            "with the same: --cluster-name NAME (or SD_OPERATOR_CLUSTER_NAME), or use "
            "plan --from-cluster, which reads it from the operator's Deployment",
            file=sys.stderr,
        )
