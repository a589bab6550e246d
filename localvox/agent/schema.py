"""Tool schemas: Python type hints and docstrings -> JSON schema -> validated Python kwargs.

Both directions live here because they must agree: whatever :func:`schema_for` promises
the model, :func:`validate_arguments` accepts and turns back into the annotated Python
types (enums, tuples, sets). :mod:`localvox.agent.tools` builds a ``ToolInfo`` from a
function with these helpers and runs the calls.

Why validate at all: small models produce ``"5"`` for an integer, forget required
arguments or emit half a JSON object. Every such failure becomes a
:class:`ToolArgumentError` whose text tells the model what was wrong, so it can retry.

Coercion rule (applied only where the reading is unambiguous):

* integer  <- a string of digits (``"5"``, ``" -3 "``) or a float with no fraction (``5.0``)
* number   <- a numeric string (``"2.5"``, ``"1e3"``); an int is already a number
* boolean  <- the strings ``"true"`` / ``"false"`` (any case); never 0/1
* string   <- an int or float (``1234`` -> ``"1234"``); never a bool, list or object
* enum     <- a string that matches exactly one allowed value ignoring case
* ``null`` for an optional argument means "use the default"

Anything else that does not match the schema is an error. Arguments the schema does not
name are dropped (unless the function takes ``**kwargs``).
"""

from __future__ import annotations

import enum
import inspect
import json
import math
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal, Protocol, Union

__all__ = [
    "ToolArgumentError", "ArgumentSpec", "parse_docstring", "resolve_hints", "schema_for",
    "encode_default", "validate_arguments",
]


class ToolArgumentError(ValueError):
    """The model's arguments do not fit the tool's schema (the message is for the model)."""


class ArgumentSpec(Protocol):
    """What :func:`validate_arguments` needs from a tool (``ToolInfo`` satisfies it).

    A protocol rather than ``ToolInfo`` itself so this module does not import the
    registry that imports it.
    """

    @property
    def parameters(self) -> dict[str, Any]: ...

    @property
    def hints(self) -> Mapping[str, Any]: ...

    @property
    def nullable(self) -> frozenset[str]: ...

    @property
    def accepts_kwargs(self) -> bool: ...


# -- type hints -> JSON schema ------------------------------------------------------------

def resolve_hints(fn: Callable[..., Any], frame_depth: int) -> dict[str, Any]:
    """``fn``'s type hints, resolved even for classes defined inside a function.

    ``frame_depth`` counts frames up from this function to the code that defined the tool:
    string annotations (``from __future__ import annotations``) naming a local class only
    resolve against that frame's locals.
    """
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except NameError:
        # A class defined inside a function: look in the frames that defined the tool.
        localns: dict[str, Any] = {}
        frame = sys._getframe(frame_depth)
        for _ in range(4):
            if frame is None:
                break
            for key, value in frame.f_locals.items():
                localns.setdefault(key, value)
            frame = frame.f_back
        try:
            return typing.get_type_hints(fn, localns=localns, include_extras=True)
        except NameError as exc:
            raise TypeError(f"tool {fn.__qualname__}: cannot resolve type hint: {exc}") from None


def encode_default(value: Any) -> Any:
    """A parameter default as JSON for the schema, or None when it has no JSON form."""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, (tuple, set, frozenset)):
        value = list(value)
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return None
    return value


