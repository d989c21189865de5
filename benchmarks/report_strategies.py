"""Both `orgdeploy report` strategies over a large synthetic organization served by the sandbox.

The script builds the evaluations of 1,000 accounts x 17 Regions x 40 rules itself, with 20 evaluated
resources in every account and Region of which 5% fail one rule, and pack-suffixed rule names that
differ per account and Region. It installs them in the sandbox's evaluation store (with a recording
recorder in every account and Region and an account aggregator over them) and stops the store from
re-syncing with moto, which holds no such organization. Both strategies then read it through boto3
and the real moto server's aggregate APIs, and the script prints, side by side:

- API calls, per API and in total;
- wall time, with orgdeploy's rate limit switched off, so it measures the work and not the waiting;
- simulated time under a per-API rate limit of RATE calls a second (default: the report's own
  limit, orgdeploy.aws.compliance.DEFAULT_RATE; AWS publishes no figure). An API's calls go out at
  that rate, in parallel with nothing else: simulated time = sum over APIs of calls / RATE.

Page sizes decide the ratio: the query returns 100 non-compliant resources a page, while the rules
strategy needs at least one detail call per non-compliant (rule, account, Region). The ratio is
therefore about 100 / (non-compliant resources per non-compliant triple); here that is close to 1.
The two strategies must return the same rows; the script checks it. The last line is the call ratio.

Run: python benchmarks/report_strategies.py [--accounts N] [--regions N] [--rules N] [--rate R]
"""

from __future__ import annotations

import argparse
import random
import string
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3
from botocore.config import Config as BotoConfig
from moto.config.models import config_backends

from orgdeploy.aws.compliance import DEFAULT_RATE, read_report
from orgdeploy.sandbox.compliance import evaluations
from orgdeploy.sandbox.compliance.evaluations import MemberRule, Result
from orgdeploy.sandbox.compliance.managed_rules import ACCOUNT, MANAGED_RULES
from orgdeploy.sandbox.compliance.packs import PackRule
from orgdeploy.sandbox.org.account_api import DEFAULT_REGIONS
from orgdeploy.sandbox.server import start_sandbox

AGGREGATOR = "orgdeploy"
# The Regions every account has on: the commercial ones enabled by default, home first.
COMMERCIAL = [
    "us-east-1",
    *sorted(r for r in DEFAULT_REGIONS if r != "us-east-1" and not r.startswith(("cn-", "us-gov-"))),
]


NONCOMPLIANT_SHARE = 0.05


def _suffix(rng: random.Random, length: int) -> str:
    return "".join(rng.choices(string.ascii_lowercase + string.digits, k=length))


def synthetic_evaluations(
    management: str, accounts: int, regions: list[str], rules: int, resources: int, seed: int = 0
) -> tuple[list[str], int, int]:
    """Fill the sandbox's evaluation store; returns (account ids, resources evaluated, non-compliant)."""
    rng = random.Random(f"synthetic/{seed}")
    managed = sorted(MANAGED_RULES.values(), key=lambda r: r.identifier)
    specs = [
        PackRule("baseline", f"{managed[n % len(managed)].identifier.lower().replace('_', '-')}-{n}", "AWS",
                 managed[n % len(managed)].identifier)
        for n in range(rules)
    ]  # fmt: skip
    ids = [management, *(str(n) for n in rng.sample(range(10**11, 10**12), accounts - 1))]
    store = evaluations.current()
    evaluated = failing = 0
    now = time.time()
    for account in ids:
        for region in regions:
            backend = config_backends[account][region]
            name = f"role/{account}"
            backend.put_configuration_recorder({"name": "default", "roleARN": f"arn:aws:iam::{account}:{name}"})
            backend.recorders["default"].status.recording = True
            member_pack = f"OrgConformsPack-baseline-{_suffix(rng, 8)}"
            suffix = _suffix(rng, 9)
            place = [MemberRule(account, region, f"{s.name}-conformance-pack-{suffix}", member_pack, management, s, now)
                     for s in specs]  # fmt: skip
            for rule in place:
                store.rules[(account, region, rule.name)] = rule
            for number in range(resources):
                rule = rng.choice(place)
                kind = MANAGED_RULES[rule.spec.identifier].resource_type
                resource = account if kind == ACCOUNT else f"{kind.rsplit('::', 1)[-1].lower()}-{number}"
                bad = rng.random() < NONCOMPLIANT_SHARE
                result = Result(kind, resource, "NON_COMPLIANT" if bad else "COMPLIANT", "synthetic", now, now)
                store.results.setdefault((account, region, rule.name), {})[(kind, resource)] = result
                evaluated, failing = evaluated + 1, failing + bad
    store.version += 1
    store.sync = lambda **_: None  # type: ignore[method-assign]  # moto holds no such organization to sync with
    return ids, evaluated, failing


