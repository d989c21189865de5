"""What AWS looks like now, read once into frozen values (pure; no AWS calls here)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

RecorderOwner = Literal["orgdeploy", "control-tower", "service-linked", "unknown"]

# Documented StackSets defaults, used when Service Quotas does not answer.
DEFAULT_STACK_SET_QUOTA = 1_000
DEFAULT_INSTANCES_PER_STACK_SET_QUOTA = 100_000


@dataclass(frozen=True)
class OperationResult:
    """One account and Region's row of a StackSet operation's results."""

    account: str
    region: str
    status: str
    reason: str


@dataclass(frozen=True)
class OrgUnit:
    id: str
    name: str
    parent_id: str | None
    path: str


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    status: str
    parent_id: str

    @property
    def active(self) -> bool:
        return self.status == "ACTIVE"


@dataclass(frozen=True)
class Organization:
    id: str
    management_account_id: str
    root_id: str
    units: tuple[OrgUnit, ...]
    accounts: tuple[Account, ...]

    def unit(self, unit_id: str) -> OrgUnit:
        for unit in self.units:
            if unit.id == unit_id:
                return unit
        raise KeyError(unit_id)

    def resolve_target(self, target: str) -> str:
        """ROOT in the config means the organization root id."""
        return self.root_id if target == "ROOT" else target

    def descendants(self, unit_id: str) -> set[str]:
        """unit_id and every OU below it."""
        found = {unit_id}
        changed = True
        while changed:
            changed = False
            for unit in self.units:
                if unit.parent_id in found and unit.id not in found:
                    found.add(unit.id)
                    changed = True
        return found

    def members_under(self, unit_ids: Iterable[str]) -> list[Account]:
        """Member accounts (never the management account) in these OUs or below, sorted by id."""
        scope: set[str] = set()
        for unit_id in unit_ids:
            scope |= self.descendants(self.resolve_target(unit_id))
        return sorted(
            (a for a in self.accounts if a.parent_id in scope and a.id != self.management_account_id),
            key=lambda a: a.id,
        )

    def account(self, account_id: str) -> Account | None:
        return self._accounts_by_id.get(account_id)

    @functools.cached_property
    def _accounts_by_id(self) -> dict[str, Account]:
        return {a.id: a for a in self.accounts}


@dataclass(frozen=True)
class StackInstance:
    account: str
    region: str
    status: str  # CURRENT | OUTDATED | INOPERABLE
    detailed_status: str
    reason: str = ""
    stack_id: str = ""

    @property
    def healthy(self) -> bool:
        """CURRENT and deployed; an account suspended since is skipped by AWS, not broken."""
        return self.status == "CURRENT" and self.detailed_status in {"SUCCEEDED", "", "SKIPPED_SUSPENDED_ACCOUNT"}


@dataclass(frozen=True)
class Operation:
    id: str
    action: str
    status: str


@dataclass(frozen=True)
class StackSetState:
    name: str
    arn: str
    template_body: str
    parameters: tuple[tuple[str, str], ...]
    auto_deployment: bool
    depends_on: tuple[str, ...]
    managed_execution: bool
    instances: tuple[StackInstance, ...]
    operations_in_flight: tuple[Operation, ...] = ()
    # The newest operation that ended: a retry after a failure is a new attempt, so its OperationId differs.
    last_finished_operation: str = ""

    def instance(self, account: str, region: str) -> StackInstance | None:
        return self._by_place.get((account, region))

    @functools.cached_property
    def _by_place(self) -> dict[tuple[str, str], StackInstance]:
        return {(i.account, i.region): i for i in self.instances}


@dataclass(frozen=True)
class StackState:
    name: str
    account: str
    region: str
    status: str
    template_body: str
    parameters: tuple[tuple[str, str], ...]
    outputs: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RecorderFact:
    """A configuration recorder found in an account and Region."""

    name: str
    owner: RecorderOwner
    recording: bool
    strategy: str = ""  # ALL_SUPPORTED_RESOURCE_TYPES | INCLUSION_BY_RESOURCE_TYPES | EXCLUSION_BY_RESOURCE_TYPES
    global_types: bool = False
    delivery_channel: str = ""
    # The recorder's last status and error, when it last stopped, its recording group and mode as
    # the Config API returns them (JSON), and (read for `status` only) the channel's last delivery.
    last_status: str = ""
    last_error: str = ""
    last_stop_time: str = ""
    recording_group: str = ""
    recording_mode: str = ""
    last_delivery: str = ""
    # What adoption keeps to give the recorder back: its role and its channel (Config API JSON, "" if none).
    role_arn: str = ""
    delivery_channel_settings: str = ""


@dataclass(frozen=True)
class AccountFacts:
    """What the census learned about one account; reachable False means the role could not be assumed."""

    account: str
    reachable: bool
    reason: str = ""
    has_service_linked_role: bool | None = None
    recorders: tuple[tuple[str, RecorderFact], ...] = ()  # (Region, recorder)
    disabled_regions: tuple[str, ...] = ()
    # Regions not read, because a healthy orgdeploy recorder instance stands there (planning/census_scope.py).
    vouched_regions: tuple[str, ...] = ()

    @property
    def read_nothing(self) -> bool:
        """Every Region was vouched for, so the census made no call for this account."""
        return self.reachable and self.has_service_linked_role is None and bool(self.vouched_regions)

    @property
    def role_exists(self) -> bool:
        """AWSServiceRoleForConfig is there: read so, or (not read) implied by recorders that run on it."""
        if self.has_service_linked_role is None:
            return bool(self.vouched_regions)
        return self.has_service_linked_role

    def recorder(self, region: str) -> RecorderFact | None:
        return self._recorder_by_region.get(region)

    @functools.cached_property
    def _recorder_by_region(self) -> dict[str, RecorderFact]:
        found: dict[str, RecorderFact] = {}
        for region, recorder in self.recorders:
            found.setdefault(region, recorder)
        return found


@dataclass(frozen=True)
class Quotas:
    stack_sets: int = DEFAULT_STACK_SET_QUOTA
    instances_per_stack_set: int = DEFAULT_INSTANCES_PER_STACK_SET_QUOTA
    source: str = "documented defaults"


@dataclass(frozen=True)
class GuardState:
    """The guard's service control policy as Organizations holds it."""

    scp_enabled: bool = False  # SERVICE_CONTROL_POLICY is enabled on the root
    policy_id: str = ""  # "" when orgdeploy's policy does not exist
    content: str = ""
    attached_to: tuple[str, ...] = ()  # root, OU or account ids
    scp_counts: tuple[tuple[str, int], ...] = ()  # (target id, SCPs attached there now) for the guard's targets


