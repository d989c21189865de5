"""The steps that adopt recorders, and how each differs from what orgdeploy will make of it (pure)."""

from __future__ import annotations

import json
from typing import Any

from orgdeploy.planning.adoption import Adoption
from orgdeploy.planning.plan import Step
from orgdeploy.planning.stage import Stage
from orgdeploy.templates import naming
from orgdeploy.templates.recording import recording_differences

ADOPTIONS = "Adoptions"


def adopt_step(
    stage: Stage,
    *,
    stack_set: str | None,
    adoptions: list[Adoption],
    depends_on: tuple[str, ...],
    stack_parameters: dict[str, dict[str, str]] | None = None,
    target_units: list[str] | None = None,
) -> str | None:
    """One adopt_recorders step for these pairs: made again by stack set `stack_set`, or (stack_parameters by
    Region) by the management account's own recorder stack."""
    if not adoptions:
        return None
    config = stage.config
    entries = []
    for adoption in sorted(adoptions, key=lambda a: (a.region != stage.home, a.region, a.account)):
        profile = stage.desired.profiles.get(adoption.account, "default")
        account = stage.inventory.organization.account(adoption.account)
        entries.append(
            {
                **adoption.to_dict(),
                "profile": profile,
                # The stack set's own target OUs: naming the account's OU would add it to the stack set's targets.
                "ou": ",".join(target_units or ([account.parent_id] if account else [])),
                "differences": differences(stage, adoption, profile),
            }
        )
    regions = tuple(dict.fromkeys(str(e["region"]) for e in entries))
    where = f"by {stack_set}" if stack_set else "by the management account's recorder stack"
    management = stage.inventory.organization.management_account_id
    return stage.builder.add(
        Step(
            id=f"adopt-{stack_set or 'management'}",
            action="adopt_recorders",
            target=stack_set or naming.recorder_stack_set(config),
            description=(
                f"adopt {len(entries)} recorder(s) made outside orgdeploy: each is removed and made again {where}, "
                "its name kept (recording pauses meanwhile; its configuration history stays)"
            ),
            account=None if stack_set else management,
            regions=regions,
            depends_on=depends_on,
            parameters=(
                (ADOPTIONS, json.dumps(entries, sort_keys=True)),
                ("DeliveryBucketName", stage.bucket_name),
                *((("StackParameters", json.dumps(stack_parameters, sort_keys=True)),) if stack_parameters else ()),
            ),
        )
    )


def differences(stage: Stage, adoption: Adoption, profile: str) -> list[str]:
    """What adoption changes on the recorder and its channel, one line each ("... is false, expected true")."""
    config = stage.config
    settings = json.loads(adoption.settings)
    recorder = settings["recorder"]
    found = recording_differences(
        config.recording.settings(profile),
        home=adoption.region == stage.home,
        group=recorder.get("recordingGroup") or {},
        mode=recorder.get("recordingMode") or {},
    )
    if not recorder.get("recording"):
        found.append("recording is off, will be on")
    channel: dict[str, Any] | None = settings.get("channel")
    if channel is None:
        found.append(f"no delivery channel; orgdeploy adds {naming.delivery_channel_name(config)!r}")
        return found
    wanted = {
        "s3BucketName": stage.bucket_name,
        "s3KeyPrefix": config.delivery.key_prefix.strip("/") or None,
        "s3KmsKeyArn": config.delivery.kms_key_arn,
        "snsTopicARN": config.delivery.sns_topic_arn,
        "deliveryFrequency": config.delivery.snapshot_frequency,
    }
    actual = {
        **channel,
        "deliveryFrequency": (channel.get("configSnapshotDeliveryProperties") or {}).get("deliveryFrequency"),
    }
    for key, value in wanted.items():
        if (actual.get(key) or None) != value:
            name = channel.get("name")
            found.append(f"deliveryChannel {name!r} {key} is {actual.get(key) or 'unset'}, expected {value or 'unset'}")
    return found


def adoption_lines(step: Step) -> list[str]:
    """The plan's view of an adopt step: each recorder, its channel, and what changes."""
    lines = []
    for entry in json.loads(dict(step.parameters)[ADOPTIONS]):
        channel = entry["channel"] or "none"
        lines.append(
            f"{entry['account']} {entry['region']}: recorder {entry['recorder']!r}, channel {channel}, "
            f"profile {entry['profile']}"
        )
        lines += [f"  - {line}" for line in entry["differences"]] or ["  (records as configured already)"]
    return lines
