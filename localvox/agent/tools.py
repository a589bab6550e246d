"""Function tools: ``@function_tool``, :class:`ToolRegistry` and how calls are run.

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

The schema generation and the coercion rules live in :mod:`localvox.agent.schema`;
``ToolArgumentError``, ``validate_arguments`` and ``parse_docstring`` are re-exported here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import functools
import inspect
import json
import logging
import time
import types
import typing
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from localvox.agent.events import (EndCall, Event, ToolCallEnd, ToolCallError, ToolCallStart,
                                   TransferCall)
from localvox.agent.schema import (ToolArgumentError, encode_default, parse_docstring,
                                   resolve_hints, schema_for, validate_arguments)
from localvox.llm.base import ToolCall

__all__ = [
    "function_tool", "is_function_tool", "get_tool_info", "ToolInfo", "ToolResult",
    "ToolRegistry", "RunContext", "ToolArgumentError", "validate_arguments", "parse_docstring",
]

log = logging.getLogger(__name__)

Emit = Callable[[Event], Awaitable[None]]


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
    sentences: Any = None
    """How the tool is spoken (``SentenceSpec``, from ``sentences=``): the intent router
    tries it before the LLM. Not part of the schema the LLM sees."""

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
                  description: str | None = None, timeout_s: float | None = None,
                  sentences: Any = None) -> Any:
    """Mark ``fn`` as a tool. Usable as ``@function_tool``, ``@function_tool()`` or with
    ``name=``, ``description=``, ``timeout_s=`` (overrides the registry's default).

    ``sentences=`` says how people ask for it: hassil templates (``["order (a|an)
    {size} {drink}"]``, each ``{slot}`` a parameter) or a ``SentenceSpec`` from a Rhino
    grammar (``load_rhino(path).spec("orderDrink")``). The intent router matches them
    before the LLM, exactly and then fuzzily against the parameters' allowed values.

    The function is returned unchanged (so methods stay methods) with ``__tool_info__``.
    Unsupported parameter types raise ``TypeError`` here, at definition time.
    """
    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        target = f.__func__ if isinstance(f, (staticmethod, classmethod)) else f
        target.__tool_info__ = build_tool_info(  # type: ignore[attr-defined]
            target, name=name, description=description, timeout_s=timeout_s,
            frame_depth=3 if fn is None else 4, sentences=sentences)
        return f

    return decorate(fn) if fn is not None else decorate


def is_function_tool(fn: Any) -> bool:
    return get_tool_info(fn) is not None


def get_tool_info(fn: Any) -> ToolInfo | None:
    info = getattr(fn, "__tool_info__", None)
    return info if isinstance(info, ToolInfo) else None


def build_tool_info(fn: Callable[..., Any], *, name: str | None = None,
                    description: str | None = None, timeout_s: float | None = None,
                    frame_depth: int = 2, sentences: Any = None) -> ToolInfo:
    from localvox.agent.grammar import as_sequence

    sig = inspect.signature(fn)
    hints = resolve_hints(fn, frame_depth)
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
            schema, is_nullable, doc = schema_for(hint)
        except TypeError as exc:
            raise TypeError(f"tool {fn.__qualname__}: parameter {pname!r}: {exc}") from None
        schema["description"] = doc if doc is not None else arg_docs.get(pname, "")
        if param.default is inspect.Parameter.empty:
            required.append(pname)
        else:
            default = encode_default(param.default)
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
        context_param=context_param, accepts_kwargs=accepts_kwargs,
        sentences=as_sequence(sentences))


def _is_run_context(hint: Any) -> bool:
    if typing.get_origin(hint) is Annotated:
        hint = typing.get_args(hint)[0]
    return isinstance(hint, type) and issubclass(hint, RunContext)


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
        self._owner: Any = None
        """The node whose tools ``discover`` found (reports tool events when no ``emit``)."""
        self._entities: dict[str, list[str]] = {}

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
        from localvox.agent.nodes import Node  # nodes imports this module

        found: list[str] = []
        if isinstance(obj, Node) and self._owner is None:
            self._owner = obj
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

    def add_entities(self, name: str, values: Sequence[str]) -> None:
        """Register a list of names the tools work with ("contacts", "rooms"), so the
        speech recogniser expects them (``localvox.agent.vocab``). Replaces a list of the
        same name."""
        self._entities[name] = [str(v) for v in values if str(v).strip()]

    def get_entities(self) -> dict[str, list[str]]:
        return dict(self._entities)

    def get_sentences(self) -> dict[str, Any]:
        """Tool name -> ``SentenceSpec`` for the tools that declare ``sentences=``."""
        return {name: t.info.sentences for name, t in self._tools.items()
                if t.info.sentences is not None}

    def subset(self, names: Iterable[str]) -> "ToolRegistry":
        """A registry offering only ``names`` (same tools, timeout, emit callback, owner
        and entity lists)."""
        view = ToolRegistry(timeout_s=self.timeout_s, emit=self.emit)
        wanted = set(names)
        view._tools = {n: t for n, t in self._tools.items() if n in wanted}
        view._owner = self._owner
        view._entities = dict(self._entities)
        return view

    async def execute(self, calls: Sequence[ToolCall] | None = None, parallel: bool = True, *,
                      context: RunContext | None = None, emit: Emit | None = None,
                      tool_calls: Sequence[ToolCall] | None = None) -> list[ToolResult]:
        """Run the calls; one result per call, in input order, each with its call id.

        ``tool_calls=`` is the Atoms SDK's name for ``calls``. Never raises for a tool's
        failure (unknown tool, bad JSON, bad arguments, an exception, a timeout): those are
        ``is_error`` results. Cancellation propagates.

        Without ``emit``/``context``, a registry that ``discover``-ed a node's tools reports
        to that node (``ToolCallStart``/``End``/``Error`` reach the speech loop and the TUI)
        and gives tools its session, as the article's ``execute(tool_calls=...)`` expects.
        """
        if calls is not None and tool_calls is not None:
            raise TypeError("execute() got both calls and tool_calls; pass one")
        calls = list(tool_calls if tool_calls is not None else calls or [])
        owner = self._owner
        emit = emit or self.emit or (owner.send_event if owner is not None else None)
        if context is None and owner is not None:
            context = RunContext(session=owner.session, node=owner)
        if parallel and len(calls) > 1:
            return list(await asyncio.gather(
                *(self._execute_one(c, context, emit) for c in calls)))
        return [await self._execute_one(c, context, emit) for c in calls]

    async def _execute_one(self, call: ToolCall, context: RunContext | None,
                           emit: Emit | None) -> ToolResult:
        started = time.perf_counter()
        await _safe_emit(emit, ToolCallStart(call_id=call.id, name=call.name,
                                             arguments=call.arguments))
        gate = getattr(context.session, "tool_gate", None) if context is not None else None
        if gate is not None:
            await gate(call)     # e.g. held while the speech loop's reply is a guess
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
