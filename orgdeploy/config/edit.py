"""Edit orgdeploy.yaml in place by inserting text, so comments and layout stay exactly as they were.

A YAML round trip (ruamel) re-indents lists and rewrites `null`; the user's file
is theirs, so we only add the new list items next to the existing ones.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from orgdeploy.errors import ConfigError


def _regions_node(text: str, path: Path) -> yaml.SequenceNode:
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "regions" and isinstance(value, yaml.SequenceNode):
                return value
    raise ConfigError(f"{path}: regions: expected a list to add Regions to")


def add_regions(path: Path, regions: list[str]) -> list[str]:
    """Append regions to the `regions` list in path; return the ones actually added."""
    text = path.read_text(encoding="utf-8")
    node = _regions_node(text, path)
    present = [item.value for item in node.value]
    added = [r for r in dict.fromkeys(regions) if r not in present]
    if not added:
        return []
    if node.flow_style or not node.value:
        # [a, b] -> [a, b, c]: insert before the closing bracket.
        close = text.rindex("]", node.start_mark.index, node.end_mark.index)
        separator = ", " if node.value else ""
        new_text = text[:close] + separator + ", ".join(added) + text[close:]
    else:
        last = node.value[-1]
        line_start = text.rfind("\n", 0, last.start_mark.index) + 1
        prefix = text[line_start : last.start_mark.index]  # e.g. "  - "
        line_end = text.find("\n", last.end_mark.index)
        line_end = len(text) if line_end == -1 else line_end
        new_lines = "".join(f"\n{prefix}{region}" for region in added)
        new_text = text[:line_end] + new_lines + text[line_end:]
    tmp = path.with_name(path.name + ".orgdeploy-tmp")
    tmp.write_text(new_text, encoding="utf-8")
    tmp.replace(path)  # atomic: a crash never leaves half a file
    return added
