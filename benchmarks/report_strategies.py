"""Both `orgdeploy report` strategies over a large synthetic organization served by the sandbox.

The sandbox's aggregator is given the compliance of 1,000 accounts x 17 Regions x 40 rules, with 20
recorded resources in every account and Region of which 5% fail one rule, and pack-suffixed rule
names that differ per account and Region (orgdeploy.sandbox.compliance.seed.synthetic_store). Both
strategies then read it through boto3 and the real moto server, and the script prints, side by side:

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
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3
from botocore.config import Config as BotoConfig

from orgdeploy.aws.compliance import DEFAULT_RATE, read_report
from orgdeploy.sandbox.compliance.seed import install_store, synthetic_store
from orgdeploy.sandbox.org.account_api import DEFAULT_REGIONS
from orgdeploy.sandbox.server import start_sandbox

AGGREGATOR = "orgdeploy"
# The Regions every account has on: the commercial ones enabled by default, home first.
COMMERCIAL = [
    "us-east-1",
    *sorted(r for r in DEFAULT_REGIONS if r != "us-east-1" and not r.startswith(("cn-", "us-gov-"))),
]


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
        store = synthetic_store(
            accounts=args.accounts,
            regions=COMMERCIAL[: args.regions],
            rules=args.rules,
            resources_per_region=args.resources,
            management_account=sandbox.summary.management_account_id,
            aggregator_names=[AGGREGATOR],
        )
        install_store(store)
        resources = sum(len(b.resources) for b in store.blocks)
        failing = sum(1 for b in store.blocks for r in b.resources if r.failing)
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
