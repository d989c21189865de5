"""The monthly AWS Config bill of an organization, itemised, with its assumptions and what-ifs (pure).

Prices come from a data file (orgdeploy/reporting/prices.json, or --price-file) that carries its date and
source; no price is written in this module. Money is Decimal and only rounded for display.

Evaluation tiers: AWS prices evaluations per Region, and consolidated billing adds every account of
the organization together to pick the tier, so tiers apply to the organization's monthly total in
each Region.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

from orgdeploy.errors import BadInputError

# AWS Config refuses daily recording for these; they stay continuous under --daily.
CONTINUOUS_ONLY = frozenset(
    {"AWS::Config::ResourceCompliance", "AWS::Config::ConformancePackCompliance", "AWS::Config::ConfigurationRecorder"}
)
_OTHER = "(other types)"


@dataclass(frozen=True)
class Tier:
    up_to: int | None  # cumulative monthly evaluations this tier ends at; None for the last
    price: Decimal


@dataclass(frozen=True)
class Churn:
    share: Decimal  # of an account's resources, when per-type counts are unknown
    changes_per_month: Decimal


@dataclass(frozen=True)
class PriceTable:
    date: str
    source: str
    continuous: Decimal
    daily: Decimal
    rule_tiers: tuple[Tier, ...]
    pack_tiers: tuple[Tier, ...]
    notes: tuple[str, ...] = ()
    high_churn: Mapping[str, Churn] = field(default_factory=dict)
    churn_source: str = ""
    automation_step: Decimal = Decimal(0)  # SSM Automation, per basic step
    automation_source: str = ""


def _decimal(value: Any, where: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValueError(f"{where}: expected a number, got {value!r}") from None
    if number < 0 or not number.is_finite():
        raise ValueError(f"{where}: expected a number of 0 or more, got {value!r}")
    return number


def _tiers(data: Any, where: str) -> tuple[Tier, ...]:
    if not isinstance(data, list) or not data:
        raise ValueError(f"{where}: expected a list of {{up_to, price}} tiers")
    tiers: list[Tier] = []
    for index, item in enumerate(data):
        up_to = item.get("up_to") if isinstance(item, dict) else None
        last = index == len(data) - 1
        if last != (up_to is None) or (up_to is not None and not isinstance(up_to, int)):
            raise ValueError(f"{where}[{index}].up_to: every tier but the last needs an integer; the last needs null")
        if tiers and up_to is not None and tiers[-1].up_to is not None and up_to <= tiers[-1].up_to:
            raise ValueError(f"{where}[{index}].up_to: tiers must rise")
        tiers.append(Tier(up_to, _decimal(item.get("price"), f"{where}[{index}].price")))
    return tuple(tiers)


def parse_prices(data: Any) -> PriceTable:
    """Validate a price file's content; ValueError names the key at fault."""
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    for key in ("date", "source"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise ValueError(f"{key}: required, so every estimate says how old and where from its prices are")
    items = data.get("configuration_item")
    if not isinstance(items, dict):
        raise ValueError("configuration_item: expected {continuous, daily}")
    assumptions = data.get("assumptions") or {}
    churn = {
        name: Churn(
            _decimal(value.get("share"), f"assumptions.high_churn_types.{name}.share"),
            _decimal(value.get("changes_per_month"), f"assumptions.high_churn_types.{name}.changes_per_month"),
        )
        for name, value in (assumptions.get("high_churn_types") or {}).items()
    }
    if sum((c.share for c in churn.values()), Decimal(0)) > 1:
        raise ValueError("assumptions.high_churn_types: the shares add up to more than 1")
    return PriceTable(
        date=data["date"],
        source=data["source"],
        continuous=_decimal(items.get("continuous"), "configuration_item.continuous"),
        daily=_decimal(items.get("daily"), "configuration_item.daily"),
        rule_tiers=_tiers(data.get("rule_evaluation_tiers"), "rule_evaluation_tiers"),
        pack_tiers=_tiers(data.get("conformance_pack_evaluation_tiers"), "conformance_pack_evaluation_tiers"),
        notes=tuple(str(n) for n in data.get("notes") or ()),
        high_churn=churn,
        churn_source=str(assumptions.get("source", "")),
        automation_step=_decimal((data.get("ssm_automation") or {}).get("basic_step", 0), "ssm_automation.basic_step"),
        automation_source=_automation_source(data.get("ssm_automation") or {}),
    )


def _automation_source(data: dict[str, Any]) -> str:
    return f"{data['source']}, {data['date']}" if data.get("source") and data.get("date") else ""


def load_prices(path: Path | None = None) -> PriceTable:
    """The shipped price table, or the file given; BadInputError names the file and the key."""
    where = str(path) if path else "orgdeploy/reporting/prices.json"
    try:
        shipped = resources.files("orgdeploy.reporting").joinpath("prices.json")
        text = path.read_text(encoding="utf-8") if path else shipped.read_text(encoding="utf-8")
        return parse_prices(json.loads(text))
    except OSError as exc:
        raise BadInputError(f"--price-file {where}: cannot read it ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise BadInputError(f"--price-file {where}: not JSON: {exc.msg} at line {exc.lineno}") from None
    except ValueError as exc:
        raise BadInputError(f"--price-file {where}: {exc}") from None


def tiered(quantity: Decimal, tiers: Sequence[Tier]) -> Decimal:
    """The price of quantity units in one month, filling each tier before the next."""
    total, floor = Decimal(0), 0
    for tier in tiers:
        ceiling = Decimal(tier.up_to) if tier.up_to is not None else quantity
        in_tier = min(quantity, ceiling) - floor
        if in_tier > 0:
            total += in_tier * tier.price
        if tier.up_to is None or quantity <= ceiling:
            break
        floor = tier.up_to
    return total


@dataclass(frozen=True)
class PackSize:
    name: str
    rules: int
    regions: int


@dataclass(frozen=True)
class RecordingShare:
    """One recording profile's part of the organization: its accounts and how they record."""

    name: str
    accounts: int
    description: str
    daily: bool = False
    daily_types: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    include: tuple[str, ...] | None = None  # None: every type is recorded (less the exclusions)


@dataclass(frozen=True)
class ProfileCost:
    share: RecordingShare
    items: Decimal  # configuration items a month, as the profile records
    cost: Decimal
    continuous_all: Decimal  # the same accounts recording every type continuously


@dataclass(frozen=True)
class CostInputs:
    accounts: int
    regions: int
    packs: tuple[PackSize, ...] = ()
    rules: int = 0  # rules outside conformance packs, in every account and Region
    resources_per_account: int = 100  # in each Region, when resource_counts is empty
    resource_counts: Mapping[str, int] = field(default_factory=dict)  # whole organization, by type
    changes_per_resource: Decimal = Decimal(2)  # per month
    daily: bool = False
    daily_types: tuple[str, ...] = ()  # recorded daily even when daily is off (one recordingModeOverride)
    exclude: tuple[str, ...] = ()
    evaluations_per_day: int = 1
    days: int = 30
    sizes_from: str = "the options given"
    remediation_runs: int = 0  # SSM Automation runs a month, across the organization
    remediation_steps: int = 1  # steps per run
    # Recording profiles: configuration items are priced per profile, on its share of the accounts.
    profiles: tuple[RecordingShare, ...] = ()


@dataclass(frozen=True)
class CostLine:
    item: str
    quantity: Decimal
    unit: str
    cost: Decimal
    detail: str


@dataclass(frozen=True)
class Estimate:
    lines: tuple[CostLine, ...]
    assumptions: tuple[str, ...]

    @property
    def total(self) -> Decimal:
        return sum((line.cost for line in self.lines), Decimal(0))


@dataclass(frozen=True)
class WhatIf:
    name: str
    total: Decimal
    saving: Decimal  # negative: it would cost more


@dataclass(frozen=True)
class CostReport:
    estimate: Estimate
    what_ifs: tuple[WhatIf, ...]
    prices: PriceTable
    profiles: tuple[ProfileCost, ...] = ()

    @property
    def profile_saving(self) -> Decimal:
        return sum((p.continuous_all - p.cost for p in self.profiles), Decimal(0))


def _population(inputs: CostInputs, prices: PriceTable) -> tuple[dict[str, Decimal], list[str]]:
    """Resources per type across the organization, and what was assumed to get them."""
    if inputs.resource_counts:
        return {t: Decimal(n) for t, n in inputs.resource_counts.items()}, [
            f"resources by type: {sum(inputs.resource_counts.values()):,} from {inputs.sizes_from}"
        ]
    pool = Decimal(inputs.accounts * inputs.regions * inputs.resources_per_account)
    counts = {name: pool * churn.share for name, churn in prices.high_churn.items()}
    counts[_OTHER] = pool - sum(counts.values(), Decimal(0))
    shares = ", ".join(f"{name} {churn.share:%}" for name, churn in prices.high_churn.items())
    notes = [f"{inputs.resources_per_account} resources per account in each Region: {_n(pool)} resources"]
    if shares:
        notes.append(f"share of resources assumed per high-churn type: {shares} ({prices.churn_source})")
    return counts, notes


def _configuration_items(inputs: CostInputs, prices: PriceTable) -> tuple[list[CostLine], list[str]]:
    counts, notes = _population(inputs, prices)
    unknown = [name for name in inputs.exclude if name not in counts]
    if unknown:
        notes.append(f"excluded but not counted (no per-type counts; try --from-org): {', '.join(unknown)}")
    excluded = [name for name in inputs.exclude if counts.pop(name, None) is not None]
    if excluded:
        notes.append(f"not recorded: {', '.join(excluded)}")
    items = {"continuous": Decimal(0), "daily": Decimal(0)}
    for name, count in counts.items():
        churn = prices.high_churn.get(name)
        changes = churn.changes_per_month if churn else inputs.changes_per_resource
        if (inputs.daily or name in inputs.daily_types) and name not in CONTINUOUS_ONLY:
            # Daily recording keeps at most one item per resource per day that it changed.
            items["daily"] += count * min(changes, Decimal(inputs.days))
        else:
            items["continuous"] += count * changes
    notes.append(
        f"{_n(inputs.changes_per_resource)} changes per resource a month"
        + "".join(f"; {n}: {_n(c.changes_per_month)}" for n, c in prices.high_churn.items())
    )
    if inputs.daily or inputs.daily_types:
        which = "every type" if inputs.daily else ", ".join(inputs.daily_types)
        notes.append(
            f"daily recording for {which}: one item a day at most; {', '.join(sorted(CONTINUOUS_ONLY))} stay continuous"
        )
    lines = [
        CostLine(f"Configuration items ({mode})", quantity, "items", quantity * getattr(prices, mode),
                 f"${getattr(prices, mode)} each")
        for mode, quantity in items.items()
        if quantity or (mode == "continuous") != inputs.daily
    ]  # fmt: skip
    return lines, notes


def _evaluations(inputs: CostInputs, prices: PriceTable) -> tuple[list[CostLine], list[str]]:
    per_account_region = inputs.evaluations_per_day * inputs.days * inputs.accounts
    rule_volume = Decimal(inputs.rules * per_account_region)
    rules = CostLine(
        "Config rule evaluations",
        rule_volume * inputs.regions,
        "evaluations",
        tiered(rule_volume, prices.rule_tiers) * inputs.regions,
        f"{inputs.rules} rules x {inputs.accounts} accounts x {inputs.regions} Regions x {inputs.days} days",
    )
    # Region i carries the packs deployed to more than i Regions.
    widest = max((p.regions for p in inputs.packs), default=0)
    volumes = [Decimal(sum(p.rules for p in inputs.packs if p.regions > i) * per_account_region) for i in range(widest)]
    pack_rules = sum(p.rules for p in inputs.packs)
    shape = ", ".join(f"{p.name}: {p.rules} rules x {p.regions} Regions" for p in inputs.packs) or "no packs"
    packs = CostLine(
        "Conformance pack evaluations",
        sum(volumes, Decimal(0)),
        "evaluations",
        sum((tiered(v, prices.pack_tiers) for v in volumes), Decimal(0)),
        f"{shape}; x {inputs.accounts} accounts x {inputs.days} days",
    )
    notes = [
        f"every rule is evaluated {inputs.evaluations_per_day} time(s) a day in each account and Region "
        f"({pack_rules} pack rules, {inputs.rules} other rules); change-triggered evaluations come on top",
        "evaluation tiers: per Region, on the whole organization's monthly total (consolidated billing)",
    ]
    return [rules, packs], notes


def _share_inputs(inputs: CostInputs, share: RecordingShare) -> CostInputs:
    """The inputs for one profile's accounts: resources scaled to its share, its own recording."""
    counts = dict(inputs.resource_counts)
    if counts and inputs.accounts:
        counts = {t: round(n * share.accounts / inputs.accounts) for t, n in counts.items()}
    if share.include is not None and counts:
        counts = {t: n for t, n in counts.items() if t in share.include}
    return replace(
        inputs,
        accounts=share.accounts,
        resource_counts=counts,
        daily=share.daily,
        daily_types=share.daily_types,
        exclude=share.exclude,
        profiles=(),
    )


def profile_costs(inputs: CostInputs, prices: PriceTable) -> tuple[ProfileCost, ...]:
    """Each profile's configuration items and their cost, beside recording everything continuously."""
    found = []
    for share in inputs.profiles:
        own = _share_inputs(inputs, share)
        lines, _ = _configuration_items(own, prices)
        everything = replace(own, daily=False, daily_types=(), exclude=())
        if share.include is not None:
            everything = replace(
                everything, resource_counts=_share_inputs(inputs, replace(share, include=None)).resource_counts
            )
        all_lines, _ = _configuration_items(everything, prices)
        found.append(
            ProfileCost(
                share,
                sum((line.quantity for line in lines), Decimal(0)),
                sum((line.cost for line in lines), Decimal(0)),
                sum((line.cost for line in all_lines), Decimal(0)),
            )
        )
    return tuple(found)


def _profile_item_lines(inputs: CostInputs, prices: PriceTable) -> tuple[list[CostLine], list[str]]:
    lines: list[CostLine] = []
    notes: list[str] = []
    for share in inputs.profiles:
        own, more = _configuration_items(_share_inputs(inputs, share), prices)
        lines += [replace(line, item=f"{line.item}, profile {share.name}") for line in own if line.quantity]
        notes += [f"profile {share.name} ({share.accounts} accounts): {note}" for note in more[-1:]]
        notes += [note for note in more[:-1] if note not in notes]
    return lines, notes


def estimate(inputs: CostInputs, prices: PriceTable) -> Estimate:
    if inputs.accounts < 0 or inputs.regions < 0:
        raise ValueError("accounts and regions must not be negative")
    if inputs.profiles:
        items, item_notes = _profile_item_lines(inputs, prices)
    else:
        items, item_notes = _configuration_items(inputs, prices)
    evaluations, evaluation_notes = _evaluations(inputs, prices)
    sizes = f"{inputs.accounts} accounts x {inputs.regions} Regions (from {inputs.sizes_from})"
    lines, notes = items + evaluations, [sizes, *item_notes, *evaluation_notes]
    if inputs.remediation_runs:
        steps = Decimal(inputs.remediation_runs * inputs.remediation_steps)
        lines.append(
            CostLine("SSM Automation steps (remediations)", steps, "steps", steps * prices.automation_step,
                     f"{inputs.remediation_runs} runs x {inputs.remediation_steps} step(s), ${prices.automation_step} "
                     "a step")
        )  # fmt: skip
        notes.append(f"SSM Automation prices: {prices.automation_source}")
    return Estimate(tuple(lines), tuple(notes))


def cost_report(inputs: CostInputs, prices: PriceTable) -> CostReport:
    base = estimate(inputs, prices)
    if inputs.profiles:
        # The what-ifs change one recording for everyone; with profiles, each profile's own figures say more.
        return CostReport(base, (), prices, profile_costs(inputs, prices))
    what_ifs = []
    flip = replace(inputs, daily=not inputs.daily)
    name = "continuous recording instead of daily" if inputs.daily else "daily recording for every type that allows it"
    what_ifs.append(_what_if(name, estimate(flip, prices), base))
    churny = tuple(t for t in prices.high_churn if t not in inputs.exclude)
    if churny and not inputs.daily:
        override = replace(inputs, daily_types=churny)
        what_ifs.append(_what_if(f"daily recording for {', '.join(churny)} only", estimate(override, prices), base))
    if churny:
        fewer = replace(inputs, exclude=(*inputs.exclude, *churny))
        what_ifs.append(_what_if(f"exclude {', '.join(churny)}", estimate(fewer, prices), base))
    return CostReport(base, tuple(what_ifs), prices)


def _what_if(name: str, alternative: Estimate, base: Estimate) -> WhatIf:
    return WhatIf(name, alternative.total, base.total - alternative.total)


def _cents(amount: Decimal) -> str:
    return str(amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def money(amount: Decimal) -> str:
    rounded = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"-${-rounded:,}" if rounded < 0 else f"${rounded:,}"


def _n(quantity: Decimal) -> str:
    return f"{quantity:,.0f}" if quantity == quantity.to_integral_value() else f"{quantity:,.1f}"


def cost_dict(report: CostReport) -> dict[str, Any]:
    return {
        "currency": "USD",
        "prices": {"date": report.prices.date, "source": report.prices.source, "notes": list(report.prices.notes)},
        "lines": [
            {
                "item": line.item,
                "quantity": float(line.quantity),
                "unit": line.unit,
                "cost": _cents(line.cost),
                "detail": line.detail,
            }
            for line in report.estimate.lines
        ],
        "total": _cents(report.estimate.total),
        "assumptions": list(report.estimate.assumptions),
        "what_if": [{"name": w.name, "total": _cents(w.total), "saving": _cents(w.saving)} for w in report.what_ifs],
        "profiles": [
            {
                "profile": p.share.name,
                "accounts": p.share.accounts,
                "recording": p.share.description,
                "configuration_items": float(p.items),
                "monthly_usd": float(p.cost.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)),
                "continuous_all_usd": float(p.continuous_all.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)),
            }
            for p in report.profiles
        ],
        "profile_saving_usd": float(report.profile_saving.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)),
    }


