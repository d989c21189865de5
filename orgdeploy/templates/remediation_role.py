"""The remediation role's trust and permissions, from the documents the packs run (pure).

SSM Automation assumes the role in each account; its trust names ssm.amazonaws.com with
aws:SourceAccount and aws:SourceArn on the account's automation executions ("Configure a service
role for Automation"). Its policy allows each document's own actions and nothing else. Two kinds
of Deny narrow it, since an organization pack is one template for every account and AWS Config
takes no remediation exception on a pack's remediations (PutRemediationExceptions): a rule's
exclude_regions deny its document's actions there, and each exception denies them on its
resource until it expires. The automation then fails at once, and `events` reports it as excepted.
"""

from __future__ import annotations

from typing import Any

from orgdeploy.config.model import Config, RemediationException
from orgdeploy.config.runbooks import RUNBOOKS, Runbook
from orgdeploy.errors import TemplateError

_SUB = {"partition": "${AWS::Partition}", "account": "${AWS::AccountId}", "region": "*"}


def _arn(pattern: str, resource: str = "*") -> Any:
    text = pattern.format(**_SUB, resource=resource)
    return {"Fn::Sub": text} if "${" in text else text


def trust_policy() -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ssm.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                    "ArnLike": {
                        "aws:SourceArn": {
                            "Fn::Sub": "arn:${AWS::Partition}:ssm:*:${AWS::AccountId}:automation-execution/*"
                        }
                    },
                },
            }
        ],
    }


def _statement(
    sid: str, effect: str, runbook: Runbook, resources: list[Any], condition: dict[str, Any] | None
) -> dict[str, Any]:
    found: dict[str, Any] = {"Sid": sid, "Effect": effect, "Action": sorted({a for a, _ in runbook.actions}),
                             "Resource": resources}  # fmt: skip
    if condition:
        found["Condition"] = condition
    return found


def _exception_arn(runbook: Runbook, exception: RemediationException) -> Any:
    if runbook.resource_type == "AWS::S3::Bucket":
        return _arn("arn:{partition}:s3:::{resource}", exception.resource_id)
    if runbook.resource_type == "AWS::EC2::SecurityGroup":
        return _arn("arn:{partition}:ec2:*:{account}:security-group/{resource}", exception.resource_id)
    raise TemplateError(
        f"remediation.exceptions: {exception.rule} {exception.resource_id}: AWS Config names {runbook.resource_type} "
        "resources by an id that is not in their ARN, so no exception can be expressed for them"
    )


def permissions_policy(config: Config, documents: tuple[str, ...]) -> dict[str, Any]:
    statements = []
    for number, name in enumerate(documents, 1):
        runbook = RUNBOOKS[name]
        resources = [_arn(p) for p in dict.fromkeys(p for _, p in runbook.actions)]
        statements.append(_statement(f"Run{number}", "Allow", runbook, resources, None))
    for number, rule in enumerate(config.remediation.rules, 1):
        if rule.exclude_regions:
            regions = {"StringEquals": {"aws:RequestedRegion": list(rule.exclude_regions)}}
            statements.append(_statement(f"ExcludedRegions{number}", "Deny", RUNBOOKS[rule.document], ["*"], regions))
    by_rule = {r.rule: r for r in config.remediation.rules}
    for number, exception in enumerate(config.remediation.exceptions, 1):
        held = by_rule.get(exception.rule)
        if held is None:
            raise TemplateError(
                f"remediation.exceptions: {exception.rule!r} is not one of remediation.rules; an exception names "
                "the rule whose remediation it holds back"
            )
        runbook = RUNBOOKS[held.document]
        until = {"DateLessThan": {"aws:CurrentTime": f"{exception.expires.isoformat()}T00:00:00Z"}}
        statements.append(
            _statement(f"Exception{number}", "Deny", runbook, [_exception_arn(runbook, exception)], until)
        )
    return {"Version": "2012-10-17", "Statement": statements}


def plain_policy(value: Any, *, partition: str = "aws") -> Any:
    """The policy with each Fn::Sub written out: the partition filled in, ${AWS::AccountId} left for each account."""
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        return str(value["Fn::Sub"]).replace("${AWS::Partition}", partition)
    if isinstance(value, dict):
        return {k: plain_policy(v, partition=partition) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_policy(v, partition=partition) for v in value]
    return value
