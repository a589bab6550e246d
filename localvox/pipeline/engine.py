"""The turn engine: audio frames in, ``PipelineEvent``s out, one state machine per conversation.

States (``TurnState``): sleeping (wake word) / idle (push-to-talk released) -> listening
-> hearing -> transcribing -> thinking -> speaking -> listening (follow-up window) ...

Why one owner: speculation, barge-in and cancellation all race each other. A single
object that decides every transition, with the heavy work (ASR decode, the agent, TTS,
playback) in tasks it starts and cancels, keeps those races in one place. Stages never
talk to each other; the engine moves data between them and publishes typed events.

Half-duplex by default: while the reply plays, nothing is transcribed and the wake word is
not evaluated (the assistant must not wake itself); only a *barge-in* is watched for --
VAD probability >= ``[pipeline] barge_in_threshold`` for ``barge_in_min_ms`` -- which
stops the sink, cancels the agent and TTS, tells the agent what was heard, and starts a
new utterance from the buffered onset audio. A ``MicCleaner`` (echo suppression, fed the
playback reference) can be plugged in before the VAD for full duplex.

Speculation: during the end-of-turn silence, once a partial transcript covers all the
voiced audio, the agent is started on it with playback gated. At the endpoint, if the
final transcript matches (case and punctuation aside) the gate opens -- the LLM's first
token and the first TTS chunk were already made inside the silence. Otherwise, or if the
user speaks again, that work is cancelled and ``AgentPort.discard`` forgets it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import inspect
import re
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Protocol

import numpy as np

from localvox.audio.base import SAMPLE_RATE, AudioFrame, AudioSink, AudioSource
from localvox.errors import LocalvoxError
from localvox.pipeline.agent_port import (AgentNotice, AgentPort, EndSession, ReplyText,
                                          ToolFinished, ToolStarted)
from localvox.pipeline.events import (FinalTranscript, Interrupted, MicLevel, Notice,
                                      PartialTranscript, PipelineEvent, ReplyChunk, ReplyDone,
                                      SessionEnded, SpeechStarted, SpeechStopped,
                                      StateChanged, ToolCallFinished, ToolCallStarted,
                                      TurnState, WakeDetected)
from localvox.pipeline.speech_out import Chunker, SpeechOut
from localvox.pipeline.trace import EngineClock, TraceWriter, TurnMarks
from localvox.vad.endpoint import SpeechBegan, SpeechEnded

# --- contracts the engine uses beyond the stage protocols ---------------------------------


class Segmenter(Protocol):
    """Endpointing on per-frame VAD probabilities: ``localvox.vad.endpoint.Endpointer``."""

    @property
    def in_speech(self) -> bool: ...

    def feed(self, samples: np.ndarray, probability: float) -> list[Any]:
        """Returns ``SpeechBegan`` / ``SpeechEnded`` / ``SpeechDiscarded`` decisions."""

    def set_partial(self, text: str | None) -> None: ...

    def flush(self) -> list[Any]:
        """End an open utterance now (push-to-talk released, input ended)."""

    def reset(self, start_s: float = 0.0) -> None: ...


class MicCleaner(Protocol):
    """Echo suppression hook: cleans mic frames given what the speaker played."""

    def reference(self, samples: np.ndarray, sample_rate: int) -> None: ...

    def clean(self, samples: np.ndarray, start_s: float) -> np.ndarray: ...

    full_duplex: bool
    """True if cleaned audio is safe to treat normally while speaking."""


@dataclass
class EngineOptions:
    """Behaviour knobs, normally taken from ``Config`` (see ``from_config``)."""

    mode: str = "wake"                 # wake | ptt | always
    follow_up_s: float = 5.0
    vad_threshold: float = 0.5
    barge_in: bool = True
    barge_in_threshold: float = 0.85
    barge_in_min_ms: int = 160
    pre_roll_ms: int = 300
    speculative: bool = True
    speculate_after_ms: int = 120
    """Silence (after the last voiced frame) before a covering partial may be speculated on."""
    min_partial_audio_ms: int = 1000
    """No periodic partial before this much utterance audio (pre-roll included): Whisper on
    half a second is slow (it falls back to the 30 s path) and says little."""
    force_partial_after_ms: int = 64
    """Silence after which the ASR is asked to decode everything now (``partial(force=True)``)
    so the transcript of the whole utterance is ready early in the end-of-turn silence."""
    speech_output: bool = True
    hold_input_while_replying: bool = False
    """Fast (file) mode: stop reading the source from the endpoint until the reply has
    played, then re-base the clock -- as if the user waited for the answer. Without it a
    file read faster than real time would talk over every reply."""
    level_every: int = 3
    """Publish a ``MicLevel`` every this many frames (~100 ms at 32 ms frames)."""

    @classmethod
    def from_config(cls, config: Any) -> "EngineOptions":
        p = config.pipeline
        return cls(mode=config.wake.mode, follow_up_s=config.wake.follow_up_s,
                   vad_threshold=config.vad.threshold, barge_in=p.barge_in,
                   barge_in_threshold=p.barge_in_threshold, barge_in_min_ms=p.barge_in_min_ms,
                   pre_roll_ms=config.vad.pre_roll_ms, speculative=p.speculative,
                   speech_output=config.tui.speech_output)


def normalize_text(text: str) -> str:
    """Case, punctuation and spacing aside: what decides whether a speculation matches."""
    return " ".join(re.sub(r"[^\w']+", " ", text.lower()).split())


_END = object()


class _Utterance:
    """One utterance's streaming ASR: audio goes in a queue, a task feeds and decodes it."""

    def __init__(self, stream: Any, start_s: float) -> None:
        self.stream = stream
        self.start_s = start_s            # stream time of the first sample fed (pre-roll)
        self.queue: asyncio.Queue[object] = asyncio.Queue()
        self.partial_text = ""
        self.partial_audio_s = 0.0        # audio covered by ``partial_text``
        self.prefix = ""
        self.refused = ""                 # partial the agent would not speculate on
        self.force_partial = False        # speech just stopped: decode what we have now
        self.decoding = False             # a partial decode is running
        self.speech_end_s = 0.0           # stream time of the end of speech (at the endpoint)
        params = inspect.signature(stream.partial).parameters
        self.can_force = "force" in params
        self.finish_takes_end = "speech_end_s" in inspect.signature(stream.finish).parameters
        """Final text of an utterance the user continued before it was answered."""
        self.task: asyncio.Task[Any] | None = None


