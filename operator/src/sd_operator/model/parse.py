"""Manifests -> `Resource`: YAML read as kubectl reads it, checked as the API server checks it.

The CRDs are the schema (`sd_operator.model.schema`: their openAPIV3Schema and CEL rules);
this module reads the files, names the file, resource and field of every error, turns a
validated document into the spec types (`sd_operator.model.spec`), and checks what only a whole
set of manifests shows (duplicates, references, what the referenced namespace's type allows).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from sd_operator.model.grants import Grant, parse_grant
from sd_operator.model.schema import Invalid, KindSchema, kinds, type_name
from sd_operator.model.spec import (
    API_VERSION,
    GROUP,
    KIND_GRANT,
    KIND_IMPORT,
    KIND_NAMESPACE,
    AdoptionPolicy,
    CloudMapServiceSpec,
    DeletionPolicy,
    DnsConfig,
    DnsRecord,
    DriftPolicy,
    EcsSpec,
    EndpointsSpec,
    ExternalNamespace,
    HealthCheck,
    Identity,
    ManagementPolicy,
    NamespaceSpec,
    NamespaceType,
    RecordType,
    Registry,
    Resource,
    Route53CheckType,
    Route53HealthCheck,
    RoutingPolicy,
    ServiceConnect,
    ServiceDiscoverySpec,
    is_paused,
    referenced_identity,
    refused_in,
)
from sd_operator.model.wire import decode

__all__ = ["MAX_FILE_BYTES", "SpecError", "load_grants", "load_manifests", "parse_resource"]


class SpecError(Exception):
    """A manifest the API server would refuse: where it is, which resource, which field, why."""

    def __init__(self, message: str, *, source: str = "", resource: str = "", field: str = ""):
        super().__init__(message)
        self.message = message
        self.source = source
        self.resource = resource
        self.field = field

    def __str__(self) -> str:
        return ": ".join(p for p in (self.source, self.resource, self.field, self.message) if p)


# Validated documents -> the typed model ----------------------------------------------------------


def _deletion_policy(s: Mapping[str, Any]) -> DeletionPolicy | None:
    """No default in the CRD: unset gives adopted resources back, `Delete` deletes them."""
    value = s.get("deletionPolicy")
    return None if value is None else DeletionPolicy(value)


def _namespace_spec(s: Mapping[str, Any]) -> NamespaceSpec:
    return NamespaceSpec(
        name=s["name"],
        type=NamespaceType(s["type"]),
        vpc=s.get("vpc"),
        description=s.get("description"),
        tags=dict(s.get("tags", {})),
        region=s.get("region"),
        deletion_policy=_deletion_policy(s),
        adoption_policy=AdoptionPolicy(s["adoptionPolicy"]),
        management_policy=ManagementPolicy(s["managementPolicy"]),
    )


def _health_check(h: Mapping[str, Any]) -> HealthCheck:
    r53 = h.get("route53")
    return HealthCheck(
        custom="custom" in h,
        route53=None
        if r53 is None
        else Route53HealthCheck(
            type=Route53CheckType(r53["type"]),
            resource_path=r53.get("resourcePath"),
            failure_threshold=r53["failureThreshold"],
        ),
    )


def _cloud_map_service(s: Mapping[str, Any], default_name: str) -> CloudMapServiceSpec:
    dns = s.get("dns")
    return CloudMapServiceSpec(
        name=s.get("name", default_name),
        description=s.get("description"),
        tags=dict(s.get("tags", {})),
        dns=None
        if dns is None
        else DnsConfig(
            routing_policy=RoutingPolicy(dns["routingPolicy"]),
            records=tuple(DnsRecord(RecordType(r["type"]), r["ttl"]) for r in dns["records"]),
        ),
        health_check=_health_check(s["healthCheck"]) if "healthCheck" in s else None,
        attributes=dict(s.get("attributes", {})),
    )


def _ecs(e: Mapping[str, Any]) -> EcsSpec:
    registry, sc = e.get("registry"), e.get("serviceConnect")
    return EcsSpec(
        cluster=e["cluster"],
        service=e["service"],
        registry=None if registry is None else decode(Registry, registry),
        service_connect=None if sc is None else decode(ServiceConnect, sc),
    )


def _discovery_spec(s: Mapping[str, Any], name: str) -> ServiceDiscoverySpec:
    ref, external = s.get("namespaceRef"), s.get("cloudMapNamespace")
    return ServiceDiscoverySpec(
        namespace_ref=None if ref is None else ref["name"],
        cloud_map_namespace=None
        if external is None
        else ExternalNamespace(external["name"], external.get("vpc")),
        service=_cloud_map_service(s["service"], name) if "service" in s else None,
        ecs=_ecs(s["ecs"]) if "ecs" in s else None,
        region=s.get("region"),
        drift_policy=DriftPolicy(s.get("driftPolicy", s.get("drift", DriftPolicy.CORRECT))),
        drift_ignore=tuple(s.get("driftFields", {}).get("ignore", ())),
        drift_report=tuple(s.get("driftFields", {}).get("report", ())),
        max_ttl_seconds=s["maxTtlSeconds"],
        deletion_policy=_deletion_policy(s),
        adoption_policy=AdoptionPolicy(s["adoptionPolicy"]),
        endpoints=_endpoints(s["endpoints"]) if "endpoints" in s else None,
        management_policy=ManagementPolicy(s["managementPolicy"]),
    )


def _endpoints(e: Mapping[str, Any]) -> EndpointsSpec:
    source = e["fromService"]
    return EndpointsSpec(
        service=source["name"],
        port=source.get("port"),
        attributes=dict(e.get("attributes") or {}),
    )


# Public API ---------------------------------------------------------------------------------------


def _kinds() -> Mapping[str, KindSchema]:
    return kinds(GROUP)


def parse_resource(doc: Mapping[str, Any], source: str = "") -> Resource:
    """Validate one object of our API group (as the API server would) and return it typed."""
    kind, api_version = doc.get("kind"), doc.get("apiVersion")
    schema = _kinds().get(kind) if isinstance(kind, str) else None
    if schema is None or api_version != schema.api_version:
        raise SpecError(
            f"not a {API_VERSION} object: apiVersion {api_version!r}, kind {kind!r}"
            f" (known kinds: {', '.join(_kinds())})",
            source=source,
            resource=str(kind or "?"),
            field="kind" if api_version == API_VERSION else "apiVersion",
        )
    meta = doc.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    namespace = meta.get("namespace") if isinstance(meta, Mapping) else None
    resource = (
        f"{kind}/{namespace if isinstance(namespace, str) and namespace else 'default'}"
        f"/{name if isinstance(name, str) and name else '?'}"
    )
    try:
        valid = schema.validate(doc)
    except Invalid as exc:
        raise SpecError(exc.message, source=source, resource=resource, field=exc.field) from None
    metadata = valid["metadata"]
    identity = Identity(
        kind=schema.kind,
        namespace=metadata.get("namespace") or "default",
        name=metadata["name"],
        uid=metadata.get("uid", ""),
        generation=metadata.get("generation", 1),
    )
    spec = valid["spec"]
    typed = (
        _namespace_spec(spec) if kind == KIND_NAMESPACE else _discovery_spec(spec, identity.name)
    )
    return Resource(identity=identity, spec=typed, source=source, paused=is_paused(metadata))


class _DuplicateKey(yaml.YAMLError):
    """A mapping names a key twice; kubectl (sigs.k8s.io/yaml) refuses such a document."""


# libyaml's parser when PyYAML was built with it (the wheels are): many times faster than the
# pure-Python one, and it refuses nesting deeper than 1000 levels itself.
try:
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]


class _Loader(_BaseLoader):
    """YAML as kubectl reads it: timestamps stay strings (sigs.k8s.io/yaml has no timestamps),
    and a key given twice in one mapping is an error, not "the last one wins"."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *anchor` may be overridden by the keys beside it
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:
                continue  # unhashable: SafeConstructor reports it
            if duplicate:
                mark = key_node.start_mark
                raise _DuplicateKey(
                    f"duplicate key {key!r} (line {mark.line + 1}, column {mark.column + 1}):"
                    " each key may appear once in a mapping"
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

# Limits, documented in docs/cli.md: a manifest file (or standard input) of at most 16 MiB; a
# document nested at most 100 levels deep, to which aliases add at most 100,000 nodes (an "alias
# bomb" is a few lines that expand to billions).
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 100
MAX_ALIAS_NODES = 100_000


def _check_node_graph(root: yaml.Node) -> None:
    """Refuse a document nested too deep or expanding too far through aliases, before it is
    built: Python builds nested values recursively, and every later walk would pay the
    expansion. Iterative, each distinct node once (aliases share nodes)."""
    size: dict[int, int] = {}  # expanded node count of each collection walked
    open_: set[int] = set()  # the collections whose subtree is being walked: the current path
    seen = 1  # distinct nodes met so far
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        children = _children(node)
        if done:
            open_.discard(id(node))
            size[id(node)] = 1 + sum(size.get(id(c), 1) for c in children)
            # Without aliases a subtree is never larger than the nodes met so far.
            if size[id(node)] > MAX_ALIAS_NODES + seen:
                raise yaml.YAMLError(f"aliases add more than {MAX_ALIAS_NODES} nodes")
        elif depth > MAX_DEPTH:
            raise yaml.YAMLError(f"nested more than {MAX_DEPTH} levels deep")
        elif id(node) in open_:
            raise yaml.YAMLError("an alias refers to a node that contains it")
        elif id(node) not in size:
            open_.add(id(node))
            seen += len(children)
            stack.append((node, depth, True))
            stack.extend((c, depth + 1, False) for c in children if _children(c))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _documents(text: str) -> list[object]:
    loader = _Loader(text)
    try:
        docs = []
        while loader.check_node():
            node = loader.get_node()
            assert node is not None  # check_node: a document follows
            _check_node_graph(node)
            docs.append(loader.construct_document(node))
        return docs
    finally:
        loader.dispose()


STDIN = "-"


def _files(paths: Sequence[str]) -> Iterator[Path | None]:
    """The files to read, each once (None: standard input), in the order given."""
    seen: set[Path | None] = set()
    for raw in paths:
        if raw == STDIN:
            found: Sequence[Path | None] = [None]
        else:
            path = Path(raw)
            if path.is_dir():
                found = sorted(
                    p for p in path.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml")
                )
            elif path.is_file():
                found = [path]
            else:
                raise SpecError("no such file or directory", source=raw)
        for file in found:
            key = None if file is None else file.resolve()
            if key not in seen:
                seen.add(key)
                yield file


def _read(file: Path | None) -> tuple[str, str]:
    """(source name, text) of a file or of standard input, at most MAX_FILE_BYTES of UTF-8."""
    name = "<stdin>" if file is None else str(file)
    try:
        if file is None:
            data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
        else:
            with file.open("rb") as stream:
                data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror or exc}", source=name) from None
    if len(data) > MAX_FILE_BYTES:
        raise SpecError(
            f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB, the limit for one manifest file",
            source=name,
        )
    try:
        return name, data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError(
            f"not UTF-8 text: byte {data[exc.start]:#04x} at offset {exc.start}", source=name
        ) from None


