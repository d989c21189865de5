"""The use cases behind bootstrap, update, add-region and plan: read, plan, confirm, execute."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orgdeploy.aws.inventory_reader import read_inventory
from orgdeploy.aws.session import AwsContext
from orgdeploy.config.model import Config
from orgdeploy.errors import OrgDeployError
from orgdeploy.planning.inventory import Inventory, Quotas
from orgdeploy.planning.plan import ExecutionResult, Plan
from orgdeploy.planning.planner import PlanOptions, plan
from orgdeploy.running.executor import Executor, ExecutorSettings, Reporter
from orgdeploy.templates.render import RenderedSet, render_all


class Declined(OrgDeployError):
    """The user said no at the confirmation prompt."""

    exit_code = 1


@dataclass(frozen=True)
class RunOptions:
    enable_trusted_access: bool = False
    quota_override: Quotas | None = None
    census: bool = True
    skip_unreadable: bool = False
    # False: read only what the deployed state does not vouch for (planning/census_scope.py).
    full_census: bool = False


@dataclass
class ApplyReport:
    plan: Plan
    inventory: Inventory
    execution: ExecutionResult | None = None
    waited_for: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.execution is not None and self.execution.failed

    def to_dict(self) -> dict[str, Any]:
        return {
            "changes": len(self.plan.changes),
            "failed": self.failed,
            "waited_for_operations": self.waited_for,
            "plan": self.plan.to_dict(),
            "execution": self.execution.to_dict() if self.execution else None,
        }


def make_plan(
    ctx: AwsContext,
    config: Config,
    *,
    options: RunOptions,
    rendered: RenderedSet | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[Inventory, Plan]:
    rendered = rendered or render_all(config)
    inventory = read_inventory(
        ctx,
        config,
        quota_override=options.quota_override,
        census=options.census,
        progress=progress,
        full_census=options.full_census,
    )
    plan_options = PlanOptions(
        enable_trusted_access=options.enable_trusted_access, skip_unreadable=options.skip_unreadable
    )
    return inventory, plan(config, inventory, rendered, plan_options)


def apply(
    ctx: AwsContext,
    config: Config,
    *,
    options: RunOptions,
    reporter: Reporter,
    settings: ExecutorSettings,
    confirm: Callable[[Plan], bool],
    progress: Callable[[str], None] | None = None,
) -> ApplyReport:
    """Converge the organization on config. Safe to re-run after any interruption."""
    rendered = render_all(config)
    executor = Executor(ctx, config, rendered, reporter, settings)
    # Operations left running by an interrupted run finish first, so the plan sees their results.
    ours = executor.stacksets.names(prefix=f"{config.stacksets.name_prefix}-")
    waited = executor.wait_for_in_flight(ours)
    inventory, the_plan = make_plan(ctx, config, options=options, rendered=rendered, progress=progress)
    report = ApplyReport(the_plan, inventory, waited_for=waited)
    if not the_plan.changes:
        return report
    if not confirm(the_plan):
        raise Declined("nothing was changed")
    report.execution = executor.run(the_plan)
    return report