class _Reply:
    """One reply in flight: the agent consumer task, its speech, and uncommitted marks."""

    def __init__(self, turn: TurnMarks, text: str, speculative: bool) -> None:
        self.turn = turn
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

    @property
    def reply_text(self) -> str:
        return "".join(self.parts).strip()


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
    """

    def __init__(self, *, source: AudioSource | None, sink: AudioSink, vad: Any,
                 segmenter: Segmenter, asr: Any, tts: Any, agent: AgentPort,
                 chunker_factory: Callable[[], Chunker], wake: Any = None,
                 options: EngineOptions | None = None, clock: EngineClock | None = None,
                 trace: TraceWriter | None = None, cleaner: MicCleaner | None = None,
                 labels: dict[str, Any] | None = None) -> None:
        self.source = source
        self.sink = sink
        self.vad = vad
        self.segmenter = segmenter
        self.asr = asr
        self.tts = tts
        self.agent = agent
        self.chunker_factory = chunker_factory
        self.wake = wake
        self.opts = options or EngineOptions()
        if self.opts.mode == "wake" and wake is None:
            raise LocalvoxError("wake mode needs a wake word detector (or use --no-wake)")
        self.clock = clock or EngineClock()
        self.trace = trace
        self.cleaner = cleaner
        self.labels = dict(labels or {})
        self.traces: list[Any] = []
        """Every ``TurnTrace`` emitted (runner and bench read them)."""
        self.startup_notices: list[Notice] = []
        """Published when ``run()`` starts (e.g. "no microphone: text mode")."""

        self._subscribers: list[asyncio.Queue[PipelineEvent]] = []
        self._state = TurnState.IDLE
        self._muted = False
        self._ptt = False
        self._speech_output = self.opts.speech_output
        self._turn_seq = 0
        self._turn: TurnMarks | None = None          # the voice turn being heard
        self._utt: _Utterance | None = None
        self._finishing: set[asyncio.Task[Any]] = set()
        self._reply: _Reply | None = None            # committed reply (thinking/speaking)
        self._spec: _Reply | None = None             # speculative reply (gated)
        self._awake_until = 0.0
        self._last_voiced_end = 0.0
        self._forced_for = -1.0
        self._ring: collections.deque[tuple[AudioFrame, float]] = collections.deque(maxlen=64)
        self._barge_run: list[AudioFrame] = []
        self._vad_failed = False
        self._wake_failed = False
        self._seg_reset = True
        self._frame_count = 0
        self._stopping = False
        self._ended = False
        self._first_frame_seen = False

    # --- public API (the TUI, the runner and the bench call these) -----------------------

    @property
    def state(self) -> TurnState:
        return self._state

    def subscribe(self) -> "asyncio.Queue[PipelineEvent]":
        """A queue receiving every event published from now on (unbounded: drain it)."""
        q: asyncio.Queue[PipelineEvent] = asyncio.Queue()
        self._subscribers.append(q)
        return q

    def unsubscribe(self, q: "asyncio.Queue[PipelineEvent]") -> None:
        with contextlib.suppress(ValueError):
            self._subscribers.remove(q)

    async def events(self) -> AsyncIterator[PipelineEvent]:
        """Every event from now until ``SessionEnded`` (inclusive)."""
        q = self.subscribe()
        try:
            while True:
                ev = await q.get()
                yield ev
                if isinstance(ev, SessionEnded):
                    return
        finally:
            self.unsubscribe(q)

    async def run(self) -> None:
        """Consume the source until it ends or ``stop()``; then finish the turn in flight."""
        for notice in self.startup_notices:
            self._emit(notice)
        self._set_state(self._rest_state())
        reason = "stopped"
        try:
            if self.source is None:
                while not self._stopping:
                    await asyncio.sleep(0.05)
            else:
                reason = await self._consume_source()
            if reason == "input_ended":
                await self._drain_input()
        finally:
            await self._shutdown(reason)

    async def _consume_source(self) -> str:
        assert self.source is not None
        try:
            async for frame in self.source.frames():
                if self._stopping:
                    break
                if self.opts.hold_input_while_replying:
                    if await self._hold_input():
                        self.clock.rebase(frame.start_s)
                    await self._pace_while_busy(frame)
                await self._on_frame(frame)
        except LocalvoxError as err:       # the microphone went away: say so, end cleanly
            self._notice(err)
            return "input_ended"
        return "stopped" if self._stopping else "input_ended"

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
        await self._cancel_reply(interrupted=True)
        await self._drop_speculation()
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
            self._reset_segmenter()
            if not self._muted and self._utt is None:
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
            self._reset_segmenter()
            self._set_state(self._busy_state() or self._rest_state())

    async def interrupt(self) -> None:
        """Stop speaking now and cancel the reply in flight (recorded as interrupted)."""
        if self._reply is not None:
            await self._barge_in(self.clock.now(), restart_from=None)

    def set_speech_output(self, enabled: bool) -> None:
        """Speech off: replies are text only; turning it off silences the current reply."""
        self._speech_output = enabled
        if not enabled and self._reply is not None and self._reply.out is not None:
            out = self._reply.out
            self._reply.out = None
            asyncio.ensure_future(out.cancel())

    def describe(self) -> dict[str, Any]:
        """Status-bar labels: wake_word, asr, llm, tts, audio_input, echo, mode."""
        info = {"wake_word": getattr(self.wake, "name", "") if self.opts.mode == "wake" else "",
                "asr": getattr(self.asr, "name", ""), "tts": getattr(self.tts, "name", ""),
                "audio_input": getattr(self.source, "name", "none"),
                "audio_output": getattr(self.sink, "name", ""),
                "echo": "on" if self.cleaner is not None else "off (half-duplex)",
                "mode": self.opts.mode}
        info.update(self.labels)
        return info

    # --- events and state ----------------------------------------------------------------

    def _emit(self, ev: PipelineEvent) -> None:
        for q in list(self._subscribers):
            q.put_nowait(ev)

    def _notice(self, err: BaseException | str, level: str = "error") -> None:
        if isinstance(err, LocalvoxError) or isinstance(err, str):
            msg = str(err)
        else:
            msg = f"{type(err).__name__}: {err}"
        self._emit(Notice(level, msg))

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
        if self.source is None:
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

    def _vad(self, samples: np.ndarray) -> float:
        """Speech probability of one frame (the VAD buffers odd block sizes itself)."""
        try:
            return float(self.vad.probability(samples))
        except Exception as err:  # noqa: BLE001 -- a broken VAD must not kill the loop
            if not self._vad_failed:
                self._vad_failed = True
                self._notice(err)
            return 0.0

    def _wake(self, frame: AudioFrame) -> Any:
        if self.wake is None:
            return None
        try:
            return self.wake.process(frame.samples, frame.end_s)
        except Exception as err:  # noqa: BLE001 -- reported once; say "--no-wake" to go on
            if not self._wake_failed:
                self._wake_failed = True
                self._notice(f"wake word detector failed ({err}); push-to-talk or --no-wake "
                             "still work")
            return None

    def _reset_segmenter(self) -> None:
        """Restart endpointing at the next frame (its stream clock is set from that frame)."""
        self._seg_reset = True

    def _feed_segmenter(self, frame: AudioFrame, prob: float) -> list[Any]:
        if self._seg_reset:
            self._seg_reset = False
            self.segmenter.reset(frame.start_s)
        return self.segmenter.feed(frame.samples, prob)

    async def _on_frame(self, frame: AudioFrame) -> None:
        now = self.clock.on_frame(frame.start_s, frame.end_s)
        self._frame_count += 1
        if self._muted:
            return
        if self.cleaner is not None:
            frame = AudioFrame(self.cleaner.clean(frame.samples, frame.start_s), frame.start_s)
        if self._frame_count % max(1, self.opts.level_every) == 0:
            self._emit(MicLevel(frame.rms(), float(np.max(np.abs(frame.samples), initial=0.0))))
        state = self._state
        speaking = self._reply is not None and state == TurnState.SPEAKING
        full_duplex = self.cleaner is not None and getattr(self.cleaner, "full_duplex", False)

        if speaking and not full_duplex:
            prob = self._vad(frame.samples)
            self._ring.append((frame, prob))
            await self._watch_barge_in(frame, prob)
            return
        if state == TurnState.SLEEPING:
            self._ring.append((frame, 0.0))
            det = self._wake(frame)
            if det is not None:
                self._emit(WakeDetected(det.name, float(det.score), float(det.at_s)))
                self._awake_until = now + self.opts.follow_up_s
                self._reset_segmenter()
                self._vad_reset()
                self._set_state(TurnState.LISTENING)
            return
        if state == TurnState.IDLE:
            return
        prob = self._vad(frame.samples)
        self._ring.append((frame, prob))
        if speaking and full_duplex:
            await self._watch_barge_in(frame, prob)
            if self._reply is not None:
                return
        in_speech = self._utt is not None
        await self._handle_seg(self._feed_segmenter(frame, prob), frame, prob,
                               was_in_speech=in_speech)
        if self._utt is None and self._state == TurnState.LISTENING \
                and self.opts.mode == "wake" and now >= self._awake_until \
                and self._reply is None:
            if self.wake is not None:
                self.wake.reset()
            self._set_state(TurnState.SLEEPING)

    def _vad_reset(self) -> None:
        with contextlib.suppress(Exception):
            self.vad.reset()

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
        if frame is not None and self._utt is not None and was_in_speech \
                and not began and not ended:
            self._utt.queue.put_nowait(frame.samples)
        if frame is not None and self._utt is not None:
            utt = self._utt
            if prob >= self.opts.vad_threshold:
                self._last_voiced_end = frame.end_s
                self._forced_for = -1.0
                if self._spec is not None:      # the user kept talking
                    await self._drop_speculation()
            else:
                silence_ms = (frame.end_s - self._last_voiced_end) * 1000.0
                if silence_ms >= self.opts.force_partial_after_ms and \
                        self._forced_for != self._last_voiced_end:
                    self._forced_for = self._last_voiced_end
                    utt.force_partial = True
                self._maybe_speculate(frame.end_s)

    async def _begin_utterance(self, ev: SpeechBegan) -> None:
        if self._reply is not None:          # speech while thinking: the user goes on
            await self._cancel_reply(interrupted=True)
        await self._drop_speculation()
        turn = self._new_turn()
        turn.mark("speech_start", self.clock.stream_to_clock(ev.at_s))
        self._turn = turn
        try:
            stream = self.asr.stream()
        except Exception as err:  # noqa: BLE001
            self._notice(err)
            self._turn = None
            self._reset_segmenter()
            return
        utt = _Utterance(stream, ev.audio_start_s)
        self._utt = utt
        self._last_voiced_end = ev.at_s
        utt.queue.put_nowait(ev.audio)
        utt.task = asyncio.ensure_future(self._asr_loop(utt, turn))
        self._awake_until = float("inf")
        self._emit(SpeechStarted(turn.turn_id, ev.at_s))
        self._set_state(TurnState.HEARING)

    def _end_utterance(self, ev: SpeechEnded) -> None:
        utt, turn = self._utt, self._turn
        if utt is None or turn is None:
            return
        turn.set("speech_end", self.clock.stream_to_clock(ev.speech_end_s))
        utt.speech_end_s = ev.speech_end_s
        turn.mark("endpoint")
        self._emit(SpeechStopped(turn.turn_id, ev.speech_end_s))
        utt.queue.put_nowait(_END)
        self._utt, self._turn = None, None
        self._set_state(TurnState.TRANSCRIBING)
        task = asyncio.ensure_future(self._finish_utterance(utt, turn))
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)

    def _abandon_utterance(self) -> None:
        utt = self._utt
        self._utt, self._turn = None, None
        if utt is not None and utt.task is not None:
            utt.task.cancel()
        if self._spec is not None:
            asyncio.ensure_future(self._drop_speculation())
        self._reset_segmenter()

    async def _asr_loop(self, utt: _Utterance, turn: TurnMarks) -> Any:
        """Feed audio as it comes, publish partials, and return the final transcript."""
        fed = 0.0
        while True:
            item = await utt.queue.get()
            chunks: list[np.ndarray] = []
            end = item is _END
            if not end:
                chunks.append(item)  # type: ignore[arg-type]
            while not end and not utt.queue.empty():
                nxt = utt.queue.get_nowait()
                if nxt is _END:
                    end = True
                else:
                    chunks.append(nxt)  # type: ignore[arg-type]
            if chunks:
                block = np.concatenate(chunks)
                await utt.stream.feed(block)
                fed += len(block) / SAMPLE_RATE
            if end:
                if utt.finish_takes_end:
                    return await utt.stream.finish(speech_end_s=utt.speech_end_s - utt.start_s)
                return await utt.stream.finish()
            utt.decoding = True
            try:
                if utt.force_partial and utt.can_force:
                    utt.force_partial = False
                    part = await utt.stream.partial(force=True)
                elif fed * 1000.0 >= self.opts.min_partial_audio_ms:
                    part = await utt.stream.partial()
                else:
                    part = None
            finally:
                utt.decoding = False
            if part is not None and part.text.strip():
                # Emitted even if the endpoint came while it decoded: it still precedes
                # the final, which ``finish`` builds from this very decode.
                text = part.text.strip()
                turn.mark("first_partial")
                utt.partial_text = text
                utt.partial_audio_s = part.audio_s or fed
                self._emit(PartialTranscript(turn.turn_id, text))
                if self._utt is not utt:
                    continue
                self.segmenter.set_partial(text)
                if self._spec is not None and normalize_text(self._spec.text) != \
                        normalize_text(text):
                    await self._drop_speculation()

    async def _finish_utterance(self, utt: _Utterance, turn: TurnMarks) -> None:
        try:
            assert utt.task is not None
            final = await utt.task
        except asyncio.CancelledError:
            await self._drop_speculation()
            raise
        except Exception as err:  # noqa: BLE001 -- the turn is lost, the loop goes on
            self._notice(err)
            await self._drop_speculation()
            self._after_turn()
            return
        text = (utt.prefix + " " + (final.text or "")).strip()
        if self._utt is not None:
            # The user started speaking again before this turn was answered: one turn.
            self._utt.prefix = text
            return
        turn.mark("final_transcript")
        turn.text = text
        spec = self._spec
        if not normalize_text(text):
            await self._drop_speculation()
            self._after_turn()
            return
        self._emit(FinalTranscript(turn.turn_id, text))
        if spec is not None and spec.turn is turn and \
                normalize_text(spec.text) == normalize_text(text) and not spec.cancelled:
            self._spec = None
            turn.speculative = "used"
            self._commit(spec)
        else:
            if spec is not None:
                await self._drop_speculation()
                turn.speculative = "discarded"
            self._start_reply(turn, text, speculative=False)

    def _after_turn(self) -> None:
        if self.opts.mode == "wake":
            self._awake_until = self.clock.now() + self.opts.follow_up_s
        if self._utt is None and self._reply is None:
            self._set_state(self._rest_state())

    # --- speculation ---------------------------------------------------------------------

    def _maybe_speculate(self, frame_end_s: float) -> None:
        utt, turn = self._utt, self._turn
        if not self.opts.speculative or utt is None or turn is None or self._spec is not None:
            return
        if self._reply is not None or not utt.partial_text:
            return
        silence = frame_end_s - self._last_voiced_end
        covered = utt.start_s + utt.partial_audio_s >= self._last_voiced_end - 0.02
        if silence * 1000.0 >= self.opts.speculate_after_ms and covered:
            text = (utt.prefix + " " + utt.partial_text).strip()
            if text == utt.refused:
                return
            check = getattr(self.agent, "can_speculate", None)
            if check is not None and not check(text):
                utt.refused = text       # ask once per partial, not once per frame
                return
            self._spec = self._start_reply(turn, text, speculative=True)

    async def _drop_speculation(self) -> None:
        spec, self._spec = self._spec, None
        if spec is None:
            return
        spec.cancelled = True
        await self._stop_reply_work(spec)
        if spec.turn.speculative != "used":
            spec.turn.speculative = "discarded"
        try:
            await self.agent.discard()
        except Exception as err:  # noqa: BLE001
            self._notice(err)

    # --- replies -------------------------------------------------------------------------

    def _start_reply(self, turn: TurnMarks, text: str, *, speculative: bool) -> _Reply:
        reply = _Reply(turn, text, speculative)
        if not speculative:
            self._reply = reply
            self._set_state(TurnState.THINKING)
        reply.task = asyncio.ensure_future(self._run_reply(reply))
        return reply

    def _commit(self, reply: _Reply) -> None:
        """A speculative reply became the real one: replay its marks and text, open the gate."""
        reply.speculative = False
        self._reply = reply
        for name, at in reply.pending_marks.items():
            reply.turn.mark(name, at)
        reply.pending_marks.clear()
        reply.committed.set()
        self._flush_text(reply)
        if reply.out is not None:
            reply.out.open_gate()
        self._set_state(TurnState.SPEAKING if "first_audio_out" in reply.turn.marks
                        else TurnState.THINKING)

    def _mark_for(self, reply: _Reply) -> Callable[[str], None]:
        def mark(name: str) -> None:
            if reply.committed.is_set():
                reply.turn.mark(name)
                if name == "first_audio_out" and self._reply is reply:
                    self._set_state(TurnState.SPEAKING)
            else:
                reply.pending_marks.setdefault(name, self.clock.now())
        return mark

    def _flush_text(self, reply: _Reply) -> None:
        while reply.emitted < len(reply.parts):
            self._emit(ReplyChunk(reply.turn.turn_id, reply.parts[reply.emitted]))
            reply.emitted += 1

    async def _run_reply(self, reply: _Reply) -> None:
        mark = self._mark_for(reply)
        if self._speech_output:
            reply.out = SpeechOut(self.tts, self.sink, self.chunker_factory(), mark=mark,
                                  gated=reply.speculative, on_error=self._notice,
                                  reference=self.cleaner)
        agen = self.agent.respond(reply.text)
        ended: str | None = None
        try:
            async for piece in agen:
                if isinstance(piece, ReplyText):
                    if not piece.text:
                        continue
                    mark("llm_first_token")
                    reply.parts.append(piece.text)
                    if reply.committed.is_set():
                        self._flush_text(reply)
                    if reply.out is not None:
                        reply.out.feed(piece.text)
                elif isinstance(piece, ToolStarted):
                    await reply.committed.wait()     # never run a tool on a guess
                    self._emit(ToolCallStarted(reply.turn.turn_id, piece.call_id, piece.name,
                                               piece.arguments))
                elif isinstance(piece, ToolFinished):
                    self._emit(ToolCallFinished(reply.turn.turn_id, piece.call_id, piece.name,
                                                piece.result, piece.is_error, piece.latency_ms))
                elif isinstance(piece, AgentNotice):
                    await reply.committed.wait()
                    self._emit(Notice(piece.level, piece.message))
                elif isinstance(piece, EndSession):
                    ended = piece.reason
            if reply.out is not None:
                reply.out.end()
            await reply.committed.wait()
            if reply.out is not None:
                await reply.out.wait()
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 -- LLM dead, tool crash: say so, go on
            await reply.committed.wait()
            self._notice(err)
            if reply.out is not None:
                reply.out.end()
                await reply.out.wait()
        finally:
            with contextlib.suppress(Exception):
                await agen.aclose()
        if reply.cancelled:      # barge-in / interrupt owns the ending of this reply
            return
        self._finish_reply(reply, interrupted=False)
        if ended is not None:
            self._emit(SessionEnded(ended))
            self._ended = True
            await self.stop()

    def _finish_reply(self, reply: _Reply, *, interrupted: bool) -> None:
        if reply.finished:
            return
        reply.finished = True
        turn = reply.turn
        turn.reply = reply.reply_text if not interrupted or reply.out is None \
            else (reply.out.heard or "")
        turn.interrupted = interrupted
        self._flush_text(reply)
        self._emit(ReplyDone(turn.turn_id, turn.reply, interrupted))
        trace = turn.to_event()
        self.traces.append(trace)
        self._emit(trace)
        if self.trace is not None:
            try:
                self.trace.write(trace)
            except OSError as err:
                self._notice(f"cannot write the trace file: {err}", "warning")
        if self._reply is reply:
            self._reply = None
            self._after_turn()

    async def _stop_reply_work(self, reply: _Reply) -> None:
        task = reply.task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if reply.out is not None:
            await reply.out.cancel()

    async def _cancel_reply(self, *, interrupted: bool) -> None:
        reply = self._reply
        if reply is None:
            return
        reply.cancelled = True
        reply.turn.mark("interrupt")
        if reply.out is not None:            # silence first, then tidy up
            await reply.out.cancel()
        stop_reference = getattr(self.cleaner, "stop_reference", None)
        if stop_reference is not None:       # the echo canceller: nothing more is playing
            stop_reference()
        await self._stop_reply_work(reply)
        heard = reply.out.heard if reply.out is not None else ""
        self._emit(Interrupted(reply.turn.turn_id, reply.turn.marks["interrupt"]))
        try:
            await self.agent.interrupt(heard)
        except Exception as err:  # noqa: BLE001
            self._notice(err)
        self._finish_reply(reply, interrupted=interrupted)

    # --- barge-in ------------------------------------------------------------------------

    async def _watch_barge_in(self, frame: AudioFrame, prob: float) -> None:
        if not self.opts.barge_in:
            return
        if prob >= self.opts.barge_in_threshold:
            self._barge_run.append(frame)
        else:
            self._barge_run = []
            return
        run_ms = sum(f.duration_s for f in self._barge_run) * 1000.0
        if run_ms >= self.opts.barge_in_min_ms:
            onset = self._barge_run[0].start_s
            self._barge_run = []
            await self._barge_in(self.clock.now(), restart_from=onset)

    async def _barge_in(self, at: float, restart_from: float | None = None) -> None:
        """Stop the reply now; if ``restart_from`` (stream s), replay the user's onset audio."""
        reply = self._reply
        if reply is not None:
            reply.turn.mark("interrupt", at)
            await self._cancel_reply(interrupted=True)
        self._barge_run = []
        self._reset_segmenter()
        if restart_from is None:
            self._set_state(self._busy_state() or self._rest_state())
            return
        self._awake_until = self.clock.now() + self.opts.follow_up_s
        self._set_state(TurnState.LISTENING)
        first = restart_from - self.opts.pre_roll_ms / 1000.0
        replay = [(f, p) for f, p in self._ring if f.end_s > first]
        for f, p in replay:
            in_speech = self._utt is not None
            await self._handle_seg(self._feed_segmenter(f, p), f, p, was_in_speech=in_speech)

    # --- ending --------------------------------------------------------------------------

    async def _hold_input(self) -> bool:
        """Wait while a turn is being answered; True if it waited."""
        waited = False
        while (self._finishing or self._reply is not None) and not self._stopping:
            waited = True
            tasks = list(self._finishing) or ([self._reply.task] if self._reply and
                                              self._reply.task else [])
            if tasks:
                await asyncio.wait(tasks, timeout=0.05)
            else:
                await asyncio.sleep(0.01)
        return waited

    def _background_busy(self) -> bool:
        utt = self._utt
        return (utt is not None and utt.decoding) or \
            (self._spec is not None and self._spec.task is not None and not self._spec.task.done())

    async def _pace_while_busy(self, frame: AudioFrame) -> None:
        """Fast mode: while an ASR decode or a speculative reply computes, let audio arrive
        only at its real-time pace, so the clock never skips time that compute used."""
        if self.clock.base is None:
            return
        arrival = self.clock.base + frame.end_s
        while self._background_busy() and self.clock.now() < arrival and not self._stopping:
            await asyncio.sleep(min(0.005, arrival - self.clock.now()))

    async def _drain_input(self) -> None:
        """The input ended: close the utterance in progress and let the reply finish."""
        if self._utt is not None:
            await self._handle_seg(self.segmenter.flush(), None)
        while self._finishing or self._spec is not None or self._reply is not None:
            if self._finishing:
                await asyncio.gather(*list(self._finishing), return_exceptions=True)
            elif self._reply is not None and self._reply.task is not None:
                await asyncio.gather(self._reply.task, return_exceptions=True)
                await asyncio.sleep(0)
            elif self._spec is not None:
                await self._drop_speculation()
            else:
                await asyncio.sleep(0)

    async def _shutdown(self, reason: str) -> None:
        if self._utt is not None:
            self._abandon_utterance()
        for task in list(self._finishing):
            task.cancel()
        await self._drop_speculation()
        if self._reply is not None:
            await self._cancel_reply(interrupted=True)
        self._set_state(TurnState.IDLE)
        if not self._ended:
            self._ended = True
            self._emit(SessionEnded(reason))
