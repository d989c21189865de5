"""A ComplianceReport as a table, JSON, CSV or one self-contained HTML page (pure).

Every format renders the same report object. Capped counts always go through CappedCount, so a
capped count prints as "≥25" everywhere and never as a bare number.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
from collections.abc import Sequence
from typing import Any, Literal

from orgdeploy.reporting.compliance import (
    COLUMNS,
    ComplianceReport,
    GroupBy,
    GroupSummary,
    heatmap,
    iso,
    summarise,
)

Format = Literal["table", "json", "csv", "html"]
_GROUP_TITLES = {"rule": "rule", "account": "account", "region": "Region"}


def render(report: ComplianceReport, output: Format, group_by: GroupBy = "rule") -> str:
    if output == "json":
        return render_json(report, group_by)
    if output == "csv":
        return render_csv(report)
    if output == "html":
        return render_html(report, group_by)
    return render_table(report, group_by)


def _headline(report: ComplianceReport) -> str:
    rows = report.rows
    return (
        f"{len({r.resource for r in rows})} non-compliant resources, {len({r.rule for r in rows})} rules, "
        f"{len({r.account for r in rows})} accounts, {len({r.region for r in rows})} Regions"
    )


def _strategy(report: ComplianceReport) -> str:
    text = f"strategy {report.strategy} ({report.total_calls} API calls)"
    return f"{text}; {report.reason}" if report.reason else text


def _summary_rows(
    groups: Sequence[GroupSummary], by: GroupBy, report: ComplianceReport
) -> tuple[list[str], list[list[str]]]:
    others = [name for name in ("rules", "accounts", "regions") if not name.startswith(by)]
    headers = [_GROUP_TITLES[by], *(["pack"] if by == "rule" else []), "resources", *others]
    body = [
        [report.who(g.key) if by == "account" else g.key, *([g.pack or "-"] if by == "rule" else []),
         str(g.resources), *(str(getattr(g, n)) for n in others)]
        for g in groups
    ]  # fmt: skip
    return headers, body


def _grid(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]
    lines = []
    for row in [[h.upper() for h in headers], *rows]:
        lines.append("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return lines


def render_table(report: ComplianceReport, group_by: GroupBy = "rule") -> str:
    lines = [f"Aggregator {report.aggregator}: {_headline(report)}", _strategy(report), ""]
    if report.source_problems:
        lines.append("Aggregator sources not up to date (their data may be old or missing):")
        lines += [f"  {p.account} {p.region}: {p.status} {p.message}".rstrip() for p in report.source_problems]
        lines.append("")
    if not report.rows:
        lines.append("Nothing is non-compliant.")
    else:
        lines.append(f"Summary by {_GROUP_TITLES[group_by]}")
        lines += _grid(*_summary_rows(summarise(report.rows, group_by), group_by, report))
        lines.append("")
    if report.account_counts:
        lines.append("Rules per account as AWS Config counts them (capped at 25: ≥25 means at least 25)")
        lines += _grid(
            ["account", "non-compliant", "compliant"],
            [
                [report.who(c.account), str(c.non_compliant_rules), str(c.compliant_rules)]
                for c in report.account_counts
            ],
        )
        lines.append("")
    if report.rows:
        lines.append("Non-compliant resources")
        annotated = report.annotations
        headers = ["account", "region", "resource type", "resource id", "rule", *(["annotation"] if annotated else [])]
        body = [
            [
                report.who(r.account),
                r.region,
                r.resource_type,
                r.resource_id,
                r.rule,
                *([r.annotation or ""] if annotated else []),
            ]
            for r in report.rows
        ]
        lines += _grid(headers, body)
    return "\n".join(lines).rstrip() + "\n"


def report_dict(report: ComplianceReport, group_by: GroupBy = "rule") -> dict[str, Any]:
    return {
        "aggregator": report.aggregator,
        "strategy": report.strategy,
        "reason": report.reason,
        "generated_at": iso(report.generated_at),
        "annotations_fetched": report.annotations,
        "api_calls": dict(report.api_calls),
        "total_api_calls": report.total_calls,
        "summary": {
            "group_by": group_by,
            "groups": [
                {key: getattr(g, key) for key in ("key", "pack", "resources", "rules", "accounts", "regions")}
                for g in summarise(report.rows, group_by)
            ],
        },
        "accounts": [
            {
                "account": c.account,
                "non_compliant_rules": c.non_compliant_rules.to_dict(),
                "compliant_rules": c.compliant_rules.to_dict(),
            }
            for c in report.account_counts
        ],
        "source_problems": [vars(p) for p in report.source_problems],
        "rows": [r.to_dict(report.account_names.get(r.account)) for r in report.rows],
    }


def render_json(report: ComplianceReport, group_by: GroupBy = "rule") -> str:
    return json.dumps(report_dict(report, group_by), indent=2, ensure_ascii=False) + "\n"


def render_csv(report: ComplianceReport) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in report.rows:
        named = row.to_dict(report.account_names.get(row.account))
        writer.writerow({key: "" if value is None else value for key, value in named.items()})
    return buffer.getvalue()


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#1d2330}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;font-size:.85rem}
th,td{border:1px solid #d5d9e0;padding:.25rem .5rem;text-align:left}
th{background:#f1f3f6}td.n{text-align:right}
.heat td.c{text-align:center;min-width:2.2rem}
.heat th.a{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap}
.note{color:#5a6270}.warn{color:#8a4b00}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _html_table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: int = 0) -> str:
    """numeric: how many trailing columns are numbers (right-aligned)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = [
            f'<td class="n">{_e(cell)}</td>' if index >= len(row) - numeric else f"<td>{_e(cell)}</td>"
            for index, cell in enumerate(row)
        ]
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def shade(count: int, peak: int) -> float:
    """A cell's opacity: logarithmic, so 1, 5 and 120 findings look different; empty cells stay white."""
    if count <= 0:
        return 0.0
    return 0.15 + 0.85 * math.log1p(count) / math.log1p(max(peak, 1))


def _swatch(count: int, peak: int) -> str:
    return f'<td class="c" style="background:rgba(200,40,40,{shade(count, peak):.2f})">{count}</td>'


def _heatmap_html(report: ComplianceReport) -> str:
    heat = heatmap(report.rows)
    if not heat.rules:
        return '<p class="note">Nothing is non-compliant.</p>'
    peak = max(heat.maximum, 1)
    head = "".join(f'<th class="a">{_e(report.who(a))}</th>' for a in heat.accounts)
    rows = []
    for rule in heat.rules:
        cells = []
        for account in heat.accounts:
            count = heat.cells.get((rule, account), 0)
            style = f"background:rgba(200,40,40,{shade(count, peak):.2f})"
            title = f"{rule} in {report.who(account)}: {count} non-compliant resources"
            cells.append(f'<td class="c" style="{style}" title="{_e(title)}">{count or ""}</td>')
        rows.append(f"<tr><th>{_e(rule)}</th>{''.join(cells)}</tr>")
    head = f"<thead><tr><th>rule \\ account</th>{head}</tr></thead>"
    steps = sorted({n for n in (1, 5, 25, 100, peak) if n <= peak})
    legend = (
        '<table class="heat legend"><tbody><tr><th>non-compliant resources (log scale)</th>'
        + "".join(_swatch(n, peak) for n in steps)
        + "</tr></tbody></table>"
    )
    return f'<table class="heat">{head}<tbody>{"".join(rows)}</tbody></table>{legend}'


def render_html(report: ComplianceReport, group_by: GroupBy = "rule") -> str:
    """One page, inline CSS only: no scripts, no fonts, no links to anywhere."""
    parts = [
        f"<h1>AWS Config compliance: aggregator {_e(report.aggregator)}</h1>",
        f'<p>{_e(_headline(report))}.</p><p class="note">{_e(_strategy(report))}; generated '
        f"{_e(iso(report.generated_at))}.</p>",
    ]
    if report.source_problems:
        problems = (f"{p.account} {p.region}: {p.status} {p.message}" for p in report.source_problems)
        items = "".join(f"<li>{_e(text)}</li>" for text in problems)
        parts.append(f'<p class="warn">Aggregator sources not up to date:</p><ul class="warn">{items}</ul>')
    if report.rows:
        headers, body = _summary_rows(summarise(report.rows, group_by), group_by, report)
        parts += [f"<h2>Summary by {_e(_GROUP_TITLES[group_by])}</h2>", _html_table(headers, body, numeric=3)]
    parts += ["<h2>Non-compliant resources per rule and account</h2>", _heatmap_html(report)]
    if report.account_counts:
        parts += [
            "<h2>Rules per account as AWS Config counts them</h2>",
            '<p class="note">Capped at 25: ≥25 means at least 25.</p>',
            _html_table(
                ["account", "non-compliant rules", "compliant rules"],
                [
                    [report.who(c.account), str(c.non_compliant_rules), str(c.compliant_rules)]
                    for c in report.account_counts
                ],
                numeric=2,
            ),
        ]
    if report.rows:
        columns = ["account", "region", "resource type", "resource id", "rule", "raw rule", "pack", "evaluated"]
        if report.annotations:
            columns.append("annotation")
        body = [
            [report.who(r.account), r.region, r.resource_type, r.resource_id, r.rule, r.raw_rule, r.pack or "",
             iso(r.evaluated_at) or "", *([r.annotation or ""] if report.annotations else [])]
            for r in report.rows
        ]  # fmt: skip
        parts.append(
            f"<details><summary>All {len(report.rows)} non-compliant (resource, rule) pairs</summary>"
            f"{_html_table(columns, body)}</details>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"/>'
        f"<title>AWS Config compliance: {_e(report.aggregator)}</title><style>{_CSS}</style></head>"
        f"<body>{''.join(parts)}</body></html>\n"
    )
