"""The pure planner against hand-built Inventory values: no AWS, no moto.

`_apply` below is a tiny model of what AWS does with each step, so a test can
plan, "apply", and plan again: a converged organization must plan nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from orgdeploy.config.model import Config
from orgdeploy.errors import PlanBlocked
from orgdeploy.planning.inventory import (
    Account,
    AccountFacts,
    Inventory,
    Operation,
    Organization,
    OrgUnit,
    RecorderFact,
    StackInstance,
    StackSetState,
    StackState,
)
from orgdeploy.planning.plan import STACK_SET_OPERATIONS, Plan, Step
from orgdeploy.planning.planner import PlanOptions, plan
from orgdeploy.planning.steps import OU_BATCH
from orgdeploy.templates.render import RenderedSet, render_all
from tests.helpers import make_config

MGMT = "100000000000"
ROOT = "r-ab12"
SEC = "ou-ab12-security"
PROD = "ou-ab12-prod0000"
DEV = "ou-ab12-dev00000"
LOG, AUDIT, PROD1, PROD2, DEV1, DEV2, GONE = (
    "200000000001",
    "200000000002",
    "300000000001",
    "300000000002",
    "400000000001",
    "400000000002",
    "400000000009",
)
HOME, OTHER = "us-east-1", "eu-west-1"
ROLE_SET, RECORDER_SET = "orgdeploy-config-role", "orgdeploy-recorder"
OPERATION_ID = re.compile(r"^[a-zA-Z0-9][-a-zA-Z0-9]*$")


def organization(extra_units: Iterable[OrgUnit] = (), extra_accounts: Iterable[Account] = ()) -> Organization:
    units = (
        OrgUnit(ROOT, "Root", None, "Root"),
        OrgUnit(SEC, "Security", ROOT, "Root/Security"),
        OrgUnit(PROD, "Prod", ROOT, "Root/Prod"),
        OrgUnit(DEV, "Dev", ROOT, "Root/Dev"),
        *extra_units,
    )
    accounts = (
        Account(MGMT, "management", "ACTIVE", ROOT),
        Account(LOG, "log-archive", "ACTIVE", SEC),
        Account(AUDIT, "audit", "ACTIVE", SEC),
        Account(PROD1, "prod-1", "ACTIVE", PROD),
        Account(PROD2, "prod-2", "ACTIVE", PROD),
        Account(DEV1, "dev-1", "ACTIVE", DEV),
        Account(DEV2, "dev-2", "ACTIVE", DEV),
        Account(GONE, "closed", "SUSPENDED", DEV),
        *extra_accounts,
    )
    return Organization("o-abcdef1234", MGMT, ROOT, units, tuple(sorted(accounts, key=lambda a: a.id)))


def inventory(org: Organization | None = None, **changes: Any) -> Inventory:
    """A fresh organization: trusted access on, nothing of orgdeploy's, a census that found nothing."""
    org = org or organization()
    facts = tuple(AccountFacts(a.id, True, "", False) for a in org.accounts if a.active)
    base = Inventory(caller_account=MGMT, organization=org, trusted_access="ENABLED", facts=facts)
    return replace(base, **changes)


def with_facts(inv: Inventory, account: str, **changes: Any) -> Inventory:
    facts = tuple(replace(f, **changes) if f.account == account else f for f in inv.facts)
    return replace(inv, facts=facts)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


def configured(tmp_path: Path, **overrides: Any) -> Config:
    return make_config(tmp_path, **overrides)


# -- a model of AWS applying a plan ---------------------------------------------------------------------------


def _targeted(org: Organization, targets: dict[str, Any]) -> list[str]:
    accounts = [a.id for a in org.members_under(targets["OrganizationalUnitIds"])]
    listed = set(targets.get("Accounts") or ())
    kind = targets.get("AccountFilterType", "NONE")
    if kind == "DIFFERENCE":
        return [a for a in accounts if a not in listed]
    if kind == "INTERSECTION":
        return [a for a in accounts if a in listed]
    return accounts