def _objects(doc: object, source: str) -> Iterator[tuple[Mapping[str, Any], str]]:
    if doc is None:
        return
    if not isinstance(doc, Mapping):
        raise SpecError(f"not a Kubernetes object but a YAML {type_name(doc)}", source=source)
    if doc.get("apiVersion") == "v1" and doc.get("kind") == "List":
        for i, item in enumerate(doc.get("items") or ()):
            yield from _objects(item, f"{source}.items[{i}]")
        return
    yield doc, source


def _ours(doc: Mapping[str, Any], source: str) -> bool:
    api_version = doc.get("apiVersion")
    group = api_version.rpartition("/")[0] if isinstance(api_version, str) else None
    if group == GROUP:
        # The CLI leaves imports alone; grants come in through --grants (docs/tenancy.md).
        return doc.get("kind") not in (KIND_IMPORT, KIND_GRANT)
    kind = doc.get("kind")
    if kind not in _kinds():
        return False
    if api_version is None:
        raise SpecError(
            f"apiVersion is required (kind {kind} is {API_VERSION})",
            source=source,
            field="apiVersion",
        )
    # Another group's kind of the same name is skipped; a malformed apiVersion on our kind is a
    # typo the API server refuses too, not a reason to drop the object silently.
    if not isinstance(api_version, str) or api_version == GROUP:
        raise SpecError(
            f"apiVersion {api_version!r} is not a group/version (kind {kind} is {API_VERSION})",
            source=source,
            field="apiVersion",
        )
    return False


