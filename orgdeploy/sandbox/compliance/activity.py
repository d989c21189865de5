"""A day of AWS Config activity, put on the accounts' default event buses (the sandbox's emulated part).

moto's AWS Config evaluates nothing, so it never reports a compliance change or runs a remediation. When
CloudFormation creates a rule on an account's default bus that hears Config's "Config Rules Compliance Change"
events, or the SSM Automation runs Config starts to remediate (orgdeploy's forwarders), the sandbox puts the
previous 24 hours of those events for that account and Region on that bus with moto's own PutEvents, each kind
once. Everything after that (forwarder rule -> hub bus -> hub rules -> topic and log group) is the deployed
wiring.

From state: the rules and their automatic remediations come from the organization conformance packs
deployed in that Region (their bodies as put; accounts in ExcludedAccounts get none), and the resources from
moto's backends of that account and Region (S3 buckets, EC2 security groups, volumes, VPCs and instances;
the account itself for a rule without a scope). Emulated: which evaluations change and when, drawn from
random.Random(seed, account, Region, pack, rule, resource type and position): about a quarter of the
(rule, resource) pairs drift in the day; where the pack remediates the rule automatically, SSM Automation runs
a minute or two later (about one run in six fails) and a fixed resource is COMPLIANT again soon after; without
remediation, some are fixed by hand hours later.
"""

from __future__ import annotations

import json
import random
import string
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import yaml
from moto.config.models import ConfigBackend, config_backends
from moto.ec2.models import ec2_backends
from moto.events.models import Rule, events_backends
from moto.s3.models import s3_backends
from moto.utilities.utils import get_partition

from orgdeploy.sandbox.state import STATE

DAY = 86_400.0
DRIFT_SHARE = 0.25
REMEDIATION_FAILURE_SHARE = 1 / 6
MANUAL_FIX_SHARE = 0.4
COMPLIANCE = {"source": "aws.config", "detail-type": "Config Rules Compliance Change"}
AUTOMATION = {"source": "aws.ssm", "detail-type": "EC2 Automation Execution Status-change Notification"}
# Kept on moto's events backend, so they reset with moto: the kinds replayed, and when the day ended.
_REPLAYED = "orgdeploy_config_day_replayed"
_DAY_END = "orgdeploy_config_day_end"
_BODY = "orgdeploy_template_body"  # set on moto's OrganizationConformancePack


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short tags (!Ref, !Sub...) as plain values."""


_CfnLoader.add_multi_constructor("!", lambda loader, _suffix, node: None)


@dataclass(frozen=True)
class PackRule:
    pack: str
    name: str
    types: tuple[str, ...]  # AWS::::Account when the rule has no scope
    runbook: str | None  # the SSM document of an automatic remediation


def pack_rules(pack: str, body: str) -> list[PackRule]:
    try:
        template = yaml.load(body, Loader=_CfnLoader)  # _CfnLoader derives from SafeLoader
    except yaml.YAMLError:
        return []
    resources = (template or {}).get("Resources") if isinstance(template, dict) else None
    if not isinstance(resources, dict):
        return []
    items = [r for r in resources.values() if isinstance(r, dict)]
    runbooks = {
        str(props.get("ConfigRuleName")): str(props.get("TargetId"))
        for r in items
        if r.get("Type") == "AWS::Config::RemediationConfiguration"
        and (props := r.get("Properties") or {}).get("Automatic") in (True, "true", "True")
    }
    rules = []
    for r in items:
        props = r.get("Properties") or {}
        name = props.get("ConfigRuleName")
        if r.get("Type") != "AWS::Config::ConfigRule" or not isinstance(name, str):
            continue
        types = tuple((props.get("Scope") or {}).get("ComplianceResourceTypes") or ["AWS::::Account"])
        rules.append(PackRule(pack, name, types, runbooks.get(name)))
    return rules


def record_pack_bodies() -> None:
    """Keep each organization conformance pack's body on moto's pack (moto drops it), read from S3 if need be."""
    put: Callable[..., dict[str, Any]] = ConfigBackend.put_organization_conformance_pack

    def put_organization_conformance_pack(
        self: Any, name: str, template_s3_uri: str | None, template_body: str | None, **kwargs: Any
    ) -> dict[str, Any]:
        result = put(self, name, template_s3_uri, template_body, **kwargs)
        body = template_body or _read_s3(template_s3_uri or "", self.region_name)
        setattr(self.organization_conformance_packs[name], _BODY, body)
        return result

    ConfigBackend.put_organization_conformance_pack = put_organization_conformance_pack  # type: ignore[method-assign,assignment]


def pack_body(pack: Any) -> str:
    """The body record_pack_bodies kept on moto's organization pack ("" when none was kept)."""
    return str(getattr(pack, _BODY, "") or "")