def _apply(the_plan: Plan, inv: Inventory, rendered: RenderedSet, *, managed: bool = True) -> Inventory:
    """What AWS holds once every step of the_plan succeeded (suspended accounts get no instance)."""
    org = inv.organization
    active = {a.id for a in org.accounts if a.active}
    sets = {s.name: s for s in inv.stack_sets}
    stacks = {(s.name, s.account, s.region): s for s in inv.stacks}
    trusted = inv.trusted_access
    for step in the_plan.steps:
        if step.action == "enable_trusted_access":
            trusted = "ENABLED"
        elif step.action == "deploy_stack":
            assert step.account and step.template
            key = (step.target, step.account, step.regions[0])
            body = rendered.get(step.template).body
            stacks[key] = StackState(*key, "CREATE_COMPLETE", body, step.parameters)
        elif step.action in {"create_stack_set", "update_stack_set"}:
            assert step.template and step.auto_deployment is not None
            old = sets.get(step.target)
            sets[step.target] = StackSetState(
                name=step.target,
                arn=f"arn:aws:cloudformation:{HOME}:{MGMT}:stackset/{step.target}:1",
                template_body=rendered.get(step.template).body,
                parameters=step.parameters,
                auto_deployment=bool(step.auto_deployment["Enabled"]),
                depends_on=tuple(sorted(step.auto_deployment.get("DependsOn", []))),
                managed_execution=managed,
                instances=tuple(
                    replace(i, status="CURRENT", detailed_status="SUCCEEDED") for i in (old.instances if old else ())
                ),
            )
        elif step.action in {"create_stack_instances", "update_stack_instances", "delete_stack_instances"}:
            assert step.deployment_targets is not None
            stack_set = sets[step.target]
            touched = {(a, r) for a in _targeted(org, step.deployment_targets) for r in step.regions if a in active}
            kept = [i for i in stack_set.instances if (i.account, i.region) not in touched]
            if step.action != "delete_stack_instances":
                kept += [StackInstance(a, r, "CURRENT", "SUCCEEDED") for a, r in sorted(touched)]
            sets[step.target] = replace(stack_set, instances=tuple(kept))
    return replace(
        inv,
        trusted_access=trusted,
        stack_sets=tuple(sets.values()),
        stacks=tuple(stacks.values()),
        stack_set_count=len(sets),
    )


def converge(config: Config, inv: Inventory) -> Inventory:
    rendered = render_all(config)
    first = plan(config, inv, rendered, PlanOptions(enable_trusted_access=True))
    done = _apply(first, inv, rendered, managed=config.stacksets.managed_execution)
    assert not plan(config, done, rendered).changes, "the model did not converge"
    return done


def steps_by_id(the_plan: Plan) -> dict[str, Step]:
    return {s.id: s for s in the_plan.steps}


def instance_steps(the_plan: Plan, action: str, target: str = RECORDER_SET) -> list[Step]:
    return [s for s in the_plan.steps if s.action == action and s.target == target]


def assert_well_formed(the_plan: Plan) -> None:
    """Ids unique, dependencies on earlier steps only, StackSet operations complete and with valid ids."""
    seen: set[str] = set()
    for step in the_plan.steps:
        assert step.id not in seen, step.id
        assert set(step.depends_on) <= seen, (step.id, step.depends_on)
        seen.add(step.id)
        if step.action in STACK_SET_OPERATIONS:
            assert step.operation_preferences and step.deployment_targets, step
            assert step.operation_id and OPERATION_ID.match(step.operation_id), step.operation_id
            assert len(step.operation_id) <= 128, step.operation_id
            assert len(step.deployment_targets["OrganizationalUnitIds"]) <= OU_BATCH, step.id
    assert the_plan.waves()


def ancestors(the_plan: Plan, step_id: str) -> set[str]:
    by_id = steps_by_id(the_plan)
    found: set[str] = set()
    todo = list(by_id[step_id].depends_on)
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo.extend(by_id[current].depends_on)
    return found


# -- fresh organization: trusted access, order, dependencies ---------------------------------------------------


