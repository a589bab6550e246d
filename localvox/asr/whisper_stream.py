"""One utterance on a :class:`~localvox.asr.whisper.WhisperTranscriber` (split out of it).

Streaming: audio is fed while the user speaks; ``partial()`` decodes everything so far once
per ``partial_interval_ms`` of new audio, in a worker thread, one decode at a time.
``finish()`` reuses the last decode when nothing audible came after it (the usual case: a
partial runs during the end-of-turn silence, or the pipeline asks for one with
``partial(force=True)`` when speech stops), and otherwise decodes once more. We
deliberately do not force-decode a "stable prefix" of earlier partials: a partial cut
mid-word is often wrong at its end, forcing it would carry that error into the final, and
with the windowed encoder a whole re-decode of a few seconds costs ~0.1 s anyway.

The final of a command session (a prompt carrying the tools' grammar ``judge``) gets one
more chance when the grammar rejects it or leaves some of its words unexplained: n-best
hypotheses of the same audio, the one the grammar explains best
(``WhisperTranscriber.rescue``; why, and what it buys, there). The
judge runs in the decode thread of the forced partial, so a final the grammar accepts
costs no more than before; partials stay greedy.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import numpy as np

from localvox.asr.base import Transcript
from localvox.audio.base import SAMPLE_RATE

if TYPE_CHECKING:
    from localvox.asr.whisper import Decoded, WhisperTranscriber

__all__ = ["WhisperStream"]


class WhisperStream:
    """One utterance: ``feed`` audio, ``partial`` while speaking, ``finish`` at the endpoint."""

    def __init__(self, transcriber: "WhisperTranscriber", partial_interval_ms: int = 500) -> None:
        self.t = transcriber
        self.prompt = transcriber.prompt  # one prompt for the whole utterance
        self.interval = int(SAMPLE_RATE * partial_interval_ms / 1000)
        self._chunks: list[np.ndarray] = []
        self._n = 0
        self._audio_cache: np.ndarray | None = None
        self._inflight: asyncio.Task["Decoded"] | None = None
        self._started_n = 0  # audio length when the latest decode started
        self._last: Decoded | None = None
        self._last_n = 0  # audio length the latest finished decode covered
        self._cancelled = False
        self.decodes = 0
        """How many decodes this stream ran (tests and traces check reuse with it)."""
        self.rescues = 0
        self.rescued = 0
        """n-best decodes run for a final the grammar rejected, and how many it accepted."""

    @property
    def audio_s(self) -> float:
        return self._n / SAMPLE_RATE

    def audio(self) -> np.ndarray:
        if self._audio_cache is None or len(self._audio_cache) != self._n:
            self._audio_cache = (np.concatenate(self._chunks) if self._chunks
                                 else np.zeros(0, np.float32))
            self._chunks = [self._audio_cache] if self._n else []
        return self._audio_cache

    async def feed(self, samples: np.ndarray) -> None:
        if self._cancelled:
            return
        x = np.asarray(samples, dtype=np.float32).reshape(-1).copy()
        self._chunks.append(x)
        self._n += len(x)

    def _start_decode(self, judge: bool = False) -> asyncio.Task["Decoded"]:
        """Decode all the audio so far in a worker thread; ``judge``: also ask the
        prompt's grammar about the text (a decode likely to become the final)."""
        n = self._n
        audio = self.audio()[:n]
        self._started_n = n
        self.decodes += 1
        task = asyncio.ensure_future(asyncio.to_thread(self.t.decode, audio,
                                                       prompt=self.prompt, judge=judge))

        def done(t: asyncio.Task["Decoded"]) -> None:
            # Runs even if whoever awaited the decode was cancelled, so the result is
            # kept for finish() and the next partial is not blocked.
            if self._inflight is t:
                self._inflight = None
            if t.cancelled() or t.exception() is not None:
                return
            if n >= self._last_n:
                self._last, self._last_n = t.result(), n

        task.add_done_callback(done)
        self._inflight = task
        return task

    async def _settle(self) -> "Decoded | None":
        """Wait for the decode in flight (if any); return the latest finished decode."""
        task = self._inflight
        if task is not None:
            await asyncio.shield(task)
            await asyncio.sleep(0)  # let the done-callback record it
        return self._last

    async def partial(self, *, force: bool = False) -> Transcript | None:
        """Decode the audio so far if ``partial_interval_ms`` of new audio arrived.

        Returns None when a decode is already running (only one at a time) or too little
        new audio came in. ``force`` decodes any new audio now: call it when speech stops
        so the final is ready before the end-of-turn silence runs out.
        """
        if self._cancelled or self._inflight is not None:
            return None
        new = self._n - self._started_n
        if new <= 0 or (not force and new < self.interval):
            return None
        d = await asyncio.shield(self._start_decode(judge=force))
        return Transcript(d.text, False, d.audio_s, d.decode_s)

    def _tail_is_silent(self, from_n: int) -> bool:
        """True if nothing audible follows sample ``from_n`` (quiet relative to the speech)."""
        audio = self.audio()
        tail = audio[from_n:]
        if len(tail) == 0:
            return True
        block = SAMPLE_RATE // 50  # 20 ms

        def frame_rms(x: np.ndarray) -> np.ndarray:
            k = len(x) // block
            if k == 0:
                return np.array([float(np.sqrt(np.mean(np.square(x))))])
            return np.sqrt(np.mean(np.square(x[:k * block].reshape(k, block)), axis=1))

        speech_peak = float(frame_rms(audio[:from_n]).max()) if from_n else 0.0
        threshold = max(0.003, 0.05 * speech_peak)  # ~26 dB below the loudest speech
        return float(frame_rms(tail).max()) < threshold

    async def finish(self, *, speech_end_s: float | None = None) -> Transcript:
        """The final transcript, reusing the latest decode when it covers all the speech.

        ``speech_end_s`` (the endpointer's last voiced instant, seconds from the stream
        start) makes the reuse decision exact; without it, audio after the latest decode
        that is quiet compared with the speech counts as silence.
        """
        t0 = time.perf_counter()
        if self._cancelled:
            return Transcript("", True, self.audio_s, 0.0)
        await self._settle()
        last, covered = self._last, self._last_n
        reuse = last is not None and (
            covered >= self._n
            or (speech_end_s is not None and covered / SAMPLE_RATE >= speech_end_s)
            or (speech_end_s is None and self._tail_is_silent(covered)))
        if not reuse:
            last = await asyncio.shield(self._start_decode(judge=True))
        assert last is not None
        text = last.text
        judge = self.prompt.judge
        if judge is not None and self.t.nbest > 1 and text:
            verdict = last.verdict
            if verdict is None:  # a partial decoded before speech stopped: not judged yet
                from localvox.asr.whisper import safe_verdict

                verdict = await asyncio.to_thread(safe_verdict, self.prompt, text)
            if self.t.wants_rescue(verdict):
                covered = self.audio()[:int(round(last.audio_s * SAMPLE_RATE))]
                self.rescues += 1
                better = await asyncio.shield(asyncio.ensure_future(asyncio.to_thread(
                    self.t.rescue, covered, self.prompt, verdict)))
                if better is not None:
                    text = better.text
                    self.rescued += 1
        return Transcript(text, True, self.audio_s, time.perf_counter() - t0)

    async def cancel(self) -> None:
        """Drop the utterance; a decode in flight finishes in its thread and is discarded."""
        self._cancelled = True
        self._chunks.clear()
        self._audio_cache = None
        self._n = 0


