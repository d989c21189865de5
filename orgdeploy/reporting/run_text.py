"""Human-readable text for plans and run reports (pure: values in, strings out)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from orgdeploy.planning.adopt_steps import adoption_lines
from orgdeploy.planning.plan import Plan

if TYPE_CHECKING:
    from orgdeploy.planning.plan import ExecutionResult


def plan_text(plan: Plan) -> str:
    lines = []
    if not plan.changes:
        lines.append("No changes: the organization matches the config.")
    else:
        lines.append(f"Plan: {len(plan.changes)} change(s)")
        for number, step in enumerate(plan.steps, 1):
            where = f" [{step.account}]" if step.account else ""
            regions = f" ({', '.join(step.regions)})" if step.regions and step.action != "verify" else ""
            after = f"  after: {', '.join(step.depends_on)}" if step.depends_on else ""
            lines.append(f"{number:3d}. {step.id}: {step.action} {step.target}{where}{regions}")
            lines.append(f"       {step.description}{after}")
            if step.action == "put_guard_policy":
                # The whole policy: what it denies, and to whom it does not apply, is the change under review.
                document = json.dumps(json.loads(dict(step.parameters)["Content"]), indent=2)
                lines.extend(f"         {line}" for line in document.splitlines())
            if step.action == "adopt_recorders":
                lines.extend(f"         {line}" for line in adoption_lines(step))
    if plan.usage:
        lines.append("")
        lines.append("Quota usage (instances per stack set):")
        lines.extend(f"  {u.line()}" for u in plan.usage)
    if plan.skipped:
        lines.append("")
        lines.append(f"Skipped ({len(plan.skipped)}):")
        for skip in plan.skipped:
            region = f" {skip.region}" if skip.region else ""
            lines.append(f"  {skip.account}{region} {skip.what}: {skip.reason}")
    for note in plan.notes:
        lines.append(note if note.startswith("warning: ") else f"note: {note}")
    return "\n".join(lines)


def execution_text(result: ExecutionResult) -> str:
    ok = sum(1 for r in result.results if r.outcome == "succeeded")
    lines = [f"Ran {len(result.results)} step(s): {ok} succeeded, {len(result.results) - ok} did not."]
    for r in result.results:
        if r.outcome != "succeeded" or r.failures:
            lines.append(f"  {r.outcome.upper()} {r.step.id}: {r.message}")
            for failure in r.failures:
                lines.append(f"    {failure.account} {failure.region} {failure.status}: {failure.reason}")
    repaired = [r for r in result.results if r.step.action == "repair_recorder" and r.outcome == "succeeded"]
    if repaired:
        lines.append(f"Repaired {len(repaired)} recorder(s) that CloudFormation does not mend:")
        lines += [f"  {r.step.account} {', '.join(r.step.regions)} {r.step.target}: {r.message}" for r in repaired]
    for action, heading in (("adopt_recorders", "Adopted"), ("release_recorders", "Given back")):
        done = [r for r in result.results if r.step.action == action and r.outcome == "succeeded"]
        lines += [f"{heading}: {r.message}" for r in done]
    return "\n".join(lines)