@pytest.mark.parametrize(
    ("status", "flag", "message"),
    [
        ("DISABLED", False, "--enable-trusted-access"),
        ("DISABLED_PERMANENTLY", False, "DISABLED_PERMANENTLY"),
        ("DISABLED_PERMANENTLY", True, "DISABLED_PERMANENTLY"),
    ],
)
def test_trusted_access_off_blocks_the_plan(config: Config, status: str, flag: bool, message: str) -> None:
    with pytest.raises(PlanBlocked, match=message):
        plan(config, inventory(trusted_access=status), render_all(config), PlanOptions(enable_trusted_access=flag))


FRESH_ORDER = [
    ("trusted-access", "enable_trusted_access", set()),
    ("delivery-bucket", "deploy_stack", set()),
    ("orgdeploy-config-role-create", "create_stack_set", {"trusted-access"}),
    ("role-create-home", "create_stack_instances", {"orgdeploy-config-role-create"}),
    ("orgdeploy-recorder-create", "create_stack_set", {"trusted-access"}),
    (
        "recorder-create-home",
        "create_stack_instances",
        {"orgdeploy-recorder-create", "delivery-bucket", "role-create-home"},
    ),
    ("recorder-create-regions-eu-west-1", "create_stack_instances", {"recorder-create-home"}),
    ("management-role", "deploy_stack", set()),
    ("management-recorder-us-east-1", "deploy_stack", {"management-role", "delivery-bucket"}),
    ("management-recorder-eu-west-1", "deploy_stack", {"management-recorder-us-east-1"}),
    ("aggregator", "deploy_stack", {"trusted-access"}),
    ("pack-baseline-us-east-1", "deploy_stack", {"recorder-create-home", "management-recorder-us-east-1"}),
    (
        "pack-baseline-eu-west-1",
        "deploy_stack",
        {"recorder-create-regions-eu-west-1", "management-recorder-eu-west-1"},
    ),
    ("verify", "verify", {"pack-baseline-us-east-1", "aggregator", "recorder-create-regions-eu-west-1"}),
]


def test_fresh_org_with_the_flag_plans_every_step_in_order(config: Config) -> None:
    the_plan = plan(config, inventory(trusted_access="DISABLED"), render_all(config), PlanOptions(True))

    assert_well_formed(the_plan)
    assert [(s.id, s.action) for s in the_plan.steps] == [(i, a) for i, a, _ in FRESH_ORDER]
    for step_id, _, needs in FRESH_ORDER:
        assert needs <= set(the_plan.step(step_id).depends_on), (step_id, the_plan.step(step_id).depends_on)
    # Every StackSets call comes after trusted access; the last step reads everything back.
    for step in the_plan.steps:
        if step.action in STACK_SET_OPERATIONS or step.action == "create_stack_set":
            assert "trusted-access" in ancestors(the_plan, step.id), step.id
    assert set(the_plan.step("verify").depends_on) == {s.id for s in the_plan.changes}
    home = the_plan.step("recorder-create-home")
    assert home.regions == (HOME,)
    # Suspended accounts are left out of the OU-wide creation; the role skips nobody here.
    assert home.deployment_targets == {
        "OrganizationalUnitIds": [ROOT],
        "Accounts": [GONE],
        "AccountFilterType": "DIFFERENCE",
    }
    assert the_plan.step("recorder-create-regions-eu-west-1").regions == (OTHER,)
    assert the_plan.step("orgdeploy-recorder-create").auto_deployment == {
        "Enabled": True,
        "RetainStacksOnAccountRemoval": False,
        "DependsOn": [ROLE_SET],
    }
    assert [(s.account, s.what) for s in the_plan.skipped if s.what == "account"] == [(GONE, "account")]
    usage = {u.name: u.used for u in the_plan.usage}
    assert usage == {ROLE_SET: 6, RECORDER_SET: 12}


def test_trusted_access_already_on_adds_no_step(config: Config) -> None:
    the_plan = plan(config, inventory(), render_all(config))

    assert_well_formed(the_plan)
    assert "trusted-access" not in steps_by_id(the_plan)
    assert the_plan.step("orgdeploy-config-role-create").depends_on == ()
    assert [s.id for s in the_plan.steps] == [i for i, _, _ in FRESH_ORDER if i != "trusted-access"]


