"""--role-arn and --external-id: acting in another AWS account from the command line, defined
once for every command that reads AWS (plan, apply, delete, generate)."""

from __future__ import annotations

import argparse

from sd_operator.model.grants import Acting, parse_role, role_denial


def add_role_flags(cmd: argparse.ArgumentParser, more: str = "") -> None:
    """The two flags; `more`: what the role means for this command besides."""
    cmd.add_argument(
        "--role-arn",
        metavar="ARN",
        help="act in another AWS account: assume this IAM role with your own credentials "
        "for every AWS call, as the operator does for a DiscoveryGrant's spec.aws.roleArn" + more,
    )
    cmd.add_argument(
        "--external-id",
        metavar="ID",
        help="with --role-arn: the ExternalId the role's trust policy requires",
    )


def flagged_role(args: argparse.Namespace) -> Acting | str:
    """The role the flags name (Acting(None): your own credentials), or why it cannot be."""
    if args.role_arn is None:
        if args.external_id is not None:
            return "--external-id needs --role-arn"
        return Acting(None)
    role = parse_role({"roleArn": args.role_arn, "externalId": args.external_id})
    denial = role_denial(role)
    if denial is not None:
        return f"--role-arn {args.role_arn!r}: {denial}"
    return Acting(role)
