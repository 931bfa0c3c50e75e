"""Two clusters sharing an AWS account under one --cluster-name (both left at `default`), told
apart by their cluster ids (issue 21, item 4): neither changes, deletes or deregisters what the
other made; and resources tagged before cluster ids existed go to the first cluster that claims
them (docs/ownership.md, "Cluster identity")."""

from __future__ import annotations

from typing import Any

from builders import REGION, discovery, namespace, namespace_spec
from fake_time import FakeTime
from sd_devkit.emulator import Emulator
from sd_operator.aws.adapters import Adapters
from sd_operator.model.reasons import REASON_OWNED_ELSEWHERE
from sd_operator.model.spec import ClusterIdentity
from sd_operator.reconcile.ownership import CLUSTER_ID_TAG, CLUSTER_TAG
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.reconcile.result import Outcome
from support import calls_since, mutating_calls, namespace_id_of, service_names_in

A = ClusterIdentity("default", "8d6b1f0e-aaaa-4c1e-9a51-000000000001")
B = ClusterIdentity("default", "8d6b1f0e-bbbb-4c1e-9a51-000000000002")


def _tags(sd: Any, arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in sd.list_tags_for_resource(ResourceARN=arn)["Tags"]}


def _converge(reconciler: Reconciler, *, deleting: bool = False) -> list[Outcome]:
    """Namespace, then service, to the end: the outcome of each."""
    outcomes = []
    for res, ns in ((namespace(), None), (discovery(), NS)):
        time = FakeTime()
        run = time.converge_delete if deleting else time.converge
        done = run(reconciler, res, ns, timeout=30)
        assert done.last is not None
        outcomes.append(done.last.outcome)
    return outcomes


NS = namespace_spec()


def test_each_cluster_creates_and_deletes_its_own_service_in_a_namespace_of_its_own(
    emulator: Emulator, sd: Any
) -> None:
    """The same resource identities in both clusters, each with its own Cloud Map namespace
    (the spec names differ): B deleting everything it made leaves A's as A made it."""
    adapters = Adapters(REGION, emulator.endpoint_url)
    a, b = Reconciler(adapters, A), Reconciler(adapters, B)
    assert _converge(a) == [Outcome.IN_SYNC, Outcome.IN_SYNC]
    other = namespace_spec(name="other.local")
    for res, ns in (
        (namespace(name="other.local"), None),
        (discovery(), other),
    ):
        done = FakeTime().converge(b, res, ns, timeout=30)
        assert done.last is not None
        assert done.last.outcome is Outcome.IN_SYNC, done.last.message
    a_ns, b_ns = namespace_id_of(sd, "myapp.local"), namespace_id_of(sd, "other.local")
    b_service = sd.list_services(
        Filters=[{"Name": "NAMESPACE_ID", "Values": [b_ns], "Condition": "EQ"}]
    )["Services"][0]
    assert _tags(sd, b_service["Arn"])[CLUSTER_ID_TAG] == B.id

    for res, ns in (
        (discovery(), other),
        (namespace(name="other.local"), None),
    ):
        done = FakeTime().converge_delete(b, res, ns, timeout=30)
        assert done.last is not None
        assert done.last.outcome is Outcome.GONE, done.last.message

    assert [n["Name"] for n in sd.list_namespaces()["Namespaces"]] == ["myapp.local"]
    assert service_names_in(sd, a_ns) == ["user-service"]


def test_resources_tagged_before_cluster_ids_go_to_the_first_cluster_that_claims_them(
    emulator: Emulator, sd: Any
) -> None:
    """Made by an operator without ids (name tags only), then both `default` clusters upgrade:
    A reconciles first and writes its id; B then finds A's id and changes nothing."""
    adapters = Adapters(REGION, emulator.endpoint_url)
    assert _converge(Reconciler(adapters, ClusterIdentity("default"))) == [Outcome.IN_SYNC] * 2
    ns_id = namespace_id_of(sd, "myapp.local")
    ns_arn = sd.get_namespace(Id=ns_id)["Namespace"]["Arn"]
    assert CLUSTER_ID_TAG not in _tags(sd, ns_arn)

    assert _converge(Reconciler(adapters, A)) == [Outcome.IN_SYNC] * 2
    service = sd.list_services(
        Filters=[{"Name": "NAMESPACE_ID", "Values": [ns_id], "Condition": "EQ"}]
    )["Services"][0]
    for arn in (ns_arn, service["Arn"]):
        assert _tags(sd, arn)[CLUSTER_ID_TAG] == A.id
        assert _tags(sd, arn)[CLUSTER_TAG] == "default"

    before = emulator.calls()
    late = Reconciler(adapters, B)
    ns_res = namespace()
    done = FakeTime().converge(late, ns_res, None, timeout=30)
    assert done.last is not None
    assert done.last.reason == REASON_OWNED_ELSEWHERE
    assert _converge(late, deleting=True) == [Outcome.GONE, Outcome.GONE]
    assert mutating_calls(calls_since(emulator, before)) == {}
    assert service_names_in(sd, ns_id) == ["user-service"]