# -- converged, retries, a new Region ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"targets": {"organizational_units": [PROD, DEV]}},
        {"targets": {"organizational_units": ["ROOT"], "exclude_accounts": [AUDIT]}},
        {"regions": ["us-east-1", "eu-west-1", "ap-southeast-2"], "management_account": {"deploy": False}},
    ],
    ids=["root", "two-ous", "exclude-an-account", "three-regions-no-management"],
)
def test_converged_inventory_plans_no_changes(tmp_path: Path, overrides: dict[str, Any]) -> None:
    config = configured(tmp_path, **overrides)
    done = converge(config, inventory(trusted_access="DISABLED"))

    again = plan(config, done, render_all(config))

    assert again.changes == ()
    assert again.steps == ()  # not even a verify step
    assert {u.name for u in again.usage} == {ROLE_SET, RECORDER_SET}


def test_instances_not_current_are_retried_for_exactly_those_accounts(config: Config) -> None:
    done = converge(config, inventory())
    broken = {
        (PROD1, HOME): ("OUTDATED", "FAILED"),
        (DEV1, OTHER): ("OUTDATED", "CANCELLED"),
        (LOG, OTHER): ("OUTDATED", "FAILED"),
    }
    recorder = done.stack_set(RECORDER_SET)
    assert recorder is not None
    instances = tuple(
        replace(i, status=broken[(i.account, i.region)][0], detailed_status=broken[(i.account, i.region)][1])
        if (i.account, i.region) in broken
        else i
        for i in recorder.instances
    )
    damaged = replace(
        done,
        stack_sets=tuple(replace(s, instances=instances) if s.name == RECORDER_SET else s for s in done.stack_sets),
    )

    the_plan = plan(config, damaged, render_all(config))

    assert_well_formed(the_plan)
    assert {s.action for s in the_plan.changes} == {"update_stack_instances"}
    retried = {
        region: tuple(step.deployment_targets["Accounts"])  # type: ignore[index]
        for step in the_plan.changes
        for region in step.regions
    }
    assert retried == {HOME: (PROD1,), OTHER: (LOG, DEV1)}
    for step in the_plan.changes:
        assert step.target == RECORDER_SET
        assert step.deployment_targets["AccountFilterType"] == "INTERSECTION"  # type: ignore[index]
    home_retry = next(s for s in the_plan.changes if s.regions == (HOME,))
    other_retry = next(s for s in the_plan.changes if s.regions == (OTHER,))
    assert home_retry.id in other_retry.depends_on
    # Retrying heals: the model converges again.
    assert not plan(config, _apply(the_plan, damaged, render_all(config)), render_all(config)).changes


def test_a_region_added_plans_only_that_region(tmp_path: Path) -> None:
    before = configured(tmp_path)
    done = converge(before, inventory())
    after = configured(tmp_path, regions=["us-east-1", "eu-west-1", "eu-central-1"])

    the_plan = plan(after, done, render_all(after))

    assert_well_formed(the_plan)
    changes = {(s.action, s.target, s.account, s.regions) for s in the_plan.changes}
    assert changes == {
        ("create_stack_instances", RECORDER_SET, None, ("eu-central-1",)),
        ("deploy_stack", RECORDER_SET, MGMT, ("eu-central-1",)),
        ("deploy_stack", "orgdeploy-pack-baseline", MGMT, ("eu-central-1",)),
    }
    [create] = instance_steps(the_plan, "create_stack_instances")
    assert create.deployment_targets == {
        "OrganizationalUnitIds": [ROOT],
        "Accounts": [GONE],
        "AccountFilterType": "DIFFERENCE",
    }
    # The six active members: what a listing of the operation's results will cost the executor.
    assert create.expected_instances == 6
    pack = next(s for s in the_plan.changes if s.target == "orgdeploy-pack-baseline")
    assert create.id in pack.depends_on


# -- accounts with a recorder orgdeploy did not make ------------------------------------------------------------


