"""The advanced-query language (SelectAggregateResourceConfig), over configuration items.

It understands what orgdeploy emits and the documented common shapes: SELECT of properties and
COUNT(*); WHERE with =, !=, <>, <, >, <=, >=, [NOT] IN, [NOT] LIKE ('%' wildcard), AND, OR and
brackets; GROUP BY. Like AWS it refuses FROM, JOIN, DISTINCT and AS, and a condition on an array
property is true when any element satisfies it. ORDER BY is refused: nothing here needs it.

The items are an aggregator's recorded resources plus one AWS::Config::ResourceCompliance item per
evaluated resource (aggregation.py), shaped like the properties AWS documents for those types
(aws-config-resource-schema).
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from moto.core.exceptions import JsonRESTError


class InvalidExpressionException(JsonRESTError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("InvalidExpressionException", message)


_TOKEN = re.compile(r"\s*(?:('(?:[^']|'')*')|(-?\d+(?:\.\d+)?)|(<=|>=|!=|<>|[=<>(),*])|([A-Za-z_][\w.:]*))")
_REFUSED = {"FROM", "JOIN", "DISTINCT", "AS", "UNION", "HAVING", "ALL", "ORDER"}
_KEYWORDS = {"SELECT", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "GROUP", "BY", "COUNT"}
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "!=": operator.ne, "<>": operator.ne, "<": operator.lt, ">": operator.gt, "<=": operator.le,
    ">=": operator.ge,
}  # fmt: skip
_MISSING = object()


class _Parser:
    """Recursive descent over (kind, value) tokens: kind is str, num, op or word."""

    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, Any]] = []
        text, position = text.rstrip(), 0
        while position < len(text):
            found = _TOKEN.match(text, position)
            if not found:
                raise InvalidExpressionException(f"Unexpected character at position {position + 1}")
            quoted, number, op, word = found.groups()
            if word and word.upper() in _REFUSED:
                raise InvalidExpressionException(f"{word.upper()} is not supported in this query language")
            self.tokens.append(
                ("str", quoted[1:-1].replace("''", "'")) if quoted else ("num", float(number)) if number else
                ("op", op) if op else ("word", word)
            )  # fmt: skip
            position = found.end()
        self.at = 0

    def peek(self, *words: str) -> bool:
        kind, value = self.tokens[self.at] if self.at < len(self.tokens) else ("end", "")
        return kind in {"word", "op"} and str(value).upper() in words

    def take(self, *words: str) -> Any:
        if self.at >= len(self.tokens) or (words and not self.peek(*words)):
            raise InvalidExpressionException(f"Expected {' or '.join(words) or 'more'} at token {self.at + 1}")
        self.at += 1
        return self.tokens[self.at - 1][1]

    def field(self) -> str:
        if self.peek("COUNT"):
            self.take()
            self.take("(")
            inner = self.take()
            self.take(")")
            return f"COUNT({inner})"
        kind, value = self.tokens[self.at] if self.at < len(self.tokens) else ("end", "")
        if kind != "word" or str(value).upper() in _KEYWORDS:
            raise InvalidExpressionException(f"Expected a property at token {self.at + 1}")
        self.at += 1
        return str(value)

    def fields(self) -> list[str]:
        found = [self.field()]
        while self.peek(",") and self.take():
            found.append(self.field())
        return found

    def value(self) -> Any:
        kind, value = self.tokens[self.at] if self.at < len(self.tokens) else ("end", "")
        if kind not in {"str", "num"} and str(value).lower() not in {"true", "false"}:
            raise InvalidExpressionException(f"Expected a value at token {self.at + 1}")
        self.at += 1
        return str(value).lower() == "true" if kind == "word" else value

    def condition(self, level: int = 0) -> Any:
        if level < 2:  # OR binds loosest, then AND
            word = ("OR", "AND")[level]
            node = self.condition(level + 1)
            while self.peek(word) and self.take():
                node = (word.lower(), node, self.condition(level + 1))
            return node
        if self.peek("(") and self.take():
            node = self.condition()
            self.take(")")
            return node
        path = self.field().split(".")
        negate = self.peek("NOT") and bool(self.take())
        if self.peek("IN") and self.take() and self.take("("):
            values = [self.value()]
            while self.peek(",") and self.take():
                values.append(self.value())
            self.take(")")
            return ("in", path, values, negate)
        if self.peek("LIKE") and self.take():
            pattern = ".*".join(re.escape(part) for part in str(self.value()).split("%"))
            return ("like", path, re.compile(f"^{pattern}$", re.DOTALL), negate)
        return ("cmp", _OPS[self.take(*_OPS)], path, self.value())


def parse_query(text: str) -> tuple[list[str], Any, list[str]]:
    """(selected fields, condition or None, GROUP BY fields)."""
    parser = _Parser(text)
    parser.take("SELECT")
    select = ["*"] if parser.peek("*") and parser.take() else parser.fields()
    where = parser.condition() if parser.peek("WHERE") and parser.take() else None
    group = parser.fields() if parser.peek("GROUP") and parser.take() and parser.take("BY") else []
    if parser.at != len(parser.tokens):
        raise InvalidExpressionException(f"Unexpected {parser.tokens[parser.at][1]!r} at token {parser.at + 1}")
    return select, where, group


def _values(item: Any, path: list[str]) -> list[Any]:
    """Every value at path; arrays on the way are searched element by element."""
    if isinstance(item, list):
        return [v for element in item for v in _values(element, path)]
    if not path:
        return [item]
    return _values(item[path[0]], path[1:]) if isinstance(item, dict) and path[0] in item else []


def _test(op: Callable[[Any, Any], bool], found: Any, wanted: Any) -> bool:
    try:
        return bool(op(float(found) if isinstance(wanted, float) else found, wanted))
    except (TypeError, ValueError):
        return False


def _matches(node: Any, item: dict[str, Any]) -> bool:
    kind = node[0]
    if kind in {"and", "or"}:
        join = all if kind == "and" else any
        return join(_matches(child, item) for child in node[1:])
    found = _values(item, node[2] if kind == "cmp" else node[1])
    if kind == "cmp":
        return any(_test(node[1], v, node[3]) for v in found)
    if kind == "in":
        hit = any(v in node[2] for v in found)
    else:
        hit = any(isinstance(v, str) and node[2].match(v) is not None for v in found)
    return hit is not node[3]


def _project(item: Any, path: list[str]) -> Any:
    """The part of item on path, keeping its nesting (and its arrays); _MISSING when absent."""
    if isinstance(item, list):
        return [_project(element, path) for element in item]
    if not path:
        return item
    if not isinstance(item, dict) or path[0] not in item:
        return _MISSING
    inner = _project(item[path[0]], path[1:])
    return _MISSING if inner is _MISSING else {path[0]: inner}


def _merge(left: Any, right: Any) -> Any:
    """Two projections of one item as one: objects key by key, arrays element by element."""
    if isinstance(left, dict) and isinstance(right, dict):
        return {**left, **{key: _merge(left[key], value) if key in left else value for key, value in right.items()}}
    if isinstance(left, list) and isinstance(right, list):
        return [_merge(a, b) for a, b in zip(left, right, strict=False)]
    return right


def _select(item: dict[str, Any], names: list[str]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name in names:
        part = _project(item, name.split("."))
        if isinstance(part, dict):
            row = _merge(row, part)
    return row


def _hints(node: Any) -> Hints:
    """Equality conditions every match must meet, so the scan can skip items early."""
    if node is None or node[0] == "or":
        return {}
    if node[0] == "and":
        left, right = _hints(node[1]), _hints(node[2])
        return {**left, **{key: values & left.get(key, values) for key, values in right.items()}}
    if node[0] == "cmp" and node[1] is operator.eq and isinstance(node[3], str):
        return {".".join(node[2]): {node[3]}}
    return {".".join(node[1]): set(node[2])} if node[0] == "in" and not node[3] else {}


def _items(items: Iterable[dict[str, Any]], hints: Hints) -> Iterator[dict[str, Any]]:
    """The items that can match: those the equality conditions on the top-level keys do not rule out."""
    keys = [key for key in ("accountId", "awsRegion", "resourceType") if key in hints]
    for item in items:
        if all(item.get(key) in hints[key] for key in keys):
            yield item


Hints = dict[str, set[Any]]


def run_query(
    source: Callable[[Hints], Iterable[dict[str, Any]]], expression: str
) -> tuple[list[str], list[str], bool]:
    """(result JSON strings, selected field names, whether it aggregates) for one expression.

    source(hints) gives the items; hints are the equality conditions every match must meet
    (accountId, awsRegion, resourceType...), so a source may skip what cannot match.
    """
    select, where, group = parse_query(expression)
    hints = _hints(where)
    matched = (item for item in _items(source(hints), hints) if where is None or _matches(where, item))
    counts = [name for name in select if name.startswith("COUNT(")]
    plain = [name for name in select if not name.startswith("COUNT(") and name != "*"]
    rows: list[dict[str, Any]] = []
    if counts or group:
        if any(name not in group for name in plain):
            raise InvalidExpressionException("Every selected property must be in GROUP BY when COUNT is used")
        groups: dict[str, tuple[dict[str, Any], int]] = {}
        for item in matched:
            row = _select(item, group)
            key = json.dumps(row, sort_keys=True)
            groups[key] = (row, groups.get(key, (row, 0))[1] + 1)
        rows = [{**row, **dict.fromkeys(counts, n)} for row, n in groups.values()]
    else:
        rows = [dict(item) if select == ["*"] else _select(item, plain) for item in matched]
    return [json.dumps(row, separators=(",", ":")) for row in rows], select, bool(counts or group)
