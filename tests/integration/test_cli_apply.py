"""The CLI's `main([...])` in-process against the AWS emulator: apply changes nothing when any
resource is refused, skips services whose namespace did not get ready, and says why delete left
something in AWS; plan and apply work without --region when every resource names its region.
How apply steps (`apply_resources`, in fake time): a service finds the namespace created in the
same apply at once, and a read throttled while planning is tried again."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from fake_time import FakeTime
from sd_devkit.emulator import Emulator
from sd_operator.aws.adapters import Adapters
from sd_operator.aws.errors import RETRY_DELAY_SECONDS
from sd_operator.cli import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, apply_resources
from sd_operator.model.parse import load_manifests
from sd_operator.model.spec import ClusterIdentity
from sd_operator.reconcile.converge import FIRST_POLL_SECONDS
from sd_operator.reconcile.reconciler import Reconciler
from support import cli, mutating_calls, service_names_in

REGION = "us-east-1"

NAMESPACE = """\
apiVersion: sd-operator.io/v1alpha1
kind: CloudMapNamespace
metadata: {name: myapp, namespace: payments}
spec:
  name: myapp.local
  type: DnsPrivate
  vpc: vpc-0a1b2c3d4e5f60718
  description: DESCRIPTION
"""
SERVICE = """\
apiVersion: sd-operator.io/v1alpha1
kind: ServiceDiscovery
metadata: {name: NAME, namespace: payments}
spec:
  namespaceRef: {name: myapp}
  service:
    dns: {records: [{type: RECORD, ttl: 10}]}
    healthCheck: {custom: {}}
