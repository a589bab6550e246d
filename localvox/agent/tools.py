"""Function tools: ``@function_tool``, argument validation and :class:`ToolRegistry`.

A tool is a plain Python function (sync or async) whose type hints and Google-style
docstring become the JSON schema the LLM sees::

    @function_tool
    async def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
        \"\"\"Get the current weather for a city.

        Args:
            city: The city name, e.g. "Paris".
            unit: Temperature unit.
        \"\"\"

Why the registry validates arguments itself: small models produce ``"5"`` for an integer,
forget required arguments or emit half a JSON object. Every such failure becomes a
``ToolResult(is_error=True)`` whose text tells the model what was wrong, so it can retry
or apologise; nothing raises into the conversation (the Atoms SDK passes wrong types
straight through and reports failures with an empty call id).

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

import asyncio
import dataclasses
import enum
import functools
import inspect
import json
import logging
import math
import re
import sys
import time
import types
import typing
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Union

from localvox.agent.events import (EndCall, Event, ToolCallEnd, ToolCallError, ToolCallStart,
                                   TransferCall)
from localvox.llm.base import ToolCall

__all__ = [
    "function_tool", "is_function_tool", "get_tool_info", "ToolInfo", "ToolResult",
    "ToolRegistry", "RunContext", "ToolArgumentError", "validate_arguments", "parse_docstring",
]

log = logging.getLogger(__name__)

Emit = Callable[[Event], Awaitable[None]]


class ToolArgumentError(ValueError):
    """The model's arguments do not fit the tool's schema (the message is for the model)."""


@dataclass
class RunContext:
    """Injected into a tool parameter annotated ``RunContext`` (or named ``context``).

    Gives a free-function tool what a method tool gets from ``self``: the session (and
    its per-conversation ``state``), the node running the tool loop and the call itself.
    """

    session: Any = None
    node: Any = None
    call: ToolCall | None = None

    @property
    def state(self) -> dict[str, Any]:
        return self.session.state if self.session is not None else {}


@dataclass(frozen=True)
class ToolInfo:
    """What ``@function_tool`` attaches to a function as ``__tool_info__``."""

    name: str
    description: str
    parameters: dict[str, Any]
    """JSON schema of the arguments: ``{"type": "object", "properties", "required"}``."""
    fn: Callable[..., Any]
    timeout_s: float | None = None
    hints: dict[str, Any] = field(default_factory=dict)
    nullable: frozenset[str] = frozenset()
    context_param: str | None = None
    accepts_kwargs: bool = False

    def schema(self) -> dict[str, Any]:
        return {"type": "function", "function": {
            "name": self.name, "description": self.description, "parameters": self.parameters}}


@dataclass(frozen=True)
class ToolResult:
    tool_call_id: str
    name: str
    content: str
    is_error: bool = False
    latency_ms: float = 0.0

    def to_message(self) -> dict[str, Any]:
        return {"role": "tool", "tool_call_id": self.tool_call_id, "name": self.name,
                "content": self.content}


# -- the decorator ------------------------------------------------------------------------

def function_tool(fn: Callable[..., Any] | None = None, *, name: str | None = None,
                  description: str | None = None, timeout_s: float | None = None) -> Any:
    """Mark ``fn`` as a tool. Usable as ``@function_tool``, ``@function_tool()`` or with
    ``name=``, ``description=``, ``timeout_s=`` (overrides the registry's default).

    The function is returned unchanged (so methods stay methods) with ``__tool_info__``.
    Unsupported parameter types raise ``TypeError`` here, at definition time.
    """
    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        target = f.__func__ if isinstance(f, (staticmethod, classmethod)) else f
        target.__tool_info__ = build_tool_info(  # type: ignore[attr-defined]
            target, name=name, description=description, timeout_s=timeout_s,
            frame_depth=3 if fn is None else 4)
        return f

    return decorate(fn) if fn is not None else decorate


def is_function_tool(fn: Any) -> bool:
    return get_tool_info(fn) is not None


def get_tool_info(fn: Any) -> ToolInfo | None:
    info = getattr(fn, "__tool_info__", None)
    return info if isinstance(info, ToolInfo) else None


def build_tool_info(fn: Callable[..., Any], *, name: str | None = None,
                    description: str | None = None, timeout_s: float | None = None,
                    frame_depth: int = 2) -> ToolInfo:
    sig = inspect.signature(fn)
    hints = _resolve_hints(fn, frame_depth)
    summary, arg_docs = parse_docstring(inspect.getdoc(fn) or "")
    properties: dict[str, Any] = {}
    required: list[str] = []
    nullable: set[str] = set()
    param_hints: dict[str, Any] = {}
    context_param = None
    accepts_kwargs = False
    for index, (pname, param) in enumerate(sig.parameters.items()):
        if index == 0 and pname in ("self", "cls"):
            continue
        if param.kind is param.VAR_KEYWORD:
            accepts_kwargs = True
            continue
        if param.kind is param.VAR_POSITIONAL:
            continue
        hint = hints.get(pname, param.annotation)
        if _is_run_context(hint) or (pname == "context" and hint is inspect.Parameter.empty):
            context_param = pname
            continue
        if hint is inspect.Parameter.empty:
            hint = str  # unannotated: the model sends text (as the Atoms SDK assumes)
        try:
            schema, is_nullable, doc = _schema_for(hint)
        except TypeError as exc:
            raise TypeError(f"tool {fn.__qualname__}: parameter {pname!r}: {exc}") from None
        schema["description"] = doc if doc is not None else arg_docs.get(pname, "")
        if param.default is inspect.Parameter.empty:
            required.append(pname)
        else:
            default = _encode_default(param.default)
            if default is not None:
                schema["default"] = default
        if is_nullable or param.default is None:
            nullable.add(pname)
        properties[pname] = schema
        param_hints[pname] = hint
    return ToolInfo(
        name=name or fn.__name__,
        description=description if description is not None else summary,
        parameters={"type": "object", "properties": properties, "required": required},
        fn=fn, timeout_s=timeout_s, hints=param_hints, nullable=frozenset(nullable),
        context_param=context_param, accepts_kwargs=accepts_kwargs)


def _resolve_hints(fn: Callable[..., Any], frame_depth: int) -> dict[str, Any]:
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


def _is_run_context(hint: Any) -> bool:
    if typing.get_origin(hint) is Annotated:
        hint = typing.get_args(hint)[0]
    return isinstance(hint, type) and issubclass(hint, RunContext)


def _encode_default(value: Any) -> Any:
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


def _schema_for(hint: Any) -> tuple[dict[str, Any], bool, str | None]:
    """JSON schema for a type hint, plus (nullable, description from ``Annotated``)."""
    origin = typing.get_origin(hint)
    if origin is Annotated:
        inner, *extras = typing.get_args(hint)
        schema, nullable, doc = _schema_for(inner)
        for extra in extras:
            if isinstance(extra, str):
                doc = extra
            elif isinstance(getattr(extra, "description", None), str):
                doc = extra.description
        return schema, nullable, doc
    if origin in (Union, types.UnionType):
        arms = [a for a in typing.get_args(hint) if a is not type(None)]
        nullable = len(arms) < len(typing.get_args(hint))
        if len(arms) == 1:
            schema, _, doc = _schema_for(arms[0])
            return schema, nullable, doc
        return {"anyOf": [_schema_for(a)[0] for a in arms]}, nullable, None
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
        items = _schema_for(args[0])[0] if args else {}
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


def validate_arguments(info: ToolInfo, arguments: Any) -> dict[str, Any]:
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


# -- the registry -------------------------------------------------------------------------

@dataclass(frozen=True)
class _Tool:
    info: ToolInfo
    call: Callable[..., Any]


def _original(fn: Callable[..., Any]) -> Any:
    return getattr(fn, "__func__", fn)


class ToolRegistry:
    """The tools one agent offers, and a safe way to run the model's calls.

    ``emit`` (an async callback, usually a node's ``send_event``) receives
    ``ToolCallStart`` / ``ToolCallEnd`` / ``ToolCallError`` events, and any event a tool
    returns (``EndCall`` / ``TransferCall`` are the handoff markers).
    """

    def __init__(self, timeout_s: float = 10.0, emit: Emit | None = None) -> None:
        self.timeout_s = timeout_s
        self.emit = emit
        self._tools: dict[str, _Tool] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def register(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Add a tool (decorated or not; usable as a decorator). Returns ``fn``.

        Registering the same function again replaces it; a different function under an
        existing name is a ``ValueError`` (silent overwrites hide bugs).
        """
        info = get_tool_info(fn) or build_tool_info(_original(fn))
        existing = self._tools.get(info.name)
        if existing is not None and _original(existing.call) is not _original(fn):
            raise ValueError(f"a different tool named {info.name!r} is already registered")
        self._tools[info.name] = _Tool(info, fn)
        return fn

    def discover(self, obj: Any) -> list[str]:
        """Register every ``@function_tool`` member of ``obj`` (bound) or of a module."""
        found: list[str] = []
        if isinstance(obj, types.ModuleType):
            members = [(n, v) for n, v in vars(obj).items() if is_function_tool(v)]
        else:
            seen: set[str] = set()
            members = []
            for klass in type(obj).__mro__:
                for attr_name, raw in vars(klass).items():
                    if attr_name in seen:
                        continue
                    seen.add(attr_name)
                    target = raw.__func__ if isinstance(raw, (staticmethod, classmethod)) \
                        else raw
                    if is_function_tool(target):
                        members.append((attr_name, getattr(obj, attr_name)))
        for _, member in members:
            self.register(member)
            found.append(get_tool_info(member).name)  # type: ignore[union-attr]
        return found

    def get_schemas(self) -> list[dict[str, Any]]:
        return [tool.info.schema() for tool in self._tools.values()]

    async def execute(self, calls: Sequence[ToolCall], parallel: bool = True, *,
                      context: RunContext | None = None,
                      emit: Emit | None = None) -> list[ToolResult]:
        """Run the calls; one result per call, in input order, each with its call id.

        Never raises for a tool's failure (unknown tool, bad JSON, bad arguments, an
        exception, a timeout): those are ``is_error`` results. Cancellation propagates.
        """
        emit = emit or self.emit
        if parallel and len(calls) > 1:
            return list(await asyncio.gather(
                *(self._execute_one(c, context, emit) for c in calls)))
        return [await self._execute_one(c, context, emit) for c in calls]

    async def _execute_one(self, call: ToolCall, context: RunContext | None,
                           emit: Emit | None) -> ToolResult:
        started = time.perf_counter()
        await _safe_emit(emit, ToolCallStart(call_id=call.id, name=call.name,
                                             arguments=call.arguments))
        try:
            content = await self._run(call, context, emit)
        except asyncio.CancelledError:
            raise
        except _ToolFailed as exc:
            return await self._failed(call, str(exc), started, emit)
        except Exception as exc:  # the tool's own bug or failure: tell the model
            log.warning("tool %s raised", call.name, exc_info=True)
            detail = str(exc) or type(exc).__name__
            return await self._failed(call, f"{call.name} failed: {detail}", started, emit)
        latency = (time.perf_counter() - started) * 1000
        await _safe_emit(emit, ToolCallEnd(call_id=call.id, name=call.name, result=content,
                                           latency_ms=latency))
        return ToolResult(call.id, call.name, content, False, latency)

    async def _failed(self, call: ToolCall, error: str, started: float,
                      emit: Emit | None) -> ToolResult:
        latency = (time.perf_counter() - started) * 1000
        await _safe_emit(emit, ToolCallError(call_id=call.id, name=call.name, error=error,
                                             latency_ms=latency))
        return ToolResult(call.id, call.name, f"Error: {error}", True, latency)

    async def _run(self, call: ToolCall, context: RunContext | None,
                   emit: Emit | None) -> str:
        tool = self._tools.get(call.name)
        if tool is None:
            available = ", ".join(self._tools) or "none"
            raise _ToolFailed(f"unknown tool {call.name!r}; available tools: {available}")
        info = tool.info
        arguments = _parse_json_arguments(call.arguments, info)
        try:
            kwargs = validate_arguments(info, arguments)
        except ToolArgumentError as exc:
            raise _ToolFailed(f"bad arguments for {call.name}: {exc}") from None
        if info.context_param is not None:
            kwargs[info.context_param] = dataclasses.replace(context or RunContext(), call=call)
        timeout = info.timeout_s if info.timeout_s is not None else self.timeout_s
        try:
            async with asyncio.timeout(timeout) as scope:
                if inspect.iscoroutinefunction(_original(tool.call)):
                    value = await tool.call(**kwargs)
                else:  # sync tools run in a thread so they cannot stall the event loop
                    value = await asyncio.to_thread(functools.partial(tool.call, **kwargs))
                    if inspect.isawaitable(value):
                        value = await value
        except TimeoutError:
            if scope.expired():
                raise _ToolFailed(f"{call.name} timed out after {timeout:g} s") from None
            raise
        return await _render(value, emit)


class _ToolFailed(Exception):
    pass


def _parse_json_arguments(text: str, info: ToolInfo) -> Any:
    if not text or not text.strip():
        if not info.parameters["properties"]:
            return {}  # a tool without parameters: empty arguments are unambiguous
        raise _ToolFailed(f"bad arguments for {info.name}: arguments were empty; "
                          "expected a JSON object")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError) as exc:
        raise _ToolFailed(f"bad arguments for {info.name}: not valid JSON ({exc})") from None


async def _safe_emit(emit: Emit | None, event: Event) -> None:
    """Telemetry must never break a tool call."""
    if emit is None:
        return
    try:
        await emit(event)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.warning("emitting %s failed", event.type, exc_info=True)


async def _render(value: Any, emit: Emit | None) -> str:
    """A tool's return value as text for the model; an Event is sent (handoffs)."""
    if isinstance(value, Event):
        if emit is None:
            raise _ToolFailed(f"the tool returned a {value.type} event but nothing is "
                              "listening (give ToolRegistry an emit callback)")
        await emit(value)
        if isinstance(value, EndCall):
            summary: dict[str, Any] = {"status": "success", "action": "end_call"}
        elif isinstance(value, TransferCall):
            summary = {"status": "success", "action": "transfer_call",
                       "transfer_number": value.number, "transfer_type": value.option.type.value}
        else:
            summary = {"status": "success", "event": value.type}
        return json.dumps(summary)
    if value is None:
        return "done"
    if isinstance(value, str):
        return value
    if isinstance(value, enum.Enum):
        value = value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, (tuple, set, frozenset)):
        value = list(value)
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)
