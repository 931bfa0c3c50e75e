"""`sd-operator demo`: the main job on its embedded default, against a local AWS emulator.

Applies examples/ with the CLI (Cloud Map namespace and services, ECS registries and Service
Connect), shows the plan in sync, changes a TTL and disables Service Connect behind sd-operator's
back, shows the drift in `plan`, and corrects it with `apply`. Then the brownfield: resources
made directly in the emulator, `generate`, `plan` in sync, switched to Manage with one change.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sd_operator.cli import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, main

REGION = "us-east-1"
BROWNFIELD_NAMESPACE = "warehouse.local"


def examples_dir() -> Path:
    """The examples the demo applies: package data, a symlink to the repository's examples/
    that the wheel build copies in, so an editable install reads the one copy there."""
    return Path(__file__).parent / "examples"


def _banner(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def _cli(*args: str, endpoint: str) -> int:
    argv = [*args, "--region", REGION, "--aws-endpoint-url", endpoint, "--log-level", "WARNING"]
    print(f"$ sd-operator {' '.join(args)}", flush=True)
    code = main(argv)
    sys.stdout.flush()
    print(f"(exit {code})", flush=True)
    return code


def _expect(code: int, wanted: int, what: str) -> None:
    from sd_devkit.demo_cluster import DemoError

    if code != wanted:
        raise DemoError(f"{what} exited {code}, expected {wanted}")


def _seed_and_env() -> None:
    from sd_devkit.emulator.clients import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY

    # The operator's own clients read credentials from the environment, as they do in AWS.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", DUMMY_ACCESS_KEY)
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", DUMMY_SECRET_KEY)


def _break_things(endpoint: str) -> None:
    """The console clicks: a TTL raised to 300s and Service Connect switched off."""
    from sd_devkit.emulator import client
    from sd_devkit.emulator.seed import CLUSTER

    _banner("someone raises user-service's TTL to 300s in the console")
    sd = client("servicediscovery", endpoint, REGION)
    ns = next(n for n in sd.list_namespaces()["Namespaces"] if n["Name"] == "myapp.local")
    services = sd.list_services(
        Filters=[{"Name": "NAMESPACE_ID", "Values": [ns["Id"]], "Condition": "EQ"}]
    )["Services"]
    user = next(s for s in services if s["Name"] == "user-service")
    sd.update_service(
        Id=user["Id"], Service={"DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 300}]}}
    )
    _banner("and someone disables Service Connect on payment-service")
    client("ecs", endpoint, REGION).update_service(
        cluster=CLUSTER, service="payment-service", serviceConnectConfiguration={"enabled": False}
    )


def _made_by_hand(endpoint: str) -> None:
    """What a team made in the console before sd-operator: a private namespace and a service
    in it, no sd-operator tags anywhere."""
    from sd_devkit.emulator import client

    sd = client("servicediscovery", endpoint, REGION)
    operation = sd.create_private_dns_namespace(
        Name=BROWNFIELD_NAMESPACE, Vpc="vpc-0a1b2c3d4e5f60718", Description="made by hand"
    )
    done = sd.get_operation(OperationId=operation["OperationId"])["Operation"]
    sd.create_service(
        Name="inventory",
        NamespaceId=done["Targets"]["NAMESPACE"],
        DnsConfig={"DnsRecords": [{"Type": "A", "TTL": 60}]},
        HealthCheckCustomConfig={},
    )


def _brownfield(endpoint: str) -> None:
    """Bring what exists under Git without a write: generate observe-only manifests, plan
    them (in sync), switch them to Manage with one change, and carry it out."""
    import tempfile

    _banner(f"brownfield: {BROWNFIELD_NAMESPACE} and its service were made by hand in AWS")
    _made_by_hand(endpoint)
    with tempfile.TemporaryDirectory(prefix="sd-operator-brownfield-") as tmp:
        generated = Path(tmp)
        _banner("generate: manifests equal to AWS, observe-only (sd-operator never writes)")
        gen = ("generate", "--cloud-map-namespace", BROWNFIELD_NAMESPACE, "-n", "warehouse")
        _expect(_cli(*gen, "--output-dir", tmp, endpoint=endpoint), EXIT_OK, "generate")
        manifests = generated / "warehouse.yaml"
        print(manifests.read_text(), flush=True)
        _banner("plan: every generated resource is in sync (exit 0)")
        _expect(_cli("plan", "-f", tmp, endpoint=endpoint), EXIT_OK, "brownfield plan")
        _banner("switch them to Manage (adopting what exists), and lower the TTL to 30s")
        manifests.write_text(
            manifests.read_text()
            .replace(
                "managementPolicy: Observe", "managementPolicy: Manage\n  adoptionPolicy: Adopt"
            )
            .replace("ttl: 60", "ttl: 30")
        )
        _expect(_cli("apply", "-f", tmp, endpoint=endpoint), EXIT_OK, "brownfield apply")
        _expect(_cli("plan", "-f", tmp, endpoint=endpoint), EXIT_OK, "brownfield final plan")


def run_demo(use_cluster: bool = True) -> int:
    """Any failure ends the demo with one line on stderr (and exit 1), never a traceback."""
    import subprocess

    from sd_devkit.demo_cluster import DemoError

    try:
        return _demo(use_cluster)
    except DemoError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
    except subprocess.CalledProcessError as exc:
        print(
            f"demo failed: {' '.join(map(str, exc.cmd))} exited {exc.returncode}", file=sys.stderr
        )
    except OSError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
    return EXIT_ERROR


def _preview(endpoint: str, identity: Sequence[str] = ()) -> None:
    """The plan of a pull request that raises user-service's TTL and moves its Service
    Connect port: one change in place, one that redeploys the service and its clients."""
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory(prefix="sd-operator-demo-") as tmp:
        changed = Path(tmp) / "myapp"
        shutil.copytree(examples_dir() / "myapp", changed)
        user = changed / "user-service.yaml"
        text = user.read_text().replace("ttl: 10", "ttl: 30", 1).replace("port: 80", "port: 8080")
        user.write_text(text)
        _banner("a pull request changes user-service: the plan says what each change does")
        _expect(
            _cli("plan", "-f", str(changed), *identity, endpoint=endpoint), EXIT_CHANGES, "preview"
        )
        _banner("the same plan as a pull-request comment (plan -o markdown)")
        _expect(
            _cli("plan", "-f", str(changed), "-o", "markdown", *identity, endpoint=endpoint),
            EXIT_CHANGES,
            "markdown preview",
        )


def _demo(use_cluster: bool) -> int:
    from sd_devkit.emulator import Emulator
    from sd_devkit.emulator.seed import CLUSTER, seed_demo_ecs

    _seed_and_env()
    with Emulator() as emu:
        endpoint = emu.endpoint_url
        _banner(f"AWS emulator (moto + fidelity layer) at {endpoint}")
        seed_demo_ecs(endpoint, REGION)
        print(f"ECS cluster {CLUSTER}: services user-service, payment-service (no discovery yet)")
        if use_cluster:
            from sd_devkit.demo_cluster import run_cluster_demo

            run_cluster_demo(endpoint, examples_dir(), _break_things, _preview)
        else:
            _run_cli_demo(endpoint)
        _brownfield(endpoint)
    _banner("demo complete")
    return EXIT_OK


def _run_cli_demo(endpoint: str) -> None:
    examples = str(examples_dir() / "myapp")
    _banner("plan: what would change (exit 2 = changes needed)")
    _expect(_cli("plan", "-f", examples, endpoint=endpoint), EXIT_CHANGES, "first plan")
    _banner("apply: create the namespace, wait for Cloud Map's operation, link ECS")
    _expect(_cli("apply", "-f", examples, endpoint=endpoint), EXIT_OK, "apply")
    _banner("plan again: AWS matches the manifests (exit 0)")
    _expect(_cli("plan", "-f", examples, endpoint=endpoint), EXIT_OK, "plan after apply")
    _preview(endpoint)
    _break_things(endpoint)
    _banner("plan names the drifted fields, and what correcting them does")
    _expect(_cli("plan", "-f", examples, endpoint=endpoint), EXIT_CHANGES, "drift plan")
    _banner("apply corrects them")
    _expect(_cli("apply", "-f", examples, endpoint=endpoint), EXIT_OK, "corrective apply")
    _expect(_cli("plan", "-f", examples, endpoint=endpoint), EXIT_OK, "final plan")
    _banner("delete: ECS links and services first, then the namespace (AWS's order)")
    _expect(_cli("delete", "-f", examples, endpoint=endpoint), EXIT_OK, "delete")
