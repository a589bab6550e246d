"""The turn engine: audio frames in, ``PipelineEvent``s out, one state machine per conversation.

States (``TurnState``): sleeping (wake word) / idle (push-to-talk released) -> listening
-> hearing -> transcribing -> thinking -> speaking -> listening (follow-up window) ...

Why one owner: speculation, barge-in, cancellation and timers ringing all race each other.
Every transition is a lookup in one pure table (``turn_table``): the helpers report what
happened as a ``TurnEvent`` and the engine applies it (``_apply``); nothing else sets the
state. The work the engine starts and cancels lives beside it -- per-frame listening
decisions in ``listener``, streaming ASR in ``utterance``, reply production in ``reply`` /
``replies``, speculative replies in ``speculation``, timers and alarms in ``announce``,
fast-mode pacing in ``clock``, model loading in ``startup``. Stages never talk to each
other; the engine moves data between them and publishes typed events.

The follow-up window (wake mode: no wake word needed right after a reply) is LISTENING
until ``follow_up_s`` after the reply's last sample was heard, on the engine clock --
the same instant in fast mode (where a reply plays on the clock) and in real time.

Half-duplex by default: while the reply plays, nothing is transcribed and the wake word is
not evaluated (the assistant must not wake itself); only a *barge-in* is watched for --
VAD probability >= ``[pipeline] barge_in_threshold`` for ``barge_in_min_ms`` -- which
stops the sink, cancels the agent and TTS, tells the agent what was heard, and starts a
new utterance from the buffered onset audio. A ``MicCleaner`` (echo suppression, fed the
playback reference) can be plugged in before the VAD for full duplex.

Progressive start-up: the engine may start with the agent only (``vad``/``asr``/``tts``
None). Typed turns work at once (shown, not spoken, until a TTS is attached); voice input
starts when ``attach_speech`` has brought VAD, ASR (and the wake word in wake mode).
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

import numpy as np

from localvox.audio.base import AudioFrame, AudioSink, AudioSource
from localvox.errors import LocalvoxError
from localvox.pipeline.agent_port import AgentPort, SaidText
from localvox.pipeline.announce import Announcer
from localvox.pipeline.audio_worker import AudioWorker, ProcessedFrame
from localvox.pipeline.clock import EngineClock, InputPacer
from localvox.pipeline.engine_parts import EngineParts
from localvox.pipeline.events import (FinalTranscript, MicLevel, PartialTranscript,
                                      SessionEnded, StateChanged, TurnState,
                                      WakeDetected)
from localvox.pipeline.options import EngineOptions, MicCleaner, Segmenter
from localvox.pipeline.reply import Reply
from localvox.pipeline.replies import Replies
from localvox.pipeline.speculation import Speculation, normalize_text
from localvox.pipeline.speech_out import Chunker
from localvox.pipeline.trace import TraceWriter, TurnMarks
from localvox.pipeline.turn_table import WAITING, Profile, TurnEvent, next_state, profile_for
from localvox.pipeline.utterance import Hearing, Utterance
from localvox.vad.endpoint import SpeechBegan, SpeechEnded

__all__ = ["EngineOptions", "MicCleaner", "Segmenter", "TurnEngine", "normalize_text"]

_UNSEGMENTED = (TurnState.IDLE, TurnState.SLEEPING, TurnState.SPEAKING)
"""States whose frames the endpointer does not see (half duplex while speaking): leaving
one restarts it at the next frame, or its stream clock lags by the time skipped (issue
#15: a follow-up's speech_end read 2.9 s early, its endpoint wait 3.4 s, and speculation
never covered it)."""


class TurnEngine(EngineParts):
    """The speech loop. Drive it with ``run()``; watch it with ``subscribe()``.

    Args (the parts, kept by ``EngineParts``):
        source: microphone or file; ``None`` for a text-only session.
        sink: speaker or file.
        vad / segmenter / asr / tts / wake: the stages (``wake`` needed in wake mode);
            ``vad``, ``asr`` and ``tts`` may be None when loaded later (``load_speech``).
        agent: ``AgentPort``.
        chunker_factory: a fresh text chunker per reply.
        options: behaviour knobs.
        clock: the shared clock (a fresh ``EngineClock`` by default).
        trace: optional JSONL writer; every finished turn is appended.
        cleaner: optional echo suppression before the VAD.
        labels: status-bar labels returned by ``describe()``.
    """

    def __init__(self, *, source: AudioSource | None, sink: AudioSink, vad: Any,
                 segmenter: Segmenter, asr: Any, tts: Any, agent: AgentPort,
                 chunker_factory: Callable[[], Chunker], wake: Any = None,
                 options: EngineOptions | None = None, clock: EngineClock | None = None,
                 trace: TraceWriter | None = None, cleaner: MicCleaner | None = None,
                 labels: dict[str, Any] | None = None) -> None:
        super().__init__(source=source, sink=sink, vad=vad, segmenter=segmenter, asr=asr,
                         tts=tts, agent=agent, chunker_factory=chunker_factory, wake=wake,
                         options=options, clock=clock, trace=trace, cleaner=cleaner,
                         labels=labels)
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

    # --- public API (the TUI, the runner and the bench call these) -----------------------

    @property
    def state(self) -> TurnState:
        return self._shown

    async def run(self) -> None:
        """Consume the source until it ends or ``stop()``; then finish the turn in flight."""
        self._running = True
        self.opts.__post_init__()            # options set after construction (the runner)
        self.replies.play_on_clock = self.opts.play_on_clock
        for notice in self.startup_notices:
            self._emit(notice)
        self._publish_state()
        self._check_voice()
        self.announcer.start(getattr(self.agent, "announcements", None))
        reason = "stopped"
        try:
            if await self._voice_input():
                reason = await self._consume_source()
            while not self._stopping and reason == "stopped":
                await asyncio.sleep(0.05)        # text only: typed turns until stop()
            if reason == "input_ended":
                await self._drain_input()
        finally:
            await self._shutdown(reason)

    async def stop(self) -> None:
        """Stop listening and speaking; ``run()`` returns."""
        self._stopping = True
        if self.source is not None:
            await self.source.close()

    async def submit_text(self, text: str) -> None:
        """A typed user turn: answered by the same agent, spoken unless output is off.

        The typed line wins over anything in progress: a reply is cut off, an utterance
        being heard or transcribed is dropped."""
        text = text.strip()
        if not text:
            return
        await self._cancel_reply()
        await self.spec.drop()
        if self._utt is not None or self.hearing.finishing:
            self._abandon_utterance()
        turn = self._new_turn("text")
        turn.text = text
        turn.mark("final_transcript")
        self._emit(FinalTranscript(turn.turn_id, text, source="text"))
        self.replies.start(turn, text, speculative=False)

    async def push_to_talk(self, active: bool) -> None:
        """Press (True) opens the mic for one utterance; release (False) ends it now."""
        if active:
            if self._reply is not None:
                await self._barge_in(self.clock.now())
            self.listener.reset_segmenter()
            if not self._muted and self._utt is None and self.voice_ready:
                self._apply(TurnEvent.PTT_PRESSED)
        elif self._utt is not None:
            await self._handle_seg(self.segmenter.flush(), None)
        else:
            self._apply(TurnEvent.PTT_RELEASED)

    def set_muted(self, muted: bool) -> None:
        """Mute the microphone: frames are dropped, an utterance in progress is abandoned
        (a reply goes on playing; the state shows MUTED until unmuted)."""
        if muted == self._muted:
            return
        self._muted = muted
        if muted and self._utt is not None:
            self._abandon_utterance()
        if not muted:
            self.listener.reset_segmenter()
        self._publish_state()

    async def interrupt(self) -> None:
        """Stop speaking now and cancel the reply in flight (recorded as interrupted)."""
        if self._reply is not None:
            await self._barge_in(self.clock.now(), restart_from=None)

    def set_speech_output(self, enabled: bool) -> None:
        """Speech off: replies are text only; turning it off silences the current reply."""
        self.replies.set_speech_output(enabled)

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

    # --- audio path ----------------------------------------------------------------------

    async def _voice_input(self) -> bool:
        """True once the source may be read (voice parts in); False if that will never be.
        Until then the source is left unread, so a recording loses nothing to loading."""
        if self.source is None or self.voice_ready:
            return self.source is not None
        return self._loader is not None and await self._loader.wait_until(
            lambda: self.voice_ready, lambda: self._stopping)

    async def _consume_source(self) -> str:
        assert self.source is not None
        worker = self.audio_worker
        try:
            async for frame in (worker.frames() if worker else self.source.frames()):
                if self._stopping:
                    break
                if self.opts.fast_input:
                    await self.pacer.admit(frame)
                await self._on_frame(frame)
        except LocalvoxError as err:       # the microphone went away: say so, end cleanly
            self._notice(err)
            return "input_ended"
        return "stopped" if self._stopping else "input_ended"

    async def _on_frame(self, frame: AudioFrame) -> None:
        now = self.clock.on_frame(frame.start_s, frame.end_s)
        self._frame_count += 1
        if self._muted:
            return
        done = frame if isinstance(frame, ProcessedFrame) else None   # the worker's results
        if done is not None and self.audio_worker is not None \
                and self.audio_worker.new_error(done):
            self._notice(done.error)
        if self.cleaner is not None and done is None:
            frame = AudioFrame(self.cleaner.clean(frame.samples, frame.start_s), frame.start_s)
        if self._frame_count % max(1, self.opts.level_every) == 0:
            self._emit(MicLevel(frame.rms(), float(np.max(np.abs(frame.samples), initial=0.0))))
        state, lis = self._turn_state, self.listener
        if state == TurnState.SLEEPING:
            lis.ring.append((frame, 0.0))
            det = lis.detect_wake(frame) if done is None else done.wake
            if det is not None:
                self._emit(WakeDetected(det.name, float(det.score), float(det.at_s)))
                lis.reset_vad()
                self._apply(TurnEvent.WAKE)
            return
        if state == TurnState.IDLE:
            return
        prob = self._probability(frame, done)
        lis.ring.append((frame, prob))
        if state == TurnState.SPEAKING:
            await self._watch_barge_in(frame, prob)
            if not self._full_duplex() or self._turn_state == TurnState.SPEAKING:
                return
        in_speech = self._utt is not None
        await self._handle_seg(lis.segment(frame, prob), frame, prob, was_in_speech=in_speech)
        if self._turn_state == TurnState.LISTENING and self._profile is Profile.WAKE \
                and now >= self._window_until:
            self._apply(TurnEvent.WINDOW_CLOSED)

    def _probability(self, frame: AudioFrame, done: ProcessedFrame | None) -> float:
        """The VAD probability: the worker's, or computed here without a worker. (A frame
        the worker scored before a state change has none: 0.0, counted as late.)"""
        if done is None:
            return self.listener.probability(frame.samples)
        if self.audio_worker is not None and self.audio_worker.needs_fallback(done):
            return 0.0
        return float(done.prob or 0.0)

    async def _handle_seg(self, decisions: list[Any], frame: AudioFrame | None,
                          prob: float = 0.0, *, was_in_speech: bool = False) -> None:
        """Act on the endpointer's decisions; stream the frame to the ASR while in speech."""
        began = ended = False
        for d in decisions:
            if isinstance(d, SpeechBegan):
                await self._begin_utterance(d)
                began = True
            elif isinstance(d, SpeechEnded):
                self._end_utterance(d)
                ended = True
        utt = self._utt
        if frame is None or utt is None:
            return
        if was_in_speech and not began and not ended:
            utt.queue.put_nowait(frame.samples)
        voiced = prob >= self.opts.vad_threshold
        utt.observe(frame.end_s, voiced, self.opts.force_partial_after_ms)
        if voiced:
            if self.spec.reply is not None:      # the user kept talking
                await self.spec.drop()
        elif self.hearing.turn is not None and self._reply is None:
            self.spec.maybe_start(utt, self.hearing.turn, frame.end_s)

    async def _begin_utterance(self, ev: SpeechBegan) -> None:
        if self._reply is not None:          # speech while thinking: the user goes on
            await self._cancel_reply()
        await self.spec.drop()
        if not self.hearing.begin(self.asr, self._new_turn(), ev, self._on_partial):
            self.listener.reset_segmenter()
            return
        self._apply(TurnEvent.SPEECH_BEGAN)

    async def _on_partial(self, utt: Utterance, turn: TurnMarks, text: str) -> None:
        self._emit(PartialTranscript(turn.turn_id, text))
        if self._utt is not utt:
            return
        self.segmenter.set_partial(text)
        if self.spec.reply is not None and not self.spec.matches(text):
            await self.spec.drop()

    def _end_utterance(self, ev: SpeechEnded) -> None:
        if self.hearing.end(ev, self._finish_utterance):
            self._apply(TurnEvent.SPEECH_ENDED)

    def _abandon_utterance(self) -> None:
        """Drop the utterance being heard and any being finished (their ASR is cancelled)."""
        self.hearing.abandon()
        for task in list(self.hearing.finishing):
            task.cancel()
        if self.spec.reply is not None:
            asyncio.ensure_future(self.spec.drop())
        self.listener.reset_segmenter()
        self._apply(TurnEvent.UTTERANCE_DROPPED)

    async def _finish_utterance(self, utt: Utterance, turn: TurnMarks) -> None:
        """The final transcript decides: commit the speculation, or start the reply now."""
        try:
            text = await self.hearing.final_text(utt)
        except asyncio.CancelledError:
            await self.spec.drop()
            raise
        newer = self.hearing.latest
        if newer is not None and newer is not utt:
            # The user started speaking again before this turn was answered: one turn.
            if text:
                newer.prefix = (newer.prefix + " " + text).strip()
            return
        if text is not None:
            turn.mark("final_transcript")
            turn.text = text
        if text is None or not normalize_text(text):
            await self.spec.drop()
            self._apply(TurnEvent.UTTERANCE_DROPPED)
            return
        self._emit(FinalTranscript(turn.turn_id, text))
        spec = self.spec.take(turn, text)
        if spec is not None:
            self.replies.commit(spec)
            return
        if self.spec.reply is not None:
            await self.spec.drop()
            turn.speculative = "discarded"
        self.replies.start(turn, text, speculative=False)

    # --- barge-in ------------------------------------------------------------------------

    async def _watch_barge_in(self, frame: AudioFrame, prob: float) -> None:
        onset = self.listener.watch_barge_in(frame, prob, full_duplex=self._full_duplex())
        if onset is not None:
            await self._barge_in(self.clock.now(), restart_from=onset)

    async def _barge_in(self, at: float, restart_from: float | None = None) -> None:
        """Stop the reply now; if ``restart_from`` (stream s), replay the user's onset audio."""
        reply = self._reply
        if reply is not None:
            reply.turn.mark("interrupt", at)
            await self._cancel_reply()
        self.listener.clear_barge_in()
        self.listener.reset_segmenter()
        if restart_from is None:
            return
        self._apply(TurnEvent.BARGE_IN)
        for f, p in self.listener.replay_from(restart_from):
            in_speech = self._utt is not None
            await self._handle_seg(self.listener.segment(f, p), f, p, was_in_speech=in_speech)

    # --- ending --------------------------------------------------------------------------

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

    async def _drain_input(self) -> None:
        """The input ended: close the utterance in progress and let the reply finish."""
        self.clock.skip_waits()        # nothing arrives any more: no time left to wait for
        if self._utt is not None:
            await self._handle_seg(self.segmenter.flush(), None)
        while self.hearing.finishing or self.spec.reply is not None or self._reply is not None:
            if self.hearing.finishing:
                await asyncio.gather(*list(self.hearing.finishing), return_exceptions=True)
            elif self._reply is not None and self._reply.task is not None:
                await asyncio.gather(self._reply.task, return_exceptions=True)
                await asyncio.sleep(0)
            elif self.spec.reply is not None:
                await self.spec.drop()
            else:
                await asyncio.sleep(0)
        await self._wait_for_timers()

    async def _wait_for_timers(self) -> None:
        """Up to ``timer_grace_s`` (wall clock) for timers set in the session to ring."""
        loop = asyncio.get_running_loop()
        until = loop.time() + self.opts.timer_grace_s
        pending = getattr(self.agent, "announcement_pending", None)
        while not self._stopping and loop.time() < until and (
                self.announcer.queue or self._reply is not None
                or (pending is not None and pending())):
            await asyncio.sleep(0.05)

    async def _shutdown(self, reason: str) -> None:
        await self.announcer.stop()
        if self._loader is not None:
            await self._loader.cancel()
        if self._utt is not None or self.hearing.finishing:
            self._abandon_utterance()
        await self.hearing.closed()
        await self.spec.drop()
        if self._reply is not None:
            await self.replies.cancel(interrupted=True)
        self._apply(TurnEvent.STOPPED)
        if not self._ended:
            self._ended = True
            self._emit(SessionEnded(reason))
