"""The engine's reply desk: which reply is current, and how each one ends.

Why apart from ``reply``: a ``Reply`` knows how to produce itself; this desk knows the
session around it -- the parts a reply speaks with (read from the host each time, so a
synthesiser attached late or a sink swapped by a test is used from the next reply on),
whether speech output is on, how an interrupted reply is recorded (what the user heard,
told to the agent), and the trace of every finished turn. It changes no state itself: it
reports ``REPLY_STARTED`` / ``AUDIO_STARTED`` / ``REPLY_ENDED`` (``turn_table``) for the
engine to apply, and asks the host to end the session when the agent ends it.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any, Callable, Protocol

from localvox.pipeline.agent_port import AgentPort
from localvox.pipeline.bus import EventBus
from localvox.pipeline.events import Interrupted
from localvox.pipeline.reply import Reply
from localvox.pipeline.speech_out import Chunker, SpeechOut
from localvox.pipeline.trace import EngineClock, TraceWriter, TurnMarks
from localvox.pipeline.turn_table import TurnEvent

Report = Callable[..., None]
"""``report(event, at=None)``: a ``TurnEvent`` for the engine, ``at`` when it happened."""


TRACES_KEPT = 1000
"""Finished turns kept in memory (benchmarks and tests read them back); a session that
runs for days must not keep every turn it ever had."""


class ReplyHost(Protocol):
    """What the desk reads from and reports to (``TurnEngine``)."""

    agent: AgentPort
    tts: Any
    sink: Any
    cleaner: Any
    chunker_factory: Callable[[], Chunker]
    trace: TraceWriter | None

    @property
    def speech_loading(self) -> bool:
        """A synthesiser is on its way (progressive start-up)."""

    async def end_session(self, reason: str) -> None:
        """The agent ended the conversation."""


class Replies:
    """Starts, commits, finishes and cancels replies; records each finished turn."""

    def __init__(self, host: ReplyHost, bus: EventBus, clock: EngineClock, *,
                 speech_output: bool, report: Report, play_on_clock: bool = False) -> None:
        self.host = host
        self.bus = bus
        self.clock = clock
        self.speech_output = speech_output
        self.report = report
        self.play_on_clock = play_on_clock
        """A reply lasts its audio's length on the engine clock even if the sink takes it
        at once (fast mode; see ``localvox.pipeline.clock``)."""
        self.current: Reply | None = None
        """The committed reply (thinking or speaking); speculative ones are not current."""
        self.traces: collections.deque[Any] = collections.deque(maxlen=TRACES_KEPT)
        """The most recent finished turns' ``TurnTrace``s (the JSONL file keeps them all)."""
        self._told_unspoken = False

    def start(self, turn: TurnMarks, text: str, *, speculative: bool,
              agent: AgentPort | None = None) -> Reply:
        """Start a reply to ``text`` (from ``agent``, the session's agent by default)."""
        reply = Reply(turn, text, speculative, emit=self.bus.emit, now=self.clock.now,
                      on_mark=self._on_mark, agent=agent or self.host.agent)
        if not speculative:
            self.current = reply
            self.report(TurnEvent.REPLY_STARTED)
        reply.task = asyncio.ensure_future(self._run(reply))
        return reply

    def commit(self, reply: Reply) -> None:
        """A speculative reply became the real one (it may already have audio ready)."""
        self.current = reply
        reply.commit()
        self.report(TurnEvent.REPLY_STARTED)
        if "first_audio_out" in reply.turn.marks:
            self.report(TurnEvent.AUDIO_STARTED)

    def set_speech_output(self, enabled: bool) -> None:
        """Speech off: replies are text only; turning it off silences the current reply."""
        self.speech_output = enabled
        reply = self.current
        if not enabled and reply is not None and reply.out is not None:
            out, reply.out = reply.out, None
            asyncio.ensure_future(out.cancel())

    async def cancel(self, *, interrupted: bool) -> Reply | None:
        """Silence the current reply now, stop its work, and tell the agent what was heard;
        the reply cancelled, if there was one."""
        reply = self.current
        if reply is None:
            return None
        reply.cancelled = True
        reply.turn.mark("interrupt")
        if reply.out is not None:            # silence first, then tidy up
            await reply.out.cancel()
        stop_reference = getattr(self.host.cleaner, "stop_reference", None)
        if stop_reference is not None:       # the echo canceller: nothing more is playing
            stop_reference()
        await reply.stop_work()
        heard = reply.out.heard if reply.out is not None else ""
        self.bus.emit(Interrupted(reply.turn.turn_id, reply.turn.marks["interrupt"]))
        try:
            await reply.agent.interrupt(heard)
        except Exception as err:  # noqa: BLE001
            self.bus.notice(err)
        self.finish(reply, interrupted=interrupted)
        return reply

    def finish(self, reply: Reply, *, interrupted: bool) -> None:
        """Publish the reply's end and its trace (to the JSONL file too)."""
        trace = reply.finish(interrupted=interrupted)
        if trace is None:
            return
        self.traces.append(trace)
        self.bus.emit(trace)
        writer = self.host.trace
        if writer is not None:
            try:
                writer.write(trace)
            except OSError as err:
                self.bus.notice(f"cannot write the trace file: {err}", "warning")
        if self.current is reply:
            self.current = None
            self.report(TurnEvent.REPLY_ENDED, at=reply.turn.marks.get("playback_end"))

    # --- internals -----------------------------------------------------------------------

    def _on_mark(self, reply: Reply, name: str) -> None:
        if name == "first_audio_out" and self.current is reply:
            self.report(TurnEvent.AUDIO_STARTED)

    def _speech_for(self, reply: Reply) -> SpeechOut | None:
        """The reply's speech, or None (output off, or no synthesiser yet: said once)."""
        if not self.speech_output:
            return None
        host = self.host
        if host.tts is None:
            if not self._told_unspoken:
                self._told_unspoken = True
                self.bus.notice("speech output is still loading: replies are shown, not "
                                "spoken, until it is ready" if host.speech_loading else
                                "no speech output: replies are shown, not spoken", "info")
            return None
        return SpeechOut(host.tts, host.sink, host.chunker_factory(), mark=reply.mark,
                         gated=reply.speculative, on_error=self.bus.notice,
                         reference=host.cleaner,
                         clock=self.clock if self.play_on_clock else None,
                         now=self.clock.now)

    async def _run(self, reply: Reply) -> None:
        reply.out = self._speech_for(reply)
        ended = await reply.produce(self.bus.notice)
        if reply.cancelled:      # barge-in / interrupt owns the ending of this reply
            return
        self.finish(reply, interrupted=False)
        if ended is not None:
            await self.host.end_session(ended)
