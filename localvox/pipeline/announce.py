"""What the agent says on its own -- a timer or an alarm going off -- said between turns.

Why a queue: a timer fires on the wall clock, not when the conversation has room for it.
Said over the user it would be lost (half duplex: nothing is heard while speaking) or would
cut them off; said over a reply it would be mixed into it. So each announcement waits here
until no turn is in progress, then becomes a reply of its own (spoken when there is a
voice, always shown in the conversation). If the user starts speaking before it was
audible it goes back to the front of the queue; once heard, a barge-in stops it like any
reply (the user has heard that it rang).
"""

from __future__ import annotations

import asyncio
import collections
from typing import AsyncIterator, Callable


class Announcer:
    """Reads the agent's announcements and says each when ``ready()``.

    Args:
        ready: True when nothing is in progress (the engine's rule).
        say: starts saying one text now (a reply with ``source`` ``agent``).
        notice: reports a failing announcement stream.
    """

    def __init__(self, *, ready: Callable[[], bool], say: Callable[[str], None],
                 notice: Callable[[BaseException], None]) -> None:
        self.queue: collections.deque[str] = collections.deque()
        self._ready = ready
        self._say = say
        self._notice = notice
        self._task: asyncio.Task[None] | None = None

    def start(self, source: Callable[[], AsyncIterator[str]] | None) -> None:
        """Begin reading ``source`` (the agent's ``announcements``), if it has one."""
        if source is not None and self._task is None:
            self._task = asyncio.ensure_future(self._read(source()))

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def requeue(self, text: str) -> None:
        """An announcement cut off before it was heard: first in line again."""
        self.queue.appendleft(text)

    def poke(self) -> None:
        """Say what is queued if the conversation has room now (soon, not re-entrantly:
        the caller is in the middle of a state change)."""
        if self.queue:
            asyncio.get_running_loop().call_soon(self._try)

    def _try(self) -> None:
        if self.queue and self._ready():
            self._say(self.queue.popleft())

    async def _read(self, stream: AsyncIterator[str]) -> None:
        try:
            async for text in stream:
                self.queue.append(text)
                self.poke()
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 -- said once; replies still work
            self._notice(err)
