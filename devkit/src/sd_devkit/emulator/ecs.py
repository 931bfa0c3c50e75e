"""ECS fidelity: Service Connect read-back, deployments, INACTIVE services, pagination.

Each hook lets moto do the work and then corrects moto's in-process state; the docstrings quote
the line of docs/aws-facts.md (or the AWS API reference) that it reproduces.
"""

from __future__ import annotations

import copy
import secrets
import uuid
from typing import Any

from ._wsgi import JSON, Call, Forward, Handler, Reply, page
from .deployments import DeploymentTracker, ServiceKey
from .moto_surface import (
    EC2ContainerServiceBackend,
    EcsService,
    Namespace,
    TaskDefinition,
    ecs_backends,
    servicediscovery_backends,
    utcnow,
)
from .ram import NAMESPACE_ARN, Access, RamLayer
from .sharing import Sharing

DEFAULT_MAX_RESULTS = 10  # ECS ListServices/ListServicesByNamespace without maxResults: 10
DESCRIBE_SERVICES_MAX = 10

# UpdateService parameters that start a new deployment (AWS API reference, UpdateService:
# "When you update any of these parameters, Amazon ECS starts new tasks with the new
# configuration"; docs/aws-facts.md, ECS: "UpdateService with serviceConnectConfiguration or
# serviceRegistries starts a new deployment").
DEPLOYMENT_PARAMETERS = (
    "serviceConnectConfiguration",
    "serviceRegistries",
    "taskDefinition",
    "networkConfiguration",
    "loadBalancers",
    "platformVersion",
    "capacityProviderStrategy",
    "volumeConfigurations",
    "vpcLatticeConfigurations",
)


def backend(call: Call) -> EC2ContainerServiceBackend:
    return ecs_backends[call.account][call.region]


def _name(value: Any, default: str = "") -> str:
    """Short name from a name or an ARN (cluster/.../name)."""
    return str(value or default).split("/")[-1]


def _invalid(message: str) -> Reply:
    return Reply.error("InvalidParameterException", message)


def _task_definition(b: EC2ContainerServiceBackend, ref: str) -> TaskDefinition | None:
    """The task definition an ARN, `family:revision` or `family` (its latest revision) names,
    read from what moto stores ({family: {revision: definition}})."""
    family, _, revision = ref.rsplit("/", maxsplit=1)[-1].partition(":")
    revisions = b.task_definitions.get(family) or {}
    if not revision:
        return revisions[max(revisions)] if revisions else None
    return revisions.get(int(revision)) if revision.isdigit() else None


def _lookup(key: ServiceKey) -> EcsService | None:
    account, region, cluster, name = key
    return ecs_backends[account][region].services.get(f"{cluster}:{name}")


def primary_deployment(service: EcsService) -> dict[str, Any] | None:
    return next((d for d in service.deployments if d.get("status") == "PRIMARY"), None)


def _test_traffic_problem(sc: JSON) -> str:
    """ECS API reference: ServiceConnectClientAlias.testTrafficRules is a
    ServiceConnectTestTrafficRules, whose `header` is required; in it `name` is required and
    `value`, when given, is a ServiceConnectTestTrafficHeaderMatchRules whose `exact` is
    required. ECS answers InvalidParameterException otherwise."""
    for entry in sc.get("services") or []:
        for alias in entry.get("clientAliases") or []:
            rules = alias.get("testTrafficRules")
            if rules is None:
                continue
            header = rules.get("header")
            if not isinstance(header, dict) or not header.get("name"):
                return "testTrafficRules.header.name is required"
            value = header.get("value")
            if value is not None and (not isinstance(value, dict) or "exact" not in value):
                return "testTrafficRules.header.value.exact is required"
    return ""


