"""Helpers shared by the integration and e2e tests, in one place: what AWS holds as the test
sees it (`services_in`, `service_names_in`), which calls changed it (`mutating_calls`), and the
CLI's `main([...])` in-process against an emulator (`cli`, `cli_output`).

The emulator fixtures (`emulator_session`, `emulator`, `sd`) are in tests/conftest.py; a layer
sets the page size of the emulator's lists with its own `emulator_page_size` fixture."""

from __future__ import annotations

import io
from collections.abc import Mapping
from contextlib import redirect_stdout
from typing import Any

from sd_devkit.emulator import Emulator
from sd_operator.cli import main

REGION = "us-east-1"
# The suite's budget scale (integration conftest's RATE_SCALE): main() configures the budgets
# from its own flags, and at AWS's rates (ListNamespaces 0.5/s) a few commands wait seconds.
RATE_SCALE = 100.0

# The API name prefixes of the calls that change AWS, as the emulator counts them
# ("servicediscovery:CreateService"): Cloud Map's and ECS's writes. ASSOCIATING adds the VPC
# association calls (test_namespace_vpc counts those as changes too).
MUTATIONS = ("Create", "Update", "Delete", "Tag", "Untag", "Register", "Deregister")
ASSOCIATING = (*MUTATIONS, "Associate")


def mutating_calls(
    calls: Mapping[str, int], prefixes: tuple[str, ...] = MUTATIONS
) -> dict[str, int]:
    """The calls among `calls` (API -> count, as `Emulator.calls()`) whose operation name starts
    with one of `prefixes`."""
    return {api: n for api, n in calls.items() if api.partition(":")[2].startswith(prefixes)}


def calls_since(emulator: Emulator, before: Mapping[str, int]) -> dict[str, int]:
    """The calls the emulator counted since `before` (an earlier `emulator.calls()`)."""
    now = emulator.calls()
    return {api: n - before.get(api, 0) for api, n in now.items() if n != before.get(api, 0)}


_NAMESPACE_FILTER = "NAMESPACE_ID"


def services_in(sd: Any, namespace_id: str) -> list[dict[str, Any]]:
    """Every service of the Cloud Map namespace, every page of ListServices."""
    pages = sd.get_paginator("list_services").paginate(
        Filters=[{"Name": _NAMESPACE_FILTER, "Values": [namespace_id], "Condition": "EQ"}]
    )
    return [s for page in pages for s in page["Services"]]


def namespace_id_of(sd: Any, name: str) -> str:
    """The id of the one Cloud Map namespace named `name`."""
    (found,) = [n for n in sd.list_namespaces()["Namespaces"] if n["Name"] == name]
    return str(found["Id"])


def service_names_in(sd: Any, namespace_id: str) -> list[str]:
    """The names of every service of the Cloud Map namespace, sorted."""
    return sorted(s["Name"] for s in services_in(sd, namespace_id))


def _cli_args(endpoint: Emulator | str, args: tuple[str, ...], region: str | None) -> list[str]:
    url = endpoint if isinstance(endpoint, str) else endpoint.endpoint_url
    flags = ["--aws-endpoint-url", url, "--log-level", "WARNING"]
    flags += ["--aws-rate-scale", f"{RATE_SCALE:g}"]
    return [*args, *flags, *(["--region", region] if region else [])]


def cli(endpoint: Emulator | str, *args: str, region: str | None = REGION) -> int:
    """`sd-operator <args>` in-process (`main`) against the emulator (or any endpoint), at the
    suite's budget scale; what it prints goes to sys.stdout (capsys). `region=None` leaves
    --region out."""
    return main(_cli_args(endpoint, args, region))


def cli_output(
    endpoint: Emulator | str, *args: str, region: str | None = REGION
) -> tuple[int, str]:
    """As `cli`, and what it printed to stdout."""
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(_cli_args(endpoint, args, region))
    return code, out.getvalue()


def register_task(ecs: Any, family: str, port: int) -> None:
    """A task definition `family` with one container `app` serving `port`, named `http` for
    Service Connect: what the ECS services of the multi-account tests run."""
    ecs.register_task_definition(
        family=family,
        containerDefinitions=[
            {
                "name": "app",
                "image": "app:1",
                "memory": 128,
                "portMappings": [{"containerPort": port, "name": "http"}],
            }
        ],
    )
