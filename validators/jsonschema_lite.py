"""A small validator for the JSON Schema (draft 2020-12) subset our schema files use.

Why not ``jsonschema``: importing it costs 80-210 ms here (``python -X importtime``, three
runs on the 2-core box under load, 2026-12-06; the issue measured 95 ms idle) against 22 ms for
this module: it pulls in referencing, rpds and attrs, about as much as validating a small
dataset, and the validator must run in less than half the time of lerobot-doctor.
``fastjsonschema`` would compile the same files but is not in the locked tools environment.
The schema files stay standard draft 2020-12; a test checks
them with ``jsonschema.Draft202012Validator.check_schema`` and asserts this module reports
an error exactly where ``jsonschema`` does. A keyword this module does not implement raises,
so a schema edit cannot silently stop being enforced.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

SUPPORTED = {
    "$schema", "$id", "$defs", "$ref", "title", "description", "comment", "$comment",
    "type", "enum", "const", "required", "properties", "additionalProperties",
    "minProperties", "items", "minItems", "maxItems", "minimum", "exclusiveMinimum",
    "maximum", "pattern", "allOf", "anyOf", "if", "then",
}  # fmt: skip


def _is_int(v: Any) -> bool:
    """JSON Schema integers include 3.0; booleans are not numbers."""
    if isinstance(v, bool):
        return False
    return isinstance(v, int) or (isinstance(v, float) and v.is_integer())


_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: _is_int(v),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


@dataclass(frozen=True)
class SchemaError:
    """One violation: where (JSON path) and what."""

    path: tuple[Any, ...]
    message: str


class Validator:
    """Validate instances against one schema document (refs resolve within it)."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.root = schema
        self._check_keywords(schema)

    def _check_keywords(self, node: Any) -> None:
        if isinstance(node, dict):
            unknown = set(node) - SUPPORTED
            if unknown:
                raise NotImplementedError(f"jsonschema_lite does not implement {sorted(unknown)}")
            for key, sub in node.items():
                if key in ("properties", "$defs"):
                    for s in sub.values():
                        self._check_keywords(s)
                elif key in ("allOf", "anyOf"):
                    for s in sub:
                        self._check_keywords(s)
                elif key in ("items", "additionalProperties", "if", "then") and isinstance(
                    sub, dict
                ):
                    self._check_keywords(sub)

    def iter_errors(self, instance: Any) -> Iterator[SchemaError]:
        yield from self._validate(self.root, instance, ())

    def is_valid(self, instance: Any) -> bool:
        return next(self.iter_errors(instance), None) is None

    def _resolve(self, ref: str) -> dict[str, Any]:
        if not ref.startswith("#/"):
            raise NotImplementedError(f"only local $ref supported, got {ref!r}")
        node: Any = self.root
        for part in ref[2:].split("/"):
            node = node[part]
        return node

    def _validate(self, s: dict[str, Any], v: Any, path: tuple) -> Iterator[SchemaError]:
        if "$ref" in s:
            yield from self._validate(self._resolve(s["$ref"]), v, path)
        if "type" in s:
            types = s["type"] if isinstance(s["type"], list) else [s["type"]]
            if not any(_TYPES[t](v) for t in types):
                yield SchemaError(path, f"{v!r} is not of type {', '.join(map(repr, types))}")
                return
        if "const" in s and v != s["const"]:
            yield SchemaError(path, f"{s['const']!r} was expected")
        if "enum" in s and v not in s["enum"]:
            yield SchemaError(path, f"{v!r} is not one of {s['enum']!r}")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if "minimum" in s and v < s["minimum"]:
                yield SchemaError(path, f"{v!r} is less than the minimum of {s['minimum']!r}")
            if "maximum" in s and v > s["maximum"]:
                yield SchemaError(path, f"{v!r} is greater than the maximum of {s['maximum']!r}")
            if "exclusiveMinimum" in s and v <= s["exclusiveMinimum"]:
                yield SchemaError(
                    path, f"{v!r} is less than or equal to the minimum of {s['exclusiveMinimum']!r}"
                )
        if isinstance(v, str) and "pattern" in s and not re.search(s["pattern"], v):
            yield SchemaError(path, f"{v!r} does not match {s['pattern']!r}")
        if isinstance(v, list):
            if "minItems" in s and len(v) < s["minItems"]:
                yield SchemaError(path, f"{v!r} should have at least {s['minItems']} items")
            if "maxItems" in s and len(v) > s["maxItems"]:
                yield SchemaError(path, f"{v!r} should have at most {s['maxItems']} items")
            if isinstance(s.get("items"), dict):
                for i, item in enumerate(v):
                    yield from self._validate(s["items"], item, (*path, i))
        if isinstance(v, dict):
            for key in s.get("required", []):
                if key not in v:
                    yield SchemaError(path, f"{key!r} is a required property")
            if "minProperties" in s and len(v) < s["minProperties"]:
                yield SchemaError(
                    path, f"{v!r} should have at least {s['minProperties']} properties"
                )
            props = s.get("properties", {})
            for key, sub in props.items():
                if key in v:
                    yield from self._validate(sub, v[key], (*path, key))
            extra = s.get("additionalProperties")
            if isinstance(extra, dict):
                for key, item in v.items():
                    if key not in props:
                        yield from self._validate(extra, item, (*path, key))
            elif extra is False:
                for key in v:
                    if key not in props:
                        yield SchemaError(path, f"additional property {key!r} is not allowed")
        for sub in s.get("allOf", []):
            yield from self._validate(sub, v, path)
        if "anyOf" in s and not any(
            next(self._validate(sub, v, path), None) is None for sub in s["anyOf"]
        ):
            yield SchemaError(path, f"{v!r} is not valid under any of the given schemas")
        if "if" in s and next(self._validate(s["if"], v, path), None) is None and "then" in s:
            yield from self._validate(s["then"], v, path)
