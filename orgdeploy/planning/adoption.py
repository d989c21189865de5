"""Adopting recorders made outside orgdeploy (`recording.existing_recorder: adopt`) (pure).

AWS Config allows one customer-managed recorder per account and Region, so a second one fails with
MaxNumberOfConfigurationRecordersExceededException. CloudFormation cannot import the recorder or the
delivery channel (neither type supports resource import), so adoption makes them again under their names:
1. the recorder and its channel are deleted (their recorded history stays);
2. the recorder stack set creates the instance with the old names as parameter overrides (in the
   management account, orgdeploy's recorder stack gets them as parameters);
3. should that fail, they are put back as they were.
What the recorder was before is kept in the AdoptedSettings parameter, so destroy can give it back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from orgdeploy.planning.inventory import AccountFacts, RecorderFact, StackSetState, StackState

# AWS's limit for a parameter value: the original settings must fit one.
SETTINGS_LIMIT = 4_096


@dataclass(frozen=True)
class Adoption:
    account: str
    region: str
    recorder: str
    channel: str  # "" when the recorder has no delivery channel
    settings: str  # what the recorder and channel were (JSON), for AdoptedSettings

    def to_dict(self) -> dict[str, str]:
        return {
            "account": self.account,
            "region": self.region,
            "recorder": self.recorder,
            "channel": self.channel,
            "settings": self.settings,
        }


def original_settings(recorder: RecorderFact) -> str:
    """The recorder and channel as they are, compact JSON (the Config API's shapes)."""
    channel = json.loads(recorder.delivery_channel_settings) if recorder.delivery_channel_settings else None
    data: dict[str, Any] = {
        "recorder": {
            "name": recorder.name,
            "roleARN": recorder.role_arn,
            "recordingGroup": json.loads(recorder.recording_group or "{}"),
            "recordingMode": json.loads(recorder.recording_mode or "{}"),
            "recording": recorder.recording,
        },
        "channel": channel,
    }
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def why_not_adoptable(recorder: RecorderFact) -> str | None:
    """Why orgdeploy leaves this recorder alone even under adopt, or None when it can adopt it."""
    if recorder.owner == "service-linked":
        return "a service-linked recorder belongs to the service that made it; adopt leaves it alone"
    if recorder.owner == "control-tower":
        return (
            "AWS Control Tower made it and manages it (changes outside Control Tower count as drift there); "
            "adopt leaves it alone"
        )
    if len(original_settings(recorder)) > SETTINGS_LIMIT:
        return f"its settings take more than the {SETTINGS_LIMIT:,} characters a parameter may hold, to give back"
    return None


def adoption_of(account: str, region: str, recorder: RecorderFact) -> Adoption:
    return Adoption(account, region, recorder.name, recorder.delivery_channel, original_settings(recorder))


def claim_adopted(
    facts: tuple[AccountFacts, ...],
    *,
    recorder_sets: tuple[StackSetState, ...],
    management_stacks: tuple[StackState, ...],
    management: str,
) -> tuple[AccountFacts, ...]:
    """Mark a recorder orgdeploy adopted as orgdeploy's: its pair is a CURRENT instance of a recorder stack set.

    AWS allows one customer-managed recorder per account and Region, so a healthy recorder stack there holds
    the recorder found, whatever its name. In the management account, orgdeploy's own stack holds it.
    """
    ours = {(i.account, i.region) for s in recorder_sets for i in s.instances if i.status == "CURRENT"}
    ours |= {(management, s.region) for s in management_stacks if s.status.endswith("_COMPLETE")}
    claimed = []
    for account in facts:
        recorders = tuple(
            (region, _ours(r)) if r.owner == "unknown" and (account.account, region) in ours else (region, r)
            for region, r in account.recorders
        )
        claimed.append(account if recorders == account.recorders else _with_recorders(account, recorders))
    return tuple(claimed)


def _ours(recorder: RecorderFact) -> RecorderFact:
    return replace(recorder, owner="orgdeploy")


def _with_recorders(account: AccountFacts, recorders: tuple[tuple[str, RecorderFact], ...]) -> AccountFacts:
    return replace(account, recorders=recorders)
