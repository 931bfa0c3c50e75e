"""STS: AssumeRole into the role's own account, as the role's trust policy allows.

docs/aws-facts.md, Accounts and roles: a role can be assumed only if it exists in the account its
ARN names and its trust policy allows the caller (by account, or by the caller's role ARN) the
action sts:AssumeRole, with the policy's `sts:ExternalId` condition met; AWS answers anything else
with the same AccessDenied, so a caller cannot tell a missing role from an untrusting one. The
temporary credentials act in the role's account until they expire. moto assumes any role ARN,
existing or not, and the emulator answered every request in its own account whatever the
credentials: here each session's access key is remembered with its account, and the fidelity
layer serves a request signed with it from that account's state.

Roles live in moto's IAM state of their account (seeded with `Emulator.create_role`, or made
with iam:CreateRole by a caller in that account). Credentials that are not a session's act, as
before, in the emulator's own account.
"""

from __future__ import annotations

import json
import re
import secrets
import string
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any
from xml.sax.saxutils import escape

from ._wsgi import JSON, Call, Forward, Handler, Reply
from .moto_surface import Role, iam_backends

STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
ROLE_ARN = re.compile(r"^arn:aws:iam::(\d{12}):role/(?:[\w+=,.@/-]*/)?[\w+=,.@-]+$")
ACCOUNT_ID = re.compile(r"^\d{12}$")
# AssumeRole API reference: DurationSeconds "can be from 900 seconds (15 minutes) up to the
# maximum session duration setting for the role"; default 3600.
MIN_DURATION = 900
DEFAULT_DURATION = 3600
# "Role chaining limits your ... AWS API role session to a maximum of one hour."
CHAINED_MAX_DURATION = 3600
_KEY_CHARS = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class Caller:
    account: str
    arn: str
    role_arn: str = ""  # the IAM role of an assumed-role session


@dataclass(frozen=True)
class Session:
    access_key: str
    caller: Caller
    user_id: str
    expiration: datetime

    def expired(self, now: datetime) -> bool:
        return now >= self.expiration


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _principal_matches(entry: str, caller: Caller) -> bool:
    if entry == "*":
        return True
    if ACCOUNT_ID.match(entry):
        return entry == caller.account
    if entry.startswith("arn:aws:iam::") and entry.endswith(":root"):
        return entry.split(":")[4] == caller.account
    return entry in (caller.arn, caller.role_arn)


def _conditions_hold(conditions: JSON, external_id: str | None) -> bool:
    """StringEquals / StringLike on sts:ExternalId; any other condition is not met (fail closed:
    a policy the emulator cannot evaluate never grants access)."""
    for operator, clauses in conditions.items():
        if operator not in ("StringEquals", "StringLike") or not isinstance(clauses, dict):
            return False
        for key, wanted in clauses.items():
            if key.lower() != "sts:externalid" or external_id is None:
                return False
            values = [str(v) for v in _listed(wanted)]
            if operator == "StringEquals" and external_id not in values:
                return False
            if operator == "StringLike" and not any(fnmatchcase(external_id, v) for v in values):
                return False
    return True


def _statement_applies(statement: JSON, caller: Caller, external_id: str | None) -> bool:
    actions = [str(a).lower() for a in _listed(statement.get("Action") or [])]
    if not any(fnmatchcase("sts:assumerole", a) for a in actions):
        return False
    principal = statement.get("Principal")
    entries = ["*"] if principal == "*" else _listed((principal or {}).get("AWS") or [])
    if not any(_principal_matches(str(e), caller) for e in entries):
        return False
    return _conditions_hold(statement.get("Condition") or {}, external_id)


def trusts(policy_document: str, caller: Caller, external_id: str | None) -> bool:
    """The trust policy lets `caller` assume the role: an Allow statement applies and no Deny
    statement does (IAM policy evaluation: an explicit deny wins)."""
    try:
        policy = json.loads(policy_document)
    except ValueError:
        return False
    if not isinstance(policy, dict):
        return False
    statements = [s for s in _listed(policy.get("Statement") or []) if isinstance(s, dict)]
    applying = [s.get("Effect") for s in statements if _statement_applies(s, caller, external_id)]
    return "Allow" in applying and "Deny" not in applying


def find_role(role_arn: str) -> Role | None:
    match = ROLE_ARN.match(role_arn)
    if match is None:
        return None
    roles = iam_backends[match.group(1)]["aws"].roles
    return next((role for role in roles.values() if role.arn == role_arn), None)


def create_role(
    account_id: str, name: str, policy: JSON, max_session_duration: int = DEFAULT_DURATION
) -> str:
    """Create a role in moto's IAM state of `account_id`, as iam:CreateRole by an administrator
    of that account would; returns its ARN."""
    if not ACCOUNT_ID.match(account_id):
        raise ValueError(f"account id must be 12 digits, not {account_id!r}")
    iam = iam_backends[account_id]["aws"]
    if any(role.name == name for role in iam.roles.values()):
        raise ValueError(f"role {name} already exists in account {account_id}")
    role = iam.create_role(
        role_name=name,
        assume_role_policy_document=json.dumps(policy),
        path="/",
        permissions_boundary=None,
        description="",
        tags=[],
        max_session_duration=str(max_session_duration),
    )
    return str(role.arn)


