"""Lint rendered templates and conformance pack bodies with cfn-lint's Python API.

cfn-lint is imported inside the functions: it is slow to import and only the
lint path needs it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from orgdeploy.config.model import Config
from orgdeploy.templates.render import PACK_S3_LIMIT_BYTES, TEMPLATE_BODY_LIMIT_BYTES, RenderedSet, render_all

# orgdeploy's own check, reported through cfn-lint's formatters like any other finding.
SIZE_RULE_ID = "E9101"

LintFormat = Literal["text", "json", "sarif", "junit"]


@dataclass(frozen=True)
class LintTarget:
    """A file to lint, and the name to show for it in findings."""

    path: Path
    display_name: str
    # The most bytes AWS accepts for this file as it is sent (TemplateBody, or a pack from S3).
    limit: int | None = None


@dataclass(frozen=True)
class LintResult:
    matches: tuple[Any, ...]
    rules: Any
    targets: tuple[LintTarget, ...]

    def count(self, severity: str) -> int:
        return sum(1 for m in self.matches if m.rule.severity == severity)

    def failed(self, *, strict: bool) -> bool:
        return self.count("error") > 0 or (strict and self.count("warning") > 0)


def write_rendered(rendered: RenderedSet, out_dir: Path) -> list[LintTarget]:
    """Write templates and pack bodies under out_dir; return them as lint targets."""
    targets = []
    for template in rendered.templates:
        path = out_dir / template.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.body, encoding="utf-8")
        targets.append(LintTarget(path, f"rendered/{template.filename}", TEMPLATE_BODY_LIMIT_BYTES))
    for body in rendered.pack_bodies:
        path = out_dir / body.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body.body, encoding="utf-8")
        # A plain pack body is shown under its own path so findings point at the user's file.
        shown = body.source if not body.source.endswith(".j2") else f"rendered/{body.filename}"
        # Inline, the body is checked as part of its stack template; by S3, AWS Config's own limit applies.
        targets.append(LintTarget(path, _relative(shown), PACK_S3_LIMIT_BYTES if body.s3_key else None))
    return targets


def _relative(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return path


def lint_files(targets: Sequence[LintTarget], *, regions: Sequence[str]) -> LintResult:
    """Run every cfn-lint rule over targets in one process, for every Region given."""
    from cfnlint.config import ConfigMixIn
    from cfnlint.runner import Runner

    shown = {str(t.path): t.display_name for t in targets}
    config = ConfigMixIn(templates=[str(t.path) for t in targets], regions=list(regions))
    runner = Runner(config)
    # Matches are frozen dataclasses; re-label temp paths with the names users know.
    matches = [dataclasses.replace(m, filename=shown.get(str(m.filename), m.filename)) for m in runner.run()]
    matches += _size_matches(targets, runner.rules)
    matches.sort(key=lambda m: (m.filename or "", m.linenumber, m.rule.id))
    return LintResult(matches=tuple(matches), rules=runner.rules, targets=tuple(targets))


def _size_matches(targets: Sequence[LintTarget], rules: Any) -> list[Any]:
    """A finding for each file larger than AWS accepts as sent; cfn-lint only checks the 1 MB S3 limit."""
    from cfnlint.match import Match
    from cfnlint.rules import CloudFormationLintRule

    class TemplateSizeAsSent(CloudFormationLintRule):  # type: ignore[misc]
        id = SIZE_RULE_ID
        shortdesc = "Template larger than AWS accepts as sent"
        description = "A TemplateBody is at most 51,200 bytes; a conformance pack from S3 at most 300 KB"
        source_url = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html"
        tags = ("limits", "orgdeploy")

    rule = TemplateSizeAsSent()
    found = []
    for target in targets:
        size = target.path.stat().st_size
        if target.limit is not None and size > target.limit:
            message = f"{size:,} bytes as sent, over the {target.limit:,} bytes AWS accepts"
            found.append(Match.create(message=message, filename=target.display_name, rule=rule, linenumber=1))
    if found and SIZE_RULE_ID not in rules:
        rules.register(rule)
        rules.used_rules[SIZE_RULE_ID] = rule
    return found


def lint_config(config: Config) -> LintResult:
    """Render everything config deploys into a temporary folder and lint it, for every deployment Region."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="orgdeploy-lint-") as tmp:
        return lint_files(write_rendered(render_all(config), Path(tmp)), regions=config.regions)


def format_result(result: LintResult, output_format: LintFormat) -> str:
    """Render findings with cfn-lint's own formatters."""
    from cfnlint import formatters
    from cfnlint.config import ConfigMixIn

    formatter = {
        "text": formatters.Formatter,
        "json": formatters.JsonFormatter,
        "sarif": formatters.SARIFFormatter,
        "junit": formatters.JUnitFormatter,
    }[output_format]()
    text = formatter.print_matches(list(result.matches), result.rules, ConfigMixIn([]))
    return str(text) if text else ""
