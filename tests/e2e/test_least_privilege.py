"""A whole run as principals that hold exactly the printed policies, in a sandbox that enforces IAM.

The deployer is an IAM user in the management account with `permissions --role management`; the
census role in each member holds `--role member` (and `--role hub` in the hub account). Any call
outside the policies is AccessDenied and fails its command. docs/sandbox.md says what moto's
evaluator checks (actions everywhere; resources for S3, IAM and STS; no conditions but ExternalId).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.e2e.inprocess import cli, write_config

pytest.importorskip("moto")
pytestmark = pytest.mark.e2e

MANAGEMENT = "123456789012"
AUDIT = "407522758688"  # the notifications hub
CENSUS_ROLE = "OrgdeployCensus"
HOME = "us-east-1"


def _client(endpoint: str, service: str, keys: dict[str, str], region: str = HOME) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=region, **keys)


def _keys(access: str, secret: str, token: str | None = None) -> dict[str, str]:
    keys = {"aws_access_key_id": access, "aws_secret_access_key": secret}
    return {**keys, "aws_session_token": token} if token else keys


def _policy(role: str, config: Path) -> dict[str, Any]:
    from orgdeploy.aws.permissions import Scope, policy_document
    from orgdeploy.aws.policy import all_needs
    from orgdeploy.config.model import load_config

    scope = Scope.from_config(load_config(config))
    return policy_document(role, all_needs(adopts=scope.adopts), scope)


def _census_roles(endpoint: str, admin: dict[str, str], config: Path, accounts: list[str]) -> None:
    """The census role in each member, trusted by the management account, holding the printed policies."""
    sts = _client(endpoint, "sts", admin)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{MANAGEMENT}:root"}, "Action": "sts:AssumeRole"}
        ],
    }
    for account in accounts:
        c = sts.assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole", RoleSessionName="setup"
        )
        iam = _client(
            endpoint, "iam", _keys(*(c["Credentials"][k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")))
        )
        iam.create_role(RoleName=CENSUS_ROLE, AssumeRolePolicyDocument=json.dumps(trust))
        roles = ("member", "hub") if account == AUDIT else ("member",)
        for role in roles:
            iam.put_role_policy(
                RoleName=CENSUS_ROLE, PolicyName=f"orgdeploy-{role}", PolicyDocument=json.dumps(_policy(role, config))
            )


def _deployer(endpoint: str, admin: dict[str, str], policy: dict[str, Any]) -> dict[str, str]:
    iam = _client(endpoint, "iam", admin)
    iam.create_user(UserName="orgdeploy-deployer")
    iam.put_user_policy(UserName="orgdeploy-deployer", PolicyName="orgdeploy", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="orgdeploy-deployer")["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


@pytest.fixture
def enforced(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from orgdeploy.sandbox.server import start_sandbox

    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", HOME)
    with start_sandbox(op_seconds=0.2, enforce_iam=True) as running:
        yield running


def _setup(
    enforced: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, drop: str | None = None, **overrides: Any
) -> Path:
    config = write_config(
        tmp_path,
        census={"role_name": CENSUS_ROLE},
        notifications={"hub_account": AUDIT, "emails": ["secops@example.com"]},
        **overrides,
    )
    admin = _keys(enforced.access_key, enforced.secret_key)
    members = [a.id for a in enforced.summary.accounts if a.status == "ACTIVE" and a.id != MANAGEMENT]
    _census_roles(enforced.endpoint_url, admin, config, members)
    policy = _policy("management", config)
    if drop:
        policy["Statement"] = [
            {**s, "Action": [a for a in s["Action"] if a != drop]} for s in policy["Statement"] if s["Action"] != [drop]
        ]
    for name, value in _deployer(enforced.endpoint_url, admin, policy).items():
        monkeypatch.setenv(name, value)
    return config


RUN = (
    ["census"],
    ["bootstrap", "--yes", "--enable-trusted-access"],
    ["plan"],
    ["add-region", "ap-southeast-2", "--yes"],
    ["update", "--yes"],
    ["status"],
    ["report"],
    ["events"],
    ["destroy", "--yes"],
)


def test_a_whole_run_needs_nothing_beyond_the_printed_policies(
    enforced: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _setup(enforced, tmp_path, monkeypatch)
    endpoint = enforced.endpoint_url
    # The policies are enforced: the sandbox's usual keys are nobody's now.
    with pytest.raises(Exception, match=r"InvalidClientTokenId|security token"):
        _client(endpoint, "organizations", _keys("testing", "testing")).describe_organization()
    for args in RUN:
        code, out, err = cli(capsys, *args, "-c", str(config), "--endpoint-url", endpoint)
        # status exits 1: the seeded foreign recorder, left alone, records nothing.
        expected = (1, "1 not covered") if args == ["status"] else (0, "")
        assert (code, expected[1] in out) == (expected[0], True), (args, err[-3000:])
        # (report's output names the suspended account's AccessDeniedException: data, not a refusal of ours)
        assert "AccessDenied" not in err, (args, err[-3000:])
    assert os.environ["AWS_ACCESS_KEY_ID"] != enforced.access_key


def test_a_run_without_one_needed_statement_fails_naming_the_call(
    enforced: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _setup(enforced, tmp_path, monkeypatch, drop="organizations:DescribeOrganization")
    code, _, err = cli(capsys, "plan", "-c", str(config), "--endpoint-url", enforced.endpoint_url)
    assert code == 1
    assert "DescribeOrganization" in err and "AccessDenied" in err
    assert "orgdeploy permissions --role ROLE" in err  # where to look next


def test_adopting_and_giving_back_a_recorder_needs_nothing_beyond_the_printed_policies(
    enforced: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _setup(enforced, tmp_path, monkeypatch, recording={"existing_recorder": "adopt"})
    endpoint = enforced.endpoint_url
    for args in (["bootstrap", "--yes", "--enable-trusted-access"], ["status"], ["destroy", "--yes"]):
        code, out, err = cli(capsys, *args, "-c", str(config), "--endpoint-url", endpoint)
        # status exits 0: the seeded foreign recorder is adopted, so every pair is covered.
        assert code == 0, (args, out, err)
        assert "AccessDenied" not in err, (args, err[-3000:])
    assert "given back" in out
