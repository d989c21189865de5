"""Repairs: orgdeploy's recorders that were stopped or changed by hand get mended by `update` (pure).

CloudFormation leaves both alone: a stopped recorder is not a property, and an update only reaches
a resource whose template properties change. So the planner adds one repair_recorder step per
such account and Region, after the recorder steps of that Region; the executor reads the recorder
again when the step runs and only changes what still differs.
"""

from __future__ import annotations

import json

from orgdeploy.config.model import DEFAULT_PROFILE
from orgdeploy.planning.inventory import AccountFacts
from orgdeploy.planning.plan import Step
from orgdeploy.planning.stage import Stage
from orgdeploy.templates.recording import as_api, recording_differences, recording_group, recording_mode


def _what_to_mend(stage: Stage, facts: AccountFacts, region: str) -> list[str]:
    recorder = facts.recorder(region)
    if recorder is None or recorder.owner != "orgdeploy":
        return []
    found = []
    if not recorder.recording:
        since = f" since {recorder.last_stop_time}" if recorder.last_stop_time else ""
        found.append(f"start it (stopped{since})")
    differences = recording_differences(
        stage.config.recording.settings(stage.desired.profiles.get(facts.account, DEFAULT_PROFILE)),
        home=region == stage.home,
        group=json.loads(recorder.recording_group or "{}"),
        mode=json.loads(recorder.recording_mode or "{}"),
    )
    if differences:
        found.append("put back its recording group and mode (" + "; ".join(differences) + ")")
    return found


def repair_steps(stage: Stage, *, accounts: set[str], after: dict[str, tuple[str, ...]]) -> list[str]:
    """One step per account and Region (of those orgdeploy deploys to) whose orgdeploy recorder needs mending."""
    ids = []
    for facts in stage.inventory.facts:
        if facts.account not in accounts or not facts.reachable:
            continue
        settings = stage.config.recording.settings(stage.desired.profiles.get(facts.account, DEFAULT_PROFILE))
        for region in stage.config.regions:
            mend = _what_to_mend(stage, facts, region)
            recorder = facts.recorder(region)
            if not mend or recorder is None:
                continue
            name = recorder.name  # an adopted recorder keeps its own
            home = region == stage.home
            group = as_api(recording_group(settings, home=home))
            mode = as_api(recording_mode(settings, home=home))
            step = Step(
                id=f"repair-{facts.account}-{region}",
                action="repair_recorder",
                target=name,
                description=f"mend recorder {name} in {facts.account} {region}: " + "; ".join(mend),
                account=facts.account,
                regions=(region,),
                depends_on=after.get(region, ()),
                parameters=(("RecordingGroup", json.dumps(group)), ("RecordingMode", json.dumps(mode))),
            )
            ids.append(stage.builder.add(step))
    return ids
