"""AWS Config's evaluations in the sandbox: member rules, their results, and when they run.

An organization conformance pack becomes, in every account it reaches, a member pack whose rules
carry that account's suffix (`<rule>-conformance-pack-<suffix>`). Each rule is evaluated:
- at once when it is created, and again whenever the pack is put with other rules or parameters;
- for change-triggered rules, CHANGE_DELAY seconds (sandbox clock) after a recorded item changed;
- for periodic rules, every MaximumExecutionFrequency (24 hours when unset).

sync() brings everything up to date with moto's state and the sandbox clock. It runs when a pack is
put or deleted, when the clock moves, and on the reads that serve compliance (at most once a
second). Every change of a result puts a "Config Rules Compliance Change" event on the member
account's default bus, as AWS Config does; whatever rules that bus holds carry it on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from moto.config.models import ConfigBackend, config_backends
from moto.events.models import events_backends
from moto.utilities.utils import get_partition

from orgdeploy.sandbox import clock
from orgdeploy.sandbox.compliance.managed_rules import (
    ACCOUNT,
    DEFAULT_FREQUENCY,
    FREQUENCIES,
    MANAGED_RULES,
    NON_COMPLIANT,
    NOT_APPLICABLE,
    ManagedRule,
    Place,
    Verdict,
    iso,
)
from orgdeploy.sandbox.compliance.packs import PackRule, rules_of
from orgdeploy.sandbox.compliance.recorded import ConfigItem, recorded
from orgdeploy.sandbox.compliance.remediations import Remediations, automation_event

LOG = logging.getLogger(__name__)
CHANGE_DELAY = 60.0  # sandbox seconds from a noticed change to the evaluation of change-triggered rules
SYNC_INTERVAL = 1.0  # real seconds between two syncs that reads ask for
COMPLIANCE_EVENT = {"source": "aws.config", "detail-type": "Config Rules Compliance Change"}

RuleKey = tuple[str, str, str]  # account, Region, member rule name
PlaceKey = tuple[str, str]  # account, Region
ResourceKey = tuple[str, str]  # resource type, resource id


def _hash(*parts: str, length: int) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


@dataclass
class MemberRule:
    account: str
    region: str
    name: str  # <rule>-conformance-pack-<suffix>
    member_pack: str  # OrgConformsPack-<pack>-<suffix>
    admin: str  # the account that put the organization pack
    spec: PackRule
    created_at: float
    last_run: float = 0.0
    last_periodic: float = 0.0

    @property
    def rule_id(self) -> str:
        return f"config-rule-{_hash(self.account, self.region, self.name, length=6)}"

    @property
    def arn(self) -> str:
        return (
            f"arn:{get_partition(self.region)}:config:{self.region}:{self.account}:config-rule/aws-service-rule/"
            f"config-conforms.amazonaws.com/{self.rule_id}"
        )

    @property
    def managed(self) -> ManagedRule | None:
        return MANAGED_RULES.get(self.spec.identifier) if self.spec.owner == "AWS" else None

    @property
    def period(self) -> float:
        return float(FREQUENCIES.get(self.spec.frequency or DEFAULT_FREQUENCY, FREQUENCIES[DEFAULT_FREQUENCY]))

    def in_scope(self, resource_type: str, resource_id: str, tags: dict[str, str]) -> bool:
        scope = self.spec.scope
        if scope.resource_types and resource_type not in scope.resource_types and resource_type != ACCOUNT:
            return False
        if scope.resource_id and resource_id != scope.resource_id:
            return False
        if not scope.tag_key:
            return True
        return scope.tag_key in tags and (not scope.tag_value or tags[scope.tag_key] == scope.tag_value)


@dataclass(frozen=True)
class Result:
    resource_type: str
    resource_id: str
    compliance: str
    annotation: str
    recorded_at: float
    invoked_at: float


def member_rule_name(rule: PackRule, account: str, region: str, member_pack: str) -> str:
    return f"{rule.name}-conformance-pack-{_hash(account, region, member_pack, length=9)}"


def reached_accounts(pack: Any) -> list[str]:
    """The accounts an organization pack deployed into (its member statuses that did not fail)."""
    return sorted(
        s["AccountId"]
        for s in getattr(pack, "member_statuses", [])
        if not s["Status"].endswith("_FAILED") and s["AccountId"] not in (pack.excluded_accounts or [])
    )


def _desired() -> Iterator[tuple[str, str, str, str, PackRule]]:
    """(account, Region, member pack, admin account, rule) for every rule the organization packs put."""
    for admin, regions in list(config_backends.items()):
        for region, backend in list(dict.items(regions)):
            for pack in list(backend.organization_conformance_packs.values()):
                member_pack = f"OrgConformsPack-{pack._unique_pack_name}"
                specs = rules_of(pack)
                for account in reached_accounts(pack):
                    for spec in specs:
                        yield account, region, member_pack, admin, spec


def _result(rule: str, kind: str, rid: str, compliance: str, moment: float) -> dict[str, Any]:
    qualifier = {"configRuleName": rule, "resourceType": kind, "resourceId": rid, "evaluationMode": "DETECTIVE"}
    return {
        "evaluationResultIdentifier": {"evaluationResultQualifier": qualifier, "orderingTimestamp": iso(moment - 1)},
        "complianceType": compliance,
        "resultRecordedTime": iso(moment),
        "configRuleInvokedTime": iso(moment - 1),
    }


def compliance_event(rule: MemberRule, old: Result | None, new: Result) -> dict[str, Any]:
    """The PutEvents entry AWS Config puts on the member account's default bus for one changed result."""
    detail: dict[str, Any] = {
        "resourceId": new.resource_id,
        "awsRegion": rule.region,
        "awsAccountId": rule.account,
        "configRuleName": rule.name,
        "recordVersion": "1.0",
        "configRuleARN": rule.arn,
        "messageType": "ComplianceChangeNotification",
        "newEvaluationResult": _result(rule.name, new.resource_type, new.resource_id, new.compliance, new.recorded_at),
        "notificationCreationTime": iso(new.recorded_at + 1),
        "resourceType": new.resource_type,
    }
    if old is not None:
        detail["oldEvaluationResult"] = _result(
            rule.name, old.resource_type, old.resource_id, old.compliance, old.recorded_at
        )
    return {
        "Source": COMPLIANCE_EVENT["source"],
        "DetailType": COMPLIANCE_EVENT["detail-type"],
        "Detail": json.dumps(detail),
        "Time": new.recorded_at,
        "Resources": [],
    }