def test_foreign_recorder_is_skipped_excluded_and_left_out_of_the_pack(config: Config) -> None:
    inv = with_facts(inventory(), DEV2, recorders=((OTHER, RecorderFact("default", "unknown", False)),))

    the_plan = plan(config, inv, render_all(config))

    assert_well_formed(the_plan)
    recorder_skips = [s for s in the_plan.skipped if s.what == "recorder"]
    assert [(s.account, s.region) for s in recorder_skips] == [(DEV2, OTHER)]
    assert "default" in recorder_skips[0].reason
    other = the_plan.step("recorder-create-regions-eu-west-1")
    assert other.deployment_targets == {
        "OrganizationalUnitIds": [ROOT],
        "Accounts": [DEV2, GONE],
        "AccountFilterType": "DIFFERENCE",
    }
    assert DEV2 not in the_plan.step("recorder-create-home").deployment_targets["Accounts"]  # type: ignore[index]
    excluded = {
        region: dict(the_plan.step(f"pack-baseline-{region}").parameters)["ExcludedAccounts"].split(",")
        for region in (HOME, OTHER)
    }
    assert excluded == {HOME: [GONE], OTHER: [DEV2, GONE]}
    assert {u.name: u.used for u in the_plan.usage}[RECORDER_SET] == 11
    # Re-planning the converged model keeps dev-2 out of eu-west-1 and plans nothing.
    done = _apply(the_plan, inv, render_all(config))
    assert (DEV2, OTHER) not in {(i.account, i.region) for i in done.stack_set(RECORDER_SET).instances}  # type: ignore[union-attr]
    assert not plan(config, done, render_all(config)).changes


def test_a_foreign_recorder_that_records_counts_for_the_pack(config: Config) -> None:
    inv = with_facts(inventory(), DEV2, recorders=((OTHER, RecorderFact("aws-controltower-x", "control-tower", True)),))

    the_plan = plan(config, inv, render_all(config))

    excluded = dict(the_plan.step(f"pack-baseline-{OTHER}").parameters)["ExcludedAccounts"].split(",")
    assert excluded == [GONE]
    assert [(s.account, s.region) for s in the_plan.skipped if s.what == "recorder"] == [(DEV2, OTHER)]


def test_existing_recorder_fail_blocks_before_any_change(tmp_path: Path) -> None:
    config = configured(tmp_path, recording={"existing_recorder": "fail"})
    inv = with_facts(inventory(), DEV2, recorders=((OTHER, RecorderFact("default", "unknown", False)),))

    with pytest.raises(PlanBlocked, match=DEV2):
        plan(config, inv, render_all(config))


def test_account_already_holding_the_role_is_skipped_by_the_role_stack_set(config: Config) -> None:
    inv = with_facts(inventory(), LOG, has_service_linked_role=True)

    the_plan = plan(config, inv, render_all(config))

    targets = the_plan.step("role-create-home").deployment_targets
    assert targets == {"OrganizationalUnitIds": [ROOT], "Accounts": [LOG, GONE], "AccountFilterType": "DIFFERENCE"}
    assert LOG not in the_plan.step("recorder-create-home").deployment_targets["Accounts"]  # type: ignore[index]


# -- many OUs -------------------------------------------------------------------------------------------------


def many_ous(count: int) -> tuple[Organization, list[str]]:
    units = [OrgUnit(f"ou-ab12-{n:08d}", f"unit-{n}", ROOT, f"Root/unit-{n}") for n in range(count)]
    accounts = [Account(f"5{n:011d}", f"acct-{n}", "ACTIVE", unit.id) for n, unit in enumerate(units)]
    return organization(units, accounts), [u.id for u in units]


