"""Config read calls that moto lacks or answers with a 500, answered from the sandbox's state.

A mixin of SandboxConfigResponse. Member conformance packs are the organization packs that reach the
caller's account, named as AWS names them (`OrgConformsPack-<pack>-<suffix>`, rules
`<rule>-conformance-pack-<suffix>`). No rule is evaluated here, so every rule reports
INSUFFICIENT_DATA: nothing is faked as compliant.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from moto.config.exceptions import NoSuchConfigurationAggregatorException
from moto.config.models import RESOURCE_MAP, ConfigBackend, config_backends
from moto.core.exceptions import JsonRESTError

from orgdeploy.sandbox.compliance.activity import PackRule, pack_body, pack_rules


def _suffix(*parts: str, length: int = 9) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def member_packs(account: str, region: str) -> list[tuple[Any, str]]:
    """(organization pack, member pack name) for each organization pack in region that reaches account."""
    found = []
    for admin in list(config_backends):
        backend = config_backends[admin].get(region) if region in config_backends[admin] else None
        for pack in list(backend.organization_conformance_packs.values()) if backend else []:
            statuses = {s["AccountId"]: s["Status"] for s in getattr(pack, "member_statuses", [])}
            if account in pack.excluded_accounts or statuses.get(account, "").endswith("_FAILED"):
                continue
            found.append((pack, f"OrgConformsPack-{pack._unique_pack_name}"))
    return found


def member_rule_name(rule: PackRule, account: str, region: str) -> str:
    return f"{rule.name}-conformance-pack-{_suffix(account, region, rule.pack)}"


class MemberConfigReads:
    """The calls; `self` is a moto ConfigResponse."""

    current_account: str
    region: str
    if TYPE_CHECKING:

        def _get_param(self, param_name: str, if_none: Any = None) -> Any: ...

    def _member_rules(self) -> list[tuple[str, PackRule]]:
        rules = []
        for pack, name in member_packs(self.current_account, self.region):
            rules += [(name, rule) for rule in pack_rules(pack.organization_conformance_pack_name, pack_body(pack))]
        return rules

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

    def describe_conformance_packs(self) -> str:
        wanted = set(self._get_param("ConformancePackNames") or [])
        details = []
        arn_prefix = f"arn:aws:config:{self.region}:{self.current_account}"
        for pack, name in member_packs(self.current_account, self.region):
            if wanted and name not in wanted:
                continue
            details.append(
                {
                    "ConformancePackName": name,
                    "ConformancePackArn": f"{arn_prefix}:conformance-pack/{name}",
                    "ConformancePackId": f"conformance-pack-{_suffix(name, self.current_account, length=14)}",
                    "DeliveryS3Bucket": pack.delivery_s3_bucket,
                    "ConformancePackInputParameters": pack.conformance_pack_input_parameters,
                    "CreatedBy": "config-conforms.amazonaws.com",
                }
            )
        return json.dumps({"ConformancePackDetails": details})

    def describe_conformance_pack_compliance(self) -> str:
        wanted = self._get_param("ConformancePackName")
        rules = [rule for name, rule in self._member_rules() if name == wanted]
        if not any(name == wanted for _, name in member_packs(self.current_account, self.region)):
            raise JsonRESTError("NoSuchConformancePackException", f"Could not find conformance pack {wanted}.")
        listed = [
            {
                "ConfigRuleName": member_rule_name(r, self.current_account, self.region),
                "ComplianceType": "INSUFFICIENT_DATA",
            }
            for r in rules
        ]
        return json.dumps({"ConformancePackName": wanted, "ConformancePackRuleComplianceList": listed})

    def describe_compliance_by_config_rule(self) -> str:
        wanted = set(self._get_param("ConfigRuleNames") or [])
        rules = [member_rule_name(r, self.current_account, self.region) for _, r in self._member_rules()]
        listed = [
            {"ConfigRuleName": name, "Compliance": {"ComplianceType": "INSUFFICIENT_DATA"}}
            for name in rules
            if not wanted or name in wanted
        ]
        return json.dumps({"ComplianceByConfigRules": listed})

    def describe_organization_config_rules(self) -> str:
        # orgdeploy deploys organization conformance packs, never organization rules; none are stored.
        return json.dumps({"OrganizationConfigRules": []})

    def describe_remediation_configurations(self) -> str:
        # Remediation configurations arrive with the remediation support; until then none exist.
        return json.dumps({"RemediationConfigurations": []})

    def get_aggregate_discovered_resource_counts(self) -> str:
        backend: ConfigBackend = config_backends[self.current_account][self.region]
        name = self._get_param("ConfigurationAggregatorName")
        if name not in backend.config_aggregators:
            raise NoSuchConfigurationAggregatorException()
        counts: list[dict[str, Any]] = []
        for resource_type in sorted(RESOURCE_MAP):
            try:
                found = backend.list_aggregate_discovered_resources(name, resource_type, {}, 100, None)
            except TypeError:
                continue  # moto cannot list the IAM types for an organization source (docs/sandbox.md, Limits)
            total = len(found["ResourceIdentifiers"])
            while found.get("NextToken"):
                found = backend.list_aggregate_discovered_resources(name, resource_type, {}, 100, found["NextToken"])
                total += len(found["ResourceIdentifiers"])
            if total:
                counts.append({"GroupName": resource_type, "ResourceCount": total})
        total_found = sum(c["ResourceCount"] for c in counts)
        grouped = {"GroupByKey": "RESOURCE_TYPE"} if self._get_param("GroupByKey") else {}
        return json.dumps({"TotalDiscoveredResources": total_found, **grouped, "GroupedResourceCounts": counts})
