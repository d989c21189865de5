"""AWS Config's automatic remediation in the sandbox: SSM Automation runs, attempts, and what they report.

When an evaluation finds a resource NON_COMPLIANT with a rule whose pack gave it an automatic
RemediationConfiguration, AWS Config's service-linked role AWSServiceRoleForConfigRemediation
starts the document through SSM Automation, which assumes the AutomationAssumeRole. For an
organization pack the role's ARN names the administrator account, and AWS Config puts the member
account in its place ("Conformance pack prerequisites"). Here:

- the role must exist in the member account and trust ssm.amazonaws.com, else the execution fails
  with SSM's "The defined assume role is unable to be assumed.";
- each step is authorised against the role's policies before it changes moto's resource
  (runbooks.py); a refusal fails the execution with AWS's AccessDenied message;
- each execution ends with an "EC2 Automation Execution Status-change Notification" event on the
  member's default bus, whose ExecutedBy is the remediation service-linked role's session;
- a failed resource is tried again, MaximumAutomaticAttempts times within RetryAttemptSeconds (the
  sandbox spaces the attempts evenly over that window); after the last one AWS Config holds the
  resource back itself ("a remediation exception on your behalf");
- once ErrorPercentage of a rule's non-compliant resources have failed, no more are started for it.

DescribeRemediationExecutionStatus and SSM's GetAutomationExecution read what ran. The change a
document makes is recorded like any other, so the rule evaluates the resource again and reports
its new compliance.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from orgdeploy.sandbox.compliance.packs import RemediationSpec
from orgdeploy.sandbox.compliance.runbooks import STEPS, StepFailed, authorizer, role_documents, trusts_ssm

ASSUME_FAILED = "The defined assume role is unable to be assumed."
SESSION = "Config-Remediation"
DURATION = 2.0  # seconds an execution takes on the sandbox clock
AUTOMATION_EVENT = "EC2 Automation Execution Status-change Notification"

ResourceKey = tuple[str, str]
AttemptKey = tuple[str, str, str, str, str]  # account, Region, rule name, resource type, resource id


@dataclass
class Execution:
    execution_id: str
    account: str
    region: str
    rule: str
    resource: ResourceKey
    document: str
    version: str
    parameters: dict[str, list[str]]
    start: float
    end: float
    status: str  # Success | Failed
    failure: str = ""
    step: str = ""

    def to_ssm(self) -> dict[str, Any]:
        """GetAutomationExecution's AutomationExecution."""
        step: dict[str, Any] = {
            "StepName": self.step,
            "Action": "aws:executeAwsApi",
            "ExecutionStartTime": _when(self.start),
            "ExecutionEndTime": _when(self.end),
            "StepStatus": self.status,
        }
        found: dict[str, Any] = {
            "AutomationExecutionId": self.execution_id,
            "DocumentName": self.document,
            "DocumentVersion": self.version,
            "ExecutionStartTime": _when(self.start),
            "ExecutionEndTime": _when(self.end),
            "AutomationExecutionStatus": self.status,
            "StepExecutions": [{**step, "FailureMessage": self.failure} if self.failure else step],
            "Parameters": self.parameters,
            "Mode": "Auto",
            "ExecutedBy": executed_by(self.account),
        }
        if self.failure:
            found["FailureMessage"] = f"Step fails when it is Execute/Cancelling action. {self.failure}"
        return found


@dataclass
class Attempts:
    times: list[float] = field(default_factory=list)
    last: Execution | None = None
    held_back: bool = False  # AWS Config's own exception after the last allowed attempt

    def next_due(self, spec: RemediationSpec) -> float:
        return (self.last.end if self.last else 0.0) + spec.retry_seconds / max(1, spec.maximum_attempts)


def executed_by(account: str) -> str:
    return f"arn:aws:sts::{account}:assumed-role/AWSServiceRoleForConfigRemediation/{SESSION}"


def _when(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, UTC)


def _event_time(moment: float) -> str:
    # SSM's event writes its times as "Nov 29, 2016 7:43:20 PM".
    return _when(moment).strftime("%b %d, %Y %-I:%M:%S %p")


def automation_event(execution: Execution) -> dict[str, Any]:
    detail = {
        "ExecutionId": execution.execution_id,
        "Definition": execution.document,
        "DefinitionVersion": float(execution.version) if execution.version.isdigit() else 1.0,
        "Status": execution.status,
        "StartTime": _event_time(execution.start),
        "EndTime": _event_time(execution.end),
        "Time": (execution.end - execution.start) * 1000.0,
        "ExecutedBy": executed_by(execution.account),
    }
    arn = f"arn:aws:ssm:{execution.region}:{execution.account}"
    return {
        "Source": "aws.ssm",
        "DetailType": AUTOMATION_EVENT,
        "Detail": json.dumps(detail),
        "Time": execution.end,
        "Resources": [
            f"{arn}:automation-execution/{execution.execution_id}",
            f"{arn}:automation-definition/{execution.document}:{execution.version}",
        ],
    }