def test_ou_targets_are_batched_fifty_per_operation(tmp_path: Path) -> None:
    org, unit_ids = many_ous(120)
    config = configured(tmp_path, targets={"organizational_units": unit_ids})

    the_plan = plan(config, inventory(org), render_all(config))

    assert_well_formed(the_plan)
    for target in (ROLE_SET, RECORDER_SET):
        for region in (HOME, OTHER) if target == RECORDER_SET else (HOME,):
            batches = [s for s in instance_steps(the_plan, "create_stack_instances", target) if s.regions == (region,)]
            sizes = [len(s.deployment_targets["OrganizationalUnitIds"]) for s in batches]  # type: ignore[index]
            assert sizes == [50, 50, 20], (target, region, sizes)
            covered = [u for s in batches for u in s.deployment_targets["OrganizationalUnitIds"]]  # type: ignore[index]
            assert covered == unit_ids
    ids = [s.id for s in the_plan.steps]
    assert len(ids) == len(set(ids))
    assert len({s.operation_id for s in the_plan.steps if s.operation_id}) == len(
        [s for s in the_plan.steps if s.operation_id]
    )


def test_other_regions_and_packs_wait_for_every_home_region_batch(tmp_path: Path) -> None:
    org, unit_ids = many_ous(120)
    config = configured(tmp_path, targets={"organizational_units": unit_ids})

    the_plan = plan(config, inventory(org), render_all(config))

    home = [s.id for s in instance_steps(the_plan, "create_stack_instances") if s.regions == (HOME,)]
    other = [s.id for s in instance_steps(the_plan, "create_stack_instances") if s.regions == (OTHER,)]
    assert len(home) == 3 and len(other) == 3
    role = [s.id for s in instance_steps(the_plan, "create_stack_instances", ROLE_SET)]
    for step_id in home:
        assert set(role) <= ancestors(the_plan, step_id), (step_id, the_plan.step(step_id).depends_on)
    for step_id in other:
        assert set(home) <= ancestors(the_plan, step_id), (step_id, the_plan.step(step_id).depends_on)
    for region, batches in ((HOME, home), (OTHER, other)):
        pack = f"pack-baseline-{region}"
        assert set(batches) <= ancestors(the_plan, pack), (pack, the_plan.step(pack).depends_on)


# -- operation ids ---------------------------------------------------------------------------------------------


def test_operation_ids_are_deterministic_valid_and_change_with_the_call(tmp_path: Path) -> None:
    config = configured(
        tmp_path,
        regions=["us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2", "ap-northeast-1", "sa-east-1"],
        stacksets={"name_prefix": "a" * 64},
    )
    inv = inventory(trusted_access="DISABLED")
    rendered = render_all(config)

    first = plan(config, inv, rendered, PlanOptions(True))
    second = plan(config, inv, render_all(config), PlanOptions(True))

    assert first.to_dict() == second.to_dict()
    assert_well_formed(first)
    ids = [s.operation_id for s in first.steps if s.action in STACK_SET_OPERATIONS]
    assert ids and len(ids) == len(set(ids))
    # Another account in the organization is another call: a new id, not the replay of the old one.
    grown = inventory(organization(extra_accounts=[Account("300000000003", "prod-3", "INACTIVE", PROD)]))
    grown = replace(grown, trusted_access="DISABLED")
    third = plan(config, grown, rendered, PlanOptions(True))
    assert third.step("recorder-create-home").operation_id != first.step("recorder-create-home").operation_id


def test_a_failed_operation_gets_a_new_id_on_the_next_run_and_one_in_flight_keeps_its_id(config: Config) -> None:
    rendered = render_all(config)
    done = converge(config, inventory())
    recorders = done.stack_set(RECORDER_SET)
    assert recorders is not None
    failed = tuple(
        replace(i, status="OUTDATED", detailed_status="FAILED") if i.account == DEV1 else i for i in recorders.instances
    )
    broken = replace(
        done, stack_sets=tuple(replace(s, instances=failed) if s.name == RECORDER_SET else s for s in done.stack_sets)
    )
    first = plan(config, broken, rendered).step("recorder-retry-home")
    # The retry was started and is still running: a crash-resume plans the same id and adopts that operation.
    running = replace(
        recorders, instances=failed, operations_in_flight=(Operation(first.operation_id or "", "UPDATE", "RUNNING"),)
    )
    resumed = replace(broken, stack_sets=tuple(running if s.name == RECORDER_SET else s for s in broken.stack_sets))
    assert plan(config, resumed, rendered).step("recorder-retry-home").operation_id == first.operation_id
    # It failed: the stack set's newest ended operation is that one, so the next run is a new attempt.
    ended = replace(recorders, instances=failed, last_finished_operation=first.operation_id or "")
    after_failure = replace(broken, stack_sets=tuple(ended if s.name == RECORDER_SET else s for s in broken.stack_sets))
    again = plan(config, after_failure, rendered).step("recorder-retry-home")
    assert again.operation_id != first.operation_id
    assert again.deployment_targets == first.deployment_targets