def _check_against_namespace(
    res: Resource, spec: ServiceDiscoverySpec, namespace: NamespaceSpec
) -> None:
    refusal = None if spec.service is None else refused_in(spec.service, namespace.type)
    if refusal is not None:
        field, why = refusal
        raise SpecError(
            why, source=res.source, resource=res.identity.key, field=f"spec.service.{field}"
        )


def _all_objects(paths: Sequence[str]) -> Iterator[tuple[Mapping[str, Any], str]]:
    """Every object in the files and directories given, with where it is (`file#index`)."""
    for file in _files(paths):
        name, text = _read(file)
        try:
            docs = _documents(text)
        except _DuplicateKey as exc:
            raise SpecError(str(exc), source=name) from None
        except yaml.YAMLError as exc:
            raise SpecError(f"invalid YAML: {exc}", source=name) from None
        except RecursionError:  # the pure-Python parser, without libyaml, recurses per level
            raise SpecError(
                f"invalid YAML: nested more than {MAX_DEPTH} levels deep", source=name
            ) from None
        for index, doc in enumerate(docs):
            yield from _objects(doc, f"{name}#{index}")


def load_grants(paths: Sequence[str]) -> tuple[list[Grant], dict[str, dict[str, str]]]:
    """The DiscoveryGrants in the files given (checked against their CRD, as the API server
    would), and the labels of the v1 Namespaces among them, by name: what the CLI's --grants
    checks manifests against (docs/tenancy.md). Other objects are skipped."""
    return grants_of(_all_objects(paths))


