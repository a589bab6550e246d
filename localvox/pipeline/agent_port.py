"""What the turn engine needs from an agent, and an adapter over the SDK ``Session``.

Why a port: the engine owns timing (speculation, barge-in, cancellation); the agent owns
the conversation (history, tools, prompts). The engine talks to any agent through a few
calls, so it can be tested with a scripted fake and the SDK can change underneath it.

Laziness is part of the contract: ``respond`` returns an async iterator the engine pulls
from. An implementation must yield ``ToolStarted`` *before* it runs the tool, so a
speculative reply that reaches a tool call simply stops pulling (the tool never runs
unless the speculation is confirmed), and closing the iterator cancels the LLM.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, AsyncIterator, Protocol, Union

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplyText:
    """A piece of the reply to show and speak (an LLM delta, a holding phrase)."""

    text: str


@dataclass(frozen=True)
class ToolStarted:
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ToolFinished:
    call_id: str
    name: str
    result: str
    is_error: bool = False
    latency_ms: float = 0.0


@dataclass(frozen=True)
class AgentNotice:
    """A recoverable problem the agent reports (LLM down, tool failed) -- shown, not fatal."""

    level: str
    message: str


@dataclass(frozen=True)
class EndSession:
    """The agent ended the conversation (end_call / transfer)."""

    reason: str


ReplyPiece = Union[ReplyText, ToolStarted, ToolFinished, AgentNotice, EndSession]


class AgentPort(Protocol):
    """What the engine asks of an agent."""

    def respond(self, text: str) -> AsyncIterator[ReplyPiece]:
        """Start a turn on the user's ``text``; yields the reply as it is produced."""

    async def interrupt(self, heard: str) -> None:
        """The reply in flight was cut off; ``heard`` is what was already spoken.

        Records the reply in the conversation as interrupted (so the next turn knows the
        user did not hear the rest).
        """

    async def discard(self) -> None:
        """Forget the last ``respond`` entirely: a speculative reply that was thrown away."""

    def prepare(self, heard_so_far: str) -> None:
        """The user is still talking and has said ``heard_so_far`` (a partial transcript).

        A hint, answered at once: the agent may start reading it (the built-in assistant
        has its model evaluate the words, so the final transcript only adds the rest). It
        must not act on it; ``respond`` still gets the final text.
        """

    # Optional: ``can_speculate(text) -> bool``. Without it the engine assumes True; an
    # agent whose turns have side effects (tools) must say no where a guess could act.
    #
    # Optional: ``announcements() -> AsyncIterator[str]``: what the agent says on its own,
    # outside any reply (a timer or an alarm going off). The engine queues each one until
    # no turn is in progress, then says it as a reply of its own (``TurnTrace.source`` is
    # ``agent``). Without it the agent only ever speaks when spoken to.
    # ``announcement_pending() -> bool`` (with it): a timer or alarm is set and has not rung;
    # fast mode then reads the input in real time, so it rings where it would live.


class SaidText:
    """An ``AgentPort`` that says one fixed text: how an announcement becomes a reply."""

    def __init__(self, text: str) -> None:
        self.text = text

    async def respond(self, text: str) -> AsyncIterator[ReplyPiece]:
        yield ReplyText(self.text)

    async def interrupt(self, heard: str) -> None:
        pass

    async def discard(self) -> None:
        pass

    def prepare(self, heard_so_far: str) -> None:
        pass