@dataclass
class Evaluations:
    rules: dict[RuleKey, MemberRule] = field(default_factory=dict)
    results: dict[RuleKey, dict[ResourceKey, Result]] = field(default_factory=dict)
    seen: dict[PlaceKey, dict[ResourceKey, str]] = field(default_factory=dict)  # fingerprints last evaluated
    pending: dict[PlaceKey, float] = field(default_factory=dict)  # when a change there was first possible
    last_sync: float = 0.0  # sandbox clock
    last_sync_real: float = 0.0
    not_emulated: set[str] = field(default_factory=set)  # SourceIdentifiers met that the engine does not know
    events_put: int = 0
    version: int = 0  # moves with every change of rules or results; readers cache on it
    remediations: Remediations = field(default_factory=Remediations)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _snapshot: tuple[int, list[tuple[MemberRule, list[Result]]]] | None = field(default=None, repr=False)

    # -- reads ------------------------------------------------------------------------------------

    def rules_in(self, account: str, region: str) -> list[MemberRule]:
        with self.lock:
            return [r for (a, g, _), r in self.rules.items() if a == account and g == region]

    def rule(self, account: str, region: str, name: str) -> MemberRule | None:
        with self.lock:
            return self.rules.get((account, region, name))

    def results_of(self, key: RuleKey) -> list[Result]:
        with self.lock:
            return sorted(self.results.get(key, {}).values(), key=lambda r: (r.resource_type, r.resource_id))

    def all_rules(self) -> list[MemberRule]:
        with self.lock:
            return sorted(self.rules.values(), key=lambda r: (r.account, r.region, r.name))

    def snapshot(self) -> tuple[int, list[tuple[MemberRule, list[Result]]]]:
        """(version, every rule with its results, in order), built once per version."""
        with self.lock:
            if self._snapshot is None or self._snapshot[0] != self.version:
                rules = [(rule, self.results_of(key)) for key, rule in sorted(self.rules.items())]
                self._snapshot = (self.version, rules)
            return self._snapshot

    # -- sync -------------------------------------------------------------------------------------

    def sync(self, *, force: bool = False, scan: bool = True) -> None:
        """Bring rules and results up to date.

        scan=False only adds and removes rules and evaluates the new ones: every place's change check and the
        periodic runs wait for the next full sync, which a pack's put need not pay for at every place.
        """
        with self.lock:
            if not force and time.monotonic() - self.last_sync_real < SYNC_INTERVAL:
                return
            now = clock.now()
            try:
                self._sync(now, scan=scan)
            except RuntimeError as exc:  # a moto dict changed size under a concurrent call: the next sync catches up
                LOG.debug("sandbox evaluations: sync deferred (%s)", exc)
                return
            if scan:  # the time of the last full look at every place, which change detection counts from
                self.last_sync, self.last_sync_real = now, time.monotonic()

    def _sync(self, now: float, *, scan: bool = True) -> None:
        wanted: dict[RuleKey, tuple[str, str, PackRule]] = {}
        for account, region, member_pack, admin, spec in _desired():
            name = member_rule_name(spec, account, region, member_pack)
            wanted[(account, region, name)] = (member_pack, admin, spec)
        for key in [k for k in self.rules if k not in wanted]:
            del self.rules[key]
            self.results.pop(key, None)  # deleting a rule deletes its results, without an event
            self.version += 1
        items_by_place: dict[PlaceKey, list[ConfigItem]] = {}

        def items(place: PlaceKey) -> list[ConfigItem]:
            if place not in items_by_place:
                items_by_place[place] = recorded(*place)
            return items_by_place[place]

        created: set[PlaceKey] = set()
        for key, (member_pack, admin, spec) in wanted.items():
            current = self.rules.get(key)
            if current is not None and current.spec == spec:
                continue
            rule = MemberRule(key[0], key[1], key[2], member_pack, admin, spec, created_at=now)
            self.rules[key] = rule
            self.version += 1
            if rule.managed is None:
                self.not_emulated.add(spec.identifier or spec.owner or "?")
                continue
            created.add(key[:2])
            self._run(rule, items(key[:2]), now, periodic="periodic" in rule.managed.triggers)
        places = {key[:2] for key, rule in self.rules.items() if rule.managed and "change" in rule.managed.triggers}
        if not scan:
            # The new rules' places still take their baseline now, so a change made before the next sync counts.
            places &= created
        for place in sorted(places):
            self._changes(place, items(place), now)
        if not scan:
            return
        for rule in list(self.rules.values()):
            managed = rule.managed
            if managed and "periodic" in managed.triggers and now - rule.last_periodic >= rule.period:
                self._run(rule, items((rule.account, rule.region)), now, periodic=True)
        self._retry_remediations(now)

    def _changes(self, place: PlaceKey, found: list[ConfigItem], now: float) -> None:
        """Run the place's change-triggered rules on the items that changed, CHANGE_DELAY after the change."""
        fresh = {(i.resource_type, i.resource_id): i.fingerprint for i in found}
        before = self.seen.get(place)
        if before is None:
            self.seen[place] = fresh
            return
        changed = {key for key in fresh.keys() | before.keys() if fresh.get(key) != before.get(key)}
        if not changed:
            self.pending.pop(place, None)
            return
        # The change came at some moment after the previous sync; count from the earliest one.
        since = self.pending.setdefault(place, self.last_sync or now)
        if now - since < CHANGE_DELAY:
            return
        del self.pending[place]
        self.seen[place] = fresh
        for rule in self.rules_in(*place):
            if rule.managed and "change" in rule.managed.triggers:
                self._run(rule, found, now, only=changed)

    def _run(
        self,
        rule: MemberRule,
        found: list[ConfigItem],
        now: float,
        *,
        periodic: bool = False,
        only: set[ResourceKey] | None = None,
    ) -> None:
        managed = rule.managed
        assert managed is not None
        kind = managed.resource_type
        tags = {(i.resource_type, i.resource_id): i.tags for i in found}
        items = [i for i in found if i.resource_type == kind and (only is None or (kind, i.resource_id) in only)]
        place = Place(rule.account, rule.region, now)
        verdicts = [
            v
            for v in managed.evaluate(place, rule.spec.parameters, items)
            if rule.in_scope(v.resource_type, v.resource_id, tags.get((v.resource_type, v.resource_id), {}))
        ]
        key = (rule.account, rule.region, rule.name)
        stored = self.results.setdefault(key, {})
        rule.last_run = now
        if periodic:
            rule.last_periodic = now
        judged = {(v.resource_type, v.resource_id) for v in verdicts}
        # Resources gone (or now out of scope) lose their result, announced as NOT_APPLICABLE.
        stale = [k for k in stored if k not in judged and (only is None or k in only)]
        entries = []
        for resource in stale:
            old = stored.pop(resource)
            self.version += 1
            entries.append(compliance_event(rule, old, Result(*resource, NOT_APPLICABLE, "", now, now)))
        for verdict in verdicts:
            entries += self._record(rule, stored, verdict, now)
        self._put(rule.account, rule.region, entries)
        failing = [v for v in verdicts if v.compliance == NON_COMPLIANT]
        for verdict in failing:
            self._remediate(rule, (verdict.resource_type, verdict.resource_id), now, len(failing))

    def _remediate(self, rule: MemberRule, resource: ResourceKey, now: float, non_compliant: int) -> None:
        spec = rule.spec.remediation
        key = (rule.account, rule.region, rule.name, *resource)
        if spec is None or not self.remediations.due(key, spec, now, non_compliant):
            return
        execution = self.remediations.run(key, spec, admin=rule.admin, now=now)
        self.version += 1
        self._put(rule.account, rule.region, [automation_event(execution)])

    def _retry_remediations(self, now: float) -> None:
        for key in self.remediations.retries_due(now):
            rule = self.rules.get(key[:3])
            stored = self.results.get(key[:3], {})
            result = stored.get(key[3:])
            if rule is None or result is None or result.compliance != NON_COMPLIANT:
                continue
            failing = sum(1 for r in stored.values() if r.compliance == NON_COMPLIANT)
            self._remediate(rule, key[3:], now, failing)

    def _record(self, rule: MemberRule, stored: dict[ResourceKey, Result], verdict: Verdict, now: float) -> list[Any]:
        resource = (verdict.resource_type, verdict.resource_id)
        old = stored.get(resource)
        if verdict.compliance == NOT_APPLICABLE:
            if old is None:
                return []
            del stored[resource]
            self.version += 1
            return [compliance_event(rule, old, Result(*resource, NOT_APPLICABLE, "", now, now))]
        new = Result(*resource, verdict.compliance, verdict.annotation, now, now)
        self.version += 1  # the recorded time moves even when the compliance stays
        if old is not None and old.compliance == new.compliance:
            stored[resource] = Result(*resource, new.compliance, new.annotation, now, now)
            return []
        stored[resource] = new
        return [compliance_event(rule, old, new)]

    def _put(self, account: str, region: str, entries: list[dict[str, Any]]) -> None:
        if not entries:
            return
        backend = events_backends[account][region]
        for start in range(0, len(entries), 10):  # PutEvents takes at most 10 entries
            backend.put_events(entries[start : start + 10])
        self.events_put += len(entries)