def _read_s3(uri: str, region: str) -> str:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    owner = s3_backends.bucket_accounts.get(bucket)  # (partition, account)
    found = s3_backends[owner[1]][owner[0]].get_object(bucket, key) if key and owner else None
    return bytes(found.value).decode("utf-8") if found is not None else ""


def deployed_rules(account: str, region: str) -> list[PackRule]:
    """Rules of every organization conformance pack in region that reaches account."""
    rules = []
    for admin in list(config_backends):
        backend = config_backends[admin].get(region) if region in config_backends[admin] else None
        for pack in list(backend.organization_conformance_packs.values()) if backend else []:
            if account not in pack.excluded_accounts:
                rules += pack_rules(pack.organization_conformance_pack_name, pack_body(pack))
    return rules


def resources(account: str, region: str, resource_type: str) -> list[str]:
    if resource_type == "AWS::::Account":
        return [account]
    if resource_type == "AWS::S3::Bucket":
        buckets = s3_backends[account][get_partition(region)].buckets
        return sorted(name for name, bucket in buckets.items() if bucket.region_name == region)
    listings: dict[str, Callable[[Any], list[str]]] = {
        "AWS::EC2::SecurityGroup": lambda ec2: [g for groups in ec2.groups.values() for g in groups],
        "AWS::EC2::Volume": lambda ec2: list(ec2.volumes),
        "AWS::EC2::VPC": lambda ec2: list(ec2.vpcs),
        "AWS::EC2::Instance": lambda ec2: [i.id for r in ec2.reservations.values() for i in r.instances],
    }
    listing = listings.get(resource_type)
    return sorted(listing(ec2_backends[account][region])) if listing else []


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _result(rule: str, resource_type: str, resource_id: str, compliance: str, moment: float) -> dict[str, Any]:
    qualifier = {"configRuleName": rule, "resourceType": resource_type, "resourceId": resource_id}
    return {
        "evaluationResultIdentifier": {
            "evaluationResultQualifier": {**qualifier, "evaluationMode": "DETECTIVE"},
            "orderingTimestamp": _iso(moment - 1),
        },
        "complianceType": compliance,
        "resultRecordedTime": _iso(moment),
        "configRuleInvokedTime": _iso(moment - 1),
    }


def _entry(kind: dict[str, str], moment: float, detail: dict[str, Any], resources: list[str]) -> dict[str, Any]:
    return {
        "Source": kind["source"],
        "DetailType": kind["detail-type"],
        "Detail": json.dumps(detail),
        "Time": moment,
        "Resources": resources,
    }


@dataclass(frozen=True)
class _Place:
    account: str
    region: str

    def change(self, rule: str, arn: str, kind: str, rid: str, old: str, new: str, at: float) -> dict[str, Any]:
        detail = {
            "resourceId": rid,
            "awsRegion": self.region,
            "awsAccountId": self.account,
            "configRuleName": rule,
            "recordVersion": "1.0",
            "configRuleARN": arn,
            "messageType": "ComplianceChangeNotification",
            "newEvaluationResult": _result(rule, kind, rid, new, at),
            "oldEvaluationResult": _result(rule, kind, rid, old, at - 3600),
            "notificationCreationTime": _iso(at + 1),
            "resourceType": kind,
        }
        return _entry(COMPLIANCE, at, detail, [])

    def automation(self, runbook: str, execution: str, status: str, started: float, ended: float) -> dict[str, Any]:
        arn = f"arn:{get_partition(self.region)}:ssm:{self.region}:{self.account}"
        detail = {
            "ExecutionId": execution,
            "Definition": runbook,
            "DefinitionVersion": 1.0,
            "Status": status,
            "StartTime": datetime.fromtimestamp(started, UTC).strftime("%b %d, %Y %I:%M:%S %p"),
            "EndTime": datetime.fromtimestamp(ended, UTC).strftime("%b %d, %Y %I:%M:%S %p"),
            "Time": round((ended - started) * 1000, 1),
            "ExecutedBy": f"arn:{get_partition(self.region)}:sts::{self.account}:assumed-role/"
            "AWSServiceRoleForConfigRemediation/config-remediation",
        }
        resources = [f"{arn}:automation-execution/{execution}", f"{arn}:automation-definition/{runbook}:$DEFAULT"]
        return _entry(AUTOMATION, ended, detail, resources)


def _suffix(rng: random.Random, length: int) -> str:
    return "".join(rng.choices(string.ascii_lowercase + string.digits, k=length))