class SessionAgent:
    """``AgentPort`` over an SDK ``Session`` (``localvox.agent.session``).

    Maps SDK events to reply pieces: ``ResponseChunk``/``Speak`` -> ``ReplyText``,
    ``ToolCallStart``/``ToolCallEnd``/``ToolCallError`` -> tool pieces, ``ErrorEvent`` ->
    ``AgentNotice``, ``EndCall``/``TransferCall`` -> ``EndSession``.

    The SDK generates in its own node tasks, not lazily in ``turn()``: closing the turn
    early therefore sends ``session.interrupt()`` (the node stops and records what it
    had said as interrupted), and ``discard`` restores every node's history to its state
    before the last ``respond``. Tools run inside the SDK as soon as a turn starts, so
    ``can_speculate`` only allows speculation where no tool can run: every output node
    must say so (``OutputAgentNode.can_speculate``; the built-in assistant does on text its
    intent router does not claim when the LLM is offered no tools).
    """

    def __init__(self, session: Any) -> None:
        self.session = session
        self._snapshot: list[tuple[Any, Any]] = []
        """Each context's records before the last ``respond`` (for ``discard``)."""
        self._turns_open = 0
        self._turn_closed = asyncio.Event()
        self._said_in_turn: set[int] = set()
        """ids of ``Speak`` events a turn's stream yielded (they were part of its reply)."""
        self._watching = False

    def _contexts(self) -> list[Any]:
        return [n.context for n in getattr(self.session, "nodes", [])
                if hasattr(getattr(n, "context", None), "set_messages")]

    @staticmethod
    def _save(context: Any) -> Any:
        """A context's records now: the cheap ``snapshot()`` where the context has one (no
        copy of the conversation per turn), else deep copies."""
        if hasattr(context, "snapshot") and hasattr(context, "restore"):
            return context.snapshot()
        return [dict(m) for m in context.history]

    @staticmethod
    def _load(context: Any, saved: Any) -> None:
        if isinstance(saved, tuple) and hasattr(context, "restore"):
            context.restore(saved)
        else:
            context.set_messages(saved)

    def can_speculate(self, text: str) -> bool:
        from localvox.agent.nodes import OutputAgentNode

        outputs = [n for n in self.session.nodes if isinstance(n, OutputAgentNode)]
        return bool(outputs) and all(node.can_speculate(text) for node in outputs)

    def prepare(self, heard_so_far: str) -> None:
        """Passed to every output node (``OutputAgentNode.prepare_turn``); a node that fails
        on the hint is logged, never allowed to break the turn being heard."""
        from localvox.agent.nodes import OutputAgentNode

        for node in self.session.nodes:
            if isinstance(node, OutputAgentNode):
                try:
                    node.prepare_turn(heard_so_far)
                except Exception:  # noqa: BLE001 - a hint
                    log.warning("%s.prepare_turn failed", node.name, exc_info=True)

    async def join(self, timeout: float = 5.0) -> list[str]:
        """Open the conversation as the SDK's text loop does: send ``UserJoined``.

        Why: the session's nodes start on it (the bank's audit logger records CALL_START,
        the agent prepares its greeting). Returns what the agent said on join, for the
        caller to show; the speech loop waits for the wake word, so it is not spoken.
        """
        from localvox.agent import events as ev

        stream = self.session.events()
        await self.session.send(ev.UserJoined())
        await self.session.idle(timeout)
        stream.close()
        return [e.text async for e in stream if isinstance(e, ev.Speak) and e.text]

    async def respond(self, text: str) -> AsyncIterator[ReplyPiece]:
        from localvox.agent import events as ev

        self._snapshot = [(c, self._save(c)) for c in self._contexts()]
        self._turns_open += 1
        agen = self.session.turn(text)
        finished = False
        try:
            async for item in agen:
                if isinstance(item, ev.Speak) and self._watching:
                    self._said_in_turn.add(id(item))
                if isinstance(item, (ev.ResponseChunk, ev.Speak)):
                    if item.text:
                        yield ReplyText(item.text)
                elif isinstance(item, ev.ToolCallStart):
                    yield ToolStarted(item.call_id, item.name, _args_text(item.arguments))
                elif isinstance(item, ev.ToolCallEnd):
                    yield ToolFinished(_get(item, "call_id"), _get(item, "name"),
                                       str(_get(item, "result", "content", "output")), False,
                                       float(_get(item, "latency_ms") or 0.0))
                elif isinstance(item, ev.ToolCallError):
                    yield ToolFinished(_get(item, "call_id"), _get(item, "name"),
                                       str(_get(item, "error", "message")), True,
                                       float(_get(item, "latency_ms") or 0.0))
                elif isinstance(item, ev.ErrorEvent):
                    level = "error" if _get(item, "severity") == "fatal" else "warning"
                    yield AgentNotice(level, str(_get(item, "message")))
                elif isinstance(item, ev.EndCall):
                    yield EndSession("end_call")
                elif isinstance(item, ev.TransferCall):
                    yield EndSession("transfer")
            finished = True
        finally:
            await agen.aclose()
            self._turns_open -= 1
            self._turn_closed.set()
            if not finished:
                await self.session.interrupt()

    def announcement_pending(self) -> bool:
        """A timer or alarm of the built-in tools is set and has not rung yet."""
        for node in getattr(self.session, "nodes", []):
            timers = getattr(getattr(node, "tools", None), "timers", None)
            pending = getattr(timers, "pending", None)
            if pending is not None and pending():
                return True
        return False

    async def announcements(self) -> AsyncIterator[str]:
        """Each ``Speak`` the SDK publishes outside a turn: a timer or alarm going off.

        Why this bookkeeping: the SDK has one event stream, and a ``Speak`` is either part
        of a reply (an agent speaking from its ``on_event`` during a turn -- ``respond``
        yields those) or said on its own (``TimerService`` firing, possibly in the middle
        of a turn). A ``Speak`` seen while a turn is open waits here until the turn has
        closed; it is announced unless that turn's own stream yielded it.
        """
        from localvox.agent import events as ev

        stream = self.session.events()
        self._watching = True
        try:
            async for item in stream:
                if not isinstance(item, ev.Speak) or not item.text:
                    continue
                while self._turns_open:
                    self._turn_closed.clear()
                    await self._turn_closed.wait()
                if id(item) in self._said_in_turn:
                    self._said_in_turn.discard(id(item))
                    continue
                yield item.text
        finally:
            self._watching = False
            stream.close()

    async def interrupt(self, heard: str) -> None:
        """The SDK records the reply as generated so far, marked interrupted."""
        await self.session.interrupt()

    async def close(self) -> None:
        await self.session.close()

    async def discard(self) -> None:
        idle = getattr(self.session, "idle", None)
        if idle is not None:
            await idle(timeout=1.0)
        for context, saved in self._snapshot:
            self._load(context, saved)
        self._snapshot = []


def _get(obj: Any, *names: str) -> Any:
    for name in names:
        value = getattr(obj, name, None)
        if value is not None:
            return value
    return ""


def _args_text(args: Any) -> str:
    if isinstance(args, str):
        return args
    import json

    try:
        return json.dumps(args)
    except (TypeError, ValueError):
        return str(args)
