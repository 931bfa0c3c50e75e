"""A role per DiscoveryGrant, against the emulator's several accounts (docs/tenancy.md, "Many AWS
accounts"): two tenants whose grants name two roles converge each in its own account, through
the operator's own identity; a role the operator cannot assume stalls only its tenant; the CLI
acts through --role-arn as the operator does through a grant."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import uuid4

import kopf
import pytest
import yaml
from prometheus_client import REGISTRY

from builders import ALLOW_ALL
from sd_devkit.emulator import Emulator, assumed_session, calllog, client_config, trust_policy
from sd_operator.aws.adapters import Adapters
from sd_operator.aws.clients import AwsConfig, cloudmap_client
from sd_operator.handlers.claims import order
from sd_operator.handlers.indexes import Claimant
from sd_operator.handlers.sweep import Sweeper
from sd_operator.handlers.units import Units
from sd_operator.model import reasons
from sd_operator.model.grants import Grant, Role
from sd_operator.model.parse import parse_resource
from sd_operator.reconcile.conflicts import coarse_keys
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.reconcile.result import Outcome, StepResult
from support import REGION, calls_since, cli, cli_output

# Accounts other than the emulator's own are shared by the emulators of one process: each test
# has its own.
EXTERNAL_ID = "team-a-8c61be0"


def cloud_map_namespace(k8s_namespace: str, name: str) -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load(
        f"""
        apiVersion: sd-operator.io/v1alpha1
        kind: CloudMapNamespace
        metadata: {{name: {name}, namespace: {k8s_namespace}, uid: uid-{name}, generation: 1}}
        spec: {{name: {name}, type: Http}}
        """
    )
    return body


def through(name: str, k8s_namespace: str, role: Role | None) -> Grant:
    """ALLOW_ALL's permissions for one Kubernetes namespace, acting through `role`."""
    return Grant(
        name,
        type(ALLOW_ALL.namespaces)(names=(k8s_namespace,)),
        ALLOW_ALL.regions,
        ALLOW_ALL.create,
        ALLOW_ALL.use,
        ALLOW_ALL.adopt,
        ALLOW_ALL.ecs,
        role=role,
    )


def operator(emulator: Emulator, reconciler: Reconciler, *grants: Grant) -> Units:
    units = Units.build(reconciler, Adapters(REGION, emulator.endpoint_url), 30)
    units.live.grants = {g.name: [g] for g in grants}
    units.live.namespace_labels = {}
    return units


class Writer:
    """The sweep's status patches and Events, kept."""

    def __init__(self) -> None:
        self.patches: list[Any] = []

    def patch_status(self, body: Any, status: Any) -> None:
        self.patches.append(status)

    def post_event(self, *_: Any) -> None: ...


def converge(units: Units, body: dict[str, Any], steps: int = 10) -> StepResult:
    """A change handler's steps of `body`, its status kept between them, until it settles."""
    result: StepResult | None = None
    for _ in range(steps):
        patch = kopf.Patch()
        result = units.steps.step_and_write(
            kopf.Body(body),  # type: ignore[arg-type]
            patch,
            parse_resource(body),
            None,
            from_view=False,
            post=Writer().post_event,
        )
        body["status"] = {**body.get("status", {}), **(patch.get("status") or {})}
        assert result is not None
        if result.outcome is not Outcome.WAITING:
            return result
    assert result is not None
    return result


def namespaces_in(emulator: Emulator, role_arn: str, external_id: str | None = None) -> list[str]:
    """The Cloud Map namespace names of the role's account, as its own console shows them."""
    session = assumed_session(emulator.endpoint_url, role_arn, REGION, external_id=external_id)
    sd = session.client(
        "servicediscovery", endpoint_url=emulator.endpoint_url, config=client_config()
    )
    return sorted(n["Name"] for n in sd.list_namespaces()["Namespaces"])


def condition(body: dict[str, Any], type_: str) -> dict[str, Any]:
    [found] = [c for c in body["status"]["conditions"] if c["type"] == type_]
    return dict(found)


