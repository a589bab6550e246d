"""Speculative replies: start the agent in the end-of-turn silence, keep it or throw it away.

Why: the end-of-turn silence (hundreds of ms) is the largest fixed cost of a turn, and the
transcript is usually final well before it ends. Once a partial covers all the voiced audio
and ``speculate_after_ms`` of silence have passed, the reply starts gated (nothing shown,
played or run as a tool). At the endpoint it is committed if the final transcript says the
same (case and punctuation aside); otherwise -- or when the user speaks again -- its work is
cancelled and ``AgentPort.discard`` makes the agent forget it.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from localvox.pipeline.options import EngineOptions
from localvox.pipeline.reply import Reply
from localvox.pipeline.trace import TurnMarks
from localvox.pipeline.utterance import Utterance


def normalize_text(text: str) -> str:
    """Case, punctuation and spacing aside: what decides whether a speculation matches."""
    return " ".join(re.sub(r"[^\w']+", " ", text.lower()).split())


class Speculation:
    """Holds at most one gated reply.

    Args:
        options: ``speculative`` and ``speculate_after_ms``.
        agent: returns the current agent (asked ``can_speculate`` and ``discard``).
        start: starts a gated reply for (turn, text).
        notice: reports a failing ``discard``.
    """

    def __init__(self, options: EngineOptions, *, agent: Callable[[], Any],
                 start: Callable[[TurnMarks, str], Reply],
                 notice: Callable[[BaseException], None]) -> None:
        self.opts = options
        self._agent = agent
        self._start = start
        self._notice = notice
        self.reply: Reply | None = None

    @property
    def computing(self) -> bool:
        return self.reply is not None and self.reply.task is not None \
            and not self.reply.task.done()

    def maybe_start(self, utt: Utterance, turn: TurnMarks, frame_end_s: float) -> None:
        """Speculate on the utterance's partial if it covers the speech and silence began."""
        if not self.opts.speculative or self.reply is not None or not utt.partial_text:
            return
        silence = frame_end_s - utt.last_voiced_end
        if silence * 1000.0 < self.opts.speculate_after_ms or not utt.covers_speech:
            return
        text = utt.text_so_far
        if text == utt.refused:
            return
        check = getattr(self._agent(), "can_speculate", None)
        if check is not None and not check(text):
            utt.refused = text       # ask once per partial, not once per frame
            return
        self.reply = self._start(turn, text)

    def matches(self, text: str) -> bool:
        return self.reply is not None and normalize_text(self.reply.text) == normalize_text(text)

    def take(self, turn: TurnMarks, text: str) -> Reply | None:
        """The speculation, if it was made for ``turn`` on this very ``text``; it is no
        longer held here (the caller commits it)."""
        spec = self.reply
        if spec is None or spec.turn is not turn or spec.cancelled or not self.matches(text):
            return None
        self.reply = None
        turn.speculative = "used"
        return spec

    async def drop(self) -> None:
        """Cancel the speculation's work and make the agent forget it."""
        spec, self.reply = self.reply, None
        if spec is None:
            return
        spec.cancelled = True
        await spec.stop_work()
        if spec.turn.speculative != "used":
            spec.turn.speculative = "discarded"
        try:
            await self._agent().discard()
        except Exception as err:  # noqa: BLE001
            self._notice(err)