def day_of_activity(account: str, region: str, *, now: float, seed: int) -> list[dict[str, Any]]:
    """PutEvents entries for the 24 hours before now, oldest first."""
    place = _Place(account, region)
    entries: list[tuple[float, dict[str, Any]]] = []
    for rule in deployed_rules(account, region):
        naming = random.Random(f"{seed}/{account}/{region}/{rule.pack}/{rule.name}")
        raw = f"{rule.name}-conformance-pack-{_suffix(naming, 9)}"
        arn = (
            f"arn:{get_partition(region)}:config:{region}:{account}:config-rule/aws-service-rule/"
            f"config-conforms.amazonaws.com/config-rule-{_suffix(naming, 6)}"
        )
        for kind in rule.types:
            # Keyed by position, not id: moto's ids depend on the order of concurrent calls, positions do not.
            for position, rid in enumerate(resources(account, region, kind)):
                rng = random.Random(f"{seed}/{account}/{region}/{rule.pack}/{rule.name}/{kind}/{position}")
                if rng.random() >= DRIFT_SHARE:
                    continue
                drift = now - rng.uniform(0.5, 23.5) * 3600
                entries.append((drift, place.change(raw, arn, kind, rid, "COMPLIANT", "NON_COMPLIANT", drift)))
                entries += _aftermath(place, rng, rule, (raw, arn, kind, rid), drift, now)
    return [entry for _, entry in sorted(entries, key=lambda pair: pair[0])]


def _aftermath(
    place: _Place, rng: random.Random, rule: PackRule, key: tuple[str, str, str, str], drift: float, now: float
) -> Iterator[tuple[float, dict[str, Any]]]:
    """The remediation run after a drift, and the resource healing, when they fall before now."""
    raw, arn, kind, rid = key
    healed_at = None
    if rule.runbook:
        started = drift + rng.uniform(30, 90)
        ended = started + rng.uniform(20, 120)
        status = "Failed" if rng.random() < REMEDIATION_FAILURE_SHARE else "Success"
        execution = str(uuid.UUID(int=rng.getrandbits(128)))
        if ended < now:
            yield ended, place.automation(rule.runbook, execution, status, started, ended)
            healed_at = ended + rng.uniform(30, 300) if status == "Success" else None
    elif rng.random() < MANUAL_FIX_SHARE:
        healed_at = drift + rng.uniform(1, 8) * 3600
    if healed_at is not None and healed_at < now:
        yield healed_at, place.change(raw, arn, kind, rid, "NON_COMPLIANT", "COMPLIANT", healed_at)


def _as_event(entry: dict[str, Any]) -> Any:
    return {"source": entry["Source"], "detail-type": entry["DetailType"], "detail": json.loads(entry["Detail"])}


def _kinds_heard(rule: Rule) -> list[str]:
    """Which of Config's two kinds of event the rule would receive on the default bus."""
    if rule.event_bus_name != "default":
        return []
    place = _Place(rule.account_id, rule.region_name)
    samples = {
        COMPLIANCE["detail-type"]: place.change("rule", "arn", "AWS::::Account", "id", "COMPLIANT", "NON_COMPLIANT", 0),
        AUTOMATION["detail-type"]: place.automation("runbook", "execution", "Success", 0, 1),
    }
    return [kind for kind, entry in samples.items() if rule.event_pattern.matches_event(_as_event(entry))]


def replay_day(account: str, region: str, kinds: list[str]) -> int:
    """Put the day's events of these kinds on the default bus of account and region, each kind once.

    A forwarder stack creates one rule per kind; the day ends when the first of them is created, so both
    kinds tell the same story. Returns the number of events put.
    """
    backend = events_backends[account][region]
    done: set[str] = getattr(backend, _REPLAYED, set())
    setattr(backend, _REPLAYED, done)
    end: float = getattr(backend, _DAY_END, time.time())
    setattr(backend, _DAY_END, end)
    fresh = [kind for kind in kinds if kind not in done]
    done.update(fresh)
    entries = [e for e in day_of_activity(account, region, now=end, seed=STATE.seed) if e["DetailType"] in fresh]
    for start in range(0, len(entries), 10):  # PutEvents takes at most 10 entries
        backend.put_events(entries[start : start + 10])
    return len(entries)


def replay_when_config_is_heard() -> None:
    """After CloudFormation creates a rule that listens for Config's events, replay the day's events it hears."""
    create: Callable[..., Rule] = Rule.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_from_cloudformation_json(
        cls: type[Rule], /, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kw: Any
    ) -> Rule:
        rule = create(cls, resource_name, cloudformation_json, account_id, region_name, **kw)
        kinds = _kinds_heard(rule)
        if kinds:
            replay_day(account_id, region_name, kinds)
        return rule

    Rule.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)  # type: ignore[method-assign,assignment]
