"""Several AWS accounts in one emulator, from a test's side (no moto needed).

The emulator serves a request from the account its credentials belong to: credentials that
sts:AssumeRole gave act in the role's account, any others in the emulator's own (sts.py). A
test seeds a role in another account with `Emulator.create_role(account, name,
trust_policy(...))` and acts there through `assumed_session`.
"""

from __future__ import annotations

from typing import Any

import boto3

from .clients import client

JSON = dict[str, Any]


def trust_policy(*principals: str, external_id: str | None = None) -> JSON:
    """A role trust policy that lets `principals` (account ids, `arn:aws:iam::A:root`, role
    ARNs) assume the role, with `sts:ExternalId` required when `external_id` is given."""
    statement: JSON = {
        "Effect": "Allow",
        "Principal": {"AWS": list(principals)},
        "Action": "sts:AssumeRole",
    }
    if external_id is not None:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return {"Version": "2012-10-17", "Statement": [statement]}


def assumed_session(
    endpoint_url: str,
    role_arn: str,
    region: str = "us-east-1",
    *,
    external_id: str | None = None,
    session_name: str = "emulator-test",
    caller: boto3.session.Session | None = None,
) -> boto3.session.Session:
    """A boto3 session with the credentials sts:AssumeRole of `role_arn` answers, assumed by
    `caller` (default: the emulator's own account's dummy credentials). Clients made from it
    against the emulator need `client_config()` (DiscoverInstances' host prefix)."""
    if caller is None:
        sts = client("sts", endpoint_url, region)
    else:
        sts = caller.client("sts", endpoint_url=endpoint_url, region_name=region)
    extra = {"ExternalId": external_id} if external_id is not None else {}
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name, **extra)[
        "Credentials"
    ]
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )
