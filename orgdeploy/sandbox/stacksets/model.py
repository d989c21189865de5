"""What the StackSet realism layer keeps next to moto's StackSet objects.

moto's StackSet stays the record of a stack set (name, template, parameters,
permission model). Operations, stack instances and the settings moto drops
(ManagedExecution, AutoDeployment) live here and are attached to the StackSet
object, so a moto reset throws them away together with the stack set.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any, cast

from moto.cloudformation.exceptions import CloudFormationError
from moto.cloudformation.models import CloudFormationBackend, StackSet

# Operation states after which nothing changes any more.
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "STOPPED"})

ACCOUNT_GATE_FUNCTION = "AWSCloudFormationStackSetAccountGate"


class OperationInProgressException(CloudFormationError):
    code = "OperationInProgressException"

    def __init__(self, stackset_arn: str) -> None:
        super().__init__(f"Another Operation on StackSet {stackset_arn} is in progress")


class OperationIdAlreadyExistsException(CloudFormationError):
    code = "OperationIdAlreadyExistsException"

    def __init__(self, operation_id: str) -> None:
        super().__init__(f"The operation ID {operation_id} already exists.")


class OperationNotFoundException(CloudFormationError):
    code = "OperationNotFoundException"

    def __init__(self, operation_id: str) -> None:
        super().__init__(f"Operation with id {operation_id} does not exist")


class InvalidOperationException(CloudFormationError):
    code = "InvalidOperationException"


class NameAlreadyExistsException(CloudFormationError):
    code = "NameAlreadyExistsException"

    def __init__(self, name: str) -> None:
        super().__init__(f"StackSet {name} already exists")


class StackInstanceNotFoundException(CloudFormationError):
    code = "StackInstanceNotFoundException"

    def __init__(self, stackset_name: str, account: str, region: str) -> None:
        super().__init__(f"Stack instance [{account}, {region}] not found in StackSet {stackset_name}")


def timestamp(epoch: float) -> datetime.datetime:
    """Naive UTC, as moto's own models keep their times."""
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Target:
    """One (account, Region) an operation acts on, and the OU it was reached through."""

    account: str
    region: str
    ou: str | None = None


@dataclass
class Result:
    target: Target
    status: str
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Account": self.target.account,
            "Region": self.target.region,
            "Status": self.status,
        }
        if self.reason:
            out["StatusReason"] = self.reason
        if self.status != "CANCELLED":
            # No gate function is deployed in the sandbox, exactly like most real accounts.
            gate = f"arn:aws:lambda:{self.target.region}:{self.target.account}:function:{ACCOUNT_GATE_FUNCTION}"
            out["AccountGateResult"] = {"Status": "SKIPPED", "StatusReason": f"Function not found: {gate}"}
        if self.target.ou:
            out["OrganizationalUnitId"] = self.target.ou
        return out


class SandboxStackInstance:
    """A stack instance whose stack exists only once an operation has deployed it.

    Kept in moto's `StackSet.instances.stack_instances` list (same account_id /
    region_name attributes as moto's StackInstance), so moto's own checks such as
    "StackSet is not empty" keep working.
    """

    def __init__(self, account_id: str, region_name: str, ou: str | None) -> None:
        self.account_id = account_id
        self.region_name = region_name
        self.organizational_unit_id = ou
        self.parameter_overrides: list[dict[str, Any]] = []
        self.stack_id: str | None = None
        self.status = "OUTDATED"
        self.detailed_status = "PENDING"
        self.status_reason: str | None = None
        self.last_operation_id: str | None = None
        self.drift_status = "NOT_CHECKED"
        self.last_drift_check: float | None = None

    def summary(self, stackset_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "StackSetId": stackset_id,
            "Region": self.region_name,
            "Account": self.account_id,
            "Status": self.status,
            "StackInstanceStatus": {"DetailedStatus": self.detailed_status},
            "DriftStatus": self.drift_status,
            **({"LastDriftCheckTimestamp": timestamp(self.last_drift_check)} if self.last_drift_check else {}),
        }
        optional = {
            "StackId": self.stack_id,
            "StatusReason": self.status_reason,
            "OrganizationalUnitId": self.organizational_unit_id,
            "LastOperationId": self.last_operation_id,
        }
        out.update({key: value for key, value in optional.items() if value})
        return out

    def describe(self, stackset_id: str) -> dict[str, Any]:
        return {**self.summary(stackset_id), "ParameterOverrides": self.parameter_overrides}


