"""What a worker thread hands the event loop, read back in order.

Two stages run their heavy work in one thread of their own and pass results to the loop
through an ``asyncio.Queue`` (``loop.call_soon_threadsafe(queue.put_nowait, …)``): the audio
worker (cleaned, scored frames) and llama.cpp (streamed chunks). Both end with a marker and
send an exception as an item, because an exception cannot cross the thread by itself: it
is raised here, in the consumer's task, where the turn can report it and go on.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator


async def until_end(queue: "asyncio.Queue[Any]", end: object) -> AsyncIterator[Any]:
    """Items from ``queue`` until ``end``; an exception item is raised instead of yielded."""
    while True:
        item = await queue.get()
        if item is end:
            return
        if isinstance(item, BaseException):
            raise item
        yield item
