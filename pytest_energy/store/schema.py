"""The documents' JSON Schemas (``store/schemas/*.schema.json``, draft 2020-12) and the
small validator that applies them: the subset of keywords those files use, plus
``x-unique`` (a field whose value must not repeat across an array's items). Every check a
document gets at load and before it is saved comes from these files, so the published
schema is the rule itself. A failure is a :class:`SchemaError` naming the field.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable
from typing import Any

SCHEMA_DIR = os.path.join(os.path.dirname(__file__), "schemas")
#: Annotations the validator reads past.
ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "$defs", "title", "description"})
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TYPE_WORDS = {"number": "a number", "integer": "a whole number", "string": "text",
               "boolean": "true or false", "null": "null", "object": "an object", "array": "a list"}



class Key(str):
    """A key of a map (a node id, a file): always quoted in a field's name."""


Path = tuple[str | int, ...]


class SchemaError(ValueError):
    """A document breaks its schema: ``field`` (e.g. ``tests[2].call.joules``) and ``problem``."""

    def __init__(self, path: Path, problem: str) -> None:
        self.field = field_name(path)
        self.problem = problem
        super().__init__(f"{self.field}: {problem}")


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    """The schema file ``<name>.schema.json`` shipped in the package."""
    with open(os.path.join(SCHEMA_DIR, f"{name}.schema.json"), encoding="utf-8") as handle:
        return json.load(handle)


def validate(data: Any, name: str) -> None:
    """Check ``data`` against schema ``name``; :class:`SchemaError` on the first problem."""
    _check(data, load_schema(name), (), name)


def field_name(path: Path) -> str:
    """``tests[2].call.joules``; odd keys (node ids) quoted and clipped: one safe line."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.fullmatch(part) and not isinstance(part, Key):
            out += f".{part}" if out else part
        else:
            out += f"[{clip(json.dumps(part), 80)}]"
    return out or "the document"


def clip(text: str, limit: int) -> str:
    """``text`` cut in the middle to at most ``limit`` characters."""
    if len(text) <= limit:
        return text
    head = (limit - 3) // 2
    return text[:head] + "..." + text[len(text) - (limit - 3 - head):]


def show(value: Any) -> str:
    """A value as the message shows it: JSON, clipped, one line."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**16:
        return f"{float(value):g}" if abs(value) < 10**308 else "a number too large"
    return clip(json.dumps(value), 60)


def _is(value: Any, kind: str) -> bool:
    if kind in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        return kind == "number" or isinstance(value, int) or value.is_integer()
    types = {"string": str, "boolean": bool, "null": type(None), "object": dict, "array": list}
    return isinstance(value, types[kind])


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1, 1.0 is 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is(a, "number") and _is(b, "number"):
        return a == b
    return type(a) is type(b) and a == b


def _number(value: Any) -> bool:
    return _is(value, "number")


def _resolve(ref: str, base: str) -> tuple[dict[str, Any], str]:
    """(the schema node, the file it is in) for ``file.schema.json#/$defs/x`` or ``#/...``."""
    target, _, pointer = ref.partition("#")
    name = target.removesuffix(".schema.json") if target else base
    node: Any = load_schema(name)
    for part in filter(None, pointer.split("/")):
        node = node[part]
    return node, name


def _check(value: Any, node: dict[str, Any], path: Path, base: str) -> None:
    for keyword, rule in node.items():
        if keyword in ANNOTATIONS:
            continue
        if keyword not in _KEYWORDS:
            raise KeyError(f"schema keyword {keyword!r} is not supported by pytest_energy.store.schema")
        _KEYWORDS[keyword](value, rule, node, path, base)


def _ref(value: Any, ref: str, node: dict[str, Any], path: Path, base: str) -> None:
    target, name = _resolve(ref, base)
    _check(value, target, path, name)


def _type(value: Any, kinds: str | list[str], node: dict[str, Any], path: Path, base: str) -> None:
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if not any(_is(value, kind) for kind in kinds):
        raise SchemaError(path, f"must be {' or '.join(_TYPE_WORDS[k] for k in kinds)}, not {show(value)}")


