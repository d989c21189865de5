"""`orgdeploy bootstrap` and `plan` as a user runs them, against a sandbox served in another process.

Every assertion about the organization reads AWS-side state with plain boto3
(conftest.OrgBoto), never orgdeploy's own report.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    FOREIGN,
    FOREIGN_REGION,
    HAS_SLR,
    HOME,
    MANAGEMENT,
    RECORDER,
    RECORDER_SET,
    REGIONS,
    ROLE_SET,
    SUSPENDED,
    OrgBoto,
    assert_converged,
    explain,
    run_bootstrap,
    run_cli,
)

pytestmark = pytest.mark.e2e

STACK_SET_OPERATIONS = {
    "create_stack_instances",
    "update_stack_instances",
    "delete_stack_instances",
    "update_stack_set",
}


def test_bootstrap_deploys_config_across_the_organization(config_file: Path, org_boto: OrgBoto) -> None:
    # Before: nothing of ours anywhere, the seeded quirks in place.
    assert org_boto.stack_sets() == []
    assert org_boto.has_role(HAS_SLR)
    assert not org_boto.has_role(MANAGEMENT)
    assert [r["name"] for r in org_boto.recorders(FOREIGN, FOREIGN_REGION)] == ["default"]

    result = run_bootstrap(config_file, org_boto.endpoint_url)

    assert result.returncode == 0, explain(result)
    assert_converged(org_boto)
    # The foreign recorder is reported as skipped, and left alone (not started, no channel added).
    skipped = [
        line
        for line in result.stdout.splitlines()
        if FOREIGN in line and FOREIGN_REGION in line and "recorder" in line and "'default'" in line
    ]
    assert skipped, explain(result)
    statuses = org_boto.recorder_statuses(FOREIGN, FOREIGN_REGION)
    assert [(s["name"], s.get("recording")) for s in statuses] == [("default", False)]
    # The suspended account got nothing at all.
    for region in REGIONS:
        assert org_boto.stacks(SUSPENDED, region) == []
    assert not org_boto.has_role(SUSPENDED)
    # The management account is deployed with plain stacks: a recorder in every Region, the role once.
    for region in REGIONS:
        names = {s["StackName"] for s in org_boto.stacks(MANAGEMENT, region)}
        assert RECORDER in names, (region, names)
    assert org_boto.has_role(MANAGEMENT)


def test_plan_json_contract(config_file: Path, served_sandbox: str) -> None:
    result = run_cli(
        "plan", "-c", str(config_file), "--endpoint-url", served_sandbox, "--output", "json", "--enable-trusted-access"
    )

    assert result.returncode == 0, explain(result)
    plan = json.loads(result.stdout)
    steps = plan["steps"]
    ids = [s["id"] for s in steps]
    assert len(ids) == len(set(ids)), ids
    for position, step in enumerate(steps):
        assert {"id", "action", "target", "account", "regions", "depends_on"} <= step.keys(), step
        assert isinstance(step["regions"], list) and isinstance(step["depends_on"], list), step
        # Dependencies name earlier steps only: the list is in an order that can be executed.
        assert set(step["depends_on"]) <= set(ids[:position]), step
        if step["action"] in STACK_SET_OPERATIONS:
            assert step["operation_preferences"], step
            assert step["deployment_targets"]["OrganizationalUnitIds"], step
            assert step["operation_id"], step
    recorder_creates = [s for s in steps if s["action"] == "create_stack_instances" and s["target"] == RECORDER_SET]
    assert len(recorder_creates) >= 2, recorder_creates
    home, *others = recorder_creates
    assert home["regions"] == [HOME]
    assert sorted(r for s in others for r in s["regions"]) == sorted(set(REGIONS) - {HOME})
    for other in others:
        assert ids.index(home["id"]) < ids.index(other["id"])
        assert home["id"] in other["depends_on"], other
    # The recorder instances wait for the service-linked role's.
    [role_create] = [s for s in steps if s["action"] == "create_stack_instances" and s["target"] == ROLE_SET]
    assert role_create["regions"] == [HOME]
    assert role_create["id"] in home["depends_on"]
    assert steps[0]["action"] == "enable_trusted_access"
    assert plan["changes"] == len([s for s in steps if s["action"] != "verify"]) > 0
    usage = {u["name"]: u for u in plan["quota_usage"]}
    assert set(usage) == {ROLE_SET, RECORDER_SET}
    # 8 active members: recorders in both Regions but dev-2's eu-west-1; the role in all but log-archive.
    assert usage[RECORDER_SET]["used"] == 15, usage
    assert usage[ROLE_SET]["used"] == 7, usage
    assert all(u["limit"] > 0 and u["percent"] >= 0 for u in usage.values()), usage
    # `plan` changes nothing.
    assert OrgBoto(served_sandbox).stack_sets() == []


def test_second_bootstrap_changes_nothing(config_file: Path, served_sandbox: str) -> None:
    first = run_bootstrap(config_file, served_sandbox)
    assert first.returncode == 0, explain(first)

    second = run_bootstrap(config_file, served_sandbox, "--output", "json")

    assert second.returncode == 0, explain(second)
    report = json.loads(second.stdout)
    assert report["changes"] == 0, json.dumps(report["plan"]["steps"], indent=1)
    assert report["failed"] is False
    assert report["execution"] is None


def test_json_output_is_only_json(config_file: Path, served_sandbox: str) -> None:
    result = run_bootstrap(config_file, served_sandbox, "--output", "json")

    assert result.returncode == 0, explain(result)
    report = json.loads(result.stdout)  # the whole of stdout, nothing before or after
    assert report["changes"] > 0
    assert report["failed"] is False
    assert all(step["outcome"] == "succeeded" for step in report["execution"]["steps"]), report["execution"]
    # JSON mode is silent: no progress lines on either stream.
    assert not re.search(r"^\S+ start ", result.stdout + result.stderr, re.MULTILINE), explain(result)


def test_new_account_gets_role_then_recorder_by_auto_deployment(config_file: Path, org_boto: OrgBoto) -> None:
    result = run_bootstrap(config_file, org_boto.endpoint_url)
    assert result.returncode == 0, explain(result)
    organizations = org_boto.client("organizations")
    workloads = next(
        ou["Id"]
        for ou in organizations.get_paginator("list_organizational_units_for_parent")
        .paginate(ParentId=org_boto.root_id())
        .build_full_result()["OrganizationalUnits"]
        if ou["Name"] == "Workloads"
    )

    status = organizations.create_account(AccountName="late-1", Email="late-1@example.com")["CreateAccountStatus"]
    while status["State"] == "IN_PROGRESS":
        time.sleep(0.2)
        status = organizations.describe_create_account_status(CreateAccountRequestId=status["Id"])[
            "CreateAccountStatus"
        ]
    assert status["State"] == "SUCCEEDED", status
    account = status["AccountId"]
    organizations.move_account(AccountId=account, SourceParentId=org_boto.root_id(), DestinationParentId=workloads)
    org_boto.wait_for_operations([ROLE_SET, RECORDER_SET])

    role_instances = [i for i in org_boto.stack_instances(ROLE_SET) if i["Account"] == account]
    recorder_instances = [i for i in org_boto.stack_instances(RECORDER_SET) if i["Account"] == account]
    assert [(i["Region"], i["Status"]) for i in role_instances] == [(HOME, "CURRENT")]
    assert sorted((i["Region"], i["Status"]) for i in recorder_instances) == [(r, "CURRENT") for r in sorted(REGIONS)]
    assert org_boto.has_role(account)
    for region in REGIONS:
        recorders = org_boto.recorders(account, region)
        assert [r["name"] for r in recorders] == [RECORDER], (region, recorders)
        assert recorders[0]["recordingGroup"]["includeGlobalResourceTypes"] is (region == HOME)
    # AutoDeployment.DependsOn: the recorder operation for the account ran only once the role's had finished.
    role_op = _automatic_operation(org_boto, ROLE_SET, account)
    recorder_op = _automatic_operation(org_boto, RECORDER_SET, account)
    assert role_op["Status"] == recorder_op["Status"] == "SUCCEEDED"
    assert recorder_op["EndTimestamp"] > role_op["EndTimestamp"]
    ran_for = (recorder_op["EndTimestamp"] - role_op["EndTimestamp"]).total_seconds()
    assert ran_for >= 0.4, (role_op, recorder_op)  # a whole operation (op_seconds 0.5) after the role's


def _automatic_operation(org: OrgBoto, stack_set: str, account: str) -> dict[str, object]:
    """The operation that deployed `account`'s instances of `stack_set`."""
    [instance_op] = {i["LastOperationId"] for i in org.stack_instances(stack_set) if i["Account"] == account}
    [operation] = [o for o in org.operations(stack_set) if o["OperationId"] == instance_op]
    return operation
