"""Options shared by commands, and the single place errors turn into exit codes."""

from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from orgdeploy import __version__


@dataclass
class CliState:
    debug: bool = False


STATE = CliState()


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"orgdeploy {__version__}")
        raise typer.Exit()


DebugOption = Annotated[bool, typer.Option("--debug", help="Show tracebacks and every retry orgdeploy makes.")]
VersionOption = Annotated[
    bool,
    typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
]
ConfigOption = Annotated[
    Path,
    typer.Option(
        "--config",
        "-c",
        help="Path to orgdeploy.yaml (or the folder holding it).",
        envvar="ORGDEPLOY_CONFIG",
        show_default=True,
    ),
]
DEFAULT_CONFIG = Path("orgdeploy.yaml")


def error(message: str) -> None:
    typer.echo(f"orgdeploy: error: {message}", err=True)


def run_app(app: typer.Typer, argv: list[str] | None) -> int:
    """Run the typer app; map every failure to a message and an exit code."""
    from orgdeploy.errors import OrgDeployError

    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        result: Any = app(args=argv, standalone_mode=False, prog_name="orgdeploy")
    except OrgDeployError as exc:
        if debug:
            traceback.print_exc()
        error(str(exc))
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        error("aborted")
        return 130
    except KeyboardInterrupt:
        error("interrupted")
        return 130
    except Exception as exc:
        known = _known_sdk_error(exc)
        if known is not None:
            if debug:
                traceback.print_exc()
            error(known[0])
            return known[1]
        if _is_usage_error(exc):
            exc.show()  # type: ignore[attr-defined]
            return int(exc.exit_code)  # type: ignore[attr-defined]
        if debug:
            traceback.print_exc()
        error(f"unexpected {type(exc).__name__}: {exc} (run again with --debug for the traceback)")
        return 1
    return int(result) if isinstance(result, int) else 0


def _is_usage_error(exc: Exception) -> bool:
    """Click's exceptions (vendored by newer typer releases) carry show() and exit_code."""
    return any(cls.__name__ == "ClickException" for cls in type(exc).__mro__) and hasattr(exc, "show")


# botocore errors a user can act on, by class name (botocore is not imported at start-up).
_REFUSED = "AWS refused a call: {exc}; `orgdeploy permissions --role ROLE` prints what each role needs"
_SDK_ERRORS = {
    "NoCredentialsError": ("no AWS credentials found: set AWS_PROFILE or pass --profile, or use --sandbox", 2),
    "PartialCredentialsError": ("incomplete AWS credentials: {exc}", 2),
    "ProfileNotFound": ("{exc} (check --profile and ~/.aws/config)", 2),
    "NoRegionError": ("no AWS Region: pass --region or set AWS_DEFAULT_REGION", 2),
    "EndpointConnectionError": ("cannot reach AWS: {exc}", 1),
    "ConnectTimeoutError": ("cannot reach AWS: {exc}", 1),
    "ExpiredTokenException": ("the AWS credentials have expired; refresh them and run again", 1),
    # A refusal names the call; `orgdeploy permissions` prints what each role needs.
    "AccessDenied": (_REFUSED, 1),
    "AccessDeniedException": (_REFUSED, 1),
}


def _known_sdk_error(exc: Exception) -> tuple[str, int] | None:
    name = type(exc).__name__
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "") if hasattr(exc, "response") else ""
    for key in (name, code):
        if key in _SDK_ERRORS:
            template, exit_code = _SDK_ERRORS[key]
            return template.format(exc=exc), exit_code
    return None
