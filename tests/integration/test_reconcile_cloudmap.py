"""The reconciler against the AWS emulator over HTTP: Cloud Map create, update, drift, adopt,
delete, and resuming an in-flight operation after a restart."""

from __future__ import annotations

from typing import Any

import pytest

from builders import CLUSTER, REGION, discovery, namespace
from fake_time import FakeTime
from sd_devkit.emulator import Emulator
from sd_operator.aws.adapters import Adapters
from sd_operator.model import conditions as cond
from sd_operator.model.spec import (
    AdoptionPolicy,
    DeletionPolicy,
    DriftPolicy,
    NamespaceSpec,
    Resource,
)
from sd_operator.model.status import Operation
from sd_operator.reconcile.converge import FIRST_POLL_SECONDS
from sd_operator.reconcile.ownership import OWNER_TAG
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.reconcile.result import Outcome, merge_status


def apply(reconciler: Reconciler, res: Resource, ns: NamespaceSpec | None = None) -> Any:
    # A bound, not a speed goal: on a loaded 2-core machine the budgeted list calls of a
    # paginated lookup took longer than 30 s once; converge returns as soon as it is in sync.
    return FakeTime().converge(reconciler, res, ns, timeout=90)


def steady_status(progress: Any, generation: int = 1) -> dict[str, Any]:
    """The status the operator leaves after a successful sync of `generation`."""
    return {
        **progress.status,
        "observedGeneration": generation,
        "conditions": [{"type": cond.SYNCED, "status": "True"}],
    }


def test_namespace_is_created_tagged_and_then_in_sync(reconciler: Reconciler, sd: Any) -> None:
    progress = apply(reconciler, namespace(tags={"team": "payments"}))

    assert progress.last.outcome is Outcome.IN_SYNC
    ns_id = progress.status["namespaceId"]
    tags = sd.list_tags_for_resource(ResourceARN=progress.status["namespaceArn"])["Tags"]
    assert {"Key": OWNER_TAG, "Value": "CloudMapNamespace/payments/myapp"} in tags
    assert {"Key": "team", "Value": "payments"} in tags
    assert reconciler.plan(namespace(tags={"team": "payments"})).plan.in_sync
    assert sd.get_namespace(Id=ns_id)["Namespace"]["Name"] == "myapp.local"


def test_restart_while_operation_pending_resumes_without_a_second_create(
    emulator: Emulator, reconciler: Reconciler
) -> None:
    emulator.hold_operations(polls=3)
    recorded = reconciler.step(namespace(), {})
    assert recorded.reason == "RecordingRequest"
    assert emulator.calls().get("servicediscovery:CreatePrivateDnsNamespace") is None
    first = reconciler.step(namespace(), merge_status({}, recorded))
    assert first.outcome is Outcome.WAITING
    status = merge_status(merge_status({}, recorded), first)
    assert status["operation"]["type"] == "CREATE_NAMESPACE"

    restarted = Reconciler(Adapters(REGION, emulator.endpoint_url), CLUSTER)
    progress_status: dict[str, Any] = status
    for _ in range(10):
        result = restarted.step(namespace(), progress_status)
        progress_status = merge_status(progress_status, result)
        if result.outcome is not Outcome.WAITING:
            break
    assert result.outcome is Outcome.IN_SYNC
    assert progress_status.get("operation") is None
    assert emulator.calls().get("servicediscovery:CreatePrivateDnsNamespace") == 1


def test_apply_sends_a_create_at_once_and_polls_its_operation_soon_then_less_often(
    emulator: Emulator, reconciler: Reconciler, fake_time: FakeTime
) -> None:
    """converge's status does not outlive it (the CLI): there is no request id to persist
    before the create, so the create goes out without a wait (the operator's steps record it
    first: test_restart_while_operation_pending_resumes_without_a_second_create). Its
    operation, pending for three polls, is polled after 0.05 s, then at twice the interval
    each time, so apply ends close to when AWS is done."""
    emulator.hold_operations(polls=3)

    progress = fake_time.converge(reconciler, namespace(), None, timeout=30)

    assert progress.last is not None
    assert progress.last.outcome is Outcome.IN_SYNC
    assert fake_time.slept == [FIRST_POLL_SECONDS * 2**n for n in range(4)]
    calls = emulator.calls()
    assert calls["servicediscovery:CreatePrivateDnsNamespace"] == 1
    assert calls["servicediscovery:GetOperation"] == 4


