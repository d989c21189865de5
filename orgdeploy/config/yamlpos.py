"""Load YAML while remembering the line of every key, so errors can point at it."""

from __future__ import annotations

from typing import Any

import yaml

from orgdeploy.errors import ConfigError

KeyPath = tuple[str | int, ...]


def _walk(node: yaml.Node, path: KeyPath, positions: dict[KeyPath, int], source: str) -> None:
    positions.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                raise ConfigError(f"{source}:{key_node.start_mark.line + 1}: key {key!r} appears twice")
            seen.add(key)
            positions[(*path, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*path, key), positions, source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), positions, source)


def load_yaml_with_positions(text: str, *, source: str) -> tuple[Any, dict[KeyPath, int]]:
    """Parse text with the safe loader; return the data and a map of key path to 1-based line."""
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "not valid YAML"
        raise ConfigError(f"{source}{line}: YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: YAML syntax error: {exc}") from None
    positions: dict[KeyPath, int] = {}
    if node is not None:
        _walk(node, (), positions, source)
    return data, positions


def line_of(positions: dict[KeyPath, int], path: KeyPath) -> int:
    """The line of the deepest known prefix of path (a missing key points at its parent)."""
    for end in range(len(path), -1, -1):
        if path[:end] in positions:
            return positions[path[:end]]
    return 1
