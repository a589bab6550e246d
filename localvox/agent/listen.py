"""Keeping the recogniser's vocabulary in step with the conversation (the per-turn switch).

``BiasFollower`` sits beside a running engine: it sets the ASR's vocabulary from the
agent's tools when it starts, and after every reply it re-derives the focus from what the
agent just asked ("Which drink would you like?" puts the drinks first in the next
utterance's prompt; a statement puts the default order back). It only reads the engine's
event stream and calls ``Transcriber.set_bias``: the engine itself knows nothing of it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from localvox.asr.bias import Bias

log = logging.getLogger(__name__)

__all__ = ["BiasFollower"]


class BiasFollower:
    """``vocabulary(question) -> Bias`` is asked again after each reply."""

    def __init__(self, engine: Any, vocabulary: Callable[[str], Bias],
                 notify: Callable[[str], Any] | None = None) -> None:
        self.engine = engine
        self.vocabulary = vocabulary
        self.notify = notify or (lambda line: log.info("%s", line))
        self._task: asyncio.Task[None] | None = None
        self._said_notice = False

    def apply(self, question: str = "") -> None:
        asr = self.engine.asr
        if asr is None:
            return  # progressive start-up: applied again after the next reply
        notice = asr.set_bias(self.vocabulary(question))
        if notice and not self._said_notice:
            self._said_notice = True
            self.notify(notice)

    def start(self) -> None:
        from localvox.pipeline.events import ReplyDone

        queue = self.engine.subscribe()
        self.apply()

        async def follow() -> None:
            while True:
                event = await queue.get()
                if isinstance(event, ReplyDone):
                    self.apply(event.text)

        self._task = asyncio.create_task(follow(), name="asr-bias-follower")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
