"""The cost model: the worked example, tier boundaries, recording modes and what-ifs."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from orgdeploy.errors import BadInputError
from orgdeploy.reporting.cost import (
    CostInputs,
    PackSize,
    PriceTable,
    Tier,
    cost_dict,
    cost_report,
    estimate,
    load_prices,
    money,
    parse_prices,
    render_cost_table,
    tiered,
)


def _prices(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "date": "2026-11-27",
        "source": "test",
        "configuration_item": {"continuous": "0.003", "daily": "0.012"},
        "rule_evaluation_tiers": [
            {"up_to": 100000, "price": "0.001"},
            {"up_to": 500000, "price": "0.0008"},
            {"up_to": None, "price": "0.0005"},
        ],
        "conformance_pack_evaluation_tiers": [{"up_to": None, "price": "0.0012"}],
    }
    data.update(changes)
    return data


FLAT = parse_prices(_prices())


def _line(found: Any, item: str) -> Any:
    return next(line for line in found.lines if line.item == item)


def test_the_worked_example_exactly() -> None:
    # 39 rules x 9 accounts x 16 Regions, evaluated every 24 hours for 30 days, at a flat $0.0012.
    inputs = CostInputs(accounts=9, regions=16, packs=(PackSize("seed", 39, 16),), resources_per_account=0)
    found = estimate(inputs, FLAT)
    packs = _line(found, "Conformance pack evaluations")
    assert packs.quantity == 168_480
    assert packs.cost == Decimal("202.176")
    assert money(packs.cost) == "$202.18"
    assert money(found.total) == "$202.18"
    assert "168,480 evaluations" in render_cost_table(cost_report(inputs, FLAT))


RULE_TIERS = (Tier(100_000, Decimal("0.001")), Tier(500_000, Decimal("0.0008")), Tier(None, Decimal("0.0005")))


@pytest.mark.parametrize(
    ("evaluations", "price"),
    [
        (0, "0"),
        (1, "0.001"),
        (100_000, "100.000"),
        (100_001, "100.0008"),
        (500_000, "420.0000"),
        (500_001, "420.0005"),
        (1_500_000, "920.0000"),
    ],
)
def test_tier_boundaries(evaluations: int, price: str) -> None:
    assert tiered(Decimal(evaluations), RULE_TIERS) == Decimal(price)


def test_consolidated_billing_adds_accounts_but_not_regions() -> None:
    # 10 rules x 1 evaluation a day x 30 days = 300 per account and Region.
    one = CostInputs(accounts=1000, regions=1, rules=10, resources_per_account=0)
    # 300,000 in one Region: 100,000 at $0.001 and 200,000 at $0.0008, not $0.001 each per account.
    assert _line(estimate(one, FLAT), "Config rule evaluations").cost == Decimal("260.0000")
    # The same volume in each of two Regions is tiered twice.
    two = CostInputs(accounts=1000, regions=2, rules=10, resources_per_account=0)
    assert _line(estimate(two, FLAT), "Config rule evaluations").cost == Decimal("520.0000")


def test_the_shipped_pack_tiers_start_at_a_million() -> None:
    prices = load_prices()
    assert prices.date and prices.source
    assert tiered(Decimal(1_000_000), prices.pack_tiers) == Decimal("1000.000")
    assert tiered(Decimal(1_000_001), prices.pack_tiers) == Decimal("1000.0008")


def test_packs_in_fewer_regions_are_tiered_per_region() -> None:
    packs = (PackSize("everywhere", 10, 3), PackSize("home-only", 5, 1))
    found = estimate(CostInputs(accounts=2, regions=3, packs=packs, resources_per_account=0), FLAT)
    # (10 x 3 + 5 x 1) rule-Regions x 2 accounts x 30 days.
    assert _line(found, "Conformance pack evaluations").quantity == 2_100


def test_configuration_items_continuous_and_daily() -> None:
    counts = {"AWS::S3::Bucket": 100, "AWS::Config::ResourceCompliance": 50}
    base = CostInputs(accounts=1, regions=1, resource_counts=counts, changes_per_resource=Decimal(3))
    continuous = estimate(base, FLAT)
    assert _line(continuous, "Configuration items (continuous)").quantity == 450
    assert _line(continuous, "Configuration items (continuous)").cost == Decimal("1.350")
    daily = estimate(CostInputs(**{**base.__dict__, "daily": True}), FLAT)
    # Buckets go daily (3 changes, 3 items at $0.012); ResourceCompliance cannot, and stays continuous.
    assert _line(daily, "Configuration items (daily)").cost == Decimal("3.600")
    assert _line(daily, "Configuration items (continuous)").quantity == 150


def test_daily_recording_keeps_one_item_a_day_at_most() -> None:
    busy = CostInputs(
        accounts=1, regions=1, resource_counts={"AWS::EC2::Instance": 10}, changes_per_resource=Decimal(300)
    )
    found = estimate(CostInputs(**{**busy.__dict__, "daily": True}), FLAT)
    assert _line(found, "Configuration items (daily)").quantity == 300  # 10 resources x 30 days


def test_what_ifs_price_the_high_churn_types() -> None:
    prices = parse_prices(
        _prices(
            assumptions={"high_churn_types": {"AWS::EC2::NetworkInterface": {"share": "0.5", "changes_per_month": 300}}}
        )
    )
    inputs = CostInputs(accounts=10, regions=1, resources_per_account=20, changes_per_resource=Decimal(2))
    report = cost_report(inputs, prices)
    names = [w.name for w in report.what_ifs]
    assert names == [
        "daily recording for every type that allows it",
        "daily recording for AWS::EC2::NetworkInterface only",
        "exclude AWS::EC2::NetworkInterface",
    ]
    # 100 ENIs x 300 changes x $0.003 = $90; the other 100 resources x 2 x $0.003 = $0.60.
    assert report.estimate.total == Decimal("90.600")
    everything_daily, churny_daily, excluded = report.what_ifs
    assert excluded.saving == Decimal("90.000")
    assert churny_daily.total == Decimal("36.600")  # ENIs at 30 items x $0.012
    assert everything_daily.total == Decimal("38.400")  # and the rest at 2 x $0.012
    assert cost_dict(report)["what_if"][2] == {
        "name": "exclude AWS::EC2::NetworkInterface",
        "total": "0.60",
        "saving": "90.00",
    }


def test_excluding_a_type_without_counts_is_said_not_hidden() -> None:
    found = estimate(CostInputs(accounts=1, regions=1, exclude=("AWS::S3::Bucket",)), FLAT)
    assert any("AWS::S3::Bucket" in note and "not counted" in note for note in found.assumptions)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"date": ""}, "date: required"),
        ({"source": None}, "source: required"),
        ({"configuration_item": {"continuous": "x", "daily": "0.012"}}, "configuration_item.continuous"),
        ({"configuration_item": {"continuous": "-1", "daily": "0.012"}}, "0 or more"),
        ({"rule_evaluation_tiers": [{"up_to": 10, "price": "1"}]}, "the last needs null"),
        ({"rule_evaluation_tiers": [{"up_to": 10, "price": "1"}, {"up_to": 5, "price": "1"}, {"up_to": None,
                                                                                          "price": "1"}]}, "must rise"),
        ({"conformance_pack_evaluation_tiers": []}, "conformance_pack_evaluation_tiers"),
    ],
)  # fmt: skip
def test_bad_price_files_name_the_key(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(_prices(**change)), encoding="utf-8")
    with pytest.raises(BadInputError, match=message) as raised:
        load_prices(path)
    assert str(path) in str(raised.value)


def test_a_price_file_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(BadInputError, match="not JSON"):
        load_prices(path)


def test_prices_live_in_the_data_file_only() -> None:
    shipped = load_prices()
    assert isinstance(shipped, PriceTable)
    source = (Path(__file__).resolve().parents[2] / "orgdeploy" / "reporting" / "cost.py").read_text(encoding="utf-8")
    for price in ("0.003", "0.012", "0.0008", "0.0005"):
        assert price not in source
