"""Mend orgdeploy's own recorders where CloudFormation cannot: start a stopped one, reset a changed one.

CloudFormation only calls a resource's update handler when the template's properties change, so a
recorder stopped or edited by hand stays so through every stack set update. orgdeploy puts the
stack's own properties back and starts the recorder, through census.role_name in member accounts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from orgdeploy.aws.census import SERVICE_LINKED_ROLE
from orgdeploy.aws.permissions import DEPLOYERS, Need
from orgdeploy.aws.retry import call_with_retries
from orgdeploy.aws.session import AwsContext

PERMISSIONS = (
    Need(
        ("config:DescribeConfigurationRecorders", "config:DescribeConfigurationRecorderStatus"),
        DEPLOYERS | {"member"},
        "update: read orgdeploy's recorder again just before mending it",
    ),
    Need(
        ("config:PutConfigurationRecorder", "config:StartConfigurationRecorder", "iam:PassRole"),
        DEPLOYERS | {"member"},
        "update: put back the recording group and mode of orgdeploy's recorder, and start it when stopped",
    ),
)


@dataclass(frozen=True)
class Mended:
    started: bool
    reset: bool

    def describe(self) -> str:
        done = [w for w, flag in (("recording group and mode put back", self.reset), ("started", self.started)) if flag]
        return ", ".join(done) or "already recording as configured"


class RecordersGateway:
    def __init__(self, ctx: AwsContext, *, account: str, region: str) -> None:
        self.client = ctx.client("config", region, account)
        self.account = account

    def mend(self, name: str, *, group: dict[str, Any], mode: dict[str, Any]) -> Mended:
        """Put group and mode back where they differ, then start the recorder if it is stopped."""
        found = call_with_retries(self.client.describe_configuration_recorders, ConfigurationRecorderNames=[name])
        recorder = found["ConfigurationRecorders"][0]
        reset = _differs(recorder.get("recordingGroup") or {}, group) or _differs(recorder.get("recordingMode"), mode)
        if reset:
            # The stack's RoleARN: the service-linked role of the account the recorder is in.
            partition, account = _arn_parts(recorder.get("arn", ""), self.account)
            role = f"arn:{partition}:iam::{account}:role/aws-service-role/config.amazonaws.com/{SERVICE_LINKED_ROLE}"
            wanted = {"name": name, "roleARN": role, "recordingGroup": group, "recordingMode": mode}
            call_with_retries(self.client.put_configuration_recorder, ConfigurationRecorder=wanted)
        statuses = call_with_retries(
            self.client.describe_configuration_recorder_status, ConfigurationRecorderNames=[name]
        )["ConfigurationRecordersStatus"]
        started = not (statuses and statuses[0].get("recording"))
        if started:
            call_with_retries(self.client.start_configuration_recorder, ConfigurationRecorderName=name)
        return Mended(started=started, reset=reset)


def _arn_parts(arn: str, account: str) -> tuple[str, str]:
    parts = arn.split(":")
    return (parts[1], parts[4]) if len(parts) > 4 else ("aws", account)


def _differs(actual: Any, wanted: dict[str, Any]) -> bool:
    """Whether each key the template sets reads back differently (AWS adds empty defaults on describe)."""
    actual = actual or {}
    return any(json.dumps(actual.get(k), sort_keys=True) != json.dumps(v, sort_keys=True) for k, v in wanted.items())
