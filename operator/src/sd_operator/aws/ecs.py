"""ECS adapter: an existing ECS service's discovery configuration in, one UpdateService out.

Only `serviceRegistries` and `serviceConnectConfiguration` are ever sent; never desiredCount
(autoscaling owns it), never a task definition.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from sd_operator.aws.errors import NotFound, Retryable, call
from sd_operator.model import arns
from sd_operator.model.actions import UpdateEcsService
from sd_operator.model.observed import (
    EcsUpdated,
    NamedPort,
    ObservedDeployment,
    ObservedEcsService,
    ObservedRegistry,
    ObservedServiceDeployment,
)
from sd_operator.model.spec import ServiceConnect
from sd_operator.model.status import ServiceConnectResource
from sd_operator.model.wire import decode, encode

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_ecs.type_defs import TagTypeDef

DESCRIBE_SERVICES_BATCH = 10  # DescribeServices: "up to 10 services ... in a single operation"
FAILURE_MISSING = "MISSING"
STATUS_INACTIVE = "INACTIVE"
DEPLOYMENT_PRIMARY = "PRIMARY"
# RegisterTaskDefinition.networkMode: "If no network mode is specified, the default is bridge."
DEFAULT_NETWORK_MODE = "bridge"


def _batches(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


# Reading ---------------------------------------------------------------------------------------


def _primary(items: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    return next((d for d in items if d.get("status") == DEPLOYMENT_PRIMARY), None)


def service_connect_from(raw: Mapping[str, Any] | None) -> ServiceConnect | None:
    """A deployment's serviceConnectConfiguration: absent or disabled is None (off)."""
    if not raw or not raw.get("enabled"):
        return None
    return decode(ServiceConnect, raw)


def _named_ports(task_definition: Mapping[str, Any]) -> dict[str, NamedPort]:
    ports: dict[str, NamedPort] = {}
    for container in task_definition.get("containerDefinitions", []):
        for mapping in container.get("portMappings", []):
            if mapping.get("name") and mapping.get("containerPort") is not None:
                ports[str(mapping["name"])] = NamedPort(
                    str(container["name"]),
                    int(mapping["containerPort"]),
                    mapping.get("appProtocol"),
                )
    return ports


def _deployment(raw: Mapping[str, Any]) -> ObservedDeployment:
    return ObservedDeployment(
        id=str(raw.get("id", "")),
        status=str(raw.get("status", "")),
        rollout_state=raw.get("rolloutState"),
        rollout_state_reason=raw.get("rolloutStateReason"),
        task_definition=raw.get("taskDefinition"),
    )


# Writing ---------------------------------------------------------------------------------------


def service_connect_request(sc: ServiceConnect | None) -> dict[str, Any]:
    """None disables Service Connect (UpdateService with `enabled: false`)."""
    if sc is None or not sc.enabled:
        return {"enabled": False}
    request: dict[str, Any] = encode(sc)
    return request


