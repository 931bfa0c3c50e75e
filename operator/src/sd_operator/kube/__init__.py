"""The CLI's access to a Kubernetes cluster (current kubeconfig, or the pod's service account):
read the custom resources the operator manages, ask it to refresh one, pause or resume one; and
the cluster's id, which the operator reads at start too."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from sd_operator.model.spec import (
    GROUP,
    KIND_DISCOVERY,
    KIND_GRANT,
    KIND_NAMESPACE,
    PAUSED_ANNOTATION,
    PLURAL_DISCOVERY,
    PLURAL_GRANT,
    PLURAL_NAMESPACE,
    REFRESH_ANNOTATION,
    VERSION,
)
from sd_operator.model.status import DiscoveryStatus, status_from_wire

# What `kubectl` accepts for our kinds: plural, singular, kind and the CRDs' shortNames.
KIND_NAMES = {
    **dict.fromkeys(
        ("servicediscoveries", "servicediscovery", "sd", "ServiceDiscovery"), KIND_DISCOVERY
    ),
    **dict.fromkeys(
        ("cloudmapnamespaces", "cloudmapnamespace", "cmns", "CloudMapNamespace"), KIND_NAMESPACE
    ),
}
PLURALS = {KIND_DISCOVERY: PLURAL_DISCOVERY, KIND_NAMESPACE: PLURAL_NAMESPACE}

T = TypeVar("T")


class KubeError(Exception):
    """The cluster could not be reached or refused a request: one line for the user."""


@dataclass(frozen=True)
class Cluster:
    api: Any  # kubernetes.client.CustomObjectsApi
    apps: Any  # kubernetes.client.AppsV1Api
    core: Any  # kubernetes.client.CoreV1Api
    namespace: str  # the kubeconfig context's namespace


def connect(kubeconfig: str | None = None, context: str | None = None) -> Cluster:
    from kubernetes import config  # type: ignore[import-untyped]

    from sd_operator.kube.client import apis

    try:
        try:
            config.load_kube_config(config_file=kubeconfig, context=context)
            _, active = config.list_kube_config_contexts(config_file=kubeconfig)
            namespace = (active or {}).get("context", {}).get("namespace") or "default"
        except config.ConfigException:
            if kubeconfig or context:
                raise
            config.load_incluster_config()
            namespace = "default"
    except (config.ConfigException, OSError) as exc:
        raise KubeError(f"no Kubernetes cluster configured: {exc}") from exc
    loaded = apis()
    return Cluster(loaded.custom, loaded.apps, loaded.core, namespace)


def _call(what: str, fn: Callable[[], T]) -> T:
    """`fn()`, a Kubernetes API call: any failure leaves it as one KubeError line saying
    `what` was being done (the client raises ApiException, urllib3 and socket errors)."""
    try:
        return fn()
    except Exception as exc:
        status = getattr(exc, "status", None)
        reason = getattr(exc, "reason", None) or str(exc)
        raise KubeError(f"{what}: {f'HTTP {status} ' if status else ''}{reason}".strip()) from exc


def list_resources(cluster: Cluster, namespace: str | None) -> list[dict[str, Any]]:
    """Every CloudMapNamespace, then every ServiceDiscovery, of `namespace` (None: all)."""
    items: list[dict[str, Any]] = []
    for kind in (KIND_NAMESPACE, KIND_DISCOVERY):
        plural = PLURALS[kind]
        api = cluster.api
        listing = (
            partial(api.list_cluster_custom_object, GROUP, VERSION, plural)
            if namespace is None
            else partial(api.list_namespaced_custom_object, GROUP, VERSION, namespace, plural)
        )
        found = _call(f"listing {plural}", listing)
        items += [{"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, **i} for i in found["items"]]
    return items


def list_grants(cluster: Cluster) -> list[dict[str, Any]]:
    """Every DiscoveryGrant, and every Namespace (for its labels): what the operator judges
    resources by (docs/tenancy.md). Both are cluster-scoped: a user who may list neither gets
    a KubeError."""
    api_version = f"{GROUP}/{VERSION}"
    grants = _call(
        f"listing {PLURAL_GRANT}",
        partial(cluster.api.list_cluster_custom_object, GROUP, VERSION, PLURAL_GRANT),
    )
    namespaces = _call("listing namespaces", cluster.core.list_namespace)
    found = [{"apiVersion": api_version, "kind": KIND_GRANT, **g} for g in grants["items"]]
    for ns in namespaces.items:
        meta = {"name": ns.metadata.name, "labels": ns.metadata.labels or {}}
        found.append({"apiVersion": "v1", "kind": "Namespace", "metadata": meta})
    return found


# Every cluster has it, and its UID is set when the cluster is made and never changes: an id no
# other cluster has, which a restore from an etcd backup keeps.
ID_NAMESPACE = "kube-system"


def cluster_id(cluster: Cluster) -> str:
    """The cluster's id: the UID of its kube-system namespace."""
    found = _call(
        f"reading namespace {ID_NAMESPACE} (the cluster's id)",
        lambda: cluster.core.read_namespace(ID_NAMESPACE),
    )
    return str(found.metadata.uid)


