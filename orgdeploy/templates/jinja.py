"""The Jinja environment that turns cfn/*.j2 into CloudFormation YAML.

Every `{{ expression }}` is emitted as a JSON literal (JSON is a subset of YAML
flow syntax), so a config value can never open a new key, a tag like `!Ref`,
or a line of its own: it is always one quoted scalar, list or mapping.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path
from typing import Any

import jinja2

from orgdeploy.errors import TemplateError


def _as_yaml_literal(value: Any) -> str:
    if isinstance(value, jinja2.Undefined):
        str(value)  # StrictUndefined raises UndefinedError, naming the variable.
    # ensure_ascii keeps the text plain ASCII, so no stray line breaks (U+2028) reach YAML.
    return json.dumps(value, ensure_ascii=True, sort_keys=False)


def cfn_dir() -> Path:
    """Where the shipped templates are: the orgdeploy.cfn package (cfn/ in the repository)."""
    # orgdeploy.cfn is a data-only namespace package: ask the import system where it lives.
    spec = importlib.util.find_spec("orgdeploy.cfn")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    # Running from a source tree that was never installed (PYTHONPATH=.).
    return Path(__file__).resolve().parents[2] / "cfn"


def sub_escape(text: str) -> str:
    """Escape a literal for use inside Fn::Sub, where '${' would start a variable."""
    return text.replace("${", "${!")


def make_environment(search_path: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(search_path)),
        undefined=jinja2.StrictUndefined,
        finalize=_as_yaml_literal,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=False,
    )
    env.filters["sub_escape"] = sub_escape
    return env


@functools.cache
def _shipped_environment() -> jinja2.Environment:
    return make_environment(cfn_dir())


def render_shipped(template_name: str, context: dict[str, Any]) -> str:
    """Render one of orgdeploy's own templates; errors name the template."""
    return _render(_shipped_environment(), template_name, context)


def render_file(path: Path, context: dict[str, Any]) -> str:
    """Render a user's .j2 file (a conformance pack body) with the same safety rules."""
    return _render(make_environment(path.parent), path.name, context, shown_as=str(path))


def _render(env: jinja2.Environment, template_name: str, context: dict[str, Any], shown_as: str = "") -> str:
    shown_as = shown_as or template_name
    try:
        return env.get_template(template_name).render(**context)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{shown_as}:{exc.lineno}: Jinja syntax error: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"{shown_as}: {exc.message} (undefined variable)") from None
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"template not found: {exc.name}") from None
