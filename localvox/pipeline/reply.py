"""Reply production: agent -> text chunks -> TTS -> sink, cancellable, optionally gated.

Why an object per reply: a reply can be *speculative* (started on a partial transcript in
the end-of-turn silence) and later committed or thrown away, or cut off by a barge-in
while the LLM still streams. Keeping its text, its speech and its not-yet-committed trace
marks together makes each of those endings one call. The engine decides *when* a reply
starts, commits or stops; this module knows *how*.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Callable

from localvox.pipeline.agent_port import (AgentNotice, AgentPort, EndSession, ReplyText,
                                          ToolFinished, ToolStarted)
from localvox.pipeline.events import (Notice, PipelineEvent, ReplyChunk, ReplyDone,
                                      ToolCallFinished, ToolCallStarted, TurnTrace)
from localvox.pipeline.speech_out import SpeechOut
from localvox.pipeline.trace import TurnMarks


class Reply:
    """One reply in flight: the agent consumer task, its speech, and uncommitted marks.

    Until ``commit()`` a speculative reply publishes nothing: its text is kept, its trace
    marks are held in ``pending_marks`` (replayed with their original times on commit), its
    speech synthesises but does not play, and it waits before any tool call.

    Args:
        turn: the turn's marks.
        text: what the user said (or a partial of it, when speculative).
        speculative: start gated.
        emit: publishes events.
        now: the engine clock (times of held marks).
        on_mark: called with each committed mark (the engine moves to SPEAKING on
            ``first_audio_out``).
        agent: who answers (the session's agent; a fixed text for an announcement).
    """

    def __init__(self, turn: TurnMarks, text: str, speculative: bool, *,
                 emit: Callable[[PipelineEvent], None], now: Callable[[], float],
                 on_mark: Callable[["Reply", str], None], agent: AgentPort) -> None:
        self.turn = turn
        self.agent = agent
        self.text = text
        self.speculative = speculative
        self.committed = asyncio.Event()
        if not speculative:
            self.committed.set()
        self.pending_marks: dict[str, float] = {}
        self.parts: list[str] = []
        self.emitted = 0
        self.out: SpeechOut | None = None
        self.task: asyncio.Task[None] | None = None
        self.finished = False
        self.cancelled = False
        self._emit = emit
        self._now = now
        self._on_mark = on_mark

    @property
    def reply_text(self) -> str:
        return "".join(self.parts).strip()

    def mark(self, name: str) -> None:
        if self.committed.is_set():
            self.turn.mark(name)
            self._on_mark(self, name)
        else:
            self.pending_marks.setdefault(name, self._now())

    def commit(self) -> None:
        """A speculative reply became the real one: replay its marks and text, open the gate."""
        self.speculative = False
        for name, at in self.pending_marks.items():
            self.turn.mark(name, at)
        self.pending_marks.clear()
        self.committed.set()
        self.flush_text()
        if self.out is not None:
            self.out.open_gate()

    def flush_text(self) -> None:
        while self.emitted < len(self.parts):
            self._emit(ReplyChunk(self.turn.turn_id, self.parts[self.emitted]))
            self.emitted += 1

    async def produce(self, notice: Callable[[BaseException], None]) -> str | None:
        """Pull the agent's reply through to the speaker; the ``EndSession`` reason, if any.

        Errors (LLM gone, tool crash) become a notice and end the reply quietly.
        """
        self.mark("llm_request")
        agen = self.agent.respond(self.text)
        ended: str | None = None
        try:
            async for piece in agen:
                if isinstance(piece, ReplyText):
                    if piece.text:
                        self._take_text(piece.text)
                elif isinstance(piece, ToolStarted):
                    await self.committed.wait()     # never run a tool on a guess
                    self._emit(ToolCallStarted(self.turn.turn_id, piece.call_id, piece.name,
                                               piece.arguments))
                elif isinstance(piece, ToolFinished):
                    self._emit(ToolCallFinished(self.turn.turn_id, piece.call_id, piece.name,
                                                piece.result, piece.is_error, piece.latency_ms))
                elif isinstance(piece, AgentNotice):
                    await self.committed.wait()
                    self._emit(Notice(piece.level, piece.message))
                elif isinstance(piece, EndSession):
                    ended = piece.reason
            if self.out is not None:
                self.out.end()
            await self.committed.wait()
            if self.out is not None:
                await self.out.wait()
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 -- LLM dead, tool crash: say so, go on
            await self.committed.wait()
            notice(err)
            if self.out is not None:
                self.out.end()
                await self.out.wait()
        finally:
            with contextlib.suppress(Exception):
                await agen.aclose()
        return ended

    def _take_text(self, text: str) -> None:
        self.mark("llm_first_token")
        self.parts.append(text)
        if self.committed.is_set():
            self.flush_text()
        if self.out is not None:
            self.out.feed(text)

    def finish(self, *, interrupted: bool) -> TurnTrace | None:
        """Close the turn: publish ``ReplyDone`` and return its trace (None if already done).

        An interrupted spoken reply records what was heard, not what was generated.
        """
        if self.finished:
            return None
        self.finished = True
        turn = self.turn
        turn.reply = self.reply_text if not interrupted or self.out is None \
            else (self.out.heard or "")
        turn.interrupted = interrupted
        if self.out is not None:
            turn.longest_gap_s = self.out.longest_gap_s
        self.flush_text()
        self._emit(ReplyDone(turn.turn_id, turn.reply, interrupted))
        return turn.to_event()

    async def stop_work(self) -> None:
        """Cancel the agent task and the speech (no events; the caller decides the ending)."""
        task = self.task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.out is not None:
            await self.out.cancel()
