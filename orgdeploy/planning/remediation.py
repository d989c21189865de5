"""The remediation role: a stack set in the home Region of each targeted account, a stack in the management account.

It exists while some pack runs a remediation (the rendered set then holds the "remediation-role"
template) and goes when none does. Accounts a rule excludes in every one of its rules get no
role: their automations fail at once, which `events` reports as excluded. The packs wait for it,
so the first remediation finds the role in place.
"""

from __future__ import annotations

from orgdeploy.planning.plan import QuotaUsage
from orgdeploy.planning.stage import Stage
from orgdeploy.planning.steps import instance_steps, stack_set_step
from orgdeploy.planning.teardown import stack_removal, stack_set_removal
from orgdeploy.templates import naming

TEMPLATE = "remediation-role"


def _wanted(stage: Stage) -> bool:
    return any(t.key == TEMPLATE for t in stage.rendered.templates)


def _excluded(stage: Stage) -> set[str]:
    """Accounts every remediation rule leaves out (a rule that covers an account needs the role there)."""
    rules = stage.config.remediation.rules
    if not rules:
        return set()
    return set.intersection(*(set(r.exclude_accounts) for r in rules))


def remediation_role_stage(stage: Stage, *, base: tuple[str, ...]) -> tuple[list[str], QuotaUsage | None]:
    """Steps that deploy, update or remove the role; returns the step ids the packs wait for."""
    config, inventory = stage.config, stage.inventory
    name = naming.remediation_role_stack_set(config)
    existing = inventory.stack_set(name)
    management = inventory.organization.management_account_id
    if not _wanted(stage):
        # No pack remediates any more: the role goes with its stack set, and the management account's stack.
        found = stack_set_removal(config, inventory, existing, retain=False, depends_on=()) if existing else []
        if inventory.stack(name, management, stage.home) is not None:
            found.append(stack_removal(name, management, stage.home, ()))
        return [stage.builder.add(step) for step in found], None
    excluded = _excluded(stage)
    accounts = [a.id for a in stage.desired.targeted if a.id not in excluded]
    set_step = stack_set_step(
        builder=stage.builder,
        name=name,
        template_key=TEMPLATE,
        rendered=stage.rendered,
        existing=existing,
        parameters=(),
        config=config,
        depends_on=base,
        auto_deployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
    )
    steps = instance_steps(
        builder=stage.builder,
        config=config,
        stack_set_name=name,
        existing=existing,
        desired={stage.home: accounts},
        target_units=stage.target_units,
        in_scope=[a.id for a in stage.desired.in_scope],
        step_prefix="remediation-role",
        first_region=stage.home,
        root_id=inventory.organization.root_id,
        depends_on=stage.builder.present(set_step, *base),
        leave_alone=stage.desired.leave_alone,
    )
    ids = [i for region in steps.values() for i in region]
    if config.management_account.deploy and management not in excluded:
        own = stage.stack(
            template_key=TEMPLATE,
            stack_name=name,
            account=management,
            region=stage.home,
            parameters=(),
            depends_on=(),
            step_id="management-remediation-role",
            description="deploy the remediation role in the management account",
        )
        ids += [own] if own else []
    usage = QuotaUsage(name, len(accounts), inventory.quotas.instances_per_stack_set)
    return list(stage.builder.present(set_step, *ids)), usage