@dataclass(frozen=True)
class Inventory:
    caller_account: str
    organization: Organization
    trusted_access: str  # ENABLED | DISABLED | DISABLED_PERMANENTLY
    stack_sets: tuple[StackSetState, ...] = ()
    stacks: tuple[StackState, ...] = ()
    facts: tuple[AccountFacts, ...] = ()
    quotas: Quotas = field(default_factory=Quotas)
    stack_set_count: int = 0  # every stack set of the administrator, orgdeploy's or not
    guard: GuardState = field(default_factory=GuardState)

    def stack_set(self, name: str) -> StackSetState | None:
        return next((s for s in self.stack_sets if s.name == name), None)

    def stack(self, name: str, account: str, region: str) -> StackState | None:
        return next((s for s in self.stacks if s.name == name and s.account == account and s.region == region), None)

    def facts_for(self, account: str) -> AccountFacts | None:
        return self._facts_by_account.get(account)

    @functools.cached_property
    def _facts_by_account(self) -> dict[str, AccountFacts]:
        return {f.account: f for f in self.facts}


# Who made a configuration recorder, judged from its name.
SERVICE_LINKED_PREFIX = "AWSConfigurationRecorderFor"
CONTROL_TOWER_PREFIXES = ("aws-controltower-", "AWSControlTower")


def classify_recorder(name: str, *, orgdeploy_name: str) -> RecorderOwner:
    if name == orgdeploy_name:
        return "orgdeploy"
    if name.startswith(SERVICE_LINKED_PREFIX):
        return "service-linked"
    if name.startswith(CONTROL_TOWER_PREFIXES):
        return "control-tower"
    return "unknown"


# Raw CloudFormation stack statuses mapped to a small enum by one function.
class StackPhase(Enum):
    IN_PROGRESS = "in_progress"
    COMPLETE = "complete"
    FAILED = "failed"


class UnknownStatus(ValueError):
    pass


_FAILED = {
    "CREATE_FAILED",
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "DELETE_FAILED",
    "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_ROLLBACK_FAILED",
    "UPDATE_FAILED",
    "IMPORT_ROLLBACK_COMPLETE",
    "IMPORT_ROLLBACK_FAILED",
}
_COMPLETE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE", "IMPORT_COMPLETE"}


def stack_phase(status: str) -> StackPhase:
    """CREATE_COMPLETE -> COMPLETE, ..._IN_PROGRESS -> IN_PROGRESS; anything unknown raises."""
    if status in _COMPLETE:
        return StackPhase.COMPLETE
    if status in _FAILED:
        return StackPhase.FAILED
    if status.endswith("_IN_PROGRESS") or status == "REVIEW_IN_PROGRESS":
        return StackPhase.IN_PROGRESS
    raise UnknownStatus(f"unknown CloudFormation stack status {status!r}")
