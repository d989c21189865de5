"""Config reads that moto lacks or answers without the evaluations, answered from the sandbox's state.

A mixin of SandboxConfigResponse. Member conformance packs are the organization packs that reached
the caller's account, named as AWS names them (`OrgConformsPack-<pack>-<suffix>`, rules
`<rule>-conformance-pack-<suffix>`), and their compliance is the evaluations' results. A rule the
engine does not emulate has no result, so it reports INSUFFICIENT_DATA: nothing is faked as compliant.
Discovered resources are the recorded items (recorded.py), so the listings, the counts and the
advanced query all see the same resources.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from moto.config.exceptions import InvalidLimitException, InvalidNextTokenException
from moto.config.models import ConfigBackend, config_backends
from moto.core.exceptions import JsonRESTError
from moto.iam.models import iam_backends

from orgdeploy.sandbox.compliance.aggregation import AggregatorView, rule_compliance
from orgdeploy.sandbox.compliance.evaluations import MemberRule, Result, current
from orgdeploy.sandbox.compliance.managed_rules import NON_COMPLIANT
from orgdeploy.sandbox.compliance.recorded import recorded


def evaluation_result(rule: MemberRule, result: Result) -> dict[str, Any]:
    """An EvaluationResult (member APIs) or the common part of an AggregateEvaluationResult."""
    qualifier = {
        "ConfigRuleName": rule.name,
        "ResourceType": result.resource_type,
        "ResourceId": result.resource_id,
        "EvaluationMode": "DETECTIVE",
    }
    found: dict[str, Any] = {
        "EvaluationResultIdentifier": {"EvaluationResultQualifier": qualifier, "OrderingTimestamp": result.recorded_at},
        "ComplianceType": result.compliance,
        "ResultRecordedTime": result.recorded_at,
        "ConfigRuleInvokedTime": result.invoked_at,
    }
    if result.annotation:
        found["Annotation"] = result.annotation
    return found


def page_of(items: list[Any], token: Any, limit: Any, default: int, maximum: int) -> tuple[list[Any], str | None]:
    """One page of items for a NextToken and Limit (a numeric token: the offset), as Config pages them."""
    if limit and int(limit) > maximum:
        raise InvalidLimitException(limit)
    if token is not None and not str(token).isdigit():
        raise InvalidNextTokenException()
    first, size = int(token or 0), int(limit or default)
    return items[first : first + size], str(first + size) if first + size < len(items) else None


def capped(count: int, cap: int) -> dict[str, Any]:
    """A ComplianceContributorCount: AWS Config counts up to cap and says when it stopped."""
    return {"CappedCount": min(count, cap), "CapExceeded": count > cap}


def _no_rule(name: str) -> JsonRESTError:
    return JsonRESTError("NoSuchConfigRuleException", f"The ConfigRule '{name}' provided in the request is invalid.")


def _configuration_item(item: dict[str, Any], *, full: bool) -> dict[str, Any]:
    """A ConfigurationItem (full) or BaseConfigurationItem from an advanced-query item."""
    found: dict[str, Any] = {
        "version": "1.3",
        "accountId": item["accountId"],
        "configurationItemCaptureTime": item["configurationItemCaptureTime"],
        "configurationItemStatus": "OK",
        "configurationStateId": _state_id(item),
        "arn": item["arn"],
        "resourceType": item["resourceType"],
        "resourceId": item["resourceId"],
        "resourceName": item["resourceName"],
        "awsRegion": item["awsRegion"],
        "configuration": json.dumps(item["configuration"], sort_keys=True),
        "supplementaryConfiguration": {},
        "recordingFrequency": "CONTINUOUS",
    }
    if full:
        found |= {"tags": {t["key"]: t["value"] for t in item["tags"]}, "relatedEvents": [], "relationships": []}
    return found


def _state_id(item: dict[str, Any]) -> str:
    text = json.dumps([item["configuration"], item["tags"]], sort_keys=True)
    return str(int(hashlib.sha256(text.encode()).hexdigest()[:12], 16))


def _in_member(value: str, admin: str, account: str) -> str:
    return value.replace(f":iam::{admin}:", f":iam::{account}:") if value.startswith("arn:") else value


def _epoch(value: Any) -> float:
    return float(value)


class MemberConfigReads:
    """The calls; `self` is a moto ConfigResponse."""

    current_account: str
    region: str
    if TYPE_CHECKING:

        def _get_param(self, param_name: str, if_none: Any = None) -> Any: ...

    def _rules(self) -> list[MemberRule]:
        current().sync()
        return sorted(current().rules_in(self.current_account, self.region), key=lambda r: r.name)

    def _results(self, rule: MemberRule) -> list[Result]:
        return current().results_of((rule.account, rule.region, rule.name))

    def _packs(self) -> dict[str, list[MemberRule]]:
        packs: dict[str, list[MemberRule]] = {}
        for rule in self._rules():
            packs.setdefault(rule.member_pack, []).append(rule)
        return packs

    def describe_configuration_recorder_status(self) -> str:
        found = json.loads(super().describe_configuration_recorder_status())  # type: ignore[misc]
        backend: ConfigBackend = config_backends[self.current_account][self.region]
        roles = {role.arn for role in iam_backends[self.current_account]["aws"].roles.values()}
        for status in found["ConfigurationRecordersStatus"]:
            recorder = backend.recorders.get(status["name"])
            # A recorder records once it runs with a role that exists; moto leaves every one PENDING.
            if recorder is not None and status.get("recording") and recorder.role_arn in roles:
                status["lastStatus"] = "SUCCESS"
        return json.dumps(found)

    def describe_delivery_channel_status(self) -> str:
        backend: ConfigBackend = config_backends[self.current_account][self.region]
        names = self._get_param("DeliveryChannelNames") or list(backend.delivery_channels)
        missing = [n for n in names if n not in backend.delivery_channels]
        if missing:
            raise JsonRESTError(
                "NoSuchDeliveryChannelException", f"Cannot find delivery channel with specified name '{missing[0]}'."
            )
        # The sandbox delivers nothing to S3, so no delivery has a status yet.
        statuses = [{"name": n, "configStreamDeliveryInfo": {"lastStatus": "NOT_APPLICABLE"}} for n in names]
        return json.dumps({"DeliveryChannelsStatus": statuses})

    def describe_config_rules(self) -> str:
        wanted = set(self._get_param("ConfigRuleNames") or [])
        own = json.loads(super().describe_config_rules())["ConfigRules"] if not wanted else []  # type: ignore[misc]
        rules = [
            {
                "ConfigRuleName": rule.name,
                "ConfigRuleArn": rule.arn,
                "ConfigRuleId": rule.rule_id,
                "Source": {"Owner": rule.spec.owner, "SourceIdentifier": rule.spec.identifier},
                **({"InputParameters": json.dumps(rule.spec.parameters)} if rule.spec.parameters else {}),
                **({"MaximumExecutionFrequency": rule.spec.frequency} if rule.spec.frequency else {}),
                **(
                    {"Scope": {"ComplianceResourceTypes": list(rule.spec.scope.resource_types)}}
                    if rule.spec.scope.resource_types
                    else {}
                ),
                "ConfigRuleState": "ACTIVE",
                "CreatedBy": "config-conforms.amazonaws.com",
            }
            for rule in self._rules()
            if not wanted or rule.name in wanted
        ]
        missing = wanted - {r["ConfigRuleName"] for r in rules}
        if missing:
            raise _no_rule(sorted(missing)[0])
        return json.dumps({"ConfigRules": own + rules})

    def describe_conformance_packs(self) -> str:
        wanted = set(self._get_param("ConformancePackNames") or [])
        details = []
        arn_prefix = f"arn:aws:config:{self.region}:{self.current_account}"
        for name in sorted(self._packs()):
            if wanted and name not in wanted:
                continue
            details.append(
                {
                    "ConformancePackName": name,
                    "ConformancePackArn": f"{arn_prefix}:conformance-pack/{name}",
                    "ConformancePackId": f"conformance-pack-{name.rsplit('-', 1)[-1]}",
                    "CreatedBy": "config-conforms.amazonaws.com",
                }
            )
        if wanted - {d["ConformancePackName"] for d in details}:
            raise JsonRESTError(
                "NoSuchConformancePackException", f"Could not find conformance pack {sorted(wanted)[0]}."
            )
        return json.dumps({"ConformancePackDetails": details})

    def describe_conformance_pack_compliance(self) -> str:
        wanted = self._get_param("ConformancePackName")
        packs = self._packs()
        if wanted not in packs:
            raise JsonRESTError("NoSuchConformancePackException", f"Could not find conformance pack {wanted}.")
        listed = [
            {"ConfigRuleName": rule.name, "ComplianceType": rule_compliance(self._results(rule))}
            for rule in packs[wanted]
        ]
        return json.dumps({"ConformancePackName": wanted, "ConformancePackRuleComplianceList": listed})

    def describe_compliance_by_config_rule(self) -> str:
        wanted = set(self._get_param("ConfigRuleNames") or [])
        kinds = set(self._get_param("ComplianceTypes") or [])
        listed = []
        for rule in self._rules():
            results = self._results(rule)
            kind = rule_compliance(results)
            if (wanted and rule.name not in wanted) or (kinds and kind not in kinds):
                continue
            compliance: dict[str, Any] = {"ComplianceType": kind}
            failing = sum(1 for r in results if r.compliance == NON_COMPLIANT)
            if failing:
                compliance["ComplianceContributorCount"] = capped(failing, 100)
            listed.append({"ConfigRuleName": rule.name, "Compliance": compliance})
        return json.dumps({"ComplianceByConfigRules": listed})

    def get_compliance_details_by_config_rule(self) -> str:
        name, kinds = self._get_param("ConfigRuleName"), set(self._get_param("ComplianceTypes") or [])
        rule = next((r for r in self._rules() if r.name == name), None)
        if rule is None:
            raise _no_rule(name)
        results = [evaluation_result(rule, r) for r in self._results(rule) if not kinds or r.compliance in kinds]
        page, token = page_of(results, self._get_param("NextToken"), self._get_param("Limit"), 10, 100)
        return json.dumps({"EvaluationResults": page, **({"NextToken": token} if token else {})})

    def describe_organization_config_rules(self) -> str:
        # orgdeploy deploys organization conformance packs, never organization rules; none are stored.
        return json.dumps({"OrganizationConfigRules": []})

    def describe_remediation_configurations(self) -> str:
        """The remediations the account's pack rules carry, as AWS Config describes them."""
        wanted = set(self._get_param("ConfigRuleNames") or [])
        found = []
        for rule in self._rules():
            spec = rule.spec.remediation
            if spec is None or rule.name not in wanted:
                continue
            # AWS Config names the member's own account in the role it was given with the administrator's.
            parameters = {
                name: {"ResourceValue": {"Value": "RESOURCE_ID"}}
                if values is None
                else {"StaticValue": {"Values": [_in_member(v, rule.admin, rule.account) for v in values]}}
                for name, values in spec.parameters
            }
            found.append(
                {
                    "ConfigRuleName": rule.name,
                    "TargetType": "SSM_DOCUMENT",
                    "TargetId": spec.document,
                    "TargetVersion": spec.version,
                    "Parameters": parameters,
                    "ResourceType": spec.resource_type,
                    "Automatic": spec.automatic,
                    "ExecutionControls": {
                        "SsmControls": {
                            "ConcurrentExecutionRatePercentage": spec.concurrency_percentage,
                            "ErrorPercentage": spec.error_percentage,
                        }
                    },
                    "MaximumAutomaticAttempts": spec.maximum_attempts,
                    "RetryAttemptSeconds": spec.retry_seconds,
                    "CreatedByService": "config-conforms.amazonaws.com",
                }
            )
        return json.dumps({"RemediationConfigurations": found})

    def describe_remediation_execution_status(self) -> str:
        name = self._get_param("ConfigRuleName")
        rule = current().rule(self.current_account, self.region, name)
        if rule is None:
            raise JsonRESTError(
                "NoSuchConfigRuleException", f"The ConfigRule '{name}' provided in the request is invalid."
            )
        remediations = current().remediations
        keys = [(k["resourceType"], k["resourceId"]) for k in self._get_param("ResourceKeys") or []]
        if not keys:
            keys = sorted({(a[3], a[4]) for a in remediations.attempts if a[:3] == (rule.account, rule.region, name)})
        found = [s for k in keys if (s := remediations.status_of(rule.account, rule.region, name, k)) is not None]
        return json.dumps({"RemediationExecutionStatuses": found}, default=_epoch)

    def list_discovered_resources(self) -> str:
        kind, ids = self._get_param("resourceType"), set(self._get_param("resourceIds") or [])
        name = self._get_param("resourceName")
        found = [
            {"resourceType": i.resource_type, "resourceId": i.resource_id, "resourceName": i.resource_name}
            for i in recorded(self.current_account, self.region)
            if i.resource_type == kind and (not ids or i.resource_id in ids) and (not name or i.resource_name == name)
        ]
        page, token = page_of(found, self._get_param("nextToken"), self._get_param("limit"), 100, 100)
        return json.dumps({"resourceIdentifiers": page, **({"nextToken": token} if token else {})})

    def _aggregate_items(self) -> list[dict[str, Any]]:
        view = AggregatorView.of(self.current_account, self.region, self._get_param("ConfigurationAggregatorName"))
        return [i for i in view.items() if i["resourceType"] != "AWS::Config::ResourceCompliance"]

    def list_aggregate_discovered_resources(self) -> str:
        kind, filters = self._get_param("ResourceType"), dict(self._get_param("Filters") or {})
        keys = {
            "AccountId": "accountId",
            "Region": "awsRegion",
            "ResourceId": "resourceId",
            "ResourceName": "resourceName",
        }
        found = [
            {
                "SourceAccountId": i["accountId"],
                "SourceRegion": i["awsRegion"],
                "ResourceId": i["resourceId"],
                "ResourceType": i["resourceType"],
                "ResourceName": i["resourceName"],
            }
            for i in self._aggregate_items()
            if i["resourceType"] == kind and all(i.get(keys[k]) == v for k, v in filters.items() if k in keys)
        ]
        page, token = page_of(found, self._get_param("NextToken"), self._get_param("Limit"), 100, 100)
        return json.dumps({"ResourceIdentifiers": page, **({"NextToken": token} if token else {})})

    def _aggregate_item(self, identifier: dict[str, Any]) -> dict[str, Any] | None:
        for item in self._aggregate_items():
            if (
                item["accountId"] == identifier.get("SourceAccountId")
                and item["awsRegion"] == identifier.get("SourceRegion")
                and item["resourceType"] == identifier.get("ResourceType")
                and item["resourceId"] == identifier.get("ResourceId")
            ):
                return item
        return None

    def get_aggregate_resource_config(self) -> str:
        identifier = dict(self._get_param("ResourceIdentifier") or {})
        item = self._aggregate_item(identifier)
        if item is None:
            raise JsonRESTError(
                "ResourceNotDiscoveredException",
                f"Resource {identifier.get('ResourceId')} of resourceType:{identifier.get('ResourceType')} is unknown "
                "or has not been discovered",
            )
        return json.dumps({"ConfigurationItem": _configuration_item(item, full=True)})

    def batch_get_aggregate_resource_config(self) -> str:
        identifiers = list(self._get_param("ResourceIdentifiers") or [])
        found, missing = [], []
        for identifier in identifiers:
            item = self._aggregate_item(identifier)
            if item is None:
                missing.append(identifier)
            else:
                found.append(_configuration_item(item, full=False))
        return json.dumps({"BaseConfigurationItems": found, "UnprocessedResourceIdentifiers": missing})

    def get_aggregate_discovered_resource_counts(self) -> str:
        group, filters = self._get_param("GroupByKey"), dict(self._get_param("Filters") or {})
        keys = {"ResourceType": "resourceType", "AccountId": "accountId", "Region": "awsRegion"}
        groups = {"RESOURCE_TYPE": "resourceType", "ACCOUNT_ID": "accountId", "AWS_REGION": "awsRegion"}
        items = [
            i for i in self._aggregate_items() if all(i.get(keys[k]) == v for k, v in filters.items() if k in keys)
        ]
        counts: dict[str, int] = {}
        for item in items:
            label = item[groups.get(group, "resourceType")]
            counts[label] = counts.get(label, 0) + 1
        grouped = [{"GroupName": k, "ResourceCount": v} for k, v in sorted(counts.items())]
        # Without GroupByKey, AWS sends the total and an empty list of groups.
        body: dict[str, Any] = {
            "TotalDiscoveredResources": len(items),
            "GroupedResourceCounts": grouped if group else [],
        }
        if group:
            body["GroupByKey"] = group
        return json.dumps(body)