def operator_cluster_ids(cluster: Cluster) -> dict[str, str]:
    """`namespace/name` -> --cluster-id of each sd-operator Deployment that sets one (flag,
    then SD_OPERATOR_CLUSTER_ID); the others read kube-system's UID (`cluster_id`)."""
    return _operator_flags(cluster, "--cluster-id", "SD_OPERATOR_CLUSTER_ID", None)


def operator_cluster_names(cluster: Cluster) -> dict[str, str]:
    """`namespace/name` -> --cluster-name of each sd-operator Deployment (the Helm chart's
    app.kubernetes.io/name label): flag, then SD_OPERATOR_CLUSTER_NAME, then the default."""
    return _operator_flags(cluster, "--cluster-name", "SD_OPERATOR_CLUSTER_NAME", "default")


def _operator_flags(
    cluster: Cluster, flag: str, env_name: str, default: str | None
) -> dict[str, str]:
    found = _call(
        "listing the operator's Deployments",
        lambda: cluster.apps.list_deployment_for_all_namespaces(
            label_selector="app.kubernetes.io/name=sd-operator"
        ),
    )
    values: dict[str, str] = {}
    for deployment in found.items:
        for container in deployment.spec.template.spec.containers or []:
            value = _flag_of([*(container.command or []), *(container.args or [])], flag)
            if value is None:
                env = {e.name: e.value for e in container.env or [] if e.value is not None}
                value = env.get(env_name)
            found_value = value or default
            if (value is not None or "run" in (container.args or [])) and found_value:
                values[f"{deployment.metadata.namespace}/{deployment.metadata.name}"] = found_value
    return values


def _flag_of(argv: Sequence[str], flag: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg.startswith(f"{flag}="):
            return arg.split("=", 1)[1]
        if arg == flag and i + 1 < len(argv):
            return argv[i + 1]
    return None


def request_refresh(cluster: Cluster, kind: str, namespace: str, name: str, value: str) -> None:
    """Set the refresh annotation: the operator observes and reconciles the resource now."""
    _annotate(cluster, kind, namespace, name, REFRESH_ANNOTATION, value)


def set_paused(cluster: Cluster, kind: str, namespace: str, name: str, paused: bool) -> None:
    """Set the pause annotation (the operator makes no AWS call for the resource), or remove it
    (it reconciles again)."""
    _annotate(cluster, kind, namespace, name, PAUSED_ANNOTATION, "true" if paused else None)


def _annotate(
    cluster: Cluster, kind: str, namespace: str, name: str, key: str, value: str | None
) -> None:
    """A merge patch of one annotation; None removes it."""
    body = {"metadata": {"annotations": {key: value}}}
    _call(
        f"annotating {PLURALS[kind]} {namespace}/{name}",
        lambda: cluster.api.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURALS[kind], name, body
        ),
    )


def names_in(cluster: Cluster, kind: str, namespace: str | None) -> list[tuple[str, str]]:
    """(namespace, name) of every resource of `kind` in `namespace` (None: all)."""
    items = [i for i in list_resources(cluster, namespace) if i["kind"] == kind]
    return [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in items]


def refresh_honoured(
    cluster: Cluster, kind: str, namespace: str, name: str, value: str
) -> str | None:
    """status.refresh.honouredAt when the operator honoured `value`, else None."""
    obj = _call(
        f"reading {PLURALS[kind]} {namespace}/{name}",
        lambda: cluster.api.get_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURALS[kind], name
        ),
    )
    refresh = status_from_wire(obj.get("status"), DiscoveryStatus).refresh
    return refresh.honoured_at if refresh and refresh.requested_at == value else None
