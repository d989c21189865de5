"""The seeded organization: deterministic ids, the intended layout, and quirks the APIs can see."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("moto")

import boto3
from moto.server import ThreadedMotoServer

from orgdeploy.sandbox.org.seed import SeedSummary, seed_organization
from orgdeploy.sandbox.state import STATE, reset_state

DUMMY = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
REPO = Path(__file__).resolve().parents[2]

# Seeds an organization on a fresh in-process server and prints its summary as JSON.
SEED_IN_NEW_PROCESS = """
import json
from moto.server import ThreadedMotoServer
from orgdeploy.sandbox.org.seed import seed_organization
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
print(json.dumps(seed_organization(endpoint_url=f"http://{host}:{port}", seed=7).to_dict()))
server.stop()
"""


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def reset(endpoint: str) -> None:
    # moto's backends are process-wide: a fresh server is an empty one.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).read()
    reset_state()


@pytest.fixture(autouse=True)
def fresh(endpoint: str) -> None:
    reset(endpoint)


def client(endpoint: str, service: str, account: str | None = None, region: str = "us-east-1") -> Any:
    creds = dict(DUMMY)
    if account:
        sts = boto3.client("sts", endpoint_url=endpoint, region_name=region, **DUMMY)
        role = f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
        got = sts.assume_role(RoleArn=role, RoleSessionName="sandbox-test")["Credentials"]
        creds = {
            "aws_access_key_id": got["AccessKeyId"],
            "aws_secret_access_key": got["SecretAccessKey"],
            "aws_session_token": got["SessionToken"],
        }
    return boto3.client(service, endpoint_url=endpoint, region_name=region, **creds)


def quirk(summary: SeedSummary, kind: str) -> Any:
    [found] = [q for q in summary.quirks if q.kind == kind]
    return found


def test_same_seed_gives_the_same_organization(endpoint: str) -> None:
    first = seed_organization(endpoint_url=endpoint, seed=7).to_dict()
    reset(endpoint)
    second = seed_organization(endpoint_url=endpoint, seed=7).to_dict()
    reset(endpoint)
    other = seed_organization(endpoint_url=endpoint, seed=8).to_dict()

    assert first == second
    assert {a["id"] for a in first["accounts"]} != {a["id"] for a in other["accounts"]}


def test_same_seed_gives_the_same_organization_in_another_process(endpoint: str) -> None:
    here = seed_organization(endpoint_url=endpoint, seed=7).to_dict()
    run = subprocess.run(
        [sys.executable, "-c", SEED_IN_NEW_PROCESS],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    assert json.loads(run.stdout.strip().splitlines()[-1]) == here


def test_layout_through_organizations(endpoint: str) -> None:
    summary = seed_organization(endpoint_url=endpoint, accounts=8)
    org = client(endpoint, "organizations")

    paths = {ou.path: ou.id for ou in summary.ous}
    assert sorted(paths) == [
        "Root/Sandbox",
        "Root/Security",
        "Root/Workloads",
        "Root/Workloads/Dev",
        "Root/Workloads/Prod",
    ]
    assert org.describe_organization()["Organization"]["FeatureSet"] == "ALL"
    in_ou = {
        path: sorted(a["Name"] for a in org.list_accounts_for_parent(ParentId=ou_id)["Accounts"])
        for path, ou_id in paths.items()
    }
    assert in_ou["Root/Security"] == ["audit", "log-archive"]
    assert in_ou["Root/Workloads"] == []
    active = [a for a in org.list_accounts()["Accounts"] if a["State"] == "ACTIVE"]
    assert len(active) == 1 + 8
    workload_names = in_ou["Root/Workloads/Prod"] + in_ou["Root/Workloads/Dev"] + in_ou["Root/Sandbox"]
    assert {"prod-1", "prod-2", "dev-1", "dev-2", "sandbox-1", "sandbox-2"} <= set(workload_names)


def test_quirks_are_visible_through_the_apis(endpoint: str) -> None:
    summary = seed_organization(endpoint_url=endpoint, seed=3)

    foreign = quirk(summary, "foreign-recorder")
    assert foreign.region == "eu-west-1"
    config = client(endpoint, "config", foreign.account_id, foreign.region)
    [recorder] = config.describe_configuration_recorders()["ConfigurationRecorders"]
    assert recorder["name"] == "default"
    [status] = config.describe_configuration_recorder_status()["ConfigurationRecordersStatus"]
    assert status["recording"] is False
    home = client(endpoint, "config", foreign.account_id, "us-east-1")
    assert home.describe_configuration_recorders()["ConfigurationRecorders"] == []

    linked = quirk(summary, "service-linked-role")
    role = client(endpoint, "iam", linked.account_id).get_role(RoleName="AWSServiceRoleForConfig")["Role"]
    assert role["Path"] == "/aws-service-role/config.amazonaws.com/"

    opted_out = quirk(summary, "opt-in-region-disabled")
    assert opted_out.region == "eu-south-1"
    assert not STATE.region_enabled(opted_out.account_id, "eu-south-1")
    assert STATE.region_enabled(opted_out.account_id, "eu-west-1")

    suspended = quirk(summary, "suspended")
    described = client(endpoint, "organizations").describe_account(AccountId=suspended.account_id)["Account"]
    assert described["State"] == "SUSPENDED"
    assert [a.status for a in summary.accounts if a.id == suspended.account_id] == ["SUSPENDED"]
    assert len({foreign.account_id, linked.account_id, opted_out.account_id, suspended.account_id}) == 4


def test_other_home_region_moves_the_foreign_recorder(endpoint: str) -> None:
    summary = seed_organization(endpoint_url=endpoint, accounts=4, home_region="eu-west-1")
    assert quirk(summary, "foreign-recorder").region == "us-east-1"


def test_too_few_accounts_is_refused(endpoint: str) -> None:
    with pytest.raises(ValueError, match="at least 4"):
        seed_organization(endpoint_url=endpoint, accounts=3)


def test_summary_renders_as_json_and_text(endpoint: str) -> None:
    summary = seed_organization(endpoint_url=endpoint, accounts=4)
    data = json.loads(json.dumps(summary.to_dict()))
    assert data["organization_id"] == summary.organization_id
    assert {q["kind"] for q in data["quirks"]} == {
        "foreign-recorder",
        "service-linked-role",
        "opt-in-region-disabled",
        "suspended",
    }
    text = summary.to_text()
    assert text.splitlines()[0].startswith(f"Organization {summary.organization_id}")
    assert "    Prod " in text
    assert "  - log-archive " in text
    assert "Quirks:" in text
