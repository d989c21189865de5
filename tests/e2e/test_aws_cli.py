"""The AWS CLI, a real client, against `sandbox serve` after a bootstrap: every read call answers, exit 0.

An operation the sandbox does not emulate answers with a well-formed AWS error that the CLI reports
without retrying.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import MANAGEMENT, base_env, explain, run_bootstrap, write_config

pytestmark = pytest.mark.e2e

AWS = Path(sys.executable).parent / "aws"


def aws(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**base_env(), "AWS_ENDPOINT_URL": endpoint, "AWS_MAX_ATTEMPTS": "1"}
    return subprocess.run(
        [str(AWS), *args, "--output", "json"], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def answer(endpoint: str, *args: str) -> Any:
    done = aws(endpoint, *args)
    assert done.returncode == 0, (args, done.stderr[-2000:])
    return json.loads(done.stdout) if done.stdout.strip() else {}


def test_the_aws_cli_reads_what_bootstrap_built(served_sandbox: str, tmp_path: Path) -> None:
    assert AWS.is_file(), "the AWS CLI comes with the test extra"
    result = run_bootstrap(write_config(tmp_path / "org"), served_sandbox)
    assert result.returncode == 0, explain(result)
    endpoint = served_sandbox

    status = answer(endpoint, "configservice", "describe-delivery-channel-status")
    assert [s["name"] for s in status["DeliveryChannelsStatus"]] == ["orgdeploy-delivery"]
    packs = answer(endpoint, "configservice", "describe-conformance-packs")["ConformancePackDetails"]
    [pack] = [p["ConformancePackName"] for p in packs]
    assert pack.startswith("OrgConformsPack-orgdeploy-baseline-")
    compliance = answer(
        endpoint, "configservice", "describe-conformance-pack-compliance", "--conformance-pack-name", pack
    )
    rules = compliance["ConformancePackRuleComplianceList"]
    assert rules and all("-conformance-pack-" in r["ConfigRuleName"] for r in rules)
    by_rule = answer(endpoint, "configservice", "describe-compliance-by-config-rule")["ComplianceByConfigRules"]
    assert {r["ConfigRuleName"] for r in by_rule} == {r["ConfigRuleName"] for r in rules}
    assert answer(endpoint, "configservice", "describe-organization-config-rules")["OrganizationConfigRules"] == []
    remediations = answer(
        endpoint,
        "configservice",
        "describe-remediation-configurations",
        "--config-rule-names",
        rules[0]["ConfigRuleName"],
    )
    assert remediations["RemediationConfigurations"] == []
    counts = answer(
        endpoint,
        "configservice",
        "get-aggregate-discovered-resource-counts",
        "--configuration-aggregator-name",
        "orgdeploy",
        "--group-by-key",
        "RESOURCE_TYPE",
    )
    assert counts["TotalDiscoveredResources"] == sum(g["ResourceCount"] for g in counts["GroupedResourceCounts"])
    assert any(g["GroupName"] == "AWS::S3::Bucket" for g in counts["GroupedResourceCounts"])
    total = answer(
        endpoint, "configservice", "get-aggregate-discovered-resource-counts", "--configuration-aggregator-name",
        "orgdeploy",
    )  # fmt: skip
    assert (total["TotalDiscoveredResources"], total["GroupedResourceCounts"]) == (
        counts["TotalDiscoveredResources"],
        [],
    )

    targets = answer(
        endpoint, "cloudformation", "list-stack-set-auto-deployment-targets", "--stack-set-name", "orgdeploy-recorder"
    )["Summaries"]
    assert targets and set(targets[0]["Regions"]) == {"us-east-1", "eu-west-1"}
    operation = answer(
        endpoint, "cloudformation", "list-stack-set-operations", "--stack-set-name", "orgdeploy-recorder"
    )["Summaries"][0]["OperationId"]
    member = next(
        i
        for i in answer(endpoint, "cloudformation", "list-stack-instances", "--stack-set-name", "orgdeploy-recorder")[
            "Summaries"
        ]
        if i["Account"] != MANAGEMENT
    )
    drifts = answer(
        endpoint,
        "cloudformation",
        "list-stack-instance-resource-drifts",
        "--stack-set-name",
        "orgdeploy-recorder",
        "--stack-instance-account",
        member["Account"],
        "--stack-instance-region",
        member["Region"],
        "--operation-id",
        operation,
    )
    assert drifts["Summaries"] == []


def test_an_operation_the_sandbox_lacks_is_a_well_formed_error(served_sandbox: str) -> None:
    refused = aws(served_sandbox, "configservice", "describe-pending-aggregation-requests")
    assert refused.returncode != 0
    assert "UnknownOperationException" in refused.stderr and "does not emulate" in refused.stderr
    assert "<!doctype html>" not in refused.stderr.lower() and "reached max retries" not in refused.stderr
    xml_refused = aws(
        served_sandbox, "cloudformation", "list-hook-results", "--target-type", "CHANGE_SET", "--target-id", "x"
    )
    assert xml_refused.returncode != 0 and "InvalidAction" in xml_refused.stderr
