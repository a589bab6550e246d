"""Frame intake: each microphone frame through wake word, VAD and endpointer to the ASR.

Why apart from ``engine``: this is the per-frame path -- reading the source (paced in fast
mode), the wake word while sleeping, the VAD probability (the audio worker's or computed
here), the endpointer's decisions opening and closing utterances, the final transcript
committing a speculative reply or starting one, and barge-in while the reply plays (which
replays the user's buffered onset into a new utterance). It reports every change as a
``TurnEvent`` to ``EngineState._apply``; the public loop (``engine``) drives it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from localvox.audio.base import AudioFrame
from localvox.errors import LocalvoxError
from localvox.pipeline.audio_worker import ProcessedFrame
from localvox.pipeline.engine_state import EngineState
from localvox.pipeline.events import (FinalTranscript, MicLevel, PartialTranscript,
                                      TurnState, WakeDetected)
from localvox.pipeline.speculation import normalize_text
from localvox.pipeline.trace import TurnMarks
from localvox.pipeline.turn_table import Profile, TurnEvent
from localvox.pipeline.utterance import Utterance
from localvox.vad.endpoint_events import SpeechBegan, SpeechEnded


class FrameIntake(EngineState):
    """The audio path of ``TurnEngine``: frames in, utterances and barge-ins out."""

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
        # The model may read the words while the user talks. Not once a partial covers the
        # speech: the user has stopped, speculation takes that text, and a read there only
        # competed with the end-of-turn decodes (5 of 9 chat turns speculated, 7 without).
        if self._reply is None and self.spec.reply is None and not utt.covers_speech:
            self.agent.prepare(text)

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