def test_crash_after_sending_a_create_reuses_its_recorded_request_id(
    emulator: Emulator, reconciler: Reconciler, sd: Any
) -> None:
    """The create was sent but its operation id never reached status (the process died in
    between): the retry sends the recorded CreatorRequestId again and AWS returns the same
    operation instead of starting a second create."""
    emulator.hold_operations(polls=2)
    recorded = merge_status({}, reconciler.step(namespace(), {}))
    sent = reconciler.step(namespace(), recorded)
    assert sent.outcome is Outcome.WAITING
    lost = dict(recorded)  # what was persisted: the request id, not the operation

    restarted = Reconciler(Adapters(REGION, emulator.endpoint_url), CLUSTER)
    result = restarted.step(namespace(), lost)

    resumed, submitted = result.status.operation, sent.status.operation
    assert isinstance(resumed, Operation)
    assert isinstance(submitted, Operation)
    assert resumed.id == submitted.id
    status = merge_status(lost, result)
    for _ in range(10):
        result = restarted.step(namespace(), status)
        status = merge_status(status, result)
        if result.outcome is not Outcome.WAITING:
            break
    assert result.outcome is Outcome.IN_SYNC
    assert len([n for n in sd.list_namespaces()["Namespaces"] if n["Name"] == "myapp.local"]) == 1


def test_apply_delete_apply_creates_the_namespace_again(reconciler: Reconciler, sd: Any) -> None:
    first = apply(reconciler, namespace())
    assert first.last.outcome is Outcome.IN_SYNC
    assert first.status.get("creatorRequestId") is None
    gone = FakeTime().converge_delete(reconciler, namespace(), None, timeout=30)
    assert gone.last is not None
    assert gone.last.outcome is Outcome.GONE

    again = apply(reconciler, namespace())

    assert again.last.outcome is Outcome.IN_SYNC
    assert again.status["namespaceId"] != first.status["namespaceId"]
    assert sd.get_namespace(Id=again.status["namespaceId"])["Namespace"]["Name"] == "myapp.local"


def test_failed_operation_is_reported_with_aws_error_code(
    emulator: Emulator, reconciler: Reconciler
) -> None:
    emulator.fail_operations("CREATE_NAMESPACE", error_code="CANNOT_CREATE_HOSTED_ZONE")
    progress = apply(reconciler, namespace())
    assert progress.last.outcome is Outcome.FAILED
    assert progress.last.reason == "CANNOT_CREATE_HOSTED_ZONE"
    assert progress.status.get("creatorRequestId") is None

    emulator.clear_operation_rules()  # the cause is fixed outside the spec
    retried = reconciler.step(namespace(), progress.status)
    status = merge_status(progress.status, retried)
    for _ in range(10):
        result = reconciler.step(namespace(), status)
        status = merge_status(status, result)
        if result.outcome is not Outcome.WAITING:
            break
    assert result.outcome is Outcome.IN_SYNC


def test_existing_unowned_namespace_is_left_alone_unless_adopted(
    reconciler: Reconciler, sd: Any
) -> None:
    op = sd.create_private_dns_namespace(Name="myapp.local", Vpc="vpc-0a1b2c3d4e5f60718")
    ns_id = sd.get_operation(OperationId=op["OperationId"])["Operation"]["Targets"]["NAMESPACE"]
    arn = sd.get_namespace(Id=ns_id)["Namespace"]["Arn"]

    refused = apply(reconciler, namespace(description="taken over"))
    assert refused.last.outcome is Outcome.BLOCKED
    assert refused.last.reason == "AlreadyExists"
    assert sd.list_tags_for_resource(ResourceARN=arn)["Tags"] == []

    adopted = apply(reconciler, namespace(adoption_policy=AdoptionPolicy.ADOPT))
    assert adopted.last.outcome is Outcome.IN_SYNC
    tags = {t["Key"]: t["Value"] for t in sd.list_tags_for_resource(ResourceARN=arn)["Tags"]}
    assert tags[OWNER_TAG] == "CloudMapNamespace/payments/myapp"
    assert adopted.status["namespaceId"] == ns_id


