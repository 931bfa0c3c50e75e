"""AWS emulator for integration tests, e2e tests and the demo (sd-devkit, devkit/).

moto server on loopback behind a thin WSGI fidelity layer that closes the gaps listed in
docs/aws-facts.md ("Where the emulator corrects moto") and injects faults. Only this package imports
moto, and within it only moto_surface.py: the list of the moto surfaces the emulator relies on.

    from sd_devkit.emulator import Emulator, client

    with Emulator() as emu:
        sd = client("servicediscovery", emu.endpoint_url)
        emu.hold_operations(polls=2)
        emu.inject("servicediscovery:CreateService", error="ThrottlingException", count=1)
        emu.throttle({"servicediscovery:ListNamespaces": (1.0, 5)})  # AWS's token buckets

Several accounts: `emu.create_role(account, name, trust_policy(...))`, then
`assumed_session(emu.endpoint_url, role_arn)` acts in that account (sts.py).

`EmulatorControl` configures an emulator in another process over HTTP; it, `client` and the
account helpers need no moto, `Emulator` and `serve` are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .accounts import assumed_session, trust_policy
from .clients import client, client_config
from .control import EmulatorControl, EmulatorControlError

if TYPE_CHECKING:
    from .server import Emulator, serve

__all__ = [
    "Emulator",
    "EmulatorControl",
    "EmulatorControlError",
    "assumed_session",
    "client",
    "client_config",
    "serve",
    "trust_policy",
]


def __getattr__(name: str) -> Any:
    if name in ("Emulator", "serve"):
        from . import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
