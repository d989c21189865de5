"""What every planning stage shares: the desired placement of instances, and the stage context (pure).

The planner and its stages (packs, notifications) all import this module, so none imports another's internals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orgdeploy.config.model import Config
from orgdeploy.errors import PlanBlocked
from orgdeploy.planning.adoption import Adoption, adoption_of, why_not_adoptable
from orgdeploy.planning.inventory import Account, Inventory, RecorderFact, StackSetState
from orgdeploy.planning.plan import Skip
from orgdeploy.planning.profiles import profile_map
from orgdeploy.planning.steps import Builder, stack_step
from orgdeploy.templates.render import RenderedSet


class Desired:
    """Which member accounts should hold which instances, and what was skipped and why."""

    def __init__(self, config: Config, inventory: Inventory, *, skip_unreadable: bool = False) -> None:
        self.config = config
        self.inventory = inventory
        org = inventory.organization
        excluded = set(config.targets.exclude_accounts)
        self.in_scope = org.members_under(config.targets.organizational_units)
        self.targeted: list[Account] = []
        self.skipped: list[Skip] = []
        # Accounts whose instances no operation may touch: AWS skips suspended accounts, and an account
        # the census could not read is unknown, never clean.
        self.leave_alone: frozenset[str] = frozenset(a.id for a in self.in_scope if not a.active)
        unreadable = []
        for account in self.in_scope:
            facts = inventory.facts_for(account.id)
            if account.id in excluded:
                self.skipped.append(Skip(account.id, None, "account", "excluded by targets.exclude_accounts"))
            elif not account.active:
                self.skipped.append(Skip(account.id, None, "account", f"account is {account.status}"))
            elif facts is not None and not facts.reachable:
                unreadable.append(f"{account.name} {account.id} ({facts.reason})")
                self.leave_alone |= {account.id}
                reason = f"the census could not read it ({facts.reason}); left untouched (--skip-unreadable-accounts)"
                self.skipped.append(Skip(account.id, None, "account", reason))
            else:
                self.targeted.append(account)
        if unreadable and not skip_unreadable:
            raise PlanBlocked(
                f"the census could not read {len(unreadable)} account(s): {', '.join(unreadable)}. "
                "Their Config state is unknown, so nothing is planned. Make census.role_name "
                f"({config.census.role_name}) assumable there and run again, or pass --skip-unreadable-accounts "
                "to leave them out (their instances are left as they are)."
            )
        targeted_ids = {a.id for a in self.targeted}
        self.excluded_in_scope = sorted(a.id for a in self.in_scope if a.id not in targeted_ids)
        self.profiles = profile_map(config, org)
        # Recorders made outside orgdeploy that this plan adopts, by Region (existing_recorder: adopt).
        self.adoptions: dict[str, list[Adoption]] = {}

    def recorder_accounts(self, region: str, skips: list[Skip]) -> list[str]:
        """Targeted accounts that should hold an orgdeploy recorder in region (adopted ones included)."""
        wanted = []
        for account in self.targeted:
            facts = self.inventory.facts_for(account.id)
            if facts is not None and region in facts.disabled_regions:
                skips.append(Skip(account.id, region, "recorder", "Region is not enabled in the account"))
                continue
            recorder = facts.recorder(region) if facts else None
            if recorder is not None and recorder.owner != "orgdeploy":
                adoption = self.adopt(account.id, region, recorder, skips)
                if adoption is None:
                    continue
                self.adoptions.setdefault(region, []).append(adoption)
            wanted.append(account.id)
        return wanted

    def adopt(self, account: str, region: str, recorder: RecorderFact, skips: list[Skip]) -> Adoption | None:
        """The adoption of a foreign recorder, or None (and a skip saying why) when it stays as it is."""
        refused = why_not_adoptable(recorder) if self.config.recording.existing_recorder == "adopt" else None
        if self.config.recording.existing_recorder == "adopt" and refused is None:
            return adoption_of(account, region, recorder)
        state = "recording" if recorder.recording else "not recording"
        reason = f"already has recorder {recorder.name!r} (owner: {recorder.owner}, {state})"
        skips.append(
            Skip(account, region, "recorder", f"{reason}: {refused}" if refused else reason, conflict=refused is None)
        )
        return None

    def adopted_pairs(self) -> set[tuple[str, str]]:
        return {(a.account, a.region) for found in self.adoptions.values() for a in found}

    def role_accounts(self, skips: list[Skip], stack_set: StackSetState | None) -> list[str]:
        wanted = []
        for account in self.targeted:
            facts = self.inventory.facts_for(account.id)
            ours = stack_set is not None and stack_set.instance(account.id, self.config.home_region) is not None
            if facts is not None and facts.role_exists and not ours:
                skips.append(Skip(account.id, None, "service-linked role", "AWSServiceRoleForConfig already exists"))
                continue
            wanted.append(account.id)
        return wanted


@dataclass
class Stage:
    """What every planning stage reads, and the builder they all add steps to."""

    config: Config
    inventory: Inventory
    rendered: RenderedSet
    builder: Builder
    desired: Desired
    bucket_name: str
    target_units: list[str]

    @property
    def home(self) -> str:
        return self.config.home_region

    def stack(self, **kwargs: Any) -> str | None:
        return stack_step(builder=self.builder, inventory=self.inventory, rendered=self.rendered, **kwargs)