def sweep(units: Units, bodies: list[dict[str, Any]]) -> tuple[int, int]:
    """One drift sweep over `bodies`: (stepped, written)."""
    sweeper = Sweeper(units, Writer(), interval=30)
    for body in bodies:
        sweeper.seen("ADDED", body)
    try:
        report = sweeper.sweep()
    finally:
        sweeper.stop()
    return report.stepped, report.written


def test_two_grants_with_two_roles_converge_each_in_its_own_account(
    emulator: Emulator, reconciler: Reconciler, sd: Any
) -> None:
    a, b = "411111111111", "422222222222"
    role_a = emulator.create_role(
        a, "sd-operator-team-a", trust_policy(emulator.account_id, external_id=EXTERNAL_ID)
    )
    role_b = emulator.create_role(b, "sd-operator-team-b", trust_policy(emulator.account_id))
    units = operator(
        emulator,
        reconciler,
        through("team-a", "team-a", Role(role_a, EXTERNAL_ID)),
        through("team-b", "team-b", Role(role_b)),
    )
    team_a, team_b = cloud_map_namespace("team-a", "teama"), cloud_map_namespace("team-b", "teamb")

    for body in (team_a, team_b):
        done = converge(units, body)
        assert done.outcome is Outcome.IN_SYNC, (done.reason, done.message)

    assert (team_a["status"]["account"], team_b["status"]["account"]) == (a, b)
    assert team_a["status"]["namespaceArn"].split(":")[4] == a
    assert namespaces_in(emulator, role_a, EXTERNAL_ID) == ["teama"]
    assert namespaces_in(emulator, role_b) == ["teamb"]
    assert sd.list_namespaces()["Namespaces"] == []  # nothing in the operator's own account
    # Each account's calls are counted under it, apart from the others'.
    for account in (a, b):
        calls = REGISTRY.get_sample_value(
            "sd_operator_aws_calls_total",
            {"account": account, "api": "servicediscovery:CreateHttpNamespace", "outcome": "ok"},
        )
        assert calls == 1

    # The sweep reads each account in use once, and finds both in sync.
    listed = {account: lists(account) for account in (a, b, emulator.account_id)}
    report = sweep(units, [team_a, team_b])
    assert report == (2, 0)
    assert {account: lists(account) - n for account, n in listed.items()} == {
        a: 1,
        b: 1,
        emulator.account_id: 1,  # the operator's own account is always read
    }


def lists(account: str) -> float:
    """ListNamespaces calls made in `account` so far."""
    value = REGISTRY.get_sample_value(
        "sd_operator_aws_calls_total",
        {"account": account, "api": "servicediscovery:ListNamespaces", "outcome": "ok"},
    )
    return value or 0.0


def test_a_role_that_cannot_be_assumed_stalls_only_its_tenant(
    emulator: Emulator, reconciler: Reconciler
) -> None:
    a, b = "433333333333", "444444444444"
    # Tenant A's trust policy requires an ExternalId its grant does not send.
    role_a = emulator.create_role(
        a, "sd-operator-team-a", trust_policy(emulator.account_id, external_id=EXTERNAL_ID)
    )
    role_b = emulator.create_role(b, "sd-operator-team-b", trust_policy(emulator.account_id))
    units = operator(
        emulator,
        reconciler,
        through("team-a", "team-a", Role(role_a)),
        through("team-b", "team-b", Role(role_b)),
    )
    team_a, team_b = cloud_map_namespace("team-a", "teama"), cloud_map_namespace("team-b", "teamb")

    stalled = converge(units, team_a)
    before = emulator.calls().get("sts:AssumeRole", 0)
    again = converge(units, team_a)  # a retry within the back-off asks STS nothing
    assert emulator.calls().get("sts:AssumeRole", 0) == before
    done = converge(units, team_b)

    assert (stalled.outcome, stalled.reason) == (Outcome.BLOCKED, "AssumeRoleFailed")
    assert again.reason == "AssumeRoleFailed"
    found = condition(team_a, "Stalled")
    assert (found["status"], found["reason"]) == ("True", "AssumeRoleFailed")
    assert found["message"].startswith(f"cannot assume role {role_a}")
    assert "AccessDenied" in found["message"]
    assert done.outcome is Outcome.IN_SYNC, (done.reason, done.message)
    assert namespaces_in(emulator, role_b) == ["teamb"]
    # The sweep steps both: A answers the same refusal without asking STS, B stays in sync
    # on the credentials it has (botocore refreshes them only before they expire).
    before = emulator.calls().get("sts:AssumeRole", 0)
    assert sweep(units, [team_a, team_b])[0] == 2
    assert emulator.calls().get("sts:AssumeRole", 0) == before