def _enum(value: Any, allowed: list[Any], node: dict[str, Any], path: Path, base: str) -> None:
    if not any(_equal(value, choice) for choice in allowed):
        raise SchemaError(path, f"{show(value)} is not one of {', '.join(map(show, allowed))}")


def _const(value: Any, expected: Any, node: dict[str, Any], path: Path, base: str) -> None:
    if not _equal(value, expected):
        raise SchemaError(path, f"{show(value)} is not {show(expected)}")


def _properties(value: Any, rules: dict[str, Any], node: dict[str, Any], path: Path, base: str) -> None:
    if isinstance(value, dict):
        for key, rule in rules.items():
            if key in value:
                _check(value[key], rule, (*path, key), base)


def _required(value: Any, names: list[str], node: dict[str, Any], path: Path, base: str) -> None:
    if isinstance(value, dict):
        for name in names:
            if name not in value:
                raise SchemaError((*path, name), "is missing")


def _additional(value: Any, rule: Any, node: dict[str, Any], path: Path, base: str) -> None:
    if not isinstance(value, dict):
        return
    for key in value.keys() - node.get("properties", {}).keys():
        if rule is False:
            raise SchemaError((*path, key), "is not a known field")
        _check(value[key], rule, (*path, Key(key)), base)


def _items(value: Any, rule: dict[str, Any], node: dict[str, Any], path: Path, base: str) -> None:
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check(item, rule, (*path, index), base)


def _min_items(value: Any, least: int, node: dict[str, Any], path: Path, base: str) -> None:
    if isinstance(value, list) and len(value) < least:
        raise SchemaError(path, f"must hold at least {least} item{'s' if least > 1 else ''}")


def _min_length(value: Any, least: int, node: dict[str, Any], path: Path, base: str) -> None:
    if isinstance(value, str) and len(value) < least:
        raise SchemaError(path, "must not be empty")


def _minimum(value: Any, least: float, node: dict[str, Any], path: Path, base: str) -> None:
    if _number(value) and value < least:
        raise SchemaError(path, f"{show(value)} is below {least:g}, the least allowed")


def _maximum(value: Any, most: float, node: dict[str, Any], path: Path, base: str) -> None:
    if _number(value) and value > most:
        raise SchemaError(path, f"{show(value)} is above {most:g}, the most allowed")


def _exclusive_minimum(value: Any, bound: float, node: dict[str, Any], path: Path, base: str) -> None:
    if _number(value) and value <= bound:
        raise SchemaError(path, f"must be above {bound:g}, not {show(value)}")


def _any_of(value: Any, branches: list[dict[str, Any]], node: dict[str, Any], path: Path, base: str) -> None:
    errors = []
    for branch in branches:
        try:
            _check(value, branch, path, base)
            return
        except SchemaError as exc:
            errors.append((branch, exc))
    if all("description" in branch for branch in branches):
        raise SchemaError(path, f"has none of: {', '.join(b['description'] for b in branches)}")
    # the branch that got furthest into the value (the last one on a tie) says the most
    raise max(reversed([exc for _, exc in errors]), key=lambda exc: len(exc.field))


def _dependent_required(value: Any, rules: dict[str, list[str]], node: dict[str, Any], path: Path,
                        base: str) -> None:
    if isinstance(value, dict):
        for key, needs in rules.items():
            if key in value:
                _required(value, needs, node, path, base)


def _unique(value: Any, key: str, node: dict[str, Any], path: Path, base: str) -> None:
    if not isinstance(value, list):
        return
    seen: set[str] = set()
    for index, item in enumerate(value):
        if isinstance(item, dict) and isinstance(item.get(key), str):
            if item[key] in seen:
                raise SchemaError((*path, index, key), f"{show(item[key])} is listed twice")
            seen.add(item[key])


_KEYWORDS: dict[str, Callable[[Any, Any, dict[str, Any], Path, str], None]] = {
    "$ref": _ref, "type": _type, "enum": _enum, "const": _const, "properties": _properties,
    "required": _required, "additionalProperties": _additional, "items": _items, "minItems": _min_items,
    "minLength": _min_length, "minimum": _minimum, "maximum": _maximum,
    "exclusiveMinimum": _exclusive_minimum, "anyOf": _any_of, "dependentRequired": _dependent_required,
    "x-unique": _unique,
}
