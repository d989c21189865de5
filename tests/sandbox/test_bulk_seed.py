"""A large sandbox organization seeds its accounts straight into moto, and reads back as the API would leave it."""

from __future__ import annotations

import pytest

pytest.importorskip("moto")

import boto3

from orgdeploy.sandbox.org.seed import BULK

KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


def test_a_bulk_seeded_organization_reads_back_like_one_made_through_the_api() -> None:
    from orgdeploy.sandbox.server import start_sandbox

    with start_sandbox(accounts=BULK + 10, op_seconds=0, workloads=False) as sandbox:
        endpoint = sandbox.endpoint_url
        org = boto3.client("organizations", endpoint_url=endpoint, **KEYS)
        accounts = [a for page in org.get_paginator("list_accounts").paginate() for a in page["Accounts"]]
        assert len(accounts) == len(sandbox.summary.accounts) == BULK + 12  # + management, + suspended
        member = next(a for a in sandbox.summary.accounts if a.ou_path.endswith("/Sandbox"))
        sandbox_ou = next(ou for ou in sandbox.summary.ous if ou.name == "Sandbox")
        children = [
            a["Id"]
            for page in org.get_paginator("list_accounts_for_parent").paginate(ParentId=sandbox_ou.id)
            for a in page["Accounts"]
        ]
        assert member.id in children
        policies = org.list_policies_for_target(TargetId=member.id, Filter="SERVICE_CONTROL_POLICY")["Policies"]
        assert [p["Name"] for p in policies] == ["FullAWSAccess"]
        sts = boto3.client("sts", endpoint_url=endpoint, **KEYS)
        role = f"arn:aws:iam::{member.id}:role/OrganizationAccountAccessRole"
        assumed = sts.assume_role(RoleArn=role, RoleSessionName="bulk")["AssumedRoleUser"]["Arn"]
        assert assumed.startswith(f"arn:aws:sts::{member.id}:assumed-role/OrganizationAccountAccessRole/")
        quirks = {q.kind for q in sandbox.summary.quirks}
        assert {"foreign-recorder", "service-linked-role", "opt-in-region-disabled", "suspended"} <= quirks