def test_the_cli_acts_through_role_arn(emulator: Emulator, tmp_path: Any) -> None:
    account = "455555555555"
    role = emulator.create_role(
        account, "sd-operator-ci", trust_policy(emulator.account_id, external_id=EXTERNAL_ID)
    )
    manifest = tmp_path / "teama.yaml"
    manifest.write_text(yaml.safe_dump(cloud_map_namespace("team-a", "teama")))

    code = cli(
        emulator, "apply", "-f", str(manifest), "--role-arn", role, "--external-id", EXTERNAL_ID
    )

    assert code == 0
    assert namespaces_in(emulator, role, EXTERNAL_ID) == ["teama"]


def test_the_plan_names_each_resources_account(emulator: Emulator, tmp_path: Any) -> None:
    account = "466666666666"
    role = emulator.create_role(account, "sd-operator-plan", trust_policy(emulator.account_id))
    manifest = tmp_path / "teama.yaml"
    manifest.write_text(yaml.safe_dump(cloud_map_namespace("team-a", "teama")))

    code, out = cli_output(emulator, "plan", "-f", str(manifest), "--role-arn", role)
    json_code, document = cli_output(
        emulator, "plan", "-f", str(manifest), "--role-arn", role, "-o", "json"
    )
    _, own = cli_output(emulator, "plan", "-f", str(manifest), "-o", "json")

    assert (code, json_code) == (2, 2)  # changes pending
    assert f"CloudMapNamespace team-a/teama ({manifest}#0, account {account}): 1 action(s)" in out
    [planned] = json.loads(document)["resources"]
    assert planned["account"] == account
    assert json.loads(own)["resources"][0]["account"] == emulator.account_id


def grants_file(tmp_path: Any, *grants: tuple[str, str, str | None]) -> str:
    """DiscoveryGrants (name, Kubernetes namespace, role ARN or None) allowing everything."""
    docs = []
    for name, namespace, role_arn in grants:
        spec: dict[str, Any] = {
            "namespaces": {"names": [namespace]},
            "regions": ["*"],
            "cloudMapNamespaces": {"create": {"names": ["*"]}},
        }
        if role_arn is not None:
            spec["aws"] = {"roleArn": role_arn}
        docs.append(
            {
                "apiVersion": "sd-operator.io/v1alpha1",
                "kind": "DiscoveryGrant",
                "metadata": {"name": name},
                "spec": spec,
            }
        )
    path = tmp_path / "grants.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return str(path)


def test_the_cli_acts_through_the_role_its_grants_name(emulator: Emulator, tmp_path: Any) -> None:
    account = "477777777777"
    role = emulator.create_role(account, "sd-operator-team-a", trust_policy(emulator.account_id))
    manifest = tmp_path / "teama.yaml"
    manifest.write_text(yaml.safe_dump(cloud_map_namespace("team-a", "teama")))
    grants = grants_file(tmp_path, ("team-a", "team-a", role))

    assert cli(emulator, "apply", "-f", str(manifest), "--grants", grants) == 0

    assert namespaces_in(emulator, role) == ["teama"]


