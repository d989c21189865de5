"""Recording profiles per OU: one recorder stack set, the profile chosen per instance by a parameter override."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.inprocess import cli, member_client, write_config

pytest.importorskip("moto")

REGIONS = ("us-east-1", "eu-west-1")
EXCLUDED = ["AWS::EC2::Instance", "AWS::EC2::Volume", "AWS::EC2::NetworkInterface"]


def _ou(sandbox: Any, name: str) -> Any:
    return next(ou for ou in sandbox.summary.ous if ou.name == name)


def _reads(endpoint: str, account: str, region: str) -> tuple[dict[str, Any], dict[str, Any]]:
    [recorder] = member_client(endpoint, "config", account, region).describe_configuration_recorders()[
        "ConfigurationRecorders"
    ]
    return recorder["recordingGroup"], recorder["recordingMode"]


def _members(sandbox: Any, path_end: str) -> list[str]:
    return [a.id for a in sandbox.summary.accounts if a.ou_path.endswith(path_end) and a.status == "ACTIVE"]


def _assert_read_back(sandbox: Any, sandbox_accounts: list[str], others: list[str]) -> None:
    """By plain boto3: Sandbox accounts record daily without the EC2 types, every other account continuously."""
    endpoint = sandbox.endpoint_url
    for account in sandbox_accounts:
        for region in REGIONS:
            group, mode = _reads(endpoint, account, region)
            assert mode["recordingFrequency"] == "DAILY", (account, region)
            assert group["recordingStrategy"]["useOnly"] == "EXCLUSION_BY_RESOURCE_TYPES"
            assert set(EXCLUDED) <= set(group["exclusionByResourceTypes"]["resourceTypes"])
    foreign = next(q for q in sandbox.summary.quirks if q.kind == "foreign-recorder")
    disabled = {(q.account_id, q.region) for q in sandbox.summary.quirks if q.region}
    for account in others:  # the management account too
        for region in REGIONS:
            if (account, region) in disabled or (account, region) == (foreign.account_id, foreign.region):
                continue  # no recorder of orgdeploy's there
            group, mode = _reads(endpoint, account, region)
            assert mode["recordingFrequency"] == "CONTINUOUS" and group["allSupported"] is True, (account, region)


def _move_then_update_with_a_full_census(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], endpoint: str, moved: str, source: str, target: str
) -> None:
    org = member_client(endpoint, "organizations")
    org.move_account(AccountId=moved, SourceParentId=source, DestinationParentId=target)
    code, out, err = cli(capsys, "plan", *args)
    assert code == 0 and "No changes" in out and "or an account moved into another profile's OU" in out, out
    code, out, err = cli(capsys, "update", "--yes", "--census", "full", *args)
    assert code == 0, out + err


def test_a_sandbox_profile_records_daily_without_ec2_and_follows_an_account_that_moves(
    inprocess_sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = inprocess_sandbox.endpoint_url
    sandbox_ou, prod_ou = _ou(inprocess_sandbox, "Sandbox"), _ou(inprocess_sandbox, "Prod")
    profile = {
        "name": "sandbox",
        "organizational_units": [sandbox_ou.id],
        "strategy": "exclude",
        "resource_types": EXCLUDED,
        "frequency": "daily",
    }
    config = write_config(tmp_path, recording={"profiles": [profile]})
    args = ("-c", str(config), "--endpoint-url", endpoint)

    code, out, err = cli(capsys, "plan", *args, "--enable-trusted-access")
    assert code == 0, err
    assert "Root/Sandbox -> sandbox" in out and "Root/Workloads/Prod -> default" in out
    assert "sandbox: daily; all types but AWS::EC2::Instance" in out

    code, out, err = cli(capsys, "bootstrap", "--yes", "--enable-trusted-access", *args)
    assert code == 0, out + err
    sandbox_accounts = _members(inprocess_sandbox, "/Sandbox")
    others = [a.id for a in inprocess_sandbox.summary.accounts if a.status == "ACTIVE" and a.id not in sandbox_accounts]
    assert sandbox_accounts and prod_ou and len(others) >= 5
    _assert_read_back(inprocess_sandbox, sandbox_accounts, others)

    code, out, err = cli(capsys, "plan", *args)
    assert code == 0 and "No changes" in out, out

    code, out, err = cli(capsys, "cost", *args, "--from-org", "-o", "json")
    assert code == 0, err
    document = json.loads(out)
    by_name = {p["profile"]: p for p in document["profiles"]}
    assert set(by_name) == {"default", "sandbox"}
    assert by_name["sandbox"]["accounts"] == len(sandbox_accounts)
    saving = sum(p["continuous_all_usd"] - p["monthly_usd"] for p in by_name.values())
    assert document["profile_saving_usd"] == pytest.approx(saving, abs=0.02)
    # The default profile records everything continuously already: no difference there.
    assert by_name["default"]["monthly_usd"] == by_name["default"]["continuous_all_usd"]
    assert by_name["sandbox"]["monthly_usd"] != by_name["sandbox"]["continuous_all_usd"]
    code, out, err = cli(capsys, "cost", *args, "--from-org")
    assert "Recording profiles" in out and "sandbox: " in out and "Against recording everything continuously" in out

    # An account moves from Sandbox to Prod. Its healthy instances vouch for it, so only a full census sees that it
    # records as the old profile; update --census full gives it Prod's (the default) recording.
    moved = sandbox_accounts[0]
    _move_then_update_with_a_full_census(capsys, args, endpoint, moved, sandbox_ou.id, prod_ou.id)
    for region in REGIONS:
        group, mode = _reads(endpoint, moved, region)
        assert mode["recordingFrequency"] == "CONTINUOUS" and group["allSupported"] is True, region
    still = sandbox_accounts[1] if len(sandbox_accounts) > 1 else None
    if still:
        assert _reads(endpoint, still, "us-east-1")[1]["recordingFrequency"] == "DAILY"
    code, out, err = cli(capsys, "plan", *args)
    assert code == 0 and "No changes" in out, out

    # add-region keeps the profiles: the new Region's recorders record as each account's profile.
    code, out, err = cli(capsys, "add-region", "us-west-2", "--yes", *args)
    assert code == 0, out + err
    assert _reads(endpoint, moved, "us-west-2")[1]["recordingFrequency"] == "CONTINUOUS"
    if still:
        group, mode = _reads(endpoint, still, "us-west-2")
        assert mode["recordingFrequency"] == "DAILY" and "AWS::EC2::Instance" in str(group)
    code, out, err = cli(capsys, "plan", *args)
    assert code == 0 and "No changes" in out, out
