"""The only place the product builds Kubernetes API clients (an import-linter contract holds
it): on the default configuration, which kopf's login sets in the operator and
`sd_operator.kube.connect` loads for the CLI. The package's __init__ stays free of this import:
the kubernetes client takes most of a second to import, and `plan` never needs it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubernetes import client  # type: ignore[import-untyped]
from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped]

__all__ = ["ApiException", "Apis", "apis"]


@dataclass(frozen=True)
class Apis:
    """The API groups the product uses, sharing one connection pool."""

    client: Any  # kubernetes.client.ApiClient: (de)serialisation
    custom: Any  # CustomObjectsApi: our custom resources, kopf's peering objects
    core: Any  # CoreV1Api: Services, Events
    discovery: Any  # DiscoveryV1Api: EndpointSlices
    apps: Any  # AppsV1Api: the operator's own Deployments


def apis() -> Apis:
    api = client.ApiClient()
    return Apis(
        api,
        client.CustomObjectsApi(api),
        client.CoreV1Api(api),
        client.DiscoveryV1Api(api),
        client.AppsV1Api(api),
    )
