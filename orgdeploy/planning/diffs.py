"""Unified diffs between deployed and desired template bodies, for `update --dry-run` (pure)."""

from __future__ import annotations

import difflib

from orgdeploy.planning.inventory import Inventory
from orgdeploy.planning.plan import Plan
from orgdeploy.templates.render import RenderedSet


def template_diffs(plan: Plan, inventory: Inventory, rendered: RenderedSet) -> list[str]:
    """One unified diff per stack set or stack whose template the plan changes (new ones diff against nothing)."""
    diffs = []
    seen: set[tuple[str, str | None, str]] = set()
    for step in plan.steps:
        if not step.template or step.action not in {"create_stack_set", "update_stack_set", "deploy_stack"}:
            continue
        region = step.regions[0] if step.regions else ""
        key = (step.target, step.account, region)
        if key in seen:
            continue
        seen.add(key)
        desired = rendered.get(step.template).body
        if step.action == "deploy_stack":
            assert step.account is not None
            stack = inventory.stack(step.target, step.account, region)
            deployed = stack.template_body if stack else ""
            label = f"stack {step.target} [{step.account} {region}]"
        else:
            stack_set = inventory.stack_set(step.target)
            deployed = stack_set.template_body if stack_set else ""
            label = f"stack set {step.target}"
        if deployed == desired:
            continue
        diff = difflib.unified_diff(
            deployed.splitlines(keepends=True),
            desired.splitlines(keepends=True),
            fromfile=f"deployed: {label}" if deployed else "/dev/null",
            tofile=f"desired: {label}",
        )
        diffs.append("".join(diff))
    return diffs