def test_ttl_change_in_spec_is_updated_in_place(reconciler: Reconciler, sd: Any) -> None:
    ns = namespace()
    apply(reconciler, ns)
    created = apply(reconciler, discovery(ttl=10), ns.spec)  # type: ignore[arg-type]
    service_id = created.status["serviceId"]

    updated = apply(reconciler, discovery(ttl=30), ns.spec)  # type: ignore[arg-type]

    assert updated.last.outcome is Outcome.IN_SYNC
    assert updated.performed == [
        f"update service user-service ({service_id}) in place; resolvers may keep answering "
        "with the old records for up to 10s (the TTL AWS holds now)"
    ]
    service = sd.get_service(Id=service_id)["Service"]
    assert service["DnsConfig"]["DnsRecords"] == [{"Type": "A", "TTL": 30}]
    assert service["DnsConfig"]["RoutingPolicy"] == "MULTIVALUE"


def test_out_of_band_ttl_change_is_recorded_as_drift_and_corrected(
    reconciler: Reconciler, sd: Any
) -> None:
    ns = namespace()
    apply(reconciler, ns)
    created = apply(reconciler, discovery(), ns.spec)  # type: ignore[arg-type]
    service_id = created.status["serviceId"]
    sd.update_service(
        Id=service_id, Service={"DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 300}]}}
    )

    result = reconciler.step(discovery(), steady_status(created), namespace=ns.spec)  # type: ignore[arg-type]

    assert result.outcome is Outcome.WAITING
    assert [(c.field, c.desired, c.observed) for c in result.drift] == [
        ("service.dns.records[0].ttl", 10, 300)
    ]
    status = merge_status(steady_status(created), result)
    assert status["drift"][-1]["action"] == "Corrected"
    final = apply(reconciler, discovery(), ns.spec)  # type: ignore[arg-type]
    assert final.last.outcome is Outcome.IN_SYNC
    records = sd.get_service(Id=service_id)["Service"]["DnsConfig"]["DnsRecords"]
    assert records == [{"Type": "A", "TTL": 10}]


def test_drift_report_policy_records_without_correcting(reconciler: Reconciler, sd: Any) -> None:
    ns = namespace()
    apply(reconciler, ns)
    report = discovery(drift_policy=DriftPolicy.REPORT)
    created = apply(reconciler, report, ns.spec)  # type: ignore[arg-type]
    service_id = created.status["serviceId"]
    sd.update_service(
        Id=service_id, Service={"DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 300}]}}
    )

    result = reconciler.step(report, steady_status(created), namespace=ns.spec)  # type: ignore[arg-type]

    assert result.outcome is Outcome.DRIFT_REPORTED
    assert result.performed == ()
    records = sd.get_service(Id=service_id)["Service"]["DnsConfig"]["DnsRecords"]
    assert records == [{"Type": "A", "TTL": 300}]


def test_namespace_holding_a_foreign_service_is_kept_until_it_is_gone(
    reconciler: Reconciler, sd: Any
) -> None:
    created = apply(reconciler, namespace())
    foreign = sd.create_service(Name="legacy", NamespaceId=created.status["namespaceId"])

    blocked = FakeTime().converge_delete(reconciler, namespace(), None, timeout=5)
    assert blocked.last.outcome is Outcome.BLOCKED
    assert "legacy" in blocked.last.message
    assert sd.get_namespace(Id=created.status["namespaceId"])["Namespace"]

    sd.delete_service(Id=foreign["Service"]["Id"])
    gone = FakeTime().converge_delete(reconciler, namespace(), None, timeout=30)
    assert gone.last.outcome is Outcome.GONE
    assert not [n for n in sd.list_namespaces()["Namespaces"] if n["Name"] == "myapp.local"]


def test_retain_policy_leaves_aws_alone_on_delete(reconciler: Reconciler, sd: Any) -> None:
    retained = namespace(deletion_policy=DeletionPolicy.RETAIN)
    apply(reconciler, retained)
    gone = FakeTime().converge_delete(reconciler, retained, None, timeout=5)
    assert gone.last.outcome is Outcome.GONE
    assert gone.performed == []
    assert [n for n in sd.list_namespaces()["Namespaces"] if n["Name"] == "myapp.local"]


def test_sustained_throttling_is_retryable_not_terminal(emulator: Emulator) -> None:
    # Throttling past botocore's retries (one here: its own backoff is not under test).
    reconciler = Reconciler(Adapters(REGION, emulator.endpoint_url, max_attempts=1), CLUSTER)
    emulator.inject("servicediscovery:ListNamespaces", error="ThrottlingException", rate=1.0)
    result = reconciler.step(namespace(), {})
    assert result.outcome is Outcome.ERROR
    assert result.reason == "ThrottlingException"
    assert result.retry_after
    emulator.clear_faults()
    assert apply(reconciler, namespace()).last.outcome is Outcome.IN_SYNC


@pytest.mark.paged
def test_lookups_follow_pagination(emulator: Emulator, reconciler: Reconciler, sd: Any) -> None:
    for i in range(5):
        sd.create_http_namespace(Name=f"other-{i}")
    assert apply(reconciler, namespace()).last.outcome is Outcome.IN_SYNC
    assert emulator.calls()["servicediscovery:ListNamespaces"] > 1
    assert reconciler.plan(namespace()).plan.in_sync


def test_renaming_a_namespace_in_the_manifest_is_refused(reconciler: Reconciler, sd: Any) -> None:
    apply(reconciler, namespace())

    renamed = apply(reconciler, namespace(name="myapp-v2.local"))

    assert renamed.last.outcome is Outcome.REFUSED
    assert renamed.last.message.startswith("spec.name: ")
    names = {n["Name"] for n in sd.list_namespaces()["Namespaces"]}
    assert names == {"myapp.local"}


def test_services_are_not_created_in_a_namespace_our_resource_does_not_own(
    emulator: Emulator, reconciler: Reconciler, sd: Any
) -> None:
    sd.create_private_dns_namespace(Name="myapp.local", Vpc="vpc-0a1b2c3d4e5f60718")
    assert apply(reconciler, namespace()).last.outcome is Outcome.BLOCKED

    blocked = apply(reconciler, discovery(), namespace().spec)  # type: ignore[arg-type]

    assert blocked.last.outcome is Outcome.BLOCKED
    assert blocked.last.reason == "NamespaceNotOwned"
    assert emulator.calls().get("servicediscovery:CreateService") is None

    apply(reconciler, namespace(adoption_policy=AdoptionPolicy.ADOPT))
    created = apply(reconciler, discovery(), namespace().spec)  # type: ignore[arg-type]
    assert created.last.outcome is Outcome.IN_SYNC


def test_a_new_service_costs_one_create_and_is_not_read_back(
    emulator: Emulator, reconciler: Reconciler, sd: Any
) -> None:
    """Issue 9, cold convergence: CreateService's answer is what AWS made, so the step reads
    neither GetService nor ListTagsForResource after it; the service is in sync and ours."""
    ns = namespace()
    apply(reconciler, ns)
    emulator.reset_calls()

    progress = apply(reconciler, discovery(), ns.spec)  # type: ignore[arg-type]

    assert progress.last.outcome is Outcome.IN_SYNC
    calls = emulator.calls()
    assert calls.get("servicediscovery:CreateService") == 1
    assert "servicediscovery:GetService" not in calls, calls
    assert "servicediscovery:ListTagsForResource" not in calls, calls
    service = sd.get_service(Id=progress.status["serviceId"])["Service"]
    assert service["DnsConfig"]["DnsRecords"] == [{"Type": "A", "TTL": 10}]
    tags = sd.list_tags_for_resource(ResourceARN=progress.status["serviceArn"])["Tags"]
    assert {"Key": OWNER_TAG, "Value": "ServiceDiscovery/payments/user-service"} in tags
    again = reconciler.plan(discovery(), namespace=ns.spec, known=progress.status)  # type: ignore[arg-type]
    assert again.plan.in_sync
