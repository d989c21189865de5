"""Raw CloudFormation statuses mapped to a small enum by one function (pure)."""

from __future__ import annotations

from enum import Enum


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
