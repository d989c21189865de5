"""The adopt_recorders and release_recorders steps: planning/adoption.py says what they do and why."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Protocol

from orgdeploy.aws.adoption import AdoptionGateway
from orgdeploy.aws.session import AwsContext
from orgdeploy.aws.stacks import StacksGateway
from orgdeploy.config.model import Config
from orgdeploy.planning.plan import Step, StepResult
from orgdeploy.planning.plan import operation_id as make_operation_id
from orgdeploy.planning.steps import operation_preferences
from orgdeploy.templates import naming
from orgdeploy.templates.render import RenderedSet, recorder_retained_body


class Running(Protocol):
    """What the executor lends a step: its context, and how it runs one StackSet operation to its end."""

    ctx: AwsContext
    config: Config
    rendered: RenderedSet

    @property
    def reporter(self) -> Any: ...

    @property
    def settings(self) -> Any: ...

    def operation(self, step: Step, call: str, **args: Any) -> StepResult: ...


class Adopter:
    def __init__(self, run: Running) -> None:
        self.run = run

    def adopt(self, step: Step) -> StepResult:
        """Take each recorder over: delete it, then have the stack set (or the management stack) make it again.

        A pair that fails is given its recorder and channel back as they were, so nothing is left half-done.
        """
        values = dict(step.parameters)
        entries = json.loads(values["Adoptions"])
        taken: list[dict[str, str]] = []
        try:
            for done, entry in enumerate(entries):
                taken.append(entry)
                self._gateway(entry).take_over(entry["recorder"])
                self.run.reporter.step_progress(step, done + 1, len(entries) + 1)
        except Exception:
            self._restore(taken)  # the ones already taken (and the one that failed halfway)
            raise
        try:
            failed = self._create(step, values, entries)
        except Exception:
            self._restore(entries)
            raise
        if failed is not None:
            self._restore(entries)
            return replace(failed, message=f"{failed.message}; the recorders were given back as they were")
        self.run.reporter.step_progress(step, len(entries) + 1, len(entries) + 1)
        names = ", ".join(f"{e['recorder']!r} ({e['account']} {e['region']})" for e in entries)
        return StepResult(step, "succeeded", f"adopted {names}")

    def _gateway(self, entry: dict[str, str]) -> AdoptionGateway:
        return AdoptionGateway(
            self.run.ctx, account=entry["account"], region=entry["region"], timeout=self.run.settings.operation_timeout
        )

    def _restore(self, entries: list[dict[str, str]]) -> None:
        for entry in entries:
            self._gateway(entry).restore(json.loads(entry["settings"]))

    def _create(self, step: Step, values: dict[str, str], entries: list[dict[str, str]]) -> StepResult | None:
        """The stack instances (or the management account's stack) that make each recorder again, its name kept."""
        if step.account is not None:
            for entry in entries:
                StacksGateway(self.run.ctx, account=entry["account"], region=entry["region"]).deploy(
                    step.target,
                    self.run.rendered.get("recorder").body,
                    json.loads(values["StackParameters"])[entry["region"]],
                    [],
                    timeout=self.run.settings.operation_timeout,
                )
            return None
        # One CreateStackInstances per set of overrides and Region: the names differ from recorder to recorder.
        groups: dict[tuple[str, str], list[dict[str, str]]] = {}
        for entry in entries:
            groups.setdefault(
                (json.dumps(_overrides(self.run.config, entry), sort_keys=True), entry["region"]), []
            ).append(entry)
        for (overrides, region), members in sorted(groups.items()):
            accounts = sorted(e["account"] for e in members)
            created = self.run.operation(
                replace(step, operation_id=make_operation_id(f"{step.id}-{region}", [accounts, overrides])),
                "create_stack_instances",
                StackSetName=step.target,
                DeploymentTargets={
                    "OrganizationalUnitIds": sorted({ou for e in members for ou in e["ou"].split(",")}),
                    "Accounts": accounts,
                    "AccountFilterType": "INTERSECTION",
                },
                Regions=[region],
                ParameterOverrides=[{"ParameterKey": k, "ParameterValue": v} for k, v in json.loads(overrides).items()],
                OperationPreferences=operation_preferences(self.run.config),
            )
            if created.outcome != "succeeded":
                return created
        return None

    def release(self, step: Step) -> StepResult:
        """Give adopted recorders back: out of the stack set (stacks kept), stacks deleted, settings put back."""
        entries = json.loads(dict(step.parameters)["Adopted"])
        into_stack_set = step.account is None
        if into_stack_set:
            targets = {
                "OrganizationalUnitIds": [self._root_of(step)],
                "Accounts": sorted({e["account"] for e in entries}),
                "AccountFilterType": "INTERSECTION",
            }
            for region in sorted({e["region"] for e in entries}):
                accounts = sorted({e["account"] for e in entries if e["region"] == region})
                released = self.run.operation(
                    replace(step, operation_id=make_operation_id(f"{step.id}-{region}", accounts)),
                    "delete_stack_instances",
                    StackSetName=step.target,
                    DeploymentTargets={**targets, "Accounts": accounts},
                    Regions=[region],
                    RetainStacks=True,
                    OperationPreferences=operation_preferences(self.run.config, parallel=True),
                )
                if released.outcome != "succeeded":
                    return released
        retained = recorder_retained_body(self.run.config)
        given: list[str] = []
        for entry in entries:
            gateway = self._gateway(entry)
            gateway.give_back(entry["stack"], retained, say=given.append)
        return StepResult(step, "succeeded", "; ".join(given) or "nothing to give back")

    def _root_of(self, step: Step) -> str:
        return dict(step.parameters)["RootId"]


def _overrides(config: Config, entry: dict[str, str]) -> dict[str, str]:
    """An adopted recorder's instance parameters: its names, its profile, and what it was, to give it back."""
    return {
        "RecorderName": entry["recorder"],
        "DeliveryChannelName": entry["channel"] or naming.delivery_channel_name(config),
        "RecordingProfile": entry["profile"],
        "AdoptedSettings": entry["settings"],
    }
