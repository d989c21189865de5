"""Time the pure planner on a large synthetic organization (default 9,000 accounts x 17 Regions).

Builds an Inventory by hand (no AWS): accounts spread over several OUs, a census
fact for every account, the documented quotas (100,000 instances per stack
set). Prints the median planning time, the recorder shards with their instance
counts, and the quota lines `orgdeploy plan` prints.

Scenarios: `fresh` plans a first bootstrap; `converged` re-plans once the
shards hold every instance (the steady state of `orgdeploy update`).

Run: python benchmarks/plan_scale.py [--runs N] [--accounts N] [--regions N] [--scenario fresh|converged|both]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orgdeploy.config.model import parse_config
from orgdeploy.planning.inventory import (
    Account,
    AccountFacts,
    Inventory,
    Organization,
    OrgUnit,
    StackInstance,
    StackSetState,
    StackState,
)
from orgdeploy.planning.plan import Plan
from orgdeploy.planning.planner import plan
from orgdeploy.templates.jinja import cfn_dir
from orgdeploy.templates.render import RenderedSet, render_all

REGIONS = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "sa-east-1",
]
MGMT = "100000000000"
ROOT = "r-ab12"
# Share of the accounts in each OU: one OU too big for a shard, the rest whole OUs.
OU_SHARES = (0.45, 0.15, 0.15, 0.1, 0.1, 0.05)


def build_organization(accounts: int, seed: int = 0) -> Organization:
    rng = random.Random(seed)
    units = [OrgUnit(ROOT, "Root", None, "Root")]
    members = [Account(MGMT, "management", "ACTIVE", ROOT)]
    used = {MGMT}
    counts = [int(accounts * share) for share in OU_SHARES]
    counts[0] += accounts - sum(counts)
    for index, count in enumerate(counts):
        unit = f"ou-ab12-{index:08d}"
        units.append(OrgUnit(unit, f"unit-{index}", ROOT, f"Root/unit-{index}"))
        for _ in range(count):
            account = f"{rng.randrange(10**11, 10**12):012d}"
            while account in used:
                account = f"{rng.randrange(10**11, 10**12):012d}"
            used.add(account)
            members.append(Account(account, "member", "ACTIVE", unit))
    return Organization("o-abcdef1234", MGMT, ROOT, tuple(units), tuple(sorted(members, key=lambda a: a.id)))


def build_inventory(org: Organization) -> Inventory:
    """A first bootstrap: trusted access on, a census that found no recorders, nothing of orgdeploy's."""
    facts = tuple(AccountFacts(a.id, True, "", False) for a in org.accounts)
    return Inventory(caller_account=MGMT, organization=org, trusted_access="ENABLED", facts=facts)


def converged(inventory: Inventory, first: Plan, rendered: RenderedSet) -> Inventory:
    """The inventory once every step of the first plan succeeded: stack sets with their instances, and stacks."""
    org = inventory.organization
    sets = []
    for name in first.desired_stack_sets:
        creates = [s for s in first.steps if s.target == name and s.action == "create_stack_instances"]
        pairs = set()
        for step in creates:
            targets = step.deployment_targets or {}
            accounts = {a.id for a in org.members_under(targets["OrganizationalUnitIds"])}
            listed = set(targets.get("Accounts") or ())
            if targets.get("AccountFilterType") == "INTERSECTION":
                accounts &= listed
            elif targets.get("AccountFilterType") == "DIFFERENCE":
                accounts -= listed
            pairs |= {(a, r) for a in accounts for r in step.regions}
        [create_set] = [s for s in first.steps if s.target == name and s.action == "create_stack_set"]
        auto = create_set.auto_deployment or {}
        sets.append(
            StackSetState(
                name=name,
                arn=f"arn:aws:cloudformation:us-east-1:{MGMT}:stackset/{name}:1",
                template_body=rendered.get(create_set.template or "").body,
                parameters=create_set.parameters,
                auto_deployment=bool(auto.get("Enabled")),
                depends_on=tuple(auto.get("DependsOn", [])),
                managed_execution=True,
                instances=tuple(StackInstance(a, r, "CURRENT", "SUCCEEDED") for a, r in sorted(pairs)),
            )
        )
    stacks = tuple(
        StackState(
            s.target,
            s.account or MGMT,
            s.regions[0],
            "CREATE_COMPLETE",
            rendered.get(s.template or "").body,
            s.parameters,
        )
        for s in first.steps
        if s.action == "deploy_stack"
    )
    return replace(inventory, stack_sets=tuple(sets), stacks=stacks, stack_set_count=len(sets))


def timed(config: object, inventory: Inventory, rendered: RenderedSet, runs: int) -> tuple[float, Plan]:
    samples = []
    result = None
    for _ in range(runs):
        start = time.perf_counter()
        result = plan(config, inventory, rendered)  # type: ignore[arg-type]
        samples.append(time.perf_counter() - start)
    assert result is not None
    return statistics.median(samples), result


def report(name: str, seconds: float, runs: int, the_plan: Plan) -> None:
    shards = [u for u in the_plan.usage if u.name != the_plan.desired_stack_sets[0]]
    print(f"[{name}] planning time: {seconds:.3f} s (median of {runs})")
    print(f"[{name}] steps: {len(the_plan.steps)} ({len(the_plan.changes)} changes)")
    print(f"[{name}] recorder shards: {len(shards)}")
    for usage in shards:
        print(f"[{name}]   {usage.name}: {usage.used:,} instances")
    print(f"[{name}] Quota usage (instances per stack set):")
    for usage in the_plan.usage:
        print(f"[{name}]   {usage.line()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--accounts", type=int, default=9000)
    parser.add_argument("--regions", type=int, default=len(REGIONS), choices=range(1, len(REGIONS) + 1))
    parser.add_argument("--scenario", choices=("fresh", "converged", "both"), default="both")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        pack = Path(folder) / "packs" / "baseline.yaml"
        pack.parent.mkdir()
        pack.write_text((cfn_dir() / "packs" / "baseline.yaml").read_text(encoding="utf-8"), encoding="utf-8")
        regions = REGIONS[: args.regions]
        config = parse_config(
            {
                "home_region": regions[0],
                "regions": regions,
                "conformance_packs": [{"name": "baseline", "template": "packs/baseline.yaml"}],
            },
            source="benchmark",
            base_dir=Path(folder),
        )
        rendered = render_all(config)
    build_start = time.perf_counter()
    org = build_organization(args.accounts)
    inventory = build_inventory(org)
    print(f"organization: {args.accounts:,} accounts in {len(org.units) - 1} OUs x {len(regions)} Regions")
    quota = inventory.quotas.instances_per_stack_set
    print(f"inventory built in {time.perf_counter() - build_start:.2f} s; quota {quota:,} instances per stack set")

    seconds, first = timed(config, inventory, rendered, args.runs if args.scenario != "converged" else 1)
    if args.scenario in ("fresh", "both"):
        report("fresh", seconds, args.runs, first)
    if args.scenario in ("converged", "both"):
        steady = converged(inventory, first, rendered)
        instances = sum(len(s.instances) for s in steady.stack_sets)
        print(f"[converged] stack sets hold {instances:,} instances")
        seconds, again = timed(config, steady, rendered, args.runs)
        report("converged", seconds, args.runs, again)


if __name__ == "__main__":
    main()
