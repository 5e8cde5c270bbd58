"""The one typed-configuration base of ``bno``: strict pydantic schemas for every document a user
writes or a tool stores — training recipes, dataset declarations, model configs (``config.json``).

Every such document is validated by one typed schema before any work starts:
unknown keys are errors, ``true``/``false`` are the only booleans, integers are whole
numbers, floats are finite numbers (an int or a float — never a bool, a string, NaN or
±inf), and numbers carry their bounds. :func:`first_problem` turns a
``pydantic.ValidationError`` into the key path and a one-line reason, and
:func:`schema_rows` lists every key of a schema (path, type, default, meaning) from the
schema itself, for ``bno-train config``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError

__all__ = ["DEVICE_PATTERN", "Real", "Schema", "SchemaRow", "describe_error", "first_problem", "missing_keys", "schema_rows"]

#: How a torch device may be written anywhere (recipes, ``--device``): auto, cpu, mps, cuda or cuda:N.
DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
#: A finite number: an int or a float, never a bool, a string, NaN or ±inf.
Real = Annotated[float, Strict(), Field(allow_inf_nan=False)]


class Schema(BaseModel):
    """Strict, frozen, closed pydantic model (unknown keys are errors; floats are finite)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False, validate_default=True)


# --------------------------------------------------------------------------- errors


def _fields(cls: Any) -> dict[str, Any] | None:
    """The pydantic fields of a model or pydantic dataclass, else ``None``."""
    if isinstance(cls, type) and issubclass(cls, BaseModel):
        return dict(cls.model_fields)
    fields = getattr(cls, "__pydantic_fields__", None) if isinstance(cls, type) else None
    return dict(fields) if fields is not None else None


def _section_class(annotation: Any) -> Any:
    """The model or pydantic dataclass an annotation names (through ``Annotated`` / ``X | None``), else ``None``."""
    if _fields(annotation) is not None:
        return annotation
    for arg in get_args(annotation) if get_origin(annotation) is not None else ():
        found = _section_class(arg)
        if found is not None:
            return found
    return None