def _effect(saving: Decimal) -> str:
    return f"saves {money(saving)}" if saving >= 0 else f"costs {money(-saving)} more"


def render_cost_table(report: CostReport) -> str:
    rows = [
        (line.item, f"{_n(line.quantity)} {line.unit}", money(line.cost), line.detail) for line in report.estimate.lines
    ]
    rows.append(("Total", "", money(report.estimate.total), ""))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"Monthly AWS Config estimate (prices of {report.prices.date}; {report.prices.source})", ""]
    lines += [
        f"  {a.ljust(widths[0])}  {b.rjust(widths[1])}  {c.rjust(widths[2])}  {d}".rstrip() for a, b, c, d in rows
    ]
    lines += ["", "Assumptions:", *(f"  - {a}" for a in report.estimate.assumptions)]
    lines += [f"  - {note}" for note in report.prices.notes]
    if report.profiles:
        lines += ["", "Recording profiles (configuration items a month):"]
        for p in report.profiles:
            lines.append(
                f"  - {p.share.name}: {p.share.accounts} account(s), {p.share.description}: {money(p.cost)} "
                f"(every type continuously: {money(p.continuous_all)}; {_effect(p.continuous_all - p.cost)})"
            )
        lines.append(
            f"  Against recording everything continuously: {_effect(report.profile_saving)} a month"
            " (a daily item costs more than a continuous one: daily saves only on resources that change often)"
        )
    lines += ["", "What if:"] if report.what_ifs else []
    for w in report.what_ifs:
        lines.append(f"  - {w.name}: {money(w.total)} a month ({_effect(w.saving)})")
    return "\n".join(lines) + "\n"