def test_the_cli_refuses_manifests_its_grants_place_in_two_accounts(
    emulator: Emulator, tmp_path: Any, capsys: Any
) -> None:
    role = emulator.create_role(
        "488888888888", "sd-operator-team-a", trust_policy(emulator.account_id)
    )
    manifests = tmp_path / "manifests.yaml"
    manifests.write_text(
        yaml.safe_dump_all(
            [cloud_map_namespace("team-a", "teama"), cloud_map_namespace("team-b", "teamb")]
        )
    )
    grants = grants_file(tmp_path, ("team-a", "team-a", role), ("team-b", "team-b", None))
    calls = emulator.calls()

    code = cli(emulator, "plan", "-f", str(manifests), "--grants", grants)
    other = cli(emulator, "plan", "-f", str(manifests), "--external-id", "x")

    assert (code, other) == (1, 1)
    err = capsys.readouterr().err
    assert "the grants put these resources in several AWS accounts" in err
    assert "--external-id needs --role-arn" in err
    assert calls_since(emulator, calls) == {}


def test_the_operators_assume_role_is_in_the_call_log(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tests/iam holds docs/iam-policy.json to the calls in this log, which keeps the operator's
    own (by their User-Agent): the AssumeRole of a grant's role, made by an STS client without
    it, went unseen, and the policy lacked sts:AssumeRole."""
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv(calllog.ENV, str(log))
    # A role of this test's own: the operator keeps its clients per role for the process' life.
    role = emulator.create_role(
        "499999999999", f"sd-operator-{uuid4().hex[:8]}", trust_policy(emulator.account_id)
    )

    cloudmap_client(AwsConfig(REGION, emulator.endpoint_url, role=Role(role))).list_namespaces()

    logged = [json.loads(line) for line in log.read_text().splitlines()]
    assert {"action": "sts:AssumeRole", "resources": {role: {}}} in logged


def orders(k8s_namespace: str, created: str) -> dict[str, Any]:
    """A ServiceDiscovery of Cloud Map service `orders` in namespace `shop.example`."""
    body: dict[str, Any] = yaml.safe_load(
        f"""
        apiVersion: sd-operator.io/v1alpha1
        kind: ServiceDiscovery
        metadata:
          {{name: orders, namespace: {k8s_namespace}, uid: uid-{k8s_namespace}, generation: 1,
           creationTimestamp: "{created}"}}
        spec:
          cloudMapNamespace: {{name: shop.example}}
          service: {{name: orders}}
        """
    )
    return body


def test_a_role_in_the_operators_own_account_and_no_role_claim_in_one_account(
    emulator: Emulator, reconciler: Reconciler
) -> None:
    """Team A acts with the operator's own credentials, team B through a role in the same
    account: one Cloud Map service, whichever way it is reached, so the later one is held. The
    claims keyed the operator's own account as "" and a role's by its number: no clash."""
    own = emulator.create_role(
        emulator.account_id, "sd-operator-own-account", trust_policy(emulator.account_id)
    )
    units = operator(
        emulator,
        reconciler,
        through("team-a", "team-a", None),
        through("team-b", "team-b", Role(own)),
    )
    bodies = [orders("team-a", "2026-01-01T00:00:00Z"), orders("team-b", "2026-01-02T00:00:00Z")]
    claimants = [Claimant(order(b), parse_resource(b)) for b in bodies]
    index = {key: claimants for key in coarse_keys(claimants[0].resource)}

    for later, earlier in ((bodies[1], "team-a"), (bodies[0], None)):
        result = units.steps.step_and_write(
            kopf.Body(later),  # type: ignore[arg-type]
            kopf.Patch(),
            parse_resource(later),
            None,
            from_view=False,
            claimants=[index],
            post=Writer().post_event,
        )
        assert result is not None
        if earlier is None:
            assert result.reason != reasons.REASON_CONFLICT, result.message
        else:
            assert result.reason == reasons.REASON_CONFLICT
            assert f"ServiceDiscovery {earlier}/orders (the earlier one)" in str(result.message)