def _allowed_keys(root: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys of the section at ``loc`` (a path of field names from ``root``), [] if unknown."""
    cls: Any = root
    for part in loc:
        field = (_fields(cls) or {}).get(str(part)) if cls is not None else None
        cls = _section_class(field.annotation) if field is not None else None
    return list(_fields(cls) or {}) if cls is not None else []


def first_problem(error: ValidationError, root: type[BaseModel]) -> tuple[str, str]:
    """``(key path, one-line reason)`` of the first problem of ``error`` (raised validating ``root``).

    >>> from pydantic import ValidationError
    >>> class Tiny(Schema):
    ...     lr: Real = 1.0
    >>> try:
    ...     Tiny.model_validate({"lr": float("inf")})
    ... except ValidationError as error:
    ...     first_problem(error, Tiny)
    ('lr', 'Input should be a finite number')
    """
    first = error.errors(include_url=False)[0]
    loc = tuple(first["loc"])
    if first["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
        allowed = _allowed_keys(root, loc[:-1])
        return ".".join(map(str, loc)), "unknown key" + (f" (allowed here: {', '.join(allowed)})" if allowed else "")
    if loc and loc[-1] == "[key]":  # a mapping key outside its choices (e.g. a loss name)
        return ".".join(map(str, loc[:-1])), f"unknown name: {first['msg']}"
    if first["type"] == "value_error":  # raised by a validator: its own words, without "Value error, "
        return ".".join(map(str, loc)), str(first["ctx"]["error"])
    return ".".join(map(str, loc)), first["msg"].replace("a valid tuple", "a list")


def describe_error(error: ValidationError, root: type[BaseModel], prefix: str = "") -> str:
    """One line for the first problem: ``<prefix>.<key path>: <reason>`` (e.g. ``config.bilateral.grid_depth: …``)."""
    path, reason = first_problem(error, root)
    path = ".".join(part for part in (prefix, path) if part)
    return f"{path}: {reason}" if path else reason


def missing_keys(root: type[BaseModel], data: Any, prefix: str = "", added_later: Collection[str] = ()) -> list[str]:
    """Key paths of ``root``'s fields (recursively through sections) absent from the plain ``data``.

    A stored document (a checkpoint's ``config.json``) must spell out every field: a default
    filled in silently could build a different network than the one whose weights are stored.
    Fields named in ``added_later`` are exempt: documents written before they existed lack them,
    and their default is what those documents meant.
    """
    if not isinstance(data, Mapping):
        return []
    missing = []
    for name, field in (_fields(root) or {}).items():
        path = f"{prefix}.{name}" if prefix else name
        if name not in data:
            if name not in added_later:
                missing.append(path)
            continue
        section = _section_class(field.annotation)
        if section is not None:
            missing += missing_keys(section, data[name], path, added_later)
    return missing


# --------------------------------------------------------------------------- listing


@dataclass(frozen=True)
class SchemaRow:
    """One key of a schema: dotted path, type with bounds, default (JSON) and meaning."""

    path: str
    type: str
    default: str
    meaning: str


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Follow ``$ref`` (and a lone ``allOf`` wrapper) to the schema it names; keep the node's own keys."""
    if "allOf" in node and len(node["allOf"]) == 1:
        node = {**node["allOf"][0], **{k: v for k, v in node.items() if k != "allOf"}}
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _bounds(node: dict[str, Any]) -> str:
    """``in [1, 256]``, ``> 0``, ``in [0, 1)``, ``<= 9`` from JSON-schema bounds ('' when unbounded)."""
    low = ("[", node["minimum"]) if "minimum" in node else ("(", node["exclusiveMinimum"]) if "exclusiveMinimum" in node else None
    high = ("]", node["maximum"]) if "maximum" in node else (")", node["exclusiveMaximum"]) if "exclusiveMaximum" in node else None
    if low and high:
        text = f"in {low[0]}{_number(low[1])}, {_number(high[1])}{high[0]}"
    elif low:
        text = f"{'>=' if low[0] == '[' else '>'} {_number(low[1])}"
    elif high:
        text = f"{'<=' if high[0] == ']' else '<'} {_number(high[1])}"
    else:
        text = ""
    if "multipleOf" in node:
        text += f", multiple of {_number(node['multipleOf'])}"
    return text.lstrip(", ")


def _type_name(node: dict[str, Any], defs: dict[str, Any]) -> str:
    """A short human type of a JSON-schema node: ``float > 0``, ``one of a|b``, ``list of str (1…64)``."""
    node = _resolve(node, defs)
    if "anyOf" in node:
        parts = [_type_name(option, defs) for option in node["anyOf"] if option.get("type") != "null"]
        nullable = any(option.get("type") == "null" for option in node["anyOf"])
        return " or ".join(parts) + (" or null" if nullable else "")
    if "enum" in node or "const" in node:
        return "one of " + "|".join(str(v) for v in node.get("enum", [node.get("const")]))
    kind = node.get("type", "string" if "pattern" in node or "maxLength" in node else None)
    if kind == "array" and "prefixItems" in node:
        items = [_type_name(item, defs) for item in node["prefixItems"]]
        return f"list of {len(items)}: {items[0]}" if len(set(items)) == 1 else "[" + ", ".join(items) + "]"
    if kind == "array":
        count = f" ({node['minItems']}…{node.get('maxItems', '')})" if "minItems" in node else ""
        return f"list of {_type_name(node.get('items', {}), defs)}{count}"
    if kind == "object" and "properties" in node:  # a section inside a map: name its keys
        return "{" + ", ".join(node["properties"]) + "}"
    if kind == "object":
        keys = _type_name(node.get("propertyNames", {"type": "string"}), defs)
        values = node.get("additionalProperties") or next(iter(node.get("patternProperties", {}).values()), {})
        return f"map {keys} → {_type_name(values, defs)}"
    base = {"integer": "int", "number": "float", "boolean": "bool", "string": "str"}.get(str(kind), "any")
    bounds = _bounds(node)
    return f"{base} {bounds}" if bounds else base


def _walk(node: dict[str, Any], defs: dict[str, Any], defaults: Any, prefix: str) -> Iterator[SchemaRow]:
    for name, prop in node.get("properties", {}).items():
        path = f"{prefix}{name}"
        resolved = _resolve(prop, defs)
        default = defaults.get(name) if isinstance(defaults, dict) else None
        if "properties" in resolved:  # a section: list its keys
            yield from _walk(resolved, defs, default, path + ".")
            continue
        meaning = " ".join(str(prop.get("description") or resolved.get("description") or "").split())
        yield SchemaRow(path, _type_name(prop, defs), json.dumps(default, ensure_ascii=False), meaning)


def schema_rows(root: type[BaseModel], skip: Collection[str] = ()) -> list[SchemaRow]:
    """Every leaf key of ``root`` (recursively through sections) but the paths in ``skip``, in order."""
    schema = root.model_json_schema(mode="validation")
    rows = _walk(schema, schema.get("$defs", {}), root().model_dump(mode="json"), "")
    return [row for row in rows if row.path not in skip]
