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

__all__ = ["BiasFollower", "session_vocabulary"]


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


def session_vocabulary(session: Any, *, wake_word: str = "",
                       question: str = "") -> Bias:
    """The vocabulary of every tool registry a session's nodes hold (any agent built on
    the SDK, the default assistant included): one call for ``BiasFollower``.

    ``BiasFollower(engine, lambda q: session_vocabulary(session, wake_word=w, question=q))``
    """
    from localvox.agent.tools import ToolRegistry
    from localvox.agent.vocab import focus_for, tool_vocabulary

    schemas: list[dict[str, Any]] = []
    sentences: dict[str, Any] = {}
    entities: dict[str, list[str]] = {}
    for node in getattr(session, "nodes", []):
        for value in vars(node).values():
            if isinstance(value, ToolRegistry):
                schemas.extend(value.get_schemas())
                sentences.update(value.get_sentences())
                entities.update(value.get_entities())
    focus = focus_for(question, schemas, sentences) if question else []
    return tool_vocabulary(schemas, sentences=sentences, entities=entities,
                           wake_word=wake_word, focus=focus)
