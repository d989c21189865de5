"""Holds the commands, which are thin: parse options, call the library, print. Only typer loads at start-up.
Imports every room, each lazily inside its command; sandbox/ only on the --sandbox path (aws_options, commands_sandbox).
"""

from __future__ import annotations

import sys

import typer

from orgdeploy.cli import common
from orgdeploy.cli.commands_admin import register as register_admin_commands
from orgdeploy.cli.commands_deploy import register as register_deploy_commands
from orgdeploy.cli.commands_events import register as register_events_commands
from orgdeploy.cli.commands_find import register as register_find_commands
from orgdeploy.cli.commands_report import register as register_report_commands
from orgdeploy.cli.commands_sandbox import register as register_sandbox_commands
from orgdeploy.cli.commands_state import register as register_state_commands
from orgdeploy.cli.commands_templates import register as register_template_commands

app = typer.Typer(
    name="orgdeploy",
    help=(
        "Deploy AWS Config across a whole AWS Organization with CloudFormation StackSets.\n\n"
        "Start with `orgdeploy init`, edit orgdeploy.yaml, then `orgdeploy lint`, `orgdeploy plan` and "
        "`orgdeploy bootstrap`. Add --sandbox to any AWS command to try it on an emulated organization."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain help text: rich formatting would double the start-up time of every call.
    rich_markup_mode=None,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _global_options(
    debug: common.DebugOption = False,
    version: common.VersionOption = False,
) -> None:
    """Deploy AWS Config across a whole AWS Organization with CloudFormation StackSets."""
    common.STATE.debug = debug
    if debug:
        import logging

        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        logging.getLogger("orgdeploy").setLevel(logging.DEBUG)


register_template_commands(app)
register_deploy_commands(app)
register_state_commands(app)
register_events_commands(app)
register_admin_commands(app)
register_report_commands(app)
register_find_commands(app)
register_sandbox_commands(app)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: the one place where errors become messages and exit codes."""
    sys.exit(common.run_app(app, argv))
