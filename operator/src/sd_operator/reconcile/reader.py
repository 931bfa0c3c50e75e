"""How a step reads AWS: fresh for every step, or from a snapshot shared by the drift sweep.

The sweep visits every resource each resync interval. Reading fresh would cost each resource its
own ListNamespaces, ListServices and DescribeServices; the snapshot makes each of those once per
interval for all resources (DescribeServices in batches of 10 per cluster). A snapshot is only
ever trusted to say "in sync": before anything is changed, the step reads fresh again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from sd_operator.aws.cloudmap import CloudMap
from sd_operator.aws.ecs import EcsAdapter
from sd_operator.aws.route53 import Route53
from sd_operator.reconcile.ecs_plan import ObservedEcsService
from sd_operator.reconcile.observed import ObservedNamespace, ObservedService


class Reader(Protocol):
    """find_* scan by name, for what has never been seen; their None is not proof of absence.
    get_* read by id (with tags); their None is AWS's NotFound, the only proof that it is gone."""

    def find_namespace(
        self, region: str, name: str, *, with_tags: bool
    ) -> ObservedNamespace | None: ...

    def get_namespace(
        self, region: str, namespace_id: str, *, with_tags: bool
    ) -> ObservedNamespace | None: ...

    def hosted_zone_vpcs(self, region: str, hosted_zone_id: str) -> frozenset[str]: ...

    def list_services(
        self, region: str, namespace_id: str, *, settled: bool = False
    ) -> list[ObservedService]: ...

    def find_service(self, region: str, namespace_id: str, name: str) -> ObservedService | None: ...

    def get_service(
        self, region: str, service_id: str, *, namespace_id: str | None = None
    ) -> ObservedService | None: ...

    def describe_ecs(
        self, region: str, cluster: str, service: str
    ) -> ObservedEcsService | None: ...


@dataclass(frozen=True)
class Adapters:
    cloudmap: Callable[[str], CloudMap]
    ecs: Callable[[str], EcsAdapter]
    route53: Callable[[str], Route53]


class FreshReader:
    """Every read goes to AWS: change handlers, the CLI, and a sweep about to act."""

    def __init__(self, adapters: Adapters) -> None:
        self._adapters = adapters

    def find_namespace(
        self, region: str, name: str, *, with_tags: bool
    ) -> ObservedNamespace | None:
        return self._adapters.cloudmap(region).find_namespace(name, with_tags=with_tags)

    def get_namespace(
        self, region: str, namespace_id: str, *, with_tags: bool
    ) -> ObservedNamespace | None:
        return self._adapters.cloudmap(region).get_namespace(namespace_id, with_tags=with_tags)

    def hosted_zone_vpcs(self, region: str, hosted_zone_id: str) -> frozenset[str]:
        return self._adapters.route53(region).hosted_zone_vpcs(hosted_zone_id)

    def list_services(
        self, region: str, namespace_id: str, *, settled: bool = False
    ) -> list[ObservedService]:
        return self._adapters.cloudmap(region).list_services(namespace_id, settled=settled)

    def find_service(self, region: str, namespace_id: str, name: str) -> ObservedService | None:
        return self._adapters.cloudmap(region).find_service(namespace_id, name)

    def get_service(
        self, region: str, service_id: str, *, namespace_id: str | None = None
    ) -> ObservedService | None:
        return self._adapters.cloudmap(region).get_service(service_id)

    def describe_ecs(self, region: str, cluster: str, service: str) -> ObservedEcsService | None:
        return self._adapters.ecs(region).describe(cluster, [service])[service]