def test_an_account_suspended_after_deployment_keeps_its_instances_and_plans_nothing(config: Config) -> None:
    done = converge(config, inventory())
    org = done.organization
    suspended = replace(
        org, accounts=tuple(replace(a, status="SUSPENDED") if a.id == DEV1 else a for a in org.accounts)
    )
    skipped = tuple(
        replace(
            s,
            instances=tuple(
                replace(i, detailed_status="SKIPPED_SUSPENDED_ACCOUNT") if i.account == DEV1 else i for i in s.instances
            ),
        )
        for s in done.stack_sets
    )
    later = replace(
        done, organization=suspended, stack_sets=skipped, facts=tuple(f for f in done.facts if f.account != DEV1)
    )

    the_plan = plan(config, later, render_all(config))

    assert not [s for s in the_plan.steps if s.action == "delete_stack_instances"]
    assert (DEV1, None, "account") in {(s.account, s.region, s.what) for s in the_plan.skipped}


def test_an_unreadable_account_is_unknown_not_clean(config: Config) -> None:
    rendered = render_all(config)
    done = converge(config, inventory())
    unreadable = with_facts(done, DEV2, reachable=False, reason="AccessDenied: not authorized to assume the role")

    with pytest.raises(PlanBlocked, match=r"could not read 1 account\(s\): dev-2 400000000002 \(AccessDenied"):
        plan(config, unreadable, rendered)
    the_plan = plan(config, unreadable, rendered, PlanOptions(skip_unreadable=True))
    # Its instances stay as they are, and the packs leave it out.
    assert not [s for s in the_plan.steps if s.action == "delete_stack_instances"]
    assert (DEV2, None, "account") in {(s.account, s.region, s.what) for s in the_plan.skipped}
    packs = [s for s in the_plan.steps if s.template == "pack:baseline"]
    assert packs and all(DEV2 in dict(s.parameters)["ExcludedAccounts"].split(",") for s in packs)


def test_the_management_account_without_a_recorder_in_a_region_is_excluded_from_that_pack(config: Config) -> None:
    inv = with_facts(inventory(), MGMT, disabled_regions=(OTHER,))

    the_plan = plan(config, inv, render_all(config))

    assert "management-recorder-eu-west-1" not in steps_by_id(the_plan)
    excluded = {
        region: dict(the_plan.step(f"pack-baseline-{region}").parameters)["ExcludedAccounts"].split(",")
        for region in (HOME, OTHER)
    }
    assert MGMT in excluded[OTHER] and MGMT not in excluded[HOME]
    assert the_plan.step(f"pack-baseline-{OTHER}").exclude_failed_recorders_of == (RECORDER_SET,)


def test_pack_buckets_get_a_key_of_their_own_region_or_sse_s3_with_a_note(tmp_path: Path) -> None:
    key = "arn:aws:kms:{}:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    config = configured(
        tmp_path, delivery={"kms_key_arn": key.format(HOME), "pack_bucket_kms_keys": {HOME: key.format(HOME)}}
    )
    the_plan = plan(config, inventory(), render_all(config))

    keys = {r: dict(the_plan.step(f"pack-baseline-{r}").parameters)["PackBucketKmsKeyArn"] for r in (HOME, OTHER)}
    assert keys == {HOME: key.format(HOME), OTHER: ""}
    assert any("conformance-pack buckets in eu-west-1 use SSE-S3" in note for note in the_plan.notes)


