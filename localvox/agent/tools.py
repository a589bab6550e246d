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
The decorator and the records (``function_tool``, ``ToolInfo``, ``RunContext``,
``ToolResult``) are in ``tool_info``, one call's JSON / telemetry / rendering rules in
``tool_call``; this module is the registry and the SDK's import path for all of them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import inspect
import logging
import time
import types
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from localvox.agent.events import ToolCallEnd, ToolCallError, ToolCallStart
from localvox.agent.schema import ToolArgumentError, parse_docstring, validate_arguments
from localvox.agent.tool_call import Emit, ToolFailed, parse_json_arguments, render, safe_emit
from localvox.agent.tool_info import (RunContext, ToolInfo, ToolResult, build_tool_info,
                                      function_tool, get_tool_info, is_function_tool)
from localvox.llm.base import ToolCall

__all__ = [
    "function_tool", "is_function_tool", "get_tool_info", "ToolInfo", "ToolResult",
    "ToolRegistry", "RunContext", "ToolArgumentError", "validate_arguments", "parse_docstring",
]

log = logging.getLogger(__name__)


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
        await safe_emit(emit, ToolCallStart(call_id=call.id, name=call.name,
                                            arguments=call.arguments))
        gate = getattr(context.session, "tool_gate", None) if context is not None else None
        if gate is not None:
            await gate(call)     # e.g. held while the speech loop's reply is a guess
        try:
            content = await self._run(call, context, emit)
        except asyncio.CancelledError:
            raise
        except ToolFailed as exc:
            return await self._failed(call, str(exc), started, emit)
        except Exception as exc:  # the tool's own bug or failure: tell the model
            log.warning("tool %s raised", call.name, exc_info=True)
            detail = str(exc) or type(exc).__name__
            return await self._failed(call, f"{call.name} failed: {detail}", started, emit)
        latency = (time.perf_counter() - started) * 1000
        await safe_emit(emit, ToolCallEnd(call_id=call.id, name=call.name, result=content,
                                          latency_ms=latency))
        return ToolResult(call.id, call.name, content, False, latency)

    async def _failed(self, call: ToolCall, error: str, started: float,
                      emit: Emit | None) -> ToolResult:
        latency = (time.perf_counter() - started) * 1000
        await safe_emit(emit, ToolCallError(call_id=call.id, name=call.name, error=error,
                                            latency_ms=latency))
        return ToolResult(call.id, call.name, f"Error: {error}", True, latency)

    async def _run(self, call: ToolCall, context: RunContext | None,
                   emit: Emit | None) -> str:
        tool = self._tools.get(call.name)
        if tool is None:
            available = ", ".join(self._tools) or "none"
            raise ToolFailed(f"unknown tool {call.name!r}; available tools: {available}")
        info = tool.info
        arguments = parse_json_arguments(call.arguments, info)
        try:
            kwargs = validate_arguments(info, arguments)
        except ToolArgumentError as exc:
            raise ToolFailed(f"bad arguments for {call.name}: {exc}") from None
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
                raise ToolFailed(f"{call.name} timed out after {timeout:g} s") from None
            raise
        return await render(value, emit)