"""


def namespace(description: str = "first", extra: str = "") -> str:
    return NAMESPACE.replace("DESCRIPTION", description) + extra


def service(name: str, record: str = "A") -> str:
    return SERVICE.replace("NAME", name).replace("RECORD", record)


def write(directory: Path, **files: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.yaml"):
        old.unlink()
    for name, text in files.items():
        (directory / f"{name}.yaml").write_text(text)
    return directory


def namespace_named(sd: Any, name: str) -> dict[str, Any]:
    return next(n for n in sd.list_namespaces()["Namespaces"] if n["Name"] == name)


def test_apply_changes_nothing_when_one_resource_is_refused(
    emulator: Emulator, sd: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifests = write(tmp_path / "m", ns=namespace("first"), b=service("b", "A"))
    assert cli(emulator, "apply", "-f", str(manifests)) == EXIT_OK
    capsys.readouterr()
    emulator.reset_calls()

    # The namespace would be updated and service a created, but b's record type cannot change.
    write(manifests, ns=namespace("second"), a=service("a"), b=service("b", "AAAA"))
    code = cli(emulator, "apply", "-f", str(manifests))

    out = capsys.readouterr().out
    assert code == EXIT_ERROR
    assert (
        f"ServiceDiscovery payments/b ({manifests / 'b.yaml'}#0): refused (ImmutableField): "
        "spec.service.dns.records: service b has record types A" in out
    )
    assert "nothing was changed" in out
    assert "done" not in out
    assert mutating_calls(emulator.calls()) == {}
    ns = namespace_named(sd, "myapp.local")
    assert sd.get_namespace(Id=ns["Id"])["Namespace"]["Description"] == "first"
    assert service_names_in(sd, ns["Id"]) == ["b"]


def test_blocked_resource_does_not_stop_the_others(
    emulator: Emulator, sd: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sd.create_http_namespace(Name="taken")
    taken = NAMESPACE.replace("name: myapp,", "name: taken,").replace(
        "  name: myapp.local\n  type: DnsPrivate\n  vpc: vpc-0a1b2c3d4e5f60718\n",
        "  name: taken\n  type: Http\n",
    )
    manifests = write(tmp_path / "m", ns=namespace(), taken=taken, a=service("a"))

    code = cli(emulator, "apply", "-f", str(manifests))

    out = capsys.readouterr().out
    assert code == EXIT_ERROR
    assert "CloudMapNamespace payments/taken: Blocked (AlreadyExists)" in out
    assert service_names_in(sd, namespace_named(sd, "myapp.local")["Id"]) == ["a"]


def test_services_of_a_namespace_that_is_not_ready_are_skipped_at_once(
    emulator: Emulator, sd: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    op = sd.create_private_dns_namespace(Name="myapp.local", Vpc="vpc-0a1b2c3d4e5f60718")
    foreign = sd.get_operation(OperationId=op["OperationId"])["Operation"]["Targets"]["NAMESPACE"]
    manifests = write(tmp_path / "m", ns=namespace(), a=service("a"), b=service("b"))

    started = time.monotonic()
    code = cli(emulator, "apply", "-f", str(manifests), "--timeout", "60")

    out = capsys.readouterr().out
    assert code == EXIT_ERROR
    assert time.monotonic() - started < 30
    assert "CloudMapNamespace payments/myapp: Blocked (AlreadyExists)" in out
    for name in ("a", "b"):
        assert (
            f"ServiceDiscovery payments/{name}: skipped: CloudMapNamespace myapp is not ready "
            "(AlreadyExists)" in out
        )
    assert service_names_in(sd, foreign) == []


def test_delete_says_what_was_kept_and_what_was_not_ours(
    emulator: Emulator, sd: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifests = write(
        tmp_path / "m", ns=namespace(extra="  deletionPolicy: Retain\n"), a=service("a")
    )
    assert cli(emulator, "apply", "-f", str(manifests)) == EXIT_OK
    capsys.readouterr()

    assert cli(emulator, "delete", "-f", str(manifests)) == EXIT_OK
    first = capsys.readouterr().out
    assert "ServiceDiscovery payments/a: deleted" in first
    assert "CloudMapNamespace payments/myapp: kept in AWS (deletionPolicy: Retain)" in first

    assert cli(emulator, "delete", "-f", str(manifests)) == EXIT_OK
    again = capsys.readouterr().out
    assert "ServiceDiscovery payments/a: nothing of ours to delete" in again
    assert "CloudMapNamespace payments/myapp: kept in AWS (deletionPolicy: Retain)" in again
    assert "nothing to do" not in again
    assert namespace_named(sd, "myapp.local")


# Steps ---------------------------------------------------------------------------------------


def apply_steps(reconciler: Reconciler, manifests: Path, time: FakeTime) -> tuple[int, str]:
    """What `apply -f manifests` does, waiting in fake time: exit code and output."""
    out = io.StringIO()
    resources = load_manifests([str(manifests)])
    code = apply_resources(
        reconciler,
        resources,
        timeout=60,
        out=out,
        sleep=time.sleep,
        clock=time.clock,
    )
    return code, out.getvalue()


def test_a_service_applied_with_its_namespace_is_created_without_waiting_for_it(
    emulator: Emulator, sd: Any, tmp_path: Path, fake_time: FakeTime
) -> None:
    """apply plans everything first, through the account view, before the namespace exists.
    The namespace's create operation names the new namespace, which is then read by id and so
    known to the view: the service is created in its first step. It used to find the view
    without the namespace, fail NamespaceNotReady and wait 10 s for a relist."""
    manifests = write(tmp_path / "m", ns=namespace(), a=service("a"))
    reconciler = Reconciler(Adapters(REGION, emulator.endpoint_url), ClusterIdentity("default"))

    code, out = apply_steps(reconciler, manifests, fake_time)

    assert code == EXIT_OK, out
    assert out.splitlines() == [
        "CloudMapNamespace payments/myapp: create DnsPrivate namespace myapp.local",
        "CloudMapNamespace payments/myapp: done",
        "ServiceDiscovery payments/a: create service a in namespace myapp.local",
        "ServiceDiscovery payments/a: done",
    ]
    assert fake_time.slept == [FIRST_POLL_SECONDS], "only the namespace's operation is waited for"
    assert emulator.calls()["servicediscovery:CreateService"] == 1
    assert service_names_in(sd, namespace_named(sd, "myapp.local")["Id"]) == ["a"]


def test_a_read_throttled_past_botocores_attempts_while_planning_is_tried_again(
    emulator: Emulator, tmp_path: Path, sd: Any, fake_time: FakeTime
) -> None:
    # Two throttled answers in a row outlast one call's attempts (botocore retries once here:
    # its own backoff is not under test). Before the plan tried again, apply then answered
    # "1 resource(s) cannot be applied" and changed nothing (it did so in bench/scale.py's
    # 30% throttled run).
    emulator.inject("tagging:GetResources", error="ThrottlingException", count=2)
    path = write(tmp_path, ns=namespace(), a=service("alpha"))
    reconciler = Reconciler(
        Adapters(REGION, emulator.endpoint_url, max_attempts=1), ClusterIdentity("default")
    )

    code, out = apply_steps(reconciler, path, fake_time)

    assert code == EXIT_OK, out
    assert service_names_in(sd, namespace_named(sd, "myapp.local")["Id"]) == ["alpha"]
    assert emulator.calls()["tagging:GetResources"] > 2
    assert fake_time.slept[0] == RETRY_DELAY_SECONDS, "the plan waited, then read again"


# Regions -------------------------------------------------------------------------------------


@pytest.fixture
def no_region_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)


@pytest.mark.usefixtures("no_region_env")
def test_no_region_flag_needed_when_every_resource_names_its_region(
    emulator: Emulator, sd: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifests = write(tmp_path / "m", ns=namespace(extra=f"  region: {REGION}\n"), a=service("a"))
    assert cli(emulator, "plan", "-f", str(manifests), region=None) == EXIT_CHANGES
    assert cli(emulator, "apply", "-f", str(manifests), region=None) == EXIT_OK
    assert cli(emulator, "plan", "-f", str(manifests), region=None) == EXIT_OK
    assert service_names_in(sd, namespace_named(sd, "myapp.local")["Id"]) == ["a"]


@pytest.mark.usefixtures("no_region_env")
def test_a_resource_without_region_needs_the_flag(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifests = write(tmp_path / "m", ns=namespace(), a=service("a"))
    assert cli(emulator, "plan", "-f", str(manifests), region=None) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "no AWS region: pass --region or set AWS_REGION (or AWS_DEFAULT_REGION)" in err
    assert emulator.calls() == {}


# Input ---------------------------------------------------------------------------------------


def test_manifests_from_standard_input_and_a_file_named_twice(
    emulator: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manifests = write(tmp_path / "m", ns=namespace())
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(service("a").encode())))
    args = ("plan", "-f", str(manifests), "-f", str(manifests / "ns.yaml"), "-f", "-")
    assert cli(emulator, *args) == EXIT_CHANGES
    out = capsys.readouterr().out
    account = emulator.account_id
    assert f"ServiceDiscovery payments/a (<stdin>#0, account {account}): 1 action(s)" in out
    assert out.count("CloudMapNamespace payments/myapp") == 1


def test_plan_into_a_closed_pipe_exits_quietly(emulator: Emulator, tmp_path: Path) -> None:
    manifests = write(tmp_path / "m", ns=namespace(), a=service("a"))
    command = [sys.executable, "-m", "sd_operator.cli", "plan", "-o", "json", "-f", str(manifests)]
    command += ["--aws-endpoint-url", emulator.endpoint_url, "--region", REGION]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ}
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.close()  # `| head -0`: the reader is gone before anything is written
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == EXIT_ERROR
    assert "Traceback" not in stderr
    assert "BrokenPipeError" not in stderr