@pytest.mark.parametrize("managed", [True, False])
def test_without_managed_execution_a_stack_sets_operations_run_one_after_another(tmp_path: Path, managed: bool) -> None:
    both = configured(tmp_path, stacksets={"managed_execution": managed})
    done = converge(both, inventory())
    recorders = done.stack_set(RECORDER_SET)
    assert recorders is not None
    stale = tuple(
        replace(i, status="OUTDATED") if (i.account, i.region) == (DEV1, HOME) else i for i in recorders.instances
    )
    changed = replace(
        done, stack_sets=tuple(replace(s, instances=stale) if s.name == RECORDER_SET else s for s in done.stack_sets)
    )
    home_only = configured(tmp_path, regions=[HOME], stacksets={"managed_execution": managed})

    the_plan = plan(home_only, changed, render_all(home_only))

    operations = [s for s in the_plan.steps if s.action in STACK_SET_OPERATIONS and s.target == RECORDER_SET]
    assert {s.action for s in operations} == {"update_stack_instances", "delete_stack_instances"}
    first, second = operations
    assert (first.id in ancestors(the_plan, second.id)) is not managed
    assert_well_formed(the_plan)


def test_an_inoperable_instance_is_released_with_its_stack_kept_then_created_again(config: Config) -> None:
    done = converge(config, inventory())
    recorders = done.stack_set(RECORDER_SET)
    assert recorders is not None
    stuck = tuple(
        replace(i, status="INOPERABLE", detailed_status="INOPERABLE") if (i.account, i.region) == (DEV1, OTHER) else i
        for i in recorders.instances
    )
    broken = replace(
        done, stack_sets=tuple(replace(s, instances=stuck) if s.name == RECORDER_SET else s for s in done.stack_sets)
    )

    the_plan = plan(config, broken, render_all(config))

    assert_well_formed(the_plan)
    release = the_plan.step("recorder-release-inoperable-eu-west-1")
    assert (release.action, release.retain_stacks, release.regions) == ("delete_stack_instances", True, (OTHER,))
    assert release.deployment_targets == {
        "OrganizationalUnitIds": [ROOT],
        "Accounts": [DEV1],
        "AccountFilterType": "INTERSECTION",
    }
    [create] = instance_steps(the_plan, "create_stack_instances")
    assert create.regions == (OTHER,) and create.deployment_targets["Accounts"] == [DEV1]  # type: ignore[index]
    assert release.id in ancestors(the_plan, create.id)
    assert not instance_steps(the_plan, "update_stack_instances")


def test_an_instance_auto_deployment_put_in_an_excluded_account_is_removed_on_the_next_run(tmp_path: Path) -> None:
    # Auto-deployment ignores account filters: moving dev-1 between target OUs gave it an instance anyway.
    config = configured(tmp_path, targets={"exclude_accounts": [DEV1]})
    done = converge(config, inventory())
    recorders = done.stack_set(RECORDER_SET)
    assert recorders is not None and DEV1 not in {i.account for i in recorders.instances}
    placed = replace(recorders, instances=(*recorders.instances, StackInstance(DEV1, HOME, "CURRENT", "SUCCEEDED")))
    moved = replace(done, stack_sets=tuple(placed if s.name == RECORDER_SET else s for s in done.stack_sets))

    the_plan = plan(config, moved, render_all(config))

    [delete] = instance_steps(the_plan, "delete_stack_instances")
    assert delete.regions == (HOME,) and delete.deployment_targets["Accounts"] == [DEV1]  # type: ignore[index]


def test_a_region_dropped_from_a_pack_and_a_pack_gone_from_the_config_are_removed(tmp_path: Path) -> None:
    config = configured(tmp_path)
    done = converge(config, inventory())
    orphan = StackState("orgdeploy-pack-retired", MGMT, HOME, "CREATE_COMPLETE", "{}", ())
    with_orphan = replace(done, stacks=(*done.stacks, orphan))
    narrowed = configured(
        tmp_path, conformance_packs=[{"name": "baseline", "template": "packs/baseline.yaml", "regions": [HOME]}]
    )

    the_plan = plan(narrowed, with_orphan, render_all(narrowed))

    removed = {(s.target, s.regions) for s in the_plan.steps if s.action == "delete_stack"}
    assert removed == {("orgdeploy-pack-baseline", (OTHER,)), ("orgdeploy-pack-retired", (HOME,))}
