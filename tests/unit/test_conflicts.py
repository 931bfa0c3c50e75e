"""One owner per AWS resource: the CLI refuses a set with two claimants of one ECS service, one
Cloud Map namespace name (per region) or one Cloud Map service, before it reads or changes AWS."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from sd_operator.cli import EXIT_ERROR, main
from sd_operator.handlers.claims import Conflicts
from sd_operator.handlers.indexes import Claimant
from sd_operator.model.parse import parse_resource
from sd_operator.model.spec import Resource
from sd_operator.reconcile.conflicts import Claim, claims, clashes, coarse_keys, label

NAMESPACE = """\
apiVersion: sd-operator.io/v1alpha1
kind: CloudMapNamespace
metadata: {{name: {name}, namespace: payments}}
spec: {{name: {aws_name}, type: Http{extra}}}
"""
DISCOVERY = """\
apiVersion: sd-operator.io/v1alpha1
kind: ServiceDiscovery
metadata: {{name: {name}, namespace: payments}}
spec:
  {namespace}
  service: {{name: {service}}}
"""
ECS_ONLY = """\
apiVersion: sd-operator.io/v1alpha1
kind: ServiceDiscovery
metadata: {{name: {name}, namespace: payments}}
spec:
  cloudMapNamespace: {{name: myapp.local}}
  service: {{name: {name}}}
  ecs:
    cluster: {cluster}
    service: user-service
    registry: {{containerName: app, containerPort: 3000}}
"""
# Nothing listens here: a CLI that got as far as AWS would fail with another message.
NO_AWS = "http://127.0.0.1:9"


def namespace(name: str, aws_name: str = "myapp.local", region: str | None = None) -> str:
    extra = f", region: {region}" if region else ""
    return NAMESPACE.format(name=name, aws_name=aws_name, extra=extra)


def discovery(name: str, service: str, namespace: str = "namespaceRef: {name: myapp}") -> str:
    return DISCOVERY.format(name=name, service=service, namespace=namespace)


def run(tmp_path: Path, command: str, *docs: str) -> int:
    path = tmp_path / "set.yaml"
    path.write_text("---\n".join(docs))
    return main([command, "-f", str(path), "--region", "us-east-1", "--aws-endpoint-url", NO_AWS])


@pytest.mark.parametrize("command", ["plan", "apply", "delete"])
def test_two_discoveries_of_one_ecs_service_refuse_the_set(
    tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(
        tmp_path,
        command,
        ECS_ONLY.format(name="users-a", cluster="production"),
        ECS_ONLY.format(
            name="users-b", cluster="arn:aws:ecs:us-east-1:123456789012:cluster/production"
        ),
    )

    err = capsys.readouterr().err
    assert code == EXIT_ERROR
    assert "ServiceDiscovery payments/users-b (" in err
    assert "and ServiceDiscovery payments/users-a (" in err
    assert "both manage ECS service user-service in cluster production (us-east-1)" in err
    assert "nothing was changed: 1 conflict(s)" in err
    assert NO_AWS not in err
    assert "Could not connect" not in err


def test_two_namespaces_of_one_aws_name_in_one_region_refuse_the_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(tmp_path, "apply", namespace("myapp"), namespace("myapp-2", "MyApp.local."))

    err = capsys.readouterr().err
    assert code == EXIT_ERROR
    assert "CloudMapNamespace payments/myapp-2 (" in err
    assert "both manage Cloud Map namespace myapp.local in us-east-1" in err


def test_two_discoveries_of_one_cloud_map_service_refuse_the_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One through the CloudMapNamespace, one naming the AWS namespace itself."""
    code = run(
        tmp_path,
        "plan",
        namespace("myapp"),
        discovery("users", "user-service"),
        discovery("users-copy", "user-service", "cloudMapNamespace: {name: myapp.local}"),
    )

    err = capsys.readouterr().err
    assert code == EXIT_ERROR
    assert "ServiceDiscovery payments/users-copy (" in err, err
    assert "both manage Cloud Map service user-service in namespace myapp.local" in err


def parsed(text: str) -> Resource:
    return parse_resource(yaml.safe_load(text))


def test_same_names_in_other_regions_or_namespaces_do_not_clash() -> None:
    east, west = parsed(namespace("east")), parsed(namespace("west", region="us-west-2"))
    a = parsed(discovery("a", "user-service", "cloudMapNamespace: {name: one.local}"))
    b = parsed(discovery("b", "user-service", "cloudMapNamespace: {name: two.local}"))

    found = clashes((label(r), claims(r, None, "us-east-1")) for r in (east, west, a, b))

    assert found == []


def test_names_live_per_account_but_a_shared_namespace_is_the_same_one_from_every_account() -> None:
    """Two tenants whose grants name roles in two accounts may each have a namespace `lost`
    (it clashed before: the claim had no account); a namespace named by ARN (RAM-shared) is one
    namespace whoever uses it, so two services of one name in it still clash."""
    a, b = parsed(namespace("a", "lost")), parsed(namespace("b", "lost"))
    arn = "arn:aws:servicediscovery:us-east-1:333333333333:namespace/ns-1"
    shared = f"cloudMapNamespace: {{name: '{arn}'}}"
    sa, sb = (parsed(discovery(n, "orders", shared)) for n in ("sa", "sb"))
    accounts = {
        "a": "111111111111",
        "b": "222222222222",
        "sa": "111111111111",
        "sb": "222222222222",
    }

    def claimed(res: Resource, same_account: bool) -> tuple[str, tuple[Claim, ...]]:
        account = "111111111111" if same_account else accounts[res.identity.name]
        return label(res), claims(res, None, "us-east-1", account)

    assert clashes(claimed(r, same_account=False) for r in (a, b)) == []
    assert len(clashes(claimed(r, same_account=True) for r in (a, b))) == 1
    [clash] = clashes(claimed(r, same_account=False) for r in (sa, sb))
    assert clash.claim.what.startswith("Cloud Map service orders in namespace arn:aws:")


def test_the_earlier_claimant_keeps_the_claim_and_each_later_one_is_named() -> None:
    first, second, third = (
        parsed(ECS_ONLY.format(name=n, cluster="production")) for n in ("a", "b", "c")
    )

    found = clashes((label(r), claims(r, None, "us-east-1")) for r in (first, second, third))

    assert [(c.earlier, c.later) for c in found] == [
        ("ServiceDiscovery payments/a", "ServiceDiscovery payments/b"),
        ("ServiceDiscovery payments/a", "ServiceDiscovery payments/c"),
    ]


def test_a_claimant_outside_its_grants_holds_no_claim() -> None:
    """The operator's claim index: an earlier resource the grants refuse (team A naming team
    B's ECS service) must not keep team B's own resource from it (docs/tenancy.md)."""
    intruder, owner = (
        with_uid(parsed(ECS_ONLY.format(name=n, cluster="production")), n)
        for n in ("intruder", "owner")
    )
    claimants = [Claimant(("01", "intruder"), intruder), Claimant(("02", "owner"), owner)]
    index = {key: claimants for key in coarse_keys(owner)}
    conflicts = Conflicts("us-east-1")

    held = conflicts.clash(owner, ("02", "owner"), None, [index])
    assert held is not None
    assert held.earlier == "ServiceDiscovery payments/intruder"

    def granted(res: Resource) -> bool:
        return res.identity.name != "intruder"

    assert conflicts.clash(owner, ("02", "owner"), None, [index], granted) is None


def with_uid(res: Resource, uid: str) -> Resource:
    return replace(res, identity=replace(res.identity, uid=uid))
