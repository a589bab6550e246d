"""The turn engine's state: the one place the turn state changes, and what it owns.

Why apart from ``engine``: the transition bookkeeping -- applying a ``TurnEvent`` through the
pure table (``turn_table``), publishing the shown state (MUTED over the table's state), the
follow-up window, switching to the voice table once voice input is ready, numbering turns,
and when a timer's announcement may be said -- is what every other engine part reports to.
Frame intake (``engine_intake``) and the public loop (``engine``) build on it and never set
the state themselves.
"""

from __future__ import annotations

from localvox.pipeline.agent_port import SaidText
from localvox.pipeline.announce import Announcer
from localvox.pipeline.audio_worker import AudioWorker
from localvox.pipeline.clock import InputPacer
from localvox.pipeline.engine_parts import EngineParts
from localvox.pipeline.events import SessionEnded, StateChanged, TurnState
from localvox.pipeline.reply import Reply
from localvox.pipeline.replies import Replies
from localvox.pipeline.speculation import Speculation
from localvox.pipeline.trace import TurnMarks
from localvox.pipeline.turn_table import WAITING, Profile, TurnEvent, next_state, profile_for
from localvox.pipeline.utterance import Hearing, Utterance

_UNSEGMENTED = (TurnState.IDLE, TurnState.SLEEPING, TurnState.SPEAKING)
"""States whose frames the endpointer does not see (half duplex while speaking): leaving
one restarts it at the next frame, or its stream clock lags by the time skipped (issue
#15: a follow-up's speech_end read 2.9 s early, its endpoint wait 3.4 s, and speculation
never covered it)."""


class EngineState(EngineParts):
    """The turn state and the workers the engine drives (see ``TurnEngine`` for the
    arguments)."""

    def _init_state(self) -> None:
        self.spec = Speculation(self.opts, agent=lambda: self.agent, notice=self._notice,
                                start=lambda turn, text: self.replies.start(
                                    turn, text, speculative=True))
        self.pacer = InputPacer(self.clock, computing=self._computing,
                                stopping=lambda: self._stopping)
        self.replies = Replies(self, self.bus, self.clock, speech_output=self.opts.speech_output,
                               report=self._apply, play_on_clock=self.opts.play_on_clock)
        self.traces = self.replies.traces
        """The latest ``TurnTrace``s, oldest first (runner and bench read them; bounded by
        ``replies.TRACES_KEPT``; the trace file keeps every turn)."""
        self.hearing = Hearing(self.bus, self.clock, self.opts.min_partial_audio_ms)
        self.announcer = Announcer(ready=self._can_announce, say=self._say,
                                   notice=self._notice)
        self._turn_state = TurnState.IDLE
        """The table's state (``turn_table``); ``state`` shows MUTED over it."""
        self._shown = TurnState.IDLE
        self._profile = profile_for(self.opts.mode, False)
        self._window_until = 0.0
        """Wake mode: the follow-up window (LISTENING) closes at this engine-clock time."""
        self._muted = False
        self._turn_seq = 0
        self._frame_count = 0
        self._stopping = self._ended = False
        self.audio_worker: AudioWorker | None = None
        """Per-frame DSP in a worker thread (``audio_worker.attach``); None: on the loop."""

    @property
    def _utt(self) -> Utterance | None:
        """The utterance being heard."""
        return self.hearing.utt

    @property
    def _reply(self) -> Reply | None:
        """The committed reply (thinking or speaking), owned by the reply desk."""
        return self.replies.current

    # --- stopping (``stop`` is public; the reply desk calls ``end_session``) ------------

    async def stop(self) -> None:
        """Stop listening and speaking; ``run()`` returns."""
        self._stopping = True
        if self.source is not None:
            await self.source.close()

    async def end_session(self, reason: str) -> None:
        """The agent ended the conversation (the reply desk calls this)."""
        self._emit(SessionEnded(reason))
        self._ended = True
        await self.stop()

    # --- the state machine ---------------------------------------------------------------

    def _apply(self, event: TurnEvent, at: float | None = None) -> None:
        """Move by the table; ``at`` is when the event happened (a reply's playback end)."""
        prev = self._turn_state
        new = self._turn_state = next_state(self._profile, prev, event)
        if new == TurnState.LISTENING and (prev != new or event == TurnEvent.WAKE):
            self._window_until = (self.clock.now() if at is None else at) + self.opts.follow_up_s
        if prev in _UNSEGMENTED and new not in _UNSEGMENTED:
            self.listener.reset_segmenter()
        if new == TurnState.SLEEPING and prev != new:
            self.listener.reset_wake()
        self._publish_state()
        if new in WAITING:
            self.announcer.poke()

    def _publish_state(self) -> None:
        shown = self._turn_state
        if self._muted and shown != TurnState.IDLE:
            shown = TurnState.MUTED
        if shown != self._shown:
            prev, self._shown = self._shown, shown
            self._emit(StateChanged(shown, prev))

    def _parts_changed(self) -> None:
        self._check_voice()

    def _check_voice(self) -> None:
        """Switch to the voice table once voice input can start (or at ``run()``)."""
        voice = self.source is not None and self.voice_ready
        if self._running and voice and self._profile is Profile.TEXT:
            self._profile = profile_for(self.opts.mode, True)
            self._apply(TurnEvent.VOICE_READY)

    def _new_turn(self, source: str = "voice") -> TurnMarks:
        self._turn_seq += 1
        turn = TurnMarks(self._turn_seq, self.clock)
        turn.source = source
        return turn

    # --- announcements (timers and alarms) ---------------------------------------------

    def _can_announce(self) -> bool:
        seg = self.segmenter
        return (self._running and not self._stopping and self._turn_state in WAITING
                and self._reply is None and self._utt is None and not self.hearing.finishing
                and not (seg is not None and seg.in_speech))

    def _say(self, text: str) -> None:
        turn = self._new_turn("agent")
        self.replies.start(turn, text, speculative=False, agent=SaidText(text))

    async def _cancel_reply(self) -> None:
        """Cut the current reply off; an announcement nobody heard yet is said later."""
        reply = await self.replies.cancel(interrupted=True)
        if reply is not None and reply.turn.source == "agent" \
                and "first_audio_out" not in reply.turn.marks:
            self.announcer.requeue(reply.text)

    # --- fast-mode pacing ----------------------------------------------------------------

    def _computing(self) -> bool:
        """Work that real time overlaps with arriving audio (fast mode paces meanwhile)."""
        utt, reply = self._utt, self._reply
        if self.hearing.finishing or self.spec.computing or (utt is not None and utt.decoding):
            return True
        pending = getattr(self.agent, "announcement_pending", None)
        if self.announcer.queue or (pending is not None and pending()):
            return True        # a timer is set: it rings on the wall clock, so keep pace
        if reply is None:
            return False
        out = reply.out
        return self._turn_state == TurnState.THINKING or out is None or not out.text_done \
            or out.synthesizing
