"""Member-account sessions assume the role again before its credentials expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

pytest.importorskip("moto")

from orgdeploy.aws.session import AwsContext, AwsOptions

PROD_2 = "312502394918"
LOG, DEV_1 = "176045229611", "029061126486"


def test_member_credentials_refresh_before_expiry(inprocess_sandbox: Any) -> None:
    ctx = AwsContext(AwsOptions(endpoint_url=inprocess_sandbox.endpoint_url, region="us-east-1"))
    sts = ctx.client("sts", account=PROD_2)
    assert sts.get_caller_identity()["Account"] == PROD_2
    credentials = ctx._credentials_in(PROD_2)
    first = credentials.get_frozen_credentials().access_key
    # Pretend the role's session is about to run out: the next call must assume the role again.
    credentials._expiry_time = datetime.now(UTC) + timedelta(seconds=30)
    assert sts.get_caller_identity()["Account"] == PROD_2
    assert credentials.get_frozen_credentials().access_key != first


def test_a_keys_account_follows_its_creation_and_deletion(inprocess_sandbox: Any) -> None:
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.iam import models as iam_models

    ctx = AwsContext(AwsOptions(endpoint_url=inprocess_sandbox.endpoint_url, region="us-east-1"))
    iam = ctx.client("iam", account=PROD_2)
    iam.create_user(UserName="key-owner")
    key = iam.create_access_key(UserName="key-owner")["AccessKey"]["AccessKeyId"]
    assert iam_models.get_account_id_from(key) == PROD_2
    iam.delete_access_key(UserName="key-owner", AccessKeyId=key)
    assert iam_models.get_account_id_from(key) == DEFAULT_ACCOUNT_ID
    assert iam_models.get_account_id_from("AKIANEVERMADE0000000") == DEFAULT_ACCOUNT_ID


def test_member_accounts_share_a_client_per_region_and_each_call_signs_as_its_account(inprocess_sandbox: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    ctx = AwsContext(AwsOptions(endpoint_url=inprocess_sandbox.endpoint_url, region="us-east-1"))
    accounts = [PROD_2, LOG, DEV_1] * 10
    clients = [ctx.client("sts", "eu-west-1", account) for account in accounts]
    assert len({id(c._shared) for c in clients}) == 1
    with ThreadPoolExecutor(max_workers=8) as pool:
        answered = list(pool.map(lambda c: c.get_caller_identity()["Account"], clients))
    assert answered == accounts
    # Pages are fetched as the account too, each when it is asked for.
    for account in (PROD_2, LOG):
        iam = ctx.client("iam", account=account)
        roles = [r["Arn"] for page in iam.get_paginator("list_roles").paginate(PaginationConfig={"PageSize": 1})
                 for r in page["Roles"]]  # fmt: skip
        assert roles and all(f"::{account}:" in arn for arn in roles)
    # The shared client alone signs as nobody: a call that names no account fails before it is sent.
    with pytest.raises(RuntimeError, match="without a MemberClient"):
        clients[0]._shared.get_caller_identity()


def test_assuming_roles_in_many_accounts_at_once_keeps_to_sts_rate() -> None:
    """The census assumes a role in every account from 8 threads; the caller's STS client paces them.

    Unpaced, about two thirds of these AssumeRole calls met an empty bucket (20 a second, bursts of 50),
    and at 1,000 accounts one account used up its retries and failed the plan.
    """
    from concurrent.futures import ThreadPoolExecutor

    from orgdeploy.sandbox import throttle
    from orgdeploy.sandbox.server import start_sandbox

    with start_sandbox(accounts=150, op_seconds=0, rate_limited=True, workloads=False) as sandbox:
        options = AwsOptions(endpoint_url=sandbox.endpoint_url, region="us-east-1")
        ctx = AwsContext.with_static_keys(
            options, access_key=sandbox.access_key, secret_key=sandbox.secret_key, region="us-east-1"
        )
        org = ctx.client("organizations")
        members = [
            a["Id"]
            for page in org.get_paginator("list_accounts").paginate()
            for a in page["Accounts"]
            if a["Id"] != ctx.caller_account
        ]
        before = throttle.RATE_LIMITS.throttled.get(("sts", "AssumeRole"), 0)
        with ThreadPoolExecutor(max_workers=8) as pool:
            answered = list(pool.map(lambda a: ctx.client("sts", account=a).get_caller_identity()["Account"], members))
        throttled = throttle.RATE_LIMITS.throttled.get(("sts", "AssumeRole"), 0) - before
    assert answered == members and len(members) >= 150
    assert throttled <= len(members) // 10, f"{throttled} of {len(members)} AssumeRole calls throttled"