class EcsLayer:
    def __init__(self, page_size: int, ram: RamLayer, sharing: Sharing) -> None:
        self.page_size = page_size
        self._ram = ram
        self._sharing = sharing
        # (account, region, cluster name, service name) -> deployments started
        self._deployments: dict[tuple[str, str, str, str], int] = {}
        self.rollouts = DeploymentTracker()

        # (account, region) -> ARNs of the Cloud Map services Service Connect created
        self._service_connect_made: dict[tuple[str, str], set[str]] = {}

    def reset(self) -> None:
        self._deployments.clear()
        self.rollouts.reset()
        self._service_connect_made.clear()

    def deployments(self, account: str, region: str, cluster: str, service: str) -> int:
        return self._deployments.get((account, region, _name(cluster), _name(service)), 0)

    def handlers(self) -> dict[str, Handler]:
        hooks: dict[str, Handler] = {
            "CreateService": self.create_service,
            "UpdateService": self.update_service,
            "DescribeServices": self.describe_services,
            "ListServices": self.list_services,
            "ListServicesByNamespace": self.list_services_by_namespace,
            "ListServiceDeployments": self.list_service_deployments,
            "DescribeServiceDeployments": self.describe_service_deployments,
        }
        return {action: self._settled(hook) for action, hook in hooks.items()}

    def _settled(self, hook: Handler) -> Handler:
        """Rollouts whose hold has passed move on before the call sees the services."""

        def settled(call: Call, forward: Forward) -> Reply:
            self.rollouts.settle(_lookup)
            return hook(call, forward)

        return settled

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _render(forward: Forward, cluster: str, name: str) -> Reply:
        """moto's answer for the service as it stands now (after the layer's corrections)."""
        described = forward({"cluster": cluster, "services": [name]}, action="DescribeServices")
        if not described.ok:
            return described
        return Reply.json_ok({"service": described.json()["services"][0]})

    @staticmethod
    def _check_port_names(b: EC2ContainerServiceBackend, task_def: str | None, sc: JSON) -> str:
        """docs/aws-facts.md, ECS: "portName must name a `portMappings[].name` in the service's task
        definition" (ECS refuses the call otherwise: aws-cli #7531)."""
        if not task_def or not sc.get("enabled"):
            return ""
        definition = _task_definition(b, task_def)
        if definition is None:
            return ""
        containers: list[JSON] = list(definition.container_definitions)
        names = {
            mapping.get("name")
            for container in containers
            for mapping in container.get("portMappings") or []
        }
        for entry in sc.get("services") or []:
            if entry.get("portName") not in names:
                return (
                    f"Service Connect portName {entry.get('portName')!r} is not the name of a "
                    f"portMapping in task definition {task_def}"
                )
        return ""

    def _service_connect_refused(
        self, call: Call, b: EC2ContainerServiceBackend, task_def: str | None, sc: JSON | None
    ) -> Reply | None:
        if not sc:
            return None
        problem = self._check_port_names(b, task_def, sc) or _test_traffic_problem(sc)
        if problem:
            return _invalid(problem)
        return self._shared_namespace_refused(call, sc)

    def _shared_namespace_refused(self, call: Call, sc: JSON) -> Reply | None:
        """docs/aws-facts.md, Shared namespaces: Service Connect takes another account's
        namespace by ARN, in the service's own Region, and only when the share carries
        AWSRAMPermissionCloudMapECSFullPermission; ECS answers a ClientException naming the
        Cloud Map action the share does not allow."""
        match = NAMESPACE_ARN.match(str(sc.get("namespace", "")))
        if not sc.get("enabled") or match is None or match["account"] == call.account:
            return None
        if match["region"] != call.region:
            return _invalid(
                f"The namespace {match.string} must be in the same Region as the service "
                f"({call.region})."
            )
        access = self._ram.access(call.account, match.string)
        if access is Access.FULL:
            return None
        action = "GetNamespace" if access is None else "CreateService"
        return Reply.error(
            "ClientException",
            f"User: arn:aws:iam::{call.account}:root is not authorized to perform: "
            f"servicediscovery:{action} on resource: {match.string} because no "
            f"resource-based policy allows the servicediscovery:{action} action",
        )

    def _namespace(self, call: Call, wanted: Any) -> Namespace | None:
        """The namespace a name, id or ARN names (the API takes either): the caller's own, or
        one shared with it (by ARN)."""
        match = NAMESPACE_ARN.match(str(wanted))
        if match and match["account"] != call.account:
            if match["region"] != call.region or self._ram.access(call.account, wanted) is None:
                return None
            shared: Namespace | None = servicediscovery_backends[match["account"]][
                call.region
            ].namespaces.get(match["id"])
            return shared
        sd = servicediscovery_backends[call.account][call.region]
        return next(
            (ns for ns in sd.namespaces.values() if wanted in (ns.name, ns.arn, ns.id)), None
        )

    def _start_deployment(self, call: Call, service: EcsService, sc: JSON | None) -> None:
        """A new PRIMARY deployment; the previous PRIMARY becomes ACTIVE (older ones are gone,
        as if their tasks had drained). Service Connect configuration is carried over from the
        previous PRIMARY unless the request sets it; `{enabled: false}` removes it."""
        old = primary_deployment(service)
        if old is None:
            return
        now = utcnow()
        deployment_id = f"ecs-svc/{secrets.randbelow(32**12)}"  # the form moto's ids take
        new = copy.deepcopy(old)
        new.update(
            {
                "id": deployment_id,
                "status": "PRIMARY",
                "createdAt": now,
                "updatedAt": now,
                "desiredCount": service.desired_count,
                "taskDefinition": service.task_definition,
                "rolloutState": "IN_PROGRESS",
                "rolloutStateReason": f"ECS deployment {deployment_id} in progress.",
            }
        )
        if sc is not None:
            if sc.get("enabled"):
                new["serviceConnectConfiguration"] = copy.deepcopy(sc)
            else:
                new.pop("serviceConnectConfiguration", None)
        old["status"] = "ACTIVE"
        old["updatedAt"] = now
        service.deployments = [new, old]
        key = (call.account, call.region, service.cluster_name, service.name)
        self._deployments[key] = self._deployments.get(key, 0) + 1
        self.rollouts.started(key, service, new, old)

    # -- Service Connect's Cloud Map services ---------------------------------------------------

    def _service_connect_resources(self, call: Call, sc: JSON) -> list[JSON]:
        """ECS API reference, ServiceConnectServiceResource: "The discoveryName is the name of the
        new Cloud Map service that Amazon ECS creates for this Amazon ECS service", unique in the
        namespace, defaulting to the portName; Deployment.serviceConnectResources lists them
        ({discoveryName, discoveryArn}). docs/aws-facts.md, ECS: the service is API-only (not in
        DNS): Cloud Map Type HTTP, no DnsConfig. A later deployment finds the service of that
        name and keeps it. Tagged AmazonECSManaged=true, ECS's tag on what it creates in the
        user's account. A namespace the emulator does not know leaves no resources."""
        namespace = self._namespace(call, sc.get("namespace"))
        if namespace is None:
            return []
        # In a namespace shared with the caller, ECS creates them in the owner's namespace.
        owner = namespace.arn.split(":")[4]
        sd = servicediscovery_backends[owner][call.region]
        made = self._service_connect_made.setdefault((call.account, call.region), set())
        resources: list[JSON] = []
        for entry in sc.get("services") or []:
            name = str(entry.get("discoveryName") or entry.get("portName"))
            service = next(
                (
                    s
                    for s in sd.services.values()
                    if s.namespace_id == namespace.id and s.name == name
                ),
                None,
            )
            if service is None:
                service = sd.create_service(
                    name=name,
                    namespace_id=namespace.id,
                    creator_request_id=str(uuid.uuid4()),
                    description="",
                    dns_config=None,  # type: ignore[arg-type]  # API-only: AWS stores none
                    health_check_config=None,  # type: ignore[arg-type]
                    health_check_custom_config=None,  # type: ignore[arg-type]
                    tags=[{"Key": "AmazonECSManaged", "Value": "true"}],
                    service_type="HTTP",
                )
                made.add(service.arn)
                self._sharing.record_service(owner, call.region, service.id, call.account)
            resources.append({"discoveryName": name, "discoveryArn": service.arn})
        return resources

    def _record_service_connect_resources(self, call: Call, service: EcsService) -> None:
        """The PRIMARY deployment's serviceConnectResources, from its own configuration; the
        Cloud Map services Service Connect made that no ECS service names any more are removed
        by ECS (sd-operator's namespace deletion relies on it, docs/aws-facts.md, Deletion
        order), once empty: the layer drains old deployments at once."""
        primary = primary_deployment(service)
        if primary is None:
            return
        sc = primary.get("serviceConnectConfiguration") or {}
        resources = self._service_connect_resources(call, sc) if sc.get("enabled") else []
        if resources:
            primary["serviceConnectResources"] = resources
        else:
            primary.pop("serviceConnectResources", None)
        named = {
            r["discoveryArn"]
            for s in backend(call).services.values()
            if s.status == "ACTIVE"
            for r in (primary_deployment(s) or {}).get("serviceConnectResources", [])
        }
        made = self._service_connect_made.get((call.account, call.region), set())
        for arn in sorted(made - named):
            sd = servicediscovery_backends[arn.split(":")[4]][call.region]  # its namespace's
            cm = next((s for s in sd.services.values() if s.arn == arn), None)
            if cm is not None and not cm.instances:
                sd.delete_service(cm.id)
                sd.tagger.delete_all_tags_for_resource(cm.arn)
                made.discard(cm.arn)

    # -- hooks -------------------------------------------------------------------------------

    def create_service(self, call: Call, forward: Forward) -> Reply:
        """docs/aws-facts.md, ECS: "Service Connect configuration is NOT returned at the top level
        of DescribeServices: read it from the deployment whose status is PRIMARY"; moto: "ECS
        CreateService/UpdateService drop serviceConnectConfiguration". The configuration is
        stored on the PRIMARY deployment.

        moto: "duplicate CreateService overwrites"; AWS (CreateService/DeleteService API
        reference): creating a service with the name of an ACTIVE or DRAINING service is an
        error ("Creation of service was not idempotent.")."""
        b = backend(call)
        cluster = _name(call.body.get("cluster"), "default")
        name = _name(call.body.get("serviceName"))
        existing = b.services.get(f"{cluster}:{name}")
        if existing is not None and existing.status in ("ACTIVE", "DRAINING"):
            return _invalid("Creation of service was not idempotent.")
        sc = call.body.get("serviceConnectConfiguration")
        refused = self._service_connect_refused(call, b, call.body.get("taskDefinition"), sc)
        if refused is not None:
            return refused
        reply = forward()
        if not reply.ok:
            return reply
        service = b.services[f"{cluster}:{name}"]
        primary = primary_deployment(service)
        if primary is not None and sc and sc.get("enabled"):
            primary["serviceConnectConfiguration"] = copy.deepcopy(sc)
            self._record_service_connect_resources(call, service)
        key = (call.account, call.region, cluster, name)
        self._deployments[key] = 1 if primary is not None else 0
        if primary is not None:
            self.rollouts.started(key, service, primary, None)
        return self._render(forward, cluster, name)

    def update_service(self, call: Call, forward: Forward) -> Reply:
        """docs/aws-facts.md, ECS: "UpdateService with serviceConnectConfiguration or
        serviceRegistries
        starts a new deployment" and "CODE_DEPLOY deployment controller: UpdateService cannot
        change registries". An INACTIVE service answers ServiceNotActiveException as in AWS.
        moto keeps serviceRegistries itself; the Service Connect configuration goes onto the
        new PRIMARY deployment, and the deployments started are counted (`deployments()`)."""
        b = backend(call)
        cluster = _name(call.body.get("cluster"), "default")
        name = _name(call.body.get("service"))
        service = b.services.get(f"{cluster}:{name}")
        if service is None:
            return forward()
        if service.status != "ACTIVE":
            return Reply.error("ServiceNotActiveException", "Service was not ACTIVE.")
        triggers = [k for k in DEPLOYMENT_PARAMETERS if call.body.get(k) is not None]
        if call.body.get("forceNewDeployment"):
            triggers.append("forceNewDeployment")
        controller = (service.deployment_controller or {}).get("type", "ECS")
        if controller != "ECS" and triggers:
            return _invalid(
                f"Unable to update {', '.join(triggers)} on a service with a {controller} "
                "deployment controller. Use AWS CodeDeploy (or a new task set) instead."
            )
        sc = call.body.get("serviceConnectConfiguration")
        task_def = call.body.get("taskDefinition") or service.task_definition
        refused = self._service_connect_refused(call, b, task_def, sc)
        if refused is not None:
            return refused
        reply = forward()
        if not reply.ok:
            return reply
        if triggers:
            self._start_deployment(call, service, sc)
            self._record_service_connect_resources(call, service)
        return self._render(forward, cluster, name)

    def describe_services(self, call: Call, forward: Forward) -> Reply:
        """docs/aws-facts.md, ECS: "DescribeServices takes up to 10 services per call; its
        `failures` list
        reports MISSING ones". A deleted service is answered with status INACTIVE, as the
        DeleteService API reference says ("Services in the DRAINING or INACTIVE status can
        still be viewed with the DescribeServices API operation"); moto already does that."""
        if len(call.body.get("services") or []) > DESCRIBE_SERVICES_MAX:
            return _invalid("services can have at most 10 items.")
        reply = forward()
        if reply.ok:
            self._polled(call, reply)
        return reply

    def _polled(self, call: Call, reply: Reply) -> None:
        b = backend(call)
        for raw in reply.json().get("services") or []:
            service = b.services.get(f"{_name(raw.get('clusterArn'))}:{raw.get('serviceName')}")
            if service is not None:
                self.rollouts.polled(service)

    def list_service_deployments(self, call: Call, forward: Forward) -> Reply:
        """AWS API reference, ListServiceDeployments (moto has no service deployments API)."""
        cluster = _name(call.body.get("cluster"), "default")
        service = backend(call).services.get(f"{cluster}:{_name(call.body.get('service'))}")
        return self.rollouts.list_service_deployments(call, service)

    def describe_service_deployments(self, call: Call, forward: Forward) -> Reply:
        """AWS API reference, DescribeServiceDeployments: up to 20 ARNs, unknown ones in
        `failures`."""
        return self.rollouts.describe_service_deployments(call)

    def list_services(self, call: Call, forward: Forward) -> Reply:
        """moto: "INACTIVE services stay listed"; AWS (DeleteService API reference): a deleted
        service "is no longer visible in the console or in the ListServices API operation".
        Pages of min(page_size, maxResults or 10) ARNs with nextToken."""
        body = {k: v for k, v in call.body.items() if k not in ("nextToken", "maxResults")}
        reply = forward(body)
        if not reply.ok:
            return reply
        b = backend(call)
        cluster = _name(call.body.get("cluster"), "default")
        active = [
            arn
            for arn in reply.json().get("serviceArns") or []
            if (svc := b.services.get(f"{cluster}:{_name(arn)}")) is not None
            and svc.status == "ACTIVE"
        ]
        return self._page(call, active)

    def list_services_by_namespace(self, call: Call, forward: Forward) -> Reply:
        """moto: "ListServicesByNamespace is not implemented (HTTP 500 in server mode)". The
        ACTIVE services whose PRIMARY deployment uses Service Connect in the namespace (given
        by name or ARN, as the API takes either; a namespace shared with the caller by its ARN
        only)."""
        wanted = str(call.body.get("namespace", ""))
        namespace = self._namespace(call, wanted)
        if namespace is None:
            return Reply.error("NamespaceNotFoundException", f"Namespace {wanted} not found.")
        aliases = {namespace.name, namespace.arn, namespace.id}
        arns = []
        for service in backend(call).services.values():
            primary = primary_deployment(service)
            sc = (primary or {}).get("serviceConnectConfiguration") or {}
            if service.status == "ACTIVE" and sc.get("enabled") and sc.get("namespace") in aliases:
                arns.append(service.arn)
        return self._page(call, sorted(arns))

    def _page(self, call: Call, arns: list[str]) -> Reply:
        max_results = call.body.get("maxResults")
        try:
            window, token = page(
                arns,
                call.body.get("nextToken"),
                int(max_results) if max_results else None,
                self.page_size,
                DEFAULT_MAX_RESULTS,
            )
        except ValueError as exc:
            return _invalid(str(exc))
        data: JSON = {"serviceArns": window}
        if token:
            data["nextToken"] = token
        return Reply.json_ok(data)
