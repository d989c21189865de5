"""Coverage: is Config recording, as configured, in every account and Region it should (pure).

One row per targeted account and Region, judged from the census (read with detail) and the
deployed stack instances. A pair is covered when a customer-managed recorder records there
without a failed last status, and, for orgdeploy's own recorder, with the configured recording
group and mode. A Region the account has not enabled holds no resources, so it is reported as
not applicable and not counted against coverage.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from orgdeploy.config.model import DEFAULT_PROFILE, Config
from orgdeploy.planning.inventory import AccountFacts, Inventory, RecorderFact, StackInstance
from orgdeploy.planning.profiles import profile_map
from orgdeploy.templates import naming
from orgdeploy.templates.recording import recording_differences

Verdict = Literal["covered", "not covered", "not applicable"]


@dataclass(frozen=True)
class PlaceCoverage:
    account: str
    region: str
    verdict: Verdict
    reason: str = ""  # why not covered (or not applicable); empty when covered
    recorder: str = ""
    owner: str = ""
    recording: bool | None = None
    last_status: str = ""
    last_error: str = ""
    last_delivery: str = ""
    group_matches: bool | None = None  # None: not orgdeploy's recorder, so not compared
    differences: tuple[str, ...] = ()
    # False: not read; a healthy orgdeploy recorder instance vouches for it (planning/census_scope.py).
    read: bool = True

    @property
    def covered(self) -> bool:
        return self.verdict == "covered"

    def to_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "region": self.region,
            "verdict": self.verdict,
            "reason": self.reason,
            "recorder": self.recorder or None,
            "owner": self.owner or None,
            "recording": self.recording,
            "last_status": self.last_status or None,
            "last_error": self.last_error or None,
            "last_delivery": self.last_delivery or None,
            "group_matches": self.group_matches,
            "differences": list(self.differences),
            "read": self.read,
        }


@dataclass(frozen=True)
class Coverage:
    places: tuple[PlaceCoverage, ...]

    @property
    def complete(self) -> bool:
        return all(p.verdict != "not covered" for p in self.places)

    @property
    def vouched(self) -> int:
        return sum(1 for p in self.places if not p.read)

    def counts(self) -> dict[str, int]:
        found = Counter(p.verdict for p in self.places)
        return {v: found.get(v, 0) for v in ("covered", "not covered", "not applicable")}

    @property
    def gaps(self) -> tuple[PlaceCoverage, ...]:
        return tuple(p for p in self.places if p.verdict == "not covered")

    @property
    def stopped_orgdeploy_recorders(self) -> tuple[PlaceCoverage, ...]:
        return tuple(p for p in self.places if p.owner == "orgdeploy" and p.recording is False)

    @property
    def differing_orgdeploy_recorders(self) -> tuple[PlaceCoverage, ...]:
        return tuple(p for p in self.places if p.owner == "orgdeploy" and p.group_matches is False)


def _recorder_there(facts: AccountFacts, region: str) -> tuple[RecorderFact | None, bool]:
    """The customer-managed recorder of the Region (else a service-linked one), and whether one is customer-managed."""
    found = [r for place, r in facts.recorders if place == region]
    customer = [r for r in found if r.owner != "service-linked"]
    if customer:
        return customer[0], True
    return (found[0] if found else None), False


def _instance(inventory: Inventory, config: Config, account: str, region: str) -> StackInstance | None:
    prefix = naming.recorder_stack_set(config)
    for stack_set in inventory.stack_sets:
        if stack_set.name == prefix or stack_set.name.startswith(f"{prefix}-"):
            found = stack_set.instance(account, region)
            if found is not None:
                return found
    return None


def _no_recorder_reason(inventory: Inventory, config: Config, account: str, region: str) -> str:
    if account == inventory.organization.management_account_id:
        stack = inventory.stack(naming.recorder_stack_set(config), account, region)
        return "no recorder" + (f"; orgdeploy's stack is {stack.status}" if stack else "; orgdeploy has no stack there")
    instance = _instance(inventory, config, account, region)
    if instance is None:
        return "no recorder; orgdeploy has no stack instance there"
    detail = f"/{instance.detailed_status}" if instance.detailed_status else ""
    why = f": {instance.reason}" if instance.reason else ""
    return f"no recorder; orgdeploy's stack instance is {instance.status}{detail}{why}"


_OWNER_WORDS = {"unknown": "made outside orgdeploy", "control-tower": "Control Tower's", "orgdeploy": "orgdeploy's"}


def _hint(recorder: RecorderFact) -> str:
    if recorder.owner == "orgdeploy":
        return "; `orgdeploy update` starts it again"
    if recorder.owner == "unknown":
        return (
            "; orgdeploy leaves it alone: start it, delete it so that orgdeploy deploys its own, "
            "or set recording.existing_recorder: adopt"
        )
    return ""


def judge_place(
    config: Config, inventory: Inventory, facts: AccountFacts, region: str, *, profile: str = DEFAULT_PROFILE
) -> PlaceCoverage:
    account = facts.account
    if not facts.reachable:
        return PlaceCoverage(account, region, "not covered", f"the account could not be read: {facts.reason}")
    if region in facts.disabled_regions:
        return PlaceCoverage(account, region, "not applicable", "Region is not enabled in the account")
    if region in facts.vouched_regions:
        return PlaceCoverage(account, region, "covered", owner="orgdeploy", read=False)
    recorder, customer = _recorder_there(facts, region)
    if recorder is None:
        return PlaceCoverage(account, region, "not covered", _no_recorder_reason(inventory, config, account, region))
    differences: tuple[str, ...] = ()
    if recorder.owner == "orgdeploy":
        differences = tuple(
            recording_differences(
                config.recording.settings(profile),
                home=region == config.home_region,
                group=json.loads(recorder.recording_group or "{}"),
                mode=json.loads(recorder.recording_mode or "{}"),
            )
        )
    reasons = []
    if not customer:
        reasons.append(f"only the service-linked recorder {recorder.name}, which records for its own service")
    if not recorder.recording:
        since = f" since {recorder.last_stop_time}" if recorder.last_stop_time else ""
        whose = _OWNER_WORDS.get(recorder.owner, recorder.owner)
        reasons.append(f"recorder {recorder.name!r} ({whose}) is not recording{since}{_hint(recorder)}")
    if recorder.last_status.upper() == "FAILURE":
        reasons.append(f"its last recording failed: {recorder.last_error or 'no error given'}")
    if differences:
        reasons.append("its recording differs from the config: " + "; ".join(differences))
    return PlaceCoverage(
        account,
        region,
        "not covered" if reasons else "covered",
        "; ".join(reasons),
        recorder=recorder.name,
        owner=recorder.owner,
        recording=recorder.recording,
        last_status=recorder.last_status,
        last_error=recorder.last_error,
        last_delivery=recorder.last_delivery,
        group_matches=None if recorder.owner != "orgdeploy" else not differences,
        differences=differences,
    )


def coverage_of(config: Config, inventory: Inventory) -> Coverage:
    """Every targeted account the census read, in every configured Region; excluded accounts are not targeted."""
    excluded = set(config.targets.exclude_accounts)
    profiles = profile_map(config, inventory.organization)
    places = [
        judge_place(config, inventory, facts, region, profile=profiles.get(facts.account, DEFAULT_PROFILE))
        for facts in inventory.facts
        if facts.account not in excluded
        for region in config.regions
    ]
    return Coverage(tuple(places))