def _run(client: Any, strategy: str, workers: int) -> tuple[Any, float]:
    start = time.perf_counter()
    report = read_report(client, aggregator=AGGREGATOR, strategy=strategy, rate=None, workers=workers)
    return report, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--regions", type=int, default=17, choices=range(1, len(COMMERCIAL) + 1), metavar="N")
    parser.add_argument("--rules", type=int, default=40)
    parser.add_argument("--resources", type=int, default=20, help="resources per account and Region")
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE, help="calls a second per API, for simulated time")
    parser.add_argument("--workers", type=int, default=8, help="threads for the rules strategy's detail calls")
    args = parser.parse_args()

    sandbox = start_sandbox(op_seconds=0, accounts=4)
    try:
        started = time.perf_counter()
        management = sandbox.summary.management_account_id
        regions = COMMERCIAL[: args.regions]
        ids, resources, failing = synthetic_evaluations(management, args.accounts, regions, args.rules, args.resources)
        config_backends[management][sandbox.home_region].put_configuration_aggregator(
            {
                "ConfigurationAggregatorName": AGGREGATOR,
                "AccountAggregationSources": [{"AccountIds": ids, "AllAwsRegions": True}],
            }
        )
        print(
            f"organization: {args.accounts} accounts x {args.regions} Regions x {args.rules} rules, "
            f"{resources:,} resources, {failing:,} non-compliant ({failing / resources:.1%}); "
            f"built in {time.perf_counter() - started:.1f}s"
        )
        client = boto3.client(
            "config",
            endpoint_url=sandbox.endpoint_url,
            region_name=sandbox.home_region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=BotoConfig(
                retries={"mode": "standard", "total_max_attempts": 1}, max_pool_connections=args.workers * 2
            ),
        )
        query, query_wall = _run(client, "query", args.workers)
        rules, rules_wall = _run(client, "rules", args.workers)
    finally:
        sandbox.stop()

    same = query.rows == rules.rows
    apis = sorted({name for name, _ in (*query.api_calls, *rules.api_calls)})
    width = max(len(name) for name in apis)
    print(f"rows: query {len(query.rows):,}, rules {len(rules.rows):,}; identical: {'yes' if same else 'NO'}")
    print(f"{'':<{width}}  {'query':>10}  {'rules':>10}")
    for name in apis:
        print(f"{name:<{width}}  {dict(query.api_calls).get(name, 0):>10,}  {dict(rules.api_calls).get(name, 0):>10,}")
    print(f"{'API calls':<{width}}  {query.total_calls:>10,}  {rules.total_calls:>10,}")
    print(f"{'wall time (s)':<{width}}  {query_wall:>10.1f}  {rules_wall:>10.1f}")
    simulated = [report.total_calls / args.rate for report in (query, rules)]
    print(f"{f'simulated time at {args.rate:g}/s per API (s)':<{width}}  {simulated[0]:>10.1f}  {simulated[1]:>10.1f}")
    if not same:
        sys.exit("the strategies disagree")
    print(f"call ratio (rules / query): {rules.total_calls / query.total_calls:.1f}x")


if __name__ == "__main__":
    main()
