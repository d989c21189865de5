"""Remediations in a conformance pack body: the configured ones added, every one wired to orgdeploy's role (pure).

AWS Config takes no intrinsic function in a remediation's AutomationAssumeRole and wants the exact
ARN. For an organization pack, the ARN names the management account, and AWS Config puts each
member's own account id in its place when it deploys the pack there ("Conformance pack
prerequisites"). So the body carries the two markers below in the role's ARN; the pack stack puts
its partition and account (the management account's, or the delegated administrator's) in through
Fn::Sub, and a body sent by S3 gets them when it is uploaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from orgdeploy.config.model import Config, ConformancePack, RemediationRule
from orgdeploy.config.runbooks import RUNBOOKS
from orgdeploy.errors import TemplateError
from orgdeploy.templates import naming

PARTITION_MARKER = "ORGDEPLOY-PARTITION"
ACCOUNT_MARKER = "ORGDEPLOY-ADMINISTRATOR-ACCOUNT"
REMEDIATION_TYPE = "AWS::Config::RemediationConfiguration"


class CfnLoader(yaml.SafeLoader):
    """CloudFormation's short tags read as their long form (`!Ref X` -> {"Ref": "X"}), so they dump back valid."""


def _long_form(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        return {name: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {name: loader.construct_sequence(node, deep=True)}
    return {name: loader.construct_mapping(node, deep=True)}  # type: ignore[arg-type]


CfnLoader.add_multi_constructor("!", _long_form)


@dataclass(frozen=True)
class PackRemediations:
    body: str
    documents: tuple[str, ...]  # the SSM documents the body's remediations run
    rules: tuple[str, ...]  # the configured remediation rules this pack holds


def role_arn(config: Config) -> str:
    return f"arn:{PARTITION_MARKER}:iam::{ACCOUNT_MARKER}:role/{naming.remediation_role(config)}"


def rule_keys(logical_id: str, properties: dict[str, Any]) -> set[str]:
    """The names a rule answers to: its ConfigRuleName, and its managed rule's hyphenated name."""
    name = properties.get("ConfigRuleName")
    keys = {logical_id.lower()}
    if isinstance(name, str):
        keys.add(name.lower())
    source = properties.get("Source") or {}
    if source.get("Owner") == "AWS" and isinstance(source.get("SourceIdentifier"), str):
        keys.add(source["SourceIdentifier"].lower().replace("_", "-"))
    return keys


def _configuration(config: Config, rule: RemediationRule, rule_name: Any) -> dict[str, Any]:
    runbook = RUNBOOKS[rule.document]
    parameters: dict[str, Any] = {"AutomationAssumeRole": {"StaticValue": {"Values": [role_arn(config)]}}}
    for name, value in rule.bound_parameters.items():
        parameters[name] = (
            {"ResourceValue": {"Value": "RESOURCE_ID"}}
            if value == "RESOURCE_ID"
            else {"StaticValue": {"Values": [value]}}
        )
    found: dict[str, Any] = {
        "ConfigRuleName": rule_name,
        "ResourceType": runbook.resource_type,
        "TargetId": rule.document,
        "TargetType": "SSM_DOCUMENT",
        "Parameters": parameters,
        "ExecutionControls": {
            "SsmControls": {
                "ConcurrentExecutionRatePercentage": rule.concurrency_percentage,
                "ErrorPercentage": rule.error_percentage,
            }
        },
        "Automatic": rule.automatic and config.remediation.mode == "automatic",
        "MaximumAutomaticAttempts": rule.maximum_automatic_attempts,
        "RetryAttemptSeconds": rule.retry_attempt_seconds,
    }
    if rule.version:
        found["TargetVersion"] = rule.version
    return found


def wire_remediations(config: Config, pack: ConformancePack, body: str, source: str) -> PackRemediations:
    """The body with the configured remediations of its rules added and every remediation run as orgdeploy's role."""
    try:
        data = yaml.load(body, Loader=CfnLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise TemplateError(f"{source}: not a YAML or JSON template: {exc}") from None
    resources = data.get("Resources") if isinstance(data, dict) else None
    if not isinstance(resources, dict):
        return PackRemediations(body, (), ())
    rules = {
        logical: spec.get("Properties") or {}
        for logical, spec in resources.items()
        if isinstance(spec, dict) and spec.get("Type") == "AWS::Config::ConfigRule"
    }
    held = []
    for wanted in config.remediation.rules:
        match = [
            (logical, props) for logical, props in rules.items() if wanted.rule.lower() in rule_keys(logical, props)
        ]
        if not match:
            continue
        logical, props = match[0]
        rule_name = props.get("ConfigRuleName", logical)
        existing = [k for k, s in resources.items() if _remediates(s, rule_name)]
        key = existing[0] if existing else f"{logical}Remediation"
        resources[key] = {"Type": REMEDIATION_TYPE, "DependsOn": logical,
                          "Properties": _configuration(config, wanted, rule_name)}  # fmt: skip
        held.append(wanted.rule)
    remediations = [s for s in resources.values() if isinstance(s, dict) and s.get("Type") == REMEDIATION_TYPE]
    if not remediations:
        return PackRemediations(body, (), ())
    documents = []
    for spec in remediations:
        properties = spec.setdefault("Properties", {})
        document = properties.get("TargetId")
        if document not in RUNBOOKS:
            raise TemplateError(
                f"{source}: a remediation runs {document!r}, a document orgdeploy does not know the permissions of, "
                f"so its role could not do it; supported: {', '.join(sorted(RUNBOOKS))}"
            )
        documents.append(str(document))
        parameters = properties.setdefault("Parameters", {})
        parameters["AutomationAssumeRole"] = {"StaticValue": {"Values": [role_arn(config)]}}
        if config.remediation.mode == "notify":
            properties["Automatic"] = False
    text = yaml.safe_dump(data, sort_keys=False, width=120)
    return PackRemediations(text, tuple(dict.fromkeys(documents)), tuple(held))


def _remediates(spec: Any, rule_name: Any) -> bool:
    return (
        isinstance(spec, dict)
        and spec.get("Type") == REMEDIATION_TYPE
        and (spec.get("Properties") or {}).get("ConfigRuleName") == rule_name
    )


def resolved(body: str, *, partition: str, account: str) -> str:
    """The body as AWS Config gets it: the role's ARN with the partition and the administrator account."""
    return body.replace(PARTITION_MARKER, partition).replace(ACCOUNT_MARKER, account)


def for_fn_sub(body: str) -> str:
    """The body inside an Fn::Sub of the pack stack: its own ${...} kept literal, the markers substituted."""
    escaped = body.replace("${", "${!")
    return resolved(escaped, partition="${AWS::Partition}", account="${AWS::AccountId}")


def remediated_rules(body: str) -> dict[str, str]:
    """ConfigRuleName -> the SSM document its RemediationConfiguration runs, for a rendered pack body."""
    try:
        data = yaml.load(body, Loader=CfnLoader)  # a SafeLoader subclass
    except yaml.YAMLError:
        return {}
    resources = data.get("Resources") if isinstance(data, dict) else None
    found = {}
    for spec in (resources or {}).values():
        if isinstance(spec, dict) and spec.get("Type") == REMEDIATION_TYPE:
            properties = spec.get("Properties") or {}
            if isinstance(properties.get("ConfigRuleName"), str):
                found[properties["ConfigRuleName"]] = str(properties.get("TargetId", ""))
    return found
