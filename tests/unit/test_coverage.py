"""Coverage verdicts per account and Region, from the census and the stack instances (pure)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from orgdeploy.planning.inventory import AccountFacts, RecorderFact, StackInstance, StackSetState
from orgdeploy.reporting.coverage import coverage_of
from orgdeploy.reporting.status import status_report
from tests.helpers import make_config
from tests.unit.test_planner import AUDIT, DEV1, DEV2, LOG, PROD1, PROD2, inventory

HOME, OTHER = "us-east-1", "eu-west-1"
ALL_HOME = {
    "allSupported": True,
    "includeGlobalResourceTypes": True,
    "recordingStrategy": {"useOnly": "ALL_SUPPORTED_RESOURCE_TYPES"},
}
ALL_OTHER = {**ALL_HOME, "includeGlobalResourceTypes": False}
CONTINUOUS = {"recordingFrequency": "CONTINUOUS"}


def ours(region: str, **changes: object) -> tuple[str, RecorderFact]:
    group = ALL_HOME if region == HOME else ALL_OTHER
    fact = RecorderFact("orgdeploy-recorder", "orgdeploy", True, last_status="SUCCESS",
                        recording_group=json.dumps(group), recording_mode=json.dumps(CONTINUOUS))  # fmt: skip
    return region, replace(fact, **changes)  # type: ignore[arg-type]


def test_each_verdict_names_its_reason(tmp_path: Path) -> None:
    config = make_config(tmp_path, targets={"organizational_units": ["ROOT"], "exclude_accounts": [PROD2]})
    recorded = (ours(HOME), ours(OTHER))
    failed = StackInstance(DEV1, OTHER, "OUTDATED", "FAILED", "MaxNumberOfConfigurationRecordersExceededException")
    stack_set = StackSetState("orgdeploy-recorder", "arn", "", (), True, (), True, (failed,))
    facts = (
        AccountFacts(LOG, True, "", True, recorded),
        AccountFacts(
            AUDIT, True, "", True, (ours(HOME), ours(OTHER, recording=False, last_stop_time="2026-12-01T10:00:00Z"))
        ),
        AccountFacts(DEV1, True, "", True, (ours(HOME),)),
        AccountFacts(
            DEV2,
            True,
            "",
            True,
            (
                ours(HOME, last_status="FAILURE", last_error="AccessDenied no role"),
                (OTHER, RecorderFact("AWSConfigurationRecorderForX", "service-linked", True)),
            ),
        ),
        AccountFacts(
            PROD1,
            True,
            "",
            True,
            (ours(HOME, recording_group=json.dumps({"allSupported": False, "resourceTypes": ["AWS::S3::Bucket"]})),),
            (OTHER,),
        ),
        AccountFacts(PROD2, False, "AccessDenied: excluded anyway"),
    )
    inv = replace(inventory(), facts=facts, stack_sets=(stack_set,))
    found = {(p.account, p.region): p for p in coverage_of(config, inv).places}
    assert (PROD2, HOME) not in found, "an excluded account is not targeted"
    assert found[(LOG, HOME)].covered and found[(LOG, OTHER)].group_matches is True
    assert found[(AUDIT, OTHER)].reason == (
        "recorder 'orgdeploy-recorder' (orgdeploy's) is not recording since 2026-12-01T10:00:00Z; "
        "`orgdeploy update` starts it again"
    )
    assert found[(DEV1, OTHER)].reason == (
        "no recorder; orgdeploy's stack instance is OUTDATED/FAILED: MaxNumberOfConfigurationRecordersExceededException"
    )
    assert found[(DEV2, HOME)].reason == "its last recording failed: AccessDenied no role"
    assert found[(DEV2, OTHER)].reason.startswith("only the service-linked recorder AWSConfigurationRecorderForX")
    assert found[(PROD1, OTHER)].verdict == "not applicable"
    differs = found[(PROD1, HOME)]
    assert (
        differs.group_matches is False and "recordingGroup.allSupported is false, expected true" in differs.differences
    )
    coverage = coverage_of(config, inv)
    assert coverage.counts() == {"covered": 4, "not covered": 5, "not applicable": 1}
    report = status_report(inv, coverage)
    assert report.deployed_healthy is False and report.healthy is False
    assert (
        "coverage: 4 of 10 account x Region pairs recording as configured, 5 not covered, 1 not applicable"
        in report.to_text()
    )


def test_a_foreign_recorder_that_records_covers_its_pair(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    facts = (AccountFacts(LOG, True, "", True, (ours(HOME), (OTHER, RecorderFact("default", "unknown", True)))),)
    found = {(p.account, p.region): p for p in coverage_of(config, replace(inventory(), facts=facts)).places}
    assert found[(LOG, OTHER)].covered and found[(LOG, OTHER)].group_matches is None
    stopped = (AccountFacts(LOG, True, "", True, ((OTHER, RecorderFact("default", "unknown", False)),)),)
    [_, place] = coverage_of(config, replace(inventory(), facts=stopped)).places
    assert "made outside orgdeploy" in place.reason and "delete it so that orgdeploy deploys its own" in place.reason