def member_role(role_arn: str, *, admin: str, account: str) -> str:
    """The role's name, from the ARN the pack gave with the administrator account AWS Config swaps for the member's."""
    if f":iam::{admin}:" in role_arn:
        role_arn = role_arn.replace(f":iam::{admin}:", f":iam::{account}:")
    return role_arn.rsplit("/", 1)[-1] if f":iam::{account}:" in role_arn else ""


@dataclass
class Remediations:
    executions: dict[str, Execution] = field(default_factory=dict)
    attempts: dict[AttemptKey, Attempts] = field(default_factory=dict)
    failures: dict[tuple[str, str, str], int] = field(default_factory=dict)  # per rule: failed executions

    def due(self, key: AttemptKey, spec: RemediationSpec, now: float, non_compliant: int) -> bool:
        """Whether an automatic remediation of this resource should start now."""
        if not spec.automatic or spec.document not in STEPS:
            return False
        found = self.attempts.get(key)
        if found is None:
            return self._under_error_share(key, spec, non_compliant)
        if found.held_back or found.last is None:
            return False
        if found.last.status == "Success":
            return now > found.last.end  # NON_COMPLIANT again after a fix: a new remediation
        return now >= found.next_due(spec) and self._under_error_share(key, spec, non_compliant)

    def retries_due(self, now: float) -> list[AttemptKey]:
        """Resources whose last attempt failed and whose next attempt has come."""
        return [k for k, a in self.attempts.items() if a.last and a.last.status == "Failed" and not a.held_back]

    def _under_error_share(self, key: AttemptKey, spec: RemediationSpec, non_compliant: int) -> bool:
        failed = self.failures.get(key[:3], 0)
        return failed * 100 < spec.error_percentage * max(1, non_compliant) or failed == 0

    def run(self, key: AttemptKey, spec: RemediationSpec, *, admin: str, now: float) -> Execution:
        account, region, rule, kind, resource_id = key
        found = self.attempts.setdefault(key, Attempts())
        found.times = [t for t in found.times if t > now - spec.retry_seconds] + [now]
        parameters = spec.parameters_for(resource_id)
        execution_id = hashlib.sha256(f"{key}{now}{len(self.executions)}".encode()).hexdigest()
        execution_id = (
            f"{execution_id[:8]}-{execution_id[8:12]}-{execution_id[12:16]}-{execution_id[16:20]}-{execution_id[20:32]}"
        )
        step_name, step = STEPS[spec.document]
        role = member_role(_one(parameters.get("AutomationAssumeRole")), admin=admin, account=account)
        status, failure = "Success", ""
        try:
            if not role or role_documents(account, role) is None or not trusts_ssm(account, role):
                raise StepFailed(ASSUME_FAILED)
            step(account, region, parameters, authorizer(account, region, role, SESSION, now))
        except StepFailed as exc:
            status, failure = "Failed", str(exc)
        execution = Execution(execution_id, account, region, rule, (kind, resource_id), spec.document, spec.version,
                              parameters, now, now + DURATION, status, failure, step_name)  # fmt: skip
        self.executions[execution_id] = execution
        found.last = execution
        if status == "Failed":
            self.failures[key[:3]] = self.failures.get(key[:3], 0) + 1
            found.held_back = len(found.times) >= spec.maximum_attempts
        return execution

    def status_of(self, account: str, region: str, rule: str, resource: ResourceKey) -> dict[str, Any] | None:
        """DescribeRemediationExecutionStatus's entry for one resource."""
        found = self.attempts.get((account, region, rule, *resource))
        if found is None or found.last is None:
            return None
        last = found.last
        state = {"Success": "SUCCEEDED", "Failed": "FAILED"}[last.status]
        step = {"Name": last.step, "State": state, "StartTime": last.start, "StopTime": last.end}
        if last.failure:
            step["ErrorMessage"] = last.failure
        return {
            "ResourceKey": {"resourceType": resource[0], "resourceId": resource[1]},
            "State": state,
            "StepDetails": [step],
            "InvocationTime": last.start,
            "LastUpdatedTime": last.end,
        }


def _one(values: list[str] | None) -> str:
    return values[0] if values else ""
