"""The CLI's access to a Kubernetes cluster (current kubeconfig, or the pod's service account):
read the custom resources the operator manages, and ask it to refresh one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sd_operator.model.spec import (
    GROUP,
    KIND_DISCOVERY,
    KIND_NAMESPACE,
    PLURAL_DISCOVERY,
    PLURAL_NAMESPACE,
    REFRESH_ANNOTATION,
    VERSION,
)

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


class KubeError(Exception):
    """The cluster could not be reached or refused a request: one line for the user."""


@dataclass(frozen=True)
class Cluster:
    api: Any  # kubernetes.client.CustomObjectsApi
    apps: Any  # kubernetes.client.AppsV1Api
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
    return Cluster(loaded.custom, loaded.apps, namespace)


def _failed(what: str, exc: Exception) -> KubeError:
    status = getattr(exc, "status", None)
    reason = getattr(exc, "reason", None) or str(exc)
    return KubeError(f"{what}: {f'HTTP {status} ' if status else ''}{reason}".strip())


def list_resources(cluster: Cluster, namespace: str | None) -> list[dict[str, Any]]:
    """Every CloudMapNamespace, then every ServiceDiscovery, of `namespace` (None: all)."""
    items: list[dict[str, Any]] = []
    for kind in (KIND_NAMESPACE, KIND_DISCOVERY):
        plural = PLURALS[kind]
        try:
            if namespace is None:
                found = cluster.api.list_cluster_custom_object(GROUP, VERSION, plural)
            else:
                found = cluster.api.list_namespaced_custom_object(GROUP, VERSION, namespace, plural)
        except Exception as exc:  # the client raises ApiException, urllib3 and socket errors
            raise _failed(f"listing {plural}", exc) from exc
        items += [{"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, **i} for i in found["items"]]
    return items


def operator_cluster_names(cluster: Cluster) -> dict[str, str]:
    """`namespace/name` -> --cluster-name of each sd-operator Deployment (the Helm chart's
    app.kubernetes.io/name label): flag, then SD_OPERATOR_CLUSTER_NAME, then the default."""
    try:
        found = cluster.apps.list_deployment_for_all_namespaces(
            label_selector="app.kubernetes.io/name=sd-operator"
        )
    except Exception as exc:
        raise _failed("listing the operator's Deployments", exc) from exc
    names: dict[str, str] = {}
    for deployment in found.items:
        for container in deployment.spec.template.spec.containers or []:
            name = _cluster_name_of([*(container.command or []), *(container.args or [])])
            if name is None:
                env = {e.name: e.value for e in container.env or [] if e.value is not None}
                name = env.get("SD_OPERATOR_CLUSTER_NAME")
            if name is not None or "run" in (container.args or []):
                key = f"{deployment.metadata.namespace}/{deployment.metadata.name}"
                names[key] = name or "default"
    return names


def _cluster_name_of(argv: Sequence[str]) -> str | None:
    for i, arg in enumerate(argv):
        if arg.startswith("--cluster-name="):
            return arg.split("=", 1)[1]
        if arg == "--cluster-name" and i + 1 < len(argv):
            return argv[i + 1]
    return None


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def request_refresh(cluster: Cluster, kind: str, namespace: str, name: str, value: str) -> None:
    """Set the refresh annotation: the operator observes and reconciles the resource now."""
    body = {"metadata": {"annotations": {REFRESH_ANNOTATION: value}}}
    try:
        cluster.api.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURALS[kind], name, body
        )
    except Exception as exc:
        raise _failed(f"annotating {PLURALS[kind]} {namespace}/{name}", exc) from exc


def names_in(cluster: Cluster, kind: str, namespace: str | None) -> list[tuple[str, str]]:
    """(namespace, name) of every resource of `kind` in `namespace` (None: all)."""
    items = [i for i in list_resources(cluster, namespace) if i["kind"] == kind]
    return [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in items]


def refresh_honoured(
    cluster: Cluster, kind: str, namespace: str, name: str, value: str
) -> str | None:
    """status.refresh.honouredAt when the operator honoured `value`, else None."""
    try:
        obj = cluster.api.get_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURALS[kind], name
        )
    except Exception as exc:
        raise _failed(f"reading {PLURALS[kind]} {namespace}/{name}", exc) from exc
    refresh = (obj.get("status") or {}).get("refresh") or {}
    return refresh.get("honouredAt") if refresh.get("requestedAt") == value else None