_PRIMITIVES: dict[type, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


def _primitive_name(values: Sequence[Any]) -> str | None:
    kinds = {bool if isinstance(v, bool) else type(v) for v in values}
    if len(kinds) == 1:
        return _PRIMITIVES.get(kinds.pop())
    return None


def schema_for(hint: Any) -> tuple[dict[str, Any], bool, str | None]:
    """JSON schema for a type hint, plus (nullable, description from ``Annotated``)."""
    origin = typing.get_origin(hint)
    if origin is Annotated:
        inner, *extras = typing.get_args(hint)
        schema, nullable, doc = schema_for(inner)
        for extra in extras:
            if isinstance(extra, str):
                doc = extra
            elif isinstance(getattr(extra, "description", None), str):
                doc = extra.description
            examples = extra.get("examples") if isinstance(extra, dict) \
                else getattr(extra, "examples", None)
            if isinstance(examples, (list, tuple)) and examples:
                # JSON schema's own keyword; the ASR vocabulary reads it too
                schema["examples"] = [encode_default(x) for x in examples]
        return schema, nullable, doc
    if origin in (Union, types.UnionType):
        arms = [a for a in typing.get_args(hint) if a is not type(None)]
        nullable = len(arms) < len(typing.get_args(hint))
        if len(arms) == 1:
            schema, _, doc = schema_for(arms[0])
            return schema, nullable, doc
        return {"anyOf": [schema_for(a)[0] for a in arms]}, nullable, None
    if origin is Literal:
        values = list(typing.get_args(hint))
        schema: dict[str, Any] = {"enum": values}
        if (kind := _primitive_name(values)) is not None:
            schema = {"type": kind, "enum": values}
        return schema, False, None
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        values = [m.value for m in hint]
        schema = {"enum": values}
        if (kind := _primitive_name(values)) is not None:
            schema = {"type": kind, "enum": values}
        return schema, False, None
    if hint in _PRIMITIVES:
        return {"type": _PRIMITIVES[hint]}, False, None
    if hint is type(None):
        return {"type": "null"}, True, None
    if hint is Any:
        return {}, False, None
    if origin in (list, tuple, set, frozenset, Sequence) or hint in (list, tuple, set, frozenset):
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        items = schema_for(args[0])[0] if args else {}
        return {"type": "array", "items": items}, False, None
    if origin is dict or hint is dict:
        return {"type": "object"}, False, None
    raise TypeError(f"unsupported type {hint!r} (use str, int, float, bool, Literal, Enum, "
                    "list[...], dict or Optional[...])")


# -- docstrings ---------------------------------------------------------------------------

_SECTION = re.compile(r"^(Args|Arguments|Parameters|Params|Keyword Args|Returns?|Yields?|"
                      r"Raises|Examples?|Notes?|Attributes|See Also|Warnings?|Todo)\s*:\s*$",
                      re.IGNORECASE)
_ARG_SECTIONS = {"args", "arguments", "parameters", "params", "keyword args"}
_ARG_LINE = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Google-style docstring -> (summary, {argument: description}).

    The summary is the text before the first section, joined into one line. Argument
    descriptions may continue on more-indented lines; any other section (``Returns:``…)
    ends the argument block (Atoms appends it to the last argument's text).
    """
    summary: list[str] = []
    args: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    arg_indent: int | None = None
    for raw in inspect.cleandoc(doc).splitlines():
        line = raw.strip()
        header = _SECTION.match(line)
        indent = len(raw) - len(raw.lstrip())
        if header and indent == 0:
            section = header.group(1).lower()
            current, arg_indent = None, None
            continue
        if section is None:
            if line:
                summary.append(line)
            continue
        if section not in _ARG_SECTIONS or not line:
            continue
        match = _ARG_LINE.match(line)
        if match and (arg_indent is None or indent <= arg_indent):
            arg_indent = indent
            current = match.group(1)
            args[current] = match.group(2).strip()
        elif current is not None:
            args[current] = f"{args[current]} {line}".strip()
    return " ".join(summary), args


# -- argument validation ------------------------------------------------------------------

_INT_RE = re.compile(r"^[+-]?\d+$")
_NUM_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _describe(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _coerce(schema: dict[str, Any], value: Any, where: str) -> Any:
    if "anyOf" in schema:
        for arm in schema["anyOf"]:
            try:
                return _coerce(arm, value, where)
            except ToolArgumentError:
                continue
        raise ToolArgumentError(f"{where} has the wrong type: {_describe(value)}")
    kind = schema.get("type")
    if kind is not None:
        value = _coerce_type(kind, schema, value, where)
    if "enum" in schema:
        allowed = schema["enum"]
        for option in allowed:
            if option == value and type(option) is type(value):
                return option
        if isinstance(value, str):
            folded = [o for o in allowed if isinstance(o, str) and o.lower() == value.lower()]
            if len(folded) == 1:
                return folded[0]
        raise ToolArgumentError(f"{where} must be one of {json.dumps(allowed)}, "
                                f"got {_describe(value)}")
    return value


def _coerce_type(kind: str, schema: dict[str, Any], value: Any, where: str) -> Any:
    if kind == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool) \
                and math.isfinite(value):
            return str(value)
        raise ToolArgumentError(f"{where} must be a string, got {_describe(value)}")
    if kind == "integer":
        if isinstance(value, bool):
            pass
        elif isinstance(value, int):
            return value
        elif isinstance(value, float) and value.is_integer():
            return int(value)
        elif isinstance(value, str) and _INT_RE.match(value.strip()):
            return int(value.strip())
        raise ToolArgumentError(f"{where} must be an integer, got {_describe(value)}")
    if kind == "number":
        if isinstance(value, bool):
            pass
        elif isinstance(value, (int, float)) and math.isfinite(value):
            return value
        elif isinstance(value, str) and _NUM_RE.match(value.strip()):
            number = float(value.strip())
            if math.isfinite(number):
                return number
        raise ToolArgumentError(f"{where} must be a number, got {_describe(value)}")
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ToolArgumentError(f"{where} must be true or false, got {_describe(value)}")
    if kind == "array":
        if not isinstance(value, list):
            raise ToolArgumentError(f"{where} must be a list, got {_describe(value)}")
        items = schema.get("items") or {}
        return [_coerce(items, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if kind == "object":
        if not isinstance(value, dict):
            raise ToolArgumentError(f"{where} must be an object, got {_describe(value)}")
        return value
    if kind == "null":
        if value is None:
            return None
        raise ToolArgumentError(f"{where} must be null, got {_describe(value)}")
    return value


def validate_arguments(info: ArgumentSpec, arguments: Any) -> dict[str, Any]:
    """Check decoded arguments against ``info``'s schema and return Python kwargs.

    Raises :class:`ToolArgumentError` listing every problem (written for the model).
    """
    if not isinstance(arguments, dict):
        raise ToolArgumentError(f"arguments must be a JSON object, got {_describe(arguments)}")
    properties: dict[str, Any] = info.parameters["properties"]
    required = set(info.parameters["required"])
    problems: list[str] = []
    kwargs: dict[str, Any] = {}
    for pname, schema in properties.items():
        if pname not in arguments:
            if pname in required:
                problems.append(f"missing required argument '{pname}'")
            continue
        value = arguments[pname]
        if value is None and pname in info.nullable:
            if pname in required:
                kwargs[pname] = None
            continue
        try:
            kwargs[pname] = _to_python(info.hints.get(pname), _coerce(schema, value,
                                                                       f"'{pname}'"))
        except ToolArgumentError as exc:
            problems.append(str(exc))
    extra = [k for k in arguments if k not in properties]
    if extra and info.accepts_kwargs:
        kwargs.update({k: arguments[k] for k in extra})
    if problems:
        if extra and not info.accepts_kwargs:
            problems.append(f"unknown argument(s) {', '.join(map(repr, extra))}")
        raise ToolArgumentError("; ".join(problems))
    return kwargs


def _to_python(hint: Any, value: Any) -> Any:
    """Turn a validated JSON value into what the annotation promises (enums, tuples, sets)."""
    if hint is None or value is None:
        return value
    origin = typing.get_origin(hint)
    if origin is Annotated:
        return _to_python(typing.get_args(hint)[0], value)
    if origin in (Union, types.UnionType):
        arms = [a for a in typing.get_args(hint) if a is not type(None)]
        return _to_python(arms[0], value) if len(arms) == 1 else value
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    if hint is float and isinstance(value, int):
        return float(value)
    if isinstance(value, list):
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        items = [_to_python(args[0], v) for v in value] if args else value
        if origin in (tuple,) or hint is tuple:
            return tuple(items)
        if origin in (set, frozenset) or hint in (set, frozenset):
            return (frozenset if frozenset in (origin, hint) else set)(items)
        return items
    return value


