"""Configure an emulator that runs in another process, over its `/_emulator/` control API.

Uses only the standard library (no moto): e2e tests drive `sd-operator emulator` with it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from .throttle import throttle_body

JSON = dict[str, Any]


class EmulatorControlError(RuntimeError):
    pass


class EmulatorControl:
    """The same configuration methods as `Emulator`, for an emulator at `endpoint_url`."""

    def __init__(self, endpoint_url: str, timeout: float = 10.0) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")
        self._timeout = timeout

    def _request(self, method: str, route: str, body: JSON | None = None) -> JSON:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.endpoint_url}/_emulator/{route}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            raise EmulatorControlError(f"{method} /_emulator/{route}: {exc.code} {detail}") from exc
        if not isinstance(answer, dict):
            raise EmulatorControlError(f"{method} /_emulator/{route}: not a JSON object")
        return answer

    def health(self) -> JSON:
        return self._request("GET", "health")

    def reset(self) -> None:
        self._request("POST", "reset")

    def inject(
        self,
        api: str,
        *,
        error: str | None = "ThrottlingException",
        rate: float = 1.0,
        count: int | None = None,
        latency: float = 0.0,
        status: int | None = None,
        account: str | None = None,
    ) -> None:
        rule = {
            "api": api,
            "error": error,
            "rate": rate,
            "count": count,
            "latency": latency,
            "status": status,
            "account": account,
        }
        self._request("POST", "faults", rule)

    def clear_faults(self) -> None:
        self._request("DELETE", "faults")

    def throttle(
        self,
        rates: Mapping[str, tuple[float, float]] | None = None,
        *,
        documented: bool = True,
        accounts: Sequence[str] | None = None,
        scale: float = 1.0,
    ) -> None:
        self._request("POST", "throttle", throttle_body(rates, documented, accounts, scale))

    def clear_throttle(self) -> None:
        self._request("DELETE", "throttle")

    def hold_operations(self, seconds: float | None = None, polls: int | None = None) -> None:
        self._request("POST", "operations", {"hold": {"seconds": seconds, "polls": polls}})

    def fail_operations(
        self,
        match: str,
        error_code: str = "CANNOT_CREATE_HOSTED_ZONE",
        message: str = "The operation failed (injected by the sd-operator emulator)",
        *,
        count: int | None = None,
    ) -> None:
        fail = {"match": match, "error_code": error_code, "message": message, "count": count}
        self._request("POST", "operations", {"fail": fail})

    def clear_operation_rules(self) -> None:
        self._request("DELETE", "operations")

    def hold_deployments(self, seconds: float | None = None, polls: int | None = None) -> None:
        self._request("POST", "deployments", {"hold": {"seconds": seconds, "polls": polls}})

    def fail_deployments(
        self,
        cluster: str,
        service: str,
        reason: str = "ECS deployment circuit breaker: tasks failed to start.",
        *,
        count: int | None = None,
        forget: bool = False,
    ) -> None:
        fail = {
            "cluster": cluster,
            "service": service,
            "reason": reason,
            "count": count,
            "forget": forget,
        }
        self._request("POST", "deployments", {"fail": fail})

    def clear_deployment_rules(self) -> None:
        self._request("DELETE", "deployments")

    def seed_instances(
        self, service_id: str, instances: dict[str, dict[str, str]], region: str = "us-east-1"
    ) -> None:
        body = {"serviceId": service_id, "region": region, "instances": instances}
        self._request("POST", "instances", body)

    def create_role(
        self,
        account_id: str,
        name: str,
        trust_policy: JSON,
        *,
        max_session_duration: int = 3600,
    ) -> str:
        body = {
            "accountId": account_id,
            "roleName": name,
            "trustPolicy": trust_policy,
            "maxSessionDuration": max_session_duration,
        }
        return str(self._request("POST", "roles", body)["roleArn"])

    def expire_sessions(self, role_arn: str | None = None) -> int:
        return int(self._request("POST", "expire-sessions", {"roleArn": role_arn})["expired"])

    def calls(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self._request("GET", "calls")["calls"].items()}

    def reset_calls(self) -> None:
        self._request("DELETE", "calls")

    def deployments(self, cluster: str, service: str, region: str = "us-east-1") -> int:
        query = urlencode({"cluster": cluster, "service": service, "region": region})
        return int(self._request("GET", f"deployments?{query}")["deployments"])