@dataclass(eq=False)
class Operation:
    operation_id: str
    action: str
    backend: CloudFormationBackend
    stackset: StackSet
    targets: list[Target]
    preferences: dict[str, Any]
    template: str
    parameters: dict[str, Any]
    duration: float
    created_at: float
    deployment_targets: dict[str, Any] | None = None
    retain_stacks: bool | None = None
    status: str = "QUEUED"
    started_at: float | None = None
    ended_at: float | None = None
    results: list[Result] = field(default_factory=list)
    status_reason: str | None = None
    prerequisites: list[Operation] = field(default_factory=list)
    # DETECT_DRIFT: each instance's resource drifts, as ListStackInstanceResourceDrifts returns them.
    drifts: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    # Started by auto-deployment rather than by a caller.
    automatic: bool = False
    # Creation order across all stack sets (timestamps can tie).
    seq: int = 0
    # ImportStacksToStackSet: (account, Region) -> the stack that becomes the instance.
    imported: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def _status_details(self) -> dict[str, int]:
        return {"FailedStackInstancesCount": sum(1 for r in self.results if r.status == "FAILED")}

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "OperationId": self.operation_id,
            "Action": self.action,
            "Status": self.status,
            "CreationTimestamp": timestamp(self.created_at),
            "OperationPreferences": self.preferences,
        }
        if self.ended_at is not None:
            out["EndTimestamp"] = timestamp(self.ended_at)
            out["StatusDetails"] = self._status_details()
        if self.status_reason:
            out["StatusReason"] = self.status_reason
        return out

    def describe(self) -> dict[str, Any]:
        out = self.summary()
        out.update(
            {
                "StackSetId": self.stackset.id,
                "AdministrationRoleARN": self.stackset.administration_role_arn,
                "ExecutionRoleName": self.stackset.execution_role_name,
            }
        )
        if self.deployment_targets:
            out["DeploymentTargets"] = self.deployment_targets
        if self.retain_stacks is not None:
            out["RetainStacks"] = self.retain_stacks
        return out


@dataclass
class StackSetExtras:
    managed_execution: bool = False
    auto_deployment: dict[str, Any] | None = None
    # OUs and Regions the stack set targets; auto-deployment deploys new accounts there.
    ou_ids: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    operations: list[Operation] = field(default_factory=list)
    by_place: dict[tuple[str, str], SandboxStackInstance] | None = None


_EXTRAS_ATTR = "_orgdeploy_sandbox"


def extras(stackset: StackSet) -> StackSetExtras:
    found = getattr(stackset, _EXTRAS_ATTR, None)
    if found is None:
        found = StackSetExtras()
        setattr(stackset, _EXTRAS_ATTR, found)
    return found


def instances(stackset: StackSet) -> list[SandboxStackInstance]:
    """The stack set's instances (moto's list, holding only our instance type)."""
    return cast(list[SandboxStackInstance], stackset.instances.stack_instances)


def find_instance(stackset: StackSet, account: str, region: str) -> SandboxStackInstance | None:
    return _index(stackset).get((account, region))


def add_instance(stackset: StackSet, instance: SandboxStackInstance) -> None:
    index = _index(stackset)  # before the list grows, or the index would be built again for every instance
    instances(stackset).append(instance)
    index[(instance.account_id, instance.region_name)] = instance


def drop_instance(stackset: StackSet, instance: SandboxStackInstance) -> None:
    index = _index(stackset)
    instances(stackset).remove(instance)
    index.pop((instance.account_id, instance.region_name), None)


def _index(stackset: StackSet) -> dict[tuple[str, str], SandboxStackInstance]:
    """(account, Region) -> instance, kept beside moto's list so that a lookup is not a scan of 100,000."""
    ex = extras(stackset)
    if ex.by_place is None or len(ex.by_place) != len(instances(stackset)):
        ex.by_place = {(i.account_id, i.region_name): i for i in instances(stackset)}
    return ex.by_place


# Every stack set created through the sandbox, by ARN; a moto reset leaves stale
# entries behind, which live_stacksets() drops.
_REGISTRY: dict[str, tuple[CloudFormationBackend, StackSet]] = {}


def register(backend: CloudFormationBackend, stackset: StackSet) -> None:
    _REGISTRY[stackset.arn] = (backend, stackset)


def live_stacksets() -> list[tuple[CloudFormationBackend, StackSet]]:
    alive = []
    for arn, (backend, stackset) in list(_REGISTRY.items()):
        if getattr(backend, "stacksets", {}).get(stackset.id) is stackset:
            alive.append((backend, stackset))
        else:
            del _REGISTRY[arn]
    return alive
