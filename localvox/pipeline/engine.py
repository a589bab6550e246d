"""The turn engine: audio frames in, ``PipelineEvent``s out, one state machine per conversation.

States (``TurnState``): sleeping (wake word) / idle (push-to-talk released) -> listening
-> hearing -> transcribing -> thinking -> speaking -> listening (follow-up window) ...

Why one owner: speculation, barge-in and cancellation all race each other. This object
decides every transition; the work it starts and cancels lives beside it -- per-frame
listening decisions in ``listener``, streaming ASR in ``utterance``, reply production in
``reply``, speculative replies in ``speculation``, fast-mode pacing in ``clock``, model
loading in ``startup``. Stages never talk to each other; the engine moves data between
them and publishes typed events.

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
from typing import Any, AsyncIterator, Callable

import numpy as np

from localvox.audio.base import AudioFrame, AudioSink, AudioSource
from localvox.errors import LocalvoxError
from localvox.pipeline.agent_port import AgentPort
from localvox.pipeline.audio_worker import AudioWorker, ProcessedFrame
from localvox.pipeline.bus import EventBus
from localvox.pipeline.clock import EngineClock, InputPacer
from localvox.pipeline.events import (FinalTranscript, MicLevel, Notice, PartialTranscript,
                                      PipelineEvent, SessionEnded, StateChanged, TurnState,
                                      WakeDetected)
from localvox.pipeline.listener import Listener
from localvox.pipeline.options import EngineOptions, MicCleaner, Segmenter
from localvox.pipeline.reply import Reply
from localvox.pipeline.speculation import Speculation, normalize_text
from localvox.pipeline.replies import Replies
from localvox.pipeline.speech_out import Chunker
from localvox.pipeline.startup import LoadStage, SpeechLoader
from localvox.pipeline.trace import TraceWriter, TurnMarks
from localvox.pipeline.utterance import Hearing, Utterance
from localvox.vad.endpoint import SpeechBegan, SpeechEnded

__all__ = ["EngineOptions", "MicCleaner", "Segmenter", "TurnEngine", "normalize_text"]


class TurnEngine:
    """The speech loop. Drive it with ``run()``; watch it with ``subscribe()``.

    Args:
        source: microphone or file; ``None`` for a text-only session.
        sink: speaker or file.
        vad: ``VoiceActivityDetector`` (its ``probability`` is called once per block).
        segmenter: endpointing on VAD probabilities (``Segmenter``).
        asr: ``Transcriber``.
        tts: ``Synthesizer``.
        agent: ``AgentPort``.
        chunker_factory: a fresh text chunker per reply.
        wake: ``WakeDetector`` (needed in wake mode).
        options: behaviour knobs.
        clock: the shared clock (a fresh ``EngineClock`` by default).
        trace: optional JSONL writer; every finished turn is appended.
        cleaner: optional echo suppression before the VAD.
        labels: status-bar labels returned by ``describe()``.

    ``vad``, ``asr`` and ``tts`` may be None when they are loaded later (``load_speech``).
    """

    def __init__(self, *, source: AudioSource | None, sink: AudioSink, vad: Any,
                 segmenter: Segmenter, asr: Any, tts: Any, agent: AgentPort,
                 chunker_factory: Callable[[], Chunker], wake: Any = None,
                 options: EngineOptions | None = None, clock: EngineClock | None = None,
                 trace: TraceWriter | None = None, cleaner: MicCleaner | None = None,
                 labels: dict[str, Any] | None = None) -> None:
        self.opts = options or EngineOptions()
        if self.opts.mode == "wake" and wake is None and vad is not None and asr is not None:
            raise LocalvoxError("wake mode needs a wake word detector (or use --no-wake)")
        self.source = source
        self.sink = sink
        self.asr = asr
        self.tts = tts
        self.agent = agent
        self.chunker_factory = chunker_factory
        self.clock = clock or EngineClock()
        self.trace = trace
        self.cleaner = cleaner
        self.labels = dict(labels or {})
        self.startup_notices: list[Notice] = []
        """Published when ``run()`` starts (e.g. "no microphone: text mode")."""

        self.bus = EventBus()
        self._emit, self._notice = self.bus.emit, self.bus.notice
        self.listener = Listener(vad=vad, wake=wake, segmenter=segmenter, options=self.opts,
                                 notice=self._notice)
        self.spec = Speculation(self.opts, agent=lambda: self.agent, notice=self._notice,
                                start=lambda turn, text: self._start_reply(turn, text,
                                                                           speculative=True))
        self.pacer = InputPacer(self.clock, pending=self._pending_work,
                                computing=self._background_busy, stopping=lambda: self._stopping)
        self.replies = Replies(self, self.bus, self.clock, speech_output=self.opts.speech_output)
        self.traces = self.replies.traces
        """The latest ``TurnTrace``s, oldest first (runner and bench read them; bounded by
        ``replies.TRACES_KEPT``; the trace file keeps every turn)."""
        self._state = TurnState.IDLE
        self._muted = False
        self._ptt = False
        self._turn_seq = 0
        self.hearing = Hearing(self.bus, self.clock, self.opts.min_partial_audio_ms)
        self._awake_until = 0.0
        self._frame_count = 0
        self._running = False
        self._stopping = False
        self._ended = False
        self._loader: SpeechLoader | None = None
        self.audio_worker: AudioWorker | None = None
        """Per-frame DSP in a worker thread (``audio_worker.attach``); None: on the loop."""

    # --- the listening stages live in the listener; these keep the constructor's names ----

    vad = property(lambda self: self.listener.vad,
                   lambda self, v: setattr(self.listener, "vad", v))
    wake = property(lambda self: self.listener.wake,
                    lambda self, v: setattr(self.listener, "wake", v))
    segmenter = property(lambda self: self.listener.segmenter,
                         lambda self, v: setattr(self.listener, "segmenter", v))

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
        return self._state

    def subscribe(self) -> "asyncio.Queue[PipelineEvent]":
        """A queue receiving every event published from now on (unbounded: drain it)."""
        return self.bus.subscribe()

    def unsubscribe(self, q: "asyncio.Queue[PipelineEvent]") -> None:
        self.bus.unsubscribe(q)

    def events(self) -> AsyncIterator[PipelineEvent]:
        """Every event from now until ``SessionEnded`` (inclusive)."""
        return self.bus.events()

    @property
    def voice_ready(self) -> bool:
        """VAD, endpointer, ASR (and the wake word in wake mode) are all there."""
        return self.vad is not None and self.asr is not None and self.segmenter is not None \
            and (self.opts.mode != "wake" or self.wake is not None)

    def load_speech(self, stages: list[LoadStage]) -> None:
        """Load speech parts in the background and attach them as each stage finishes.

        Progress and failures are ``Notice``s; ``run()`` starts reading the source once
        voice input is ready, and typed turns are answered meanwhile.
        """
        self._loader = SpeechLoader(stages, attach=self.attach_speech, announce=self._announce)

    def attach_speech(self, *, vad: Any = None, asr: Any = None, tts: Any = None,
                      wake: Any = None) -> None:
        """Plug in speech parts loaded after the engine was built (any subset)."""
        for name, part in (("vad", vad), ("asr", asr), ("tts", tts), ("wake", wake)):
            if part is not None:
                setattr(self, name, part)
        if self.opts.mode == "wake" and self.wake is None and self.asr is not None \
                and self.vad is not None:
            raise LocalvoxError("wake mode needs the wake word model (or use --no-wake)")
        if self.voice_ready:
            self._set_state(self._busy_state() or self._rest_state())

    async def run(self) -> None:
        """Consume the source until it ends or ``stop()``; then finish the turn in flight."""
        self._running = True
        for notice in self.startup_notices:
            self._emit(notice)
        self._set_state(self._busy_state() or self._rest_state())   # a typed turn may be on
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

    async def close(self) -> None:
        """Release what the engine was built with: sink (writes a WAV sink's file), source,
        agent. Call after ``run()`` has returned; safe to call twice."""
        for part in (self.sink, self.source, self.agent):
            close = getattr(part, "close", None)
            if close is not None:
                try:
                    await close()
                except Exception as err:  # a failing close must not hide the others
                    self._notice(err, "warning")

    async def stop(self) -> None:
        """Stop listening and speaking; ``run()`` returns."""
        self._stopping = True
        if self.source is not None:
            await self.source.close()

    async def submit_text(self, text: str) -> None:
        """A typed user turn: answered by the same agent, spoken unless output is off."""
        text = text.strip()
        if not text:
            return
        await self.replies.cancel(interrupted=True)
        await self.spec.drop()
        turn = self._new_turn()
        turn.text = text
        turn.mark("final_transcript")
        self._emit(FinalTranscript(turn.turn_id, text, source="text"))
        self._start_reply(turn, text, speculative=False)

    async def push_to_talk(self, active: bool) -> None:
        """Press (True) opens the mic for one utterance; release (False) ends it now."""
        self._ptt = active
        if active:
            if self._reply is not None and self._state == TurnState.SPEAKING:
                await self._barge_in(self.clock.now())
            self.listener.reset_segmenter()
            if not self._muted and self._utt is None and self.voice_ready:
                self._set_state(TurnState.LISTENING)
        else:
            if self._utt is not None:
                await self._handle_seg(self.segmenter.flush(), None)
            elif self._state == TurnState.LISTENING and self.opts.mode == "ptt":
                self._set_state(self._rest_state())

    def set_muted(self, muted: bool) -> None:
        """Mute the microphone: frames are dropped, an utterance in progress is abandoned."""
        if muted == self._muted:
            return
        self._muted = muted
        if muted:
            if self._utt is not None:
                self._abandon_utterance()
            self._set_state(TurnState.MUTED)
        else:
            self.listener.reset_segmenter()
            self._set_state(self._busy_state() or self._rest_state())

    async def interrupt(self) -> None:
        """Stop speaking now and cancel the reply in flight (recorded as interrupted)."""
        if self._reply is not None:
            await self._barge_in(self.clock.now(), restart_from=None)

    def set_speech_output(self, enabled: bool) -> None:
        """Speech off: replies are text only; turning it off silences the current reply."""
        self.replies.set_speech_output(enabled)

    def describe(self) -> dict[str, Any]:
        """Status-bar labels: wake_word, asr, llm, tts, audio_input, echo, mode (a part
        still loading shows the configured name)."""
        def name(key: str, part: Any) -> str:
            if part is not None:
                return getattr(part, "name", "")
            return self._loader.labels.get(key, "") if self._loader is not None else ""

        info = {"wake_word": name("wake_word", self.wake) if self.opts.mode == "wake" else "",
                "asr": name("asr", self.asr), "tts": name("tts", self.tts),
                "audio_input": getattr(self.source, "name", "none"),
                "audio_output": getattr(self.sink, "name", ""),
                "echo": "on" if self.cleaner is not None else "off (half-duplex)",
                "mode": self.opts.mode}
        info.update(self.labels)
        return info

    # --- events and state ----------------------------------------------------------------

    def _announce(self, notice: Notice) -> None:
        """Publish now, or when ``run()`` starts if nobody can be listening yet."""
        if self._running:
            self._emit(notice)
        else:
            self.startup_notices.append(notice)

    def _set_state(self, state: TurnState) -> None:
        if self._muted and state not in (TurnState.MUTED, TurnState.IDLE):
            state = TurnState.MUTED
        if state != self._state:
            prev, self._state = self._state, state
            self._emit(StateChanged(state, prev))

    def _rest_state(self) -> TurnState:
        """Where the engine waits when no turn is in progress."""
        if self._muted:
            return TurnState.MUTED
        if self.source is None or not self.voice_ready:
            return TurnState.IDLE
        if self.opts.mode == "always":
            return TurnState.LISTENING
        if self.opts.mode == "ptt":
            return TurnState.LISTENING if self._ptt else TurnState.IDLE
        return TurnState.LISTENING if self.clock.now() < self._awake_until else TurnState.SLEEPING

    def _busy_state(self) -> TurnState | None:
        if self._utt is not None:
            return TurnState.HEARING
        if self._reply is not None:
            return TurnState.SPEAKING if "first_audio_out" in self._reply.turn.marks \
                else TurnState.THINKING
        return None

    def _new_turn(self) -> TurnMarks:
        self._turn_seq += 1
        return TurnMarks(self._turn_seq, self.clock)

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
                if self.opts.hold_input_while_replying:
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
        state, lis = self._state, self.listener
        speaking = self._reply is not None and state == TurnState.SPEAKING
        full_duplex = self.cleaner is not None and getattr(self.cleaner, "full_duplex", False)

        if speaking and not full_duplex:
            prob = self._probability(frame, done)
            lis.ring.append((frame, prob))
            await self._watch_barge_in(frame, prob)
            return
        if state == TurnState.SLEEPING:
            lis.ring.append((frame, 0.0))
            det = lis.detect_wake(frame) if done is None else done.wake
            if det is not None:
                self._emit(WakeDetected(det.name, float(det.score), float(det.at_s)))
                self._awake_until = now + self.opts.follow_up_s
                lis.reset_segmenter()
                lis.reset_vad()
                self._set_state(TurnState.LISTENING)
            return
        if state == TurnState.IDLE:
            return
        prob = self._probability(frame, done)
        lis.ring.append((frame, prob))
        if speaking and full_duplex:
            await self._watch_barge_in(frame, prob)
            if self._reply is not None:
                return
        in_speech = self._utt is not None
        await self._handle_seg(lis.segment(frame, prob), frame, prob, was_in_speech=in_speech)
        if self._utt is None and self._state == TurnState.LISTENING \
                and self.opts.mode == "wake" and now >= self._awake_until \
                and self._reply is None:
            lis.reset_wake()
            self._set_state(TurnState.SLEEPING)

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
            await self.replies.cancel(interrupted=True)
        await self.spec.drop()
        if not self.hearing.begin(self.asr, self._new_turn(), ev, self._on_partial):
            self.listener.reset_segmenter()
            return
        self._awake_until = float("inf")
        self._set_state(TurnState.HEARING)

    async def _on_partial(self, utt: Utterance, turn: TurnMarks, text: str) -> None:
        self._emit(PartialTranscript(turn.turn_id, text))
        if self._utt is not utt:
            return
        self.segmenter.set_partial(text)
        if self.spec.reply is not None and not self.spec.matches(text):
            await self.spec.drop()

    def _end_utterance(self, ev: SpeechEnded) -> None:
        if self.hearing.end(ev, self._finish_utterance):
            self._set_state(TurnState.TRANSCRIBING)

    def _abandon_utterance(self) -> None:
        """Drop the utterance being heard: its ASR task and its stream are cancelled."""
        self.hearing.abandon()
        if self.spec.reply is not None:
            asyncio.ensure_future(self.spec.drop())
        self.listener.reset_segmenter()

    async def _finish_utterance(self, utt: Utterance, turn: TurnMarks) -> None:
        """The final transcript decides: commit the speculation, or start the reply now."""
        try:
            text = await self.hearing.final_text(utt)
        except asyncio.CancelledError:
            await self.spec.drop()
            raise
        if text is None:
            await self.spec.drop()
            self._after_turn()
            return
        if self._utt is not None:
            # The user started speaking again before this turn was answered: one turn.
            self._utt.prefix = text
            return
        turn.mark("final_transcript")
        turn.text = text
        if not normalize_text(text):
            await self.spec.drop()
            self._after_turn()
            return
        self._emit(FinalTranscript(turn.turn_id, text))
        spec = self.spec.take(turn, text)
        if spec is not None:
            self.replies.commit(spec)
            return
        if self.spec.reply is not None:
            await self.spec.drop()
            turn.speculative = "discarded"
        self._start_reply(turn, text, speculative=False)

    def _after_turn(self) -> None:
        if self.opts.mode == "wake":
            self._awake_until = self.clock.now() + self.opts.follow_up_s
        if self._utt is None and self._reply is None:
            self._set_state(self._rest_state())

    # --- replies (the desk produces them; these are its reports) ---------------------------

    def _start_reply(self, turn: TurnMarks, text: str, *, speculative: bool) -> Reply:
        return self.replies.start(turn, text, speculative=speculative)

    @property
    def speech_loading(self) -> bool:
        return self._loader is not None and self._loader.loading

    def reply_state(self, state: TurnState) -> None:
        self._set_state(state)

    def reply_closed(self) -> None:
        self._after_turn()

    async def end_session(self, reason: str) -> None:
        self._emit(SessionEnded(reason))
        self._ended = True
        await self.stop()

    # --- barge-in ------------------------------------------------------------------------

    async def _watch_barge_in(self, frame: AudioFrame, prob: float) -> None:
        full_duplex = self.cleaner is not None and getattr(self.cleaner, "full_duplex", False)
        onset = self.listener.watch_barge_in(frame, prob, full_duplex=full_duplex)
        if onset is not None:
            await self._barge_in(self.clock.now(), restart_from=onset)

    async def _barge_in(self, at: float, restart_from: float | None = None) -> None:
        """Stop the reply now; if ``restart_from`` (stream s), replay the user's onset audio."""
        reply = self._reply
        if reply is not None:
            reply.turn.mark("interrupt", at)
            await self.replies.cancel(interrupted=True)
        self.listener.clear_barge_in()
        self.listener.reset_segmenter()
        if restart_from is None:
            self._set_state(self._busy_state() or self._rest_state())
            return
        self._awake_until = self.clock.now() + self.opts.follow_up_s
        self._set_state(TurnState.LISTENING)
        for f, p in self.listener.replay_from(restart_from):
            in_speech = self._utt is not None
            await self._handle_seg(self.listener.segment(f, p), f, p, was_in_speech=in_speech)

    # --- ending --------------------------------------------------------------------------

    def _pending_work(self) -> list[Any] | None:
        """Tasks answering a turn (fast mode holds input until they end); None if none."""
        if not self.hearing.finishing and self._reply is None:
            return None
        reply = self._reply
        return list(self.hearing.finishing) or ([reply.task] if reply and reply.task else [])

    def _background_busy(self) -> bool:
        utt = self._utt
        return (utt is not None and utt.decoding) or self.spec.computing

    async def _drain_input(self) -> None:
        """The input ended: close the utterance in progress and let the reply finish."""
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

    async def _shutdown(self, reason: str) -> None:
        if self._loader is not None:
            await self._loader.cancel()
        if self._utt is not None:
            self._abandon_utterance()
        for task in list(self.hearing.finishing):
            task.cancel()
        await self.hearing.closed()
        await self.spec.drop()
        if self._reply is not None:
            await self.replies.cancel(interrupted=True)
        self._set_state(TurnState.IDLE)
        if not self._ended:
            self._ended = True
            self._emit(SessionEnded(reason))
