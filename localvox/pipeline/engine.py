"""The turn engine: audio frames in, ``PipelineEvent``s out, one state machine per conversation.

States (``TurnState``): sleeping (wake word) / idle (push-to-talk released) -> listening
-> hearing -> transcribing -> thinking -> speaking -> listening (follow-up window) ...

Why one owner: speculation, barge-in, cancellation and timers ringing all race each other.
Every transition is a lookup in one pure table (``turn_table``): the helpers report what
happened as a ``TurnEvent`` and the engine applies it (``_apply``, in ``engine_state``);
nothing else sets the state. The per-frame path (wake word, VAD, endpointer, utterances,
barge-in) is ``engine_intake``. The work the engine starts and cancels lives beside it --
per-frame listening decisions in ``listener``, streaming ASR in ``utterance``, reply
production in ``reply`` / ``replies``, speculative replies in ``speculation``, timers and
alarms in ``announce``, fast-mode pacing in ``clock``, model loading in ``startup``.
Stages never talk to each other; the engine moves data between them and publishes typed
events.

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

from localvox.pipeline.engine_intake import FrameIntake
from localvox.pipeline.events import FinalTranscript, SessionEnded, TurnState
from localvox.pipeline.options import EngineOptions, MicCleaner, Segmenter
from localvox.pipeline.speculation import normalize_text
from localvox.pipeline.turn_table import TurnEvent

__all__ = ["EngineOptions", "MicCleaner", "Segmenter", "TurnEngine", "normalize_text"]


class TurnEngine(FrameIntake):
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

    # --- public API (the TUI, the runner and the bench call these) -----------------------
    # (``stop()`` and ``end_session()`` are inherited from ``EngineState``: the reply desk
    # calls ``end_session`` on the state owner.)

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

    # --- ending --------------------------------------------------------------------------

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
