"""The census reads only what the deployed state cannot vouch for (planning/census_scope.py), and the
planner plans the same from vouched facts as from read ones."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from orgdeploy.config.model import Config
from orgdeploy.planning.census_scope import CensusScope, census_scope, problem_pairs
from orgdeploy.planning.inventory import Account, AccountFacts, Inventory, StackInstance, StackSetState
from orgdeploy.planning.planner import plan
from orgdeploy.templates.render import render_all
from tests.helpers import make_config
from tests.unit.test_planner import (
    DEV,
    DEV1,
    HOME,
    LOG,
    MGMT,
    OTHER,
    PROD1,
    RECORDER_SET,
    ROLE_SET,
    converge,
    inventory,
    organization,
    with_facts,
)


def _scope(config: Config, inv: Inventory, **kwargs: object) -> CensusScope:
    org = inv.organization
    accounts = [a.id for a in org.members_under(["ROOT"]) if a.active] + [MGMT]
    recorder_set = inv.stack_set(RECORDER_SET)
    return census_scope(
        accounts=accounts,
        regions=tuple(config.regions),
        management=MGMT,
        recorder_sets=(recorder_set,) if recorder_set else (),
        management_stacks=tuple(s for s in inv.stacks if s.name == RECORDER_SET and s.account == MGMT),
        role_set=inv.stack_set(ROLE_SET),
        **kwargs,  # type: ignore[arg-type]
    )


def _vouched_facts(inv: Inventory, scope: CensusScope) -> Inventory:
    """The facts a census with this scope returns when every account it reads holds nothing."""
    facts = []
    for account, regions in scope.reads.items():
        vouched = scope.vouched[account]
        if regions:
            facts.append(AccountFacts(account, True, "", False, vouched_regions=vouched))
        else:
            facts.append(AccountFacts(account, True, vouched_regions=vouched))
    return replace(inv, facts=tuple(facts))


def _with_instance(inv: Inventory, name: str, account: str, region: str, **changes: str) -> Inventory:
    def changed(state: StackSetState) -> StackSetState:
        found = [replace(i, **changes) if (i.account, i.region) == (account, region) else i for i in state.instances]
        return replace(state, instances=tuple(found))

    return replace(inv, stack_sets=tuple(changed(s) if s.name == name else s for s in inv.stack_sets))


def test_a_fresh_organization_is_read_in_full(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    scope = _scope(config, inventory())

    assert all(regions == tuple(config.regions) for regions in scope.reads.values())
    assert not any(scope.vouched.values())


def test_a_converged_organization_reads_no_account_and_plans_nothing(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    done = converge(config, inventory())

    scope = _scope(config, done)

    assert scope.accounts_read == []
    assert all(regions == tuple(config.regions) for regions in scope.vouched.values())
    assert not plan(config, _vouched_facts(done, scope), render_all(config)).changes


def test_an_account_that_held_the_role_before_stays_skipped_without_being_read(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    done = converge(config, with_facts(inventory(), LOG, has_service_linked_role=True))
    assert done.stack_set(ROLE_SET) is not None and done.stack_set(ROLE_SET).instance(LOG, HOME) is None  # type: ignore[union-attr]

    scope = _scope(config, done)
    the_plan = plan(config, _vouched_facts(done, scope), render_all(config))

    assert LOG not in scope.accounts_read
    assert not the_plan.changes
    assert any(s.account == LOG and s.what == "service-linked role" for s in the_plan.skipped)


def test_a_joined_account_and_a_failed_instance_are_all_that_is_read(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    done = converge(config, inventory())
    joined = "400000000077"
    grown = replace(done, organization=organization(extra_accounts=[Account(joined, "dev-3", "ACTIVE", DEV)]))
    grown = _with_instance(grown, RECORDER_SET, PROD1, OTHER, status="OUTDATED", detailed_status="FAILED")

    scope = _scope(config, grown)

    assert scope.reads[joined] == tuple(config.regions)
    assert scope.reads[PROD1] == (OTHER,)
    assert scope.vouched[PROD1] == (HOME,)
    assert sorted(scope.accounts_read) == sorted([joined, PROD1])
    the_plan = plan(config, _vouched_facts(grown, scope), render_all(config))
    created = [s for s in the_plan.steps if s.action == "create_stack_instances" and s.target == RECORDER_SET]
    assert created and all(s.deployment_targets["Accounts"] == [joined] for s in created)  # type: ignore[index]


def test_the_aggregators_failing_sources_are_read_again(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    done = converge(config, inventory())
    problems = problem_pairs([(DEV1, OTHER, "OUTDATED"), (LOG, HOME, "SUCCEEDED"), (MGMT, HOME, "FAILED")])

    scope = _scope(config, done, source_problems=problems)

    assert scope.reads[DEV1] == (OTHER,)
    assert scope.reads[MGMT] == (HOME,)
    assert scope.reads[LOG] == ()


def test_a_broken_role_instance_reads_the_whole_account_and_full_reads_everything(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    done = converge(config, inventory())
    broken = _with_instance(done, ROLE_SET, DEV1, HOME, status="OUTDATED", detailed_status="FAILED")

    assert _scope(config, broken).reads[DEV1] == tuple(config.regions)
    full = _scope(config, done, full=True)
    assert all(regions == tuple(config.regions) for regions in full.reads.values())


def test_vouched_facts_say_the_role_exists_only_when_no_region_was_read() -> None:
    assert AccountFacts("1", True, vouched_regions=("us-east-1",)).role_exists
    assert not AccountFacts("1", True).role_exists
    assert not AccountFacts("1", True, "", False, vouched_regions=("us-east-1",)).role_exists
    assert StackInstance("1", HOME, "CURRENT", "SUCCEEDED").healthy