def grants_of(
    objects: Iterable[tuple[Mapping[str, Any], str]],
) -> tuple[list[Grant], dict[str, dict[str, str]]]:
    """`load_grants` of objects already read (each with where it is from): a file's, or the
    cluster's for `plan --from-cluster`."""
    grants: list[Grant] = []
    labels: dict[str, dict[str, str]] = {}
    schema = _kinds()[KIND_GRANT]
    for obj, source in objects:
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        if (kind, api_version) == (KIND_GRANT, schema.api_version):
            try:
                grants.append(parse_grant(schema.validate(obj)))
            except Invalid as exc:
                name = (obj.get("metadata") or {}).get("name", "?")
                raise SpecError(
                    exc.message, source=source, resource=f"{KIND_GRANT}/{name}", field=exc.field
                ) from None
        elif (kind, api_version) == ("Namespace", "v1"):
            meta = obj.get("metadata") or {}
            labels[str(meta.get("name"))] = {
                str(k): str(v) for k, v in (meta.get("labels") or {}).items()
            }
    return grants, labels


def load_manifests(paths: Sequence[str]) -> list[Resource]:
    """Every CloudMapNamespace and ServiceDiscovery in the files and directories given.

    Directories are read recursively (*.yaml, *.yml, sorted); objects of other API groups are
    skipped; "-" is standard input; a file named twice (also through a directory) is read
    once. Duplicate resources, duplicate keys in a YAML mapping, namespaceRefs to
    CloudMapNamespaces not in the set, and services the referenced namespace's type cannot hold
    are errors. Namespaces come first, each kind in the order read.
    """
    resources: list[Resource] = []
    seen: dict[str, str] = {}
    for obj, source in _all_objects(paths):
        if not _ours(obj, source):
            continue
        res = parse_resource(obj, source)
        key = res.identity.key
        if key in seen:
            raise SpecError(
                f"duplicate resource: also defined in {seen[key]}",
                source=source,
                resource=key,
            )
        seen[key] = source
        resources.append(res)
    namespaces = {r.identity.key: r.spec for r in resources if isinstance(r.spec, NamespaceSpec)}
    for res in resources:
        spec = res.spec
        manager = referenced_identity(res.identity, spec)
        if isinstance(spec, ServiceDiscoverySpec) and manager is not None:
            ref = manager.key
            if ref not in seen:
                raise SpecError(
                    f"missing reference: CloudMapNamespace {spec.namespace_ref!r} in namespace"
                    f" {res.identity.namespace!r} is not among the manifests given",
                    source=res.source,
                    resource=res.identity.key,
                    field="spec.namespaceRef.name",
                )
            _check_against_namespace(res, spec, namespaces[ref])
    return sorted(resources, key=lambda r: r.identity.kind != KIND_NAMESPACE)