class Snapshot:
    """List and describe results shared across resources for `ttl` seconds.

    Tags have no batch API, so they are read per resource, fresh; so is a private namespace's
    VPC (Route 53 GetHostedZone, one zone per call): associations can change. ECS services are
    described together: every service any resource has asked about in a cluster goes into the
    same DescribeServices calls (10 per call, the API's limit).
    """

    def __init__(
        self,
        adapters: Adapters,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._adapters = adapters
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._namespaces: dict[str, tuple[float, dict[str, ObservedNamespace]]] = {}
        # (region, ARN) -> tags; read with, and dropped with, the region's namespace list
        self._namespace_tags: dict[tuple[str, str], dict[str, str]] = {}
        self._services: dict[tuple[str, str], tuple[float, list[ObservedService]]] = {}
        self._ecs: dict[tuple[str, str, str], tuple[float, ObservedEcsService | None]] = {}
        # service name -> when a resource last asked for it; entries nobody asks about for a
        # few intervals (deleted resources) leave the batch.
        self._wanted: dict[tuple[str, str], dict[str, float]] = {}

    def _fresh(self, stamp: float) -> bool:
        return self._clock() - stamp < self._ttl

    def invalidate(self, region: str) -> None:
        """Forget a region after we changed something there."""
        with self._lock:
            self._forget_namespaces(region)
            for listed in [k for k in self._services if k[0] == region]:
                del self._services[listed]
            for described in [k for k in self._ecs if k[0] == region]:
                del self._ecs[described]

    def _forget_namespaces(self, region: str) -> None:
        self._namespaces.pop(region, None)
        for key in [k for k in self._namespace_tags if k[0] == region]:
            del self._namespace_tags[key]

    def _listed_namespaces(self, region: str) -> dict[str, ObservedNamespace]:
        """The region's namespaces by name, listed once per interval (call with the lock)."""
        cached = self._namespaces.get(region)
        if cached is None or not self._fresh(cached[0]):
            self._forget_namespaces(region)
            listed = self._adapters.cloudmap(region).list_namespaces()
            cached = (self._clock(), {n.name: n for n in listed})
            self._namespaces[region] = cached
        return cached[1]

    def _tagged(self, region: str, found: ObservedNamespace) -> ObservedNamespace:
        key = (region, found.arn)
        if key not in self._namespace_tags:
            # Every ServiceDiscovery checks its namespace's owner: read its tags once a
            # snapshot, not once per service.
            self._namespace_tags[key] = self._adapters.cloudmap(region).tags(found.arn)
        return replace(found, tags=self._namespace_tags[key])

    def find_namespace(
        self, region: str, name: str, *, with_tags: bool
    ) -> ObservedNamespace | None:
        with self._lock:
            found = self._listed_namespaces(region).get(name)
            if found is None or not with_tags:
                return found
            return self._tagged(region, found)

    def get_namespace(
        self, region: str, namespace_id: str, *, with_tags: bool
    ) -> ObservedNamespace | None:
        """From the region's listed namespaces when it is there (one list for the whole
        sweep); otherwise GetNamespace, whose NotFound alone says it is gone."""
        with self._lock:
            listed = self._listed_namespaces(region).values()
            found = next((n for n in listed if n.id == namespace_id), None)
            if found is not None:
                return self._tagged(region, found) if with_tags else found
        return self._adapters.cloudmap(region).get_namespace(namespace_id, with_tags=with_tags)

    def hosted_zone_vpcs(self, region: str, hosted_zone_id: str) -> frozenset[str]:
        return self._adapters.route53(region).hosted_zone_vpcs(hosted_zone_id)

    def list_services(
        self, region: str, namespace_id: str, *, settled: bool = False
    ) -> list[ObservedService]:
        if settled:
            return self._adapters.cloudmap(region).list_services(namespace_id, settled=True)
        with self._lock:
            cached = self._services.get((region, namespace_id))
            if cached is None or not self._fresh(cached[0]):
                listed = self._adapters.cloudmap(region).list_services(namespace_id)
                cached = (self._clock(), listed)
                self._services[(region, namespace_id)] = cached
        return cached[1]

    def find_service(self, region: str, namespace_id: str, name: str) -> ObservedService | None:
        found = next((s for s in self.list_services(region, namespace_id) if s.name == name), None)
        return self._adapters.cloudmap(region).with_tags(found) if found else None

    def get_service(
        self, region: str, service_id: str, *, namespace_id: str | None = None
    ) -> ObservedService | None:
        """From `namespace_id`'s listed services when it is there (the sweep's one ListServices
        per namespace); otherwise GetService, whose NotFound alone says it is gone."""
        cloudmap = self._adapters.cloudmap(region)
        if namespace_id is not None:
            listed = self.list_services(region, namespace_id)
            found = next((s for s in listed if s.id == service_id), None)
            if found is not None:
                return cloudmap.with_tags(found)
        return cloudmap.get_service(service_id)

    def want(self, region: str, cluster: str, service: str) -> None:
        """Note a service some resource manages, so the next batch describes it too."""
        with self._lock:
            self._wanted.setdefault((region, cluster), {})[service] = self._clock()

    def describe_ecs(self, region: str, cluster: str, service: str) -> ObservedEcsService | None:
        key = (region, cluster, service)
        self.want(region, cluster, service)
        with self._lock:
            now = self._clock()
            wanted = self._wanted[(region, cluster)]
            cached = self._ecs.get(key)
            if cached is not None and self._fresh(cached[0]):
                return cached[1]
            for name in [n for n, asked in wanted.items() if now - asked > 3 * self._ttl]:
                del wanted[name]
            names = sorted(wanted)
            described = self._adapters.ecs(region).describe(cluster, names)
            for name, observed in described.items():
                self._ecs[(region, cluster, name)] = (now, observed)
            return described[service]
