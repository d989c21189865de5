"""One exception family; each error carries the process exit code the CLI uses."""

from __future__ import annotations


class OrgDeployError(Exception):
    """Root of every error orgdeploy raises on purpose."""

    exit_code = 1


class BadInputError(OrgDeployError):
    """The user's input (config, argument, template) is wrong. Nothing was sent to AWS."""

    exit_code = 2


class ConfigError(BadInputError):
    """orgdeploy.yaml is invalid; the message names the file and key path."""


class TemplateError(BadInputError):
    """A template could not be rendered; the message names the template."""


class AwsError(OrgDeployError):
    """An AWS call failed in a way orgdeploy does not recover from."""


class PlanBlocked(OrgDeployError):
    """The plan cannot go ahead without the user doing something first."""
