"""The engine's outbound event stream: one unbounded queue per subscriber.

Why queues and not callbacks: the TUI, the runner and the bench each drain events at their
own pace on their own task; a slow consumer must never stall the audio path, and every
consumer sees every event in the order the engine published it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator

from localvox.errors import LocalvoxError
from localvox.pipeline.events import Notice, PipelineEvent, SessionEnded


class EventBus:
    """Fan-out of ``PipelineEvent``s; ``notice`` turns an error into a readable ``Notice``."""

    def __init__(self) -> None:
        self._subscribers: list[asyncio.Queue[PipelineEvent]] = []

    def subscribe(self) -> "asyncio.Queue[PipelineEvent]":
        """A queue receiving every event published from now on (unbounded: drain it)."""
        q: asyncio.Queue[PipelineEvent] = asyncio.Queue()
        self._subscribers.append(q)
        return q

    def unsubscribe(self, q: "asyncio.Queue[PipelineEvent]") -> None:
        with contextlib.suppress(ValueError):
            self._subscribers.remove(q)

    async def events(self) -> AsyncIterator[PipelineEvent]:
        """Every event from now until ``SessionEnded`` (inclusive)."""
        q = self.subscribe()
        try:
            while True:
                ev = await q.get()
                yield ev
                if isinstance(ev, SessionEnded):
                    return
        finally:
            self.unsubscribe(q)

    def emit(self, ev: PipelineEvent) -> None:
        for q in list(self._subscribers):
            q.put_nowait(ev)

    def notice(self, err: BaseException | str, level: str = "error") -> None:
        """A ``LocalvoxError`` or a string is already a sentence; anything else gets its type."""
        if isinstance(err, (LocalvoxError, str)):
            msg = str(err)
        else:
            msg = f"{type(err).__name__}: {err}"
        self.emit(Notice(level, msg))