def expired_reply(call: Call) -> Reply:
    """What AWS answers a request signed with credentials whose session has ended."""
    message = "The security token included in the request is expired"
    if call.protocol == "json":
        return Reply.error("ExpiredTokenException", message)
    return Reply.query_error("ExpiredToken", message, status=403)


def _random(prefix: str, length: int) -> str:
    return prefix + "".join(secrets.choice(_KEY_CHARS) for _ in range(length))


def _xml_reply(action: str, result: str) -> Reply:
    body = (
        f'<{action}Response xmlns="{STS_NAMESPACE}"><{action}Result>{result}</{action}Result>'
        f"<ResponseMetadata><RequestId>{secrets.token_hex(16)}</RequestId></ResponseMetadata>"
        f"</{action}Response>"
    ).encode()
    return Reply(200, (("Content-Type", "text/xml"), ("Content-Length", str(len(body)))), body)


class StsLayer:
    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._sessions.clear()

    def session(self, access_key: str) -> Session | None:
        with self._lock:
            return self._sessions.get(access_key)

    def expire(self, role_arn: str | None = None) -> int:
        """End the sessions of one role (every session: None) now, as if their time had run
        out; returns how many."""
        now = datetime.now(UTC)
        with self._lock:
            ending = [
                s
                for s in self._sessions.values()
                if role_arn is None or s.caller.role_arn == role_arn
            ]
            for s in ending:
                self._sessions[s.access_key] = Session(s.access_key, s.caller, s.user_id, now)
        return len(ending)

    def caller(self, call: Call) -> Caller:
        session = self.session(call.access_key)
        if session is not None:
            return session.caller
        # moto's GetCallerIdentity for credentials it did not issue
        return Caller(call.account, f"arn:aws:sts::{call.account}:user/moto")

    def handlers(self) -> dict[str, Handler]:
        return {"AssumeRole": self.assume_role, "GetCallerIdentity": self.get_caller_identity}

    def assume_role(self, call: Call, forward: Forward) -> Reply:
        """AccessDenied (403) "User: <caller> is not authorized to perform: sts:AssumeRole on
        resource: <role>" for a role that does not exist or does not trust the caller."""
        role_arn = str(call.body.get("RoleArn", ""))
        session_name = str(call.body.get("RoleSessionName", ""))
        external_id = call.body.get("ExternalId")
        if not ROLE_ARN.match(role_arn):
            return Reply.query_error("ValidationError", f"{role_arn} is not a valid role ARN")
        caller = self.caller(call)
        role = find_role(role_arn)
        if role is None or not trusts(role.assume_role_policy_document, caller, external_id):
            return Reply.query_error(
                "AccessDenied",
                f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on "
                f"resource: {role_arn}",
                status=403,
            )
        duration = int(call.body.get("DurationSeconds") or DEFAULT_DURATION)
        if caller.role_arn and duration > CHAINED_MAX_DURATION:
            return Reply.query_error(
                "ValidationError",
                "The requested DurationSeconds exceeds the 1 hour session limit for roles "
                "assumed by role chaining.",
            )
        maximum = int(role.max_session_duration or DEFAULT_DURATION)
        if not MIN_DURATION <= duration <= maximum:
            return Reply.query_error(
                "ValidationError",
                f"The requested DurationSeconds {duration} is outside {MIN_DURATION}.."
                f"{maximum}, the MaxSessionDuration set for this role.",
            )
        account = role_arn.split(":")[4]
        assumed = f"arn:aws:sts::{account}:assumed-role/{role.name}/{session_name}"
        session = Session(
            access_key=_random("ASIA", 16),
            caller=Caller(account, assumed, role_arn),
            user_id=f"{role.id}:{session_name}",
            expiration=datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=duration),
        )
        with self._lock:
            self._sessions[session.access_key] = session
        secret = secrets.token_urlsafe(30)
        token = secrets.token_urlsafe(96)
        expiration = session.expiration.strftime("%Y-%m-%dT%H:%M:%SZ")
        return _xml_reply(
            "AssumeRole",
            f"<Credentials><AccessKeyId>{session.access_key}</AccessKeyId>"
            f"<SecretAccessKey>{secret}</SecretAccessKey><SessionToken>{token}</SessionToken>"
            f"<Expiration>{expiration}</Expiration></Credentials>"
            f"<AssumedRoleUser><AssumedRoleId>{escape(session.user_id)}</AssumedRoleId>"
            f"<Arn>{escape(assumed)}</Arn></AssumedRoleUser>",
        )

    def get_caller_identity(self, call: Call, forward: Forward) -> Reply:
        """The assumed role's session for its credentials; moto's answer for any others."""
        session = self.session(call.access_key)
        if session is None:
            return forward()
        return _xml_reply(
            "GetCallerIdentity",
            f"<UserId>{escape(session.user_id)}</UserId>"
            f"<Account>{session.caller.account}</Account>"
            f"<Arn>{escape(session.caller.arn)}</Arn>",
        )
