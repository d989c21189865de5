"""Commands that work offline: init, render, lint."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from orgdeploy.cli.common import DEFAULT_CONFIG, ConfigOption


class LintFormatChoice(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"
    junit = "junit"


class OutputChoice(StrEnum):
    text = "text"
    json = "json"


def init(
    directory: Annotated[
        Path, typer.Argument(help="Folder to write orgdeploy.yaml and packs/baseline.yaml into.")
    ] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that already exist.")] = False,
) -> None:
    """Write a commented example orgdeploy.yaml and a small default conformance pack.

    Edit these two files, then run `orgdeploy lint` and `orgdeploy plan`.
    """
    from orgdeploy.templates.scaffold import write_example

    for path in write_example(directory, force=force):
        typer.echo(f"wrote {path}")


def render(
    config: ConfigOption = DEFAULT_CONFIG,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the rendered templates.")] = Path("rendered"),
    output: Annotated[
        OutputChoice, typer.Option("--output", help="text lists the files; json prints the manifest.")
    ] = (OutputChoice.text),
) -> None:
    """Render every CloudFormation template this config deploys, plus manifest.json.

    The manifest names each template, where it goes (stack set or stack, which
    accounts, which Regions), the parameters filled in at deploy time, and its SHA-256.
    """
    import json

    from orgdeploy.config.model import load_config
    from orgdeploy.templates.manifest import write_render_output

    manifest, written = write_render_output(load_config(config), out)
    if output is OutputChoice.json:
        typer.echo(json.dumps(manifest, indent=2))
        return
    for path in written:
        typer.echo(str(path))


def lint(
    config: ConfigOption = DEFAULT_CONFIG,
    output_format: Annotated[
        LintFormatChoice, typer.Option("--format", "-f", help="Findings format; sarif loads in GitHub code scanning.")
    ] = LintFormatChoice.text,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on warnings as well as errors.")] = False,
    out_file: Annotated[
        Path | None, typer.Option("--out-file", help="Write the findings here instead of standard output.")
    ] = None,
) -> None:
    """Render, then lint every template and conformance pack body with cfn-lint.

    Exit status: 0 when there are no errors (and no warnings under --strict),
    1 when there are, 2 when the config itself is invalid.
    """
    from orgdeploy.config.model import load_config
    from orgdeploy.templates.lint import format_result, lint_config

    loaded = load_config(config)
    result = lint_config(loaded)
    text = format_result(result, output_format.value)
    if out_file is not None:
        out_file.write_text(text + "\n", encoding="utf-8")
    elif text:
        typer.echo(text)
    errors, warnings = result.count("error"), result.count("warning")
    typer.echo(
        f"linted {len(result.targets)} templates in {len(loaded.regions)} Regions: "
        f"{errors} errors, {warnings} warnings, {result.count('informational')} informational",
        err=True,
    )
    if result.failed(strict=strict):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(render)
    app.command()(lint)
