"""``AppAgent``: the speech loop's port onto an app's session, and the handoff line.

What stands between the turn engine and user code: the engine sees a ``SessionAgent``;
this one holds a speculative reply's tools until the guess is confirmed, cuts off a reply
that hangs, and turns an end call or transfer into one notice line. ``launch.py`` (which
mode to run in) opens the session and puts it in front; ``chat_loop.py`` reuses
``handoff_notice``. Split out of ``launch.py`` to hold it under ~400 lines.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from localvox.pipeline.agent_port import (AgentNotice, EndSession, ReplyPiece, SessionAgent,
                                          ToolStarted)

__all__ = ["AppAgent", "handoff_notice"]


class AppAgent(SessionAgent):
    """``SessionAgent`` for user code: speculates safely, cuts off a hung reply, and
    announces a handoff.

    * **Speculation** (the reply starts on the partial transcript during the end-of-turn
      silence, as the built-in assistant's does): the SDK runs a node's tools in its own
      tasks, so the session's ``tool_gate`` holds each tool after ``ToolCallStart`` until
      the engine pulls past it, which it does only once the guess is confirmed; a
      discarded guess is interrupted before any tool ran and its context is restored.
      Not with background nodes: they would observe the guessed transcript too (an audit
      log would record words the user did not finish saying).
    * **Hang**: a reply that produces nothing (no text, no tool event) for
      ``reply_timeout_s`` is interrupted with a notice. A gap, not a total: a long
      answer is fine, a node awaiting forever is not.
    * **Handoff**: an end call or transfer becomes a notice with the number, the kind of
      transfer, the hold music and the private hand-off prompt, then ends the session.
    """

    def __init__(self, session: Any, *, reply_timeout_s: float = 30.0) -> None:
        super().__init__(session)
        self.reply_timeout_s = reply_timeout_s
        self._released: set[str] = set()
        self._waiting: dict[str, asyncio.Event] = {}
        self._responding = False
        session.tool_gate = self._gate

    def can_speculate(self, text: str) -> bool:
        from localvox.agent.nodes import BackgroundAgentNode, OutputAgentNode

        nodes = self.session.nodes
        return any(isinstance(n, OutputAgentNode) for n in nodes) and not any(
            isinstance(n, BackgroundAgentNode) for n in nodes)

    async def _gate(self, call: Any) -> None:
        if not self._responding or call.id in self._released:
            return          # outside a reply (a timer, a background node): nothing to hold
        event = self._waiting.setdefault(call.id, asyncio.Event())
        await event.wait()

    def _release(self, call_id: str) -> None:
        self._released.add(call_id)
        waiting = self._waiting.pop(call_id, None)
        if waiting is not None:
            waiting.set()

    async def respond(self, text: str) -> AsyncIterator[ReplyPiece]:
        pieces = super().respond(text).__aiter__()
        self._released.clear()
        self._responding = True
        try:
            while True:
                try:
                    piece = await asyncio.wait_for(pieces.__anext__(), self.reply_timeout_s)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    from localvox.agent.nodes import OutputAgentNode

                    names = ", ".join(n.name for n in self.session.nodes
                                      if isinstance(n, OutputAgentNode)) or "the agent"
                    yield AgentNotice("warning", f"{names} produced nothing for "
                                      f"{self.reply_timeout_s:g} s (a node awaiting forever?); "
                                      "this reply was cut off")
                    return
                if isinstance(piece, EndSession) and self.session.end_event is not None:
                    yield AgentNotice("info", handoff_notice(self.session.end_event))
                yield piece
                if isinstance(piece, ToolStarted):
                    self._release(piece.call_id)   # the engine took it: the guess is confirmed
        finally:
            self._responding = False
            await pieces.aclose()


def handoff_notice(event: Any) -> str:
    """One line for an end call or a transfer, with everything the human side needs."""
    from localvox.agent.events import EndCall, TransferType

    if isinstance(event, EndCall):
        return "call ended" + (f" ({event.reason})" if event.reason else "")
    kind = "warm" if event.option.type == TransferType.WARM else "cold"
    line = f"transferring ({kind}) to {event.number or '(no number given)'}"
    if event.on_hold_music:
        line += f", hold music {event.on_hold_music!r}"
    if event.option.handoff_prompt:
        line += f"; private hand-off prompt: {event.option.handoff_prompt!r}"
    return line