_EVALUATIONS = [Evaluations()]  # one sandbox per process, like moto's backends


def reset_evaluations() -> None:
    _EVALUATIONS[0] = Evaluations()


def current() -> Evaluations:
    return _EVALUATIONS[0]


def advance_clock(seconds: float) -> float:
    """Move the sandbox clock forward and run what falls due; returns the new time.

    The last two CHANGE_DELAYs of the move are walked in steps, so what a run changes (a remediation,
    say) is evaluated again within the same move, as AWS Config would within that time.
    """
    current().sync(force=True)  # notice changes made before the move
    tail = [CHANGE_DELAY, CHANGE_DELAY] if seconds > 2 * CHANGE_DELAY else []
    moved = clock.move_forward(seconds - sum(tail))
    current().sync(force=True)
    for step in tail:
        moved = clock.move_forward(step)
        current().sync(force=True)
    return moved


def install_evaluation_triggers() -> None:
    """Sync after every put and delete of an organization conformance pack; the caller makes sure this runs once."""
    put: Callable[..., Any] = ConfigBackend.put_organization_conformance_pack
    delete: Callable[..., Any] = ConfigBackend.delete_organization_conformance_pack

    def put_organization_conformance_pack(self: Any, *args: Any, **kwargs: Any) -> Any:
        found = put(self, *args, **kwargs)
        current().sync(force=True, scan=False)
        return found

    def delete_organization_conformance_pack(self: Any, *args: Any, **kwargs: Any) -> Any:
        found = delete(self, *args, **kwargs)
        current().sync(force=True, scan=False)
        return found

    ConfigBackend.put_organization_conformance_pack = put_organization_conformance_pack  # type: ignore[method-assign]
    ConfigBackend.delete_organization_conformance_pack = delete_organization_conformance_pack  # type: ignore[method-assign]