class EcsAdapter:
    """One region's ECS. Task definitions are cached by ARN: a revision never changes."""

    def __init__(self, client: ECSClient) -> None:
        self._client = client
        self._task_definitions: dict[str, tuple[str, dict[str, NamedPort]]] = {}

    def _task_definition(self, arn: str) -> tuple[str, dict[str, NamedPort]]:
        if arn not in self._task_definitions:
            raw = call(
                "DescribeTaskDefinition",
                lambda: self._client.describe_task_definition(taskDefinition=arn),
            )["taskDefinition"]
            mode = str(raw.get("networkMode") or DEFAULT_NETWORK_MODE)
            self._task_definitions[arn] = (mode, _named_ports(raw))
        return self._task_definitions[arn]

    def _observe(self, raw: Mapping[str, Any]) -> ObservedEcsService:
        primary = _primary(raw.get("deployments", []))
        task_definition = (
            raw.get("taskDefinition")
            or (primary or {}).get("taskDefinition")
            or (_primary(raw.get("taskSets", [])) or {}).get("taskDefinition")
        )
        mode, ports = self._task_definition(task_definition) if task_definition else ("", {})
        return ObservedEcsService(
            arn=str(raw["serviceArn"]),
            cluster=str(raw.get("clusterArn", "")),
            name=str(raw["serviceName"]),
            status=str(raw.get("status", "")),
            deployment_controller=str((raw.get("deploymentController") or {}).get("type", "ECS")),
            task_definition=str(task_definition or ""),
            network_mode=mode,
            port_mappings=ports,
            registries=tuple(decode(ObservedRegistry, r) for r in raw.get("serviceRegistries", [])),
            service_connect=service_connect_from(
                (primary or {}).get("serviceConnectConfiguration")
            ),
            service_connect_resources=tuple(
                decode(ServiceConnectResource, r)
                for r in (primary or {}).get("serviceConnectResources", [])
            ),
            running_count=_int(raw.get("runningCount")),
            desired_count=_int(raw.get("desiredCount")),
            tags={str(t["key"]): str(t.get("value", "")) for t in raw.get("tags") or []},
            deployments=tuple(_deployment(d) for d in raw.get("deployments", [])),
        )

    def describe(
        self, cluster: str, services: Sequence[str]
    ) -> dict[str, ObservedEcsService | None]:
        """Keyed by the names (or ARNs) asked for; MISSING and INACTIVE services are None."""
        found: dict[str, ObservedEcsService | None] = {}
        for batch in _batches(list(dict.fromkeys(services)), DESCRIBE_SERVICES_BATCH):
            found.update(self._describe_batch(cluster, batch))
        return found

    def _describe_batch(
        self, cluster: str, batch: Sequence[str]
    ) -> dict[str, ObservedEcsService | None]:
        found: dict[str, ObservedEcsService | None] = dict.fromkeys(batch)
        try:
            # The tags come in the same call: they carry the ownership marker.
            response = call(
                "DescribeServices",
                lambda: self._client.describe_services(
                    cluster=cluster, services=list(batch), include=["TAGS"]
                ),
            )
        except NotFound:  # ClusterNotFoundException: none of them exists
            return found
        for failure in response.get("failures", []):
            reason = failure.get("reason", "")
            if reason != FAILURE_MISSING:
                raise Retryable(
                    "DescribeServices",
                    reason,
                    f"{failure.get('arn', '')}: {failure.get('detail', '')}",
                )
        for raw in response.get("services", []):
            if raw.get("status") == STATUS_INACTIVE:
                continue
            for asked in batch:
                if asked in (raw.get("serviceArn"), raw.get("serviceName")) or (
                    arns.resource_id(asked) == raw.get("serviceName")
                ):
                    found[asked] = self._observe(raw)
        return found

    def clusters(self) -> tuple[str, ...]:
        """ARNs of every cluster of the region (ListClusters): `generate` looks through them
        for services linked to the namespaces it was asked for."""
        return self._arns("ListClusters", self._client.list_clusters, "clusterArns", {})

    def service_arns(self, cluster: str) -> tuple[str, ...]:
        """ARNs of every service of a cluster (ListServices), for `generate`."""
        return self._arns(
            "ListServices", self._client.list_services, "serviceArns", {"cluster": cluster}
        )

    def _arns(
        self, api: str, method: Callable[..., Mapping[str, Any]], key: str, kwargs: dict[str, Any]
    ) -> tuple[str, ...]:
        found: list[str] = []
        token: str | None = None
        while True:
            page = call(api, partial(method, **kwargs, **({"nextToken": token} if token else {})))
            found += [str(a) for a in page.get(key, [])]
            token = page.get("nextToken")
            if not token:
                return tuple(found)

    def services_in_namespace(self, namespace: str) -> tuple[str, ...]:
        """ARNs of the services, in any cluster, whose Service Connect uses `namespace` (a name
        or ARN), as client or server: ListServicesByNamespace (1 call/s budget, docs/aws-facts.md,
        Throttling and quotas), so read only when a plan changes an endpoint."""
        return self._arns(
            "ListServicesByNamespace",
            self._client.list_services_by_namespace,
            "serviceArns",
            {"namespace": namespace},
        )

    def service_deployment(
        self, cluster: str, service: str, deployment_id: str
    ) -> ObservedServiceDeployment | None:
        """ListServiceDeployments (newest first, so our recent one is on the first page), then
        DescribeServiceDeployments of the one whose target service revision is the deployment's:
        a service revision's id is the number of the deployment (`ecs-svc/<number>`) that
        started it. Only the describe tells a rollback and a tripped circuit breaker."""
        number = deployment_id.rsplit("/", maxsplit=1)[-1]
        token: str | None = None
        while True:
            request: dict[str, Any] = {"cluster": cluster, "service": service}
            if token:
                request["nextToken"] = token
            page = call(
                "ListServiceDeployments",
                partial(self._client.list_service_deployments, **request),
            )
            arn = next(
                (
                    str(brief["serviceDeploymentArn"])
                    for brief in page.get("serviceDeployments", [])
                    if str(brief.get("targetServiceRevisionArn", "")).endswith(f"/{number}")
                ),
                None,
            )
            if arn is not None:
                return self._service_deployment(arn)
            token = page.get("nextToken")
            if not token:
                return None

    def _service_deployment(self, arn: str) -> ObservedServiceDeployment | None:
        found = call(
            "DescribeServiceDeployments",
            lambda: self._client.describe_service_deployments(serviceDeploymentArns=[arn]),
        ).get("serviceDeployments", [])
        if not found:
            return None
        raw = found[0]
        triggered = (
            raw.get("deploymentCircuitBreaker", {}).get("status"),
            raw.get("alarms", {}).get("status"),
        )
        return ObservedServiceDeployment(
            status=str(raw.get("status", "")),
            status_reason=raw.get("statusReason"),
            rolled_back="rollback" in raw,
            failed="TRIGGERED" in triggered,
        )

    def update(self, action: UpdateEcsService) -> EcsUpdated:
        """Send only the fields the action sets."""
        request: dict[str, Any] = {"cluster": action.cluster, "service": action.service}
        if action.set_registries:
            request["serviceRegistries"] = [encode(r) for r in action.registries]
        if action.set_service_connect:
            request["serviceConnectConfiguration"] = service_connect_request(action.service_connect)
        service = call("UpdateService", lambda: self._client.update_service(**request))["service"]
        primary = _primary(service.get("deployments", []))
        return EcsUpdated(str(service["serviceArn"]), primary.get("id") if primary else None)

    def tag(self, arn: str, tags: Mapping[str, str]) -> None:
        """TagResource on an ECS service (its ownership marker; needs the long ARN format)."""
        request: list[TagTypeDef] = [{"key": k, "value": v} for k, v in tags.items()]
        call("TagResource", lambda: self._client.tag_resource(resourceArn=arn, tags=request))

    def untag(self, arn: str, keys: Sequence[str]) -> None:
        call(
            "UntagResource",
            lambda: self._client.untag_resource(resourceArn=arn, tagKeys=list(keys)),
        )
