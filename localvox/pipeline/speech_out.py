"""Reply text -> sentence chunks -> synthesised audio -> sink, overlapped and cancellable.

Why three tasks joined by queues: Piper needs ~0.1 s per clause and playback of that
clause takes seconds, so the synthesiser must run ahead of the speaker (chunk N+1 is made
while chunk N plays) but not too far ahead (a barge-in would waste it). The audio queue
holds at most ``lookahead`` synthesised chunks. ``cancel()`` stops all of it and the
sink at once.

A *gate* holds playback back without stopping synthesis: a speculative reply synthesises
its first chunk during the user's end-of-turn silence and only plays once the engine
confirms the final transcript matched (``open_gate``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Callable, Protocol

import numpy as np

from localvox.audio.base import AudioSink
from localvox.cpu_share import CPU, CpuShare
from localvox.pipeline.trace import EngineClock
from localvox.tts.base import SpeechChunk, Synthesizer


class Chunker(Protocol):
    """Cuts a stream of text deltas into speakable chunks (``localvox.tts.chunker``)."""

    def feed(self, text: str) -> list[str]: ...

    def flush(self) -> list[str]: ...


class PlaybackReference(Protocol):
    """Receives what goes to the speaker (echo suppression's far-end reference)."""

    def reference(self, samples: np.ndarray, sample_rate: int) -> None: ...


_END = object()


class SpeechOut:
    """One reply's speech. Feed deltas, then ``end()``; ``wait()`` returns after playback.

    Args:
        tts: the synthesiser.
        sink: where audio goes.
        chunker: a fresh chunker for this reply.
        mark: callback ``mark(name)`` for trace milestones (``first_chunk_text``,
            ``tts_first_chunk``, ``first_audio_out``, ``playback_end``).
        gated: start with playback held until ``open_gate()``.
        lookahead: synthesised chunks allowed to wait for the speaker.
        on_error: called with an exception from synthesis or playback (the reply
            then ends quietly; the loop goes on).
        reference: optional echo canceller fed with every block played.
        clock: play on this clock (fast mode): the sink takes audio at once, so playback
            is over only when the clock has passed the last sample's time -- a reply lasts
            as long as it would on a speaker, and the engine hears the input meanwhile.
        now: the engine's clock when playing in real time (for ``longest_gap_s``).
        cpu: the gate held while the first chunk is synthesised, so the in-process LLM
            pauses between tokens meanwhile (:mod:`localvox.cpu_share`); None: not held.
    """

    def __init__(self, tts: Synthesizer, sink: AudioSink, chunker: Chunker, *,
                 mark: Callable[[str], None], gated: bool = False, lookahead: int = 1,
                 on_error: Callable[[BaseException], None] | None = None,
                 reference: PlaybackReference | None = None,
                 clock: EngineClock | None = None,
                 now: Callable[[], float] = time.monotonic,
                 cpu: CpuShare | None = CPU) -> None:
        self.tts = tts
        self._cpu = cpu
        self.sink = sink
        self.chunker = chunker
        self._mark = mark
        self._on_error = on_error
        self._reference = reference
        self._text_q: asyncio.Queue[object] = asyncio.Queue()
        self._audio_q: asyncio.Queue[object] = asyncio.Queue(maxsize=max(1, lookahead))
        self._gate = asyncio.Event()
        if not gated:
            self._gate.set()
        self.spoken: list[str] = []
        """Chunks whose audio has started playing (what the user has heard, roughly)."""
        self.samples_out = 0
        self._clock = clock
        self._now = clock.now if clock is not None else now
        self.audible_until = 0.0
        """Clock time the last sample handed to the sink ends (when ``clock`` is given)."""
        self.longest_gap_s = 0.0
        """The longest wait, once speech began, between one chunk's last sample ending (on a
        speaker playing in real time) and the next chunk being ready: a stutter the user
        hears. What a shorter first chunk risks, so ``bench latency`` reports it."""
        self._speaker_free_at = 0.0
        self.synthesizing = False
        """A chunk is being synthesised (fast mode paces the input meanwhile)."""
        self.text_done = False
        """``end()`` was called: the agent has produced all of the reply's text."""
        self.failed = False
        self.cancelled = False
        self._text_started = False
        self._synth_task = asyncio.ensure_future(self._synth_loop())
        self._play_task = asyncio.ensure_future(self._play_loop())

    # --- input ---------------------------------------------------------------------------

    def feed(self, delta: str) -> None:
        for chunk in self.chunker.feed(delta):
            self._queue_text(chunk)

    def _queue_text(self, chunk: str) -> None:
        if not self._text_started:
            self._text_started = True
            self._mark("first_chunk_text")
        self._text_q.put_nowait(chunk)

    def end(self) -> None:
        """No more text: flush the chunker's remainder."""
        self.text_done = True
        for chunk in self.chunker.flush():
            self._queue_text(chunk)
        self._text_q.put_nowait(_END)

    def open_gate(self) -> None:
        self._gate.set()

    @property
    def heard(self) -> str:
        return " ".join(s.strip() for s in self.spoken if s.strip())

    # --- lifecycle -----------------------------------------------------------------------

    async def wait(self) -> None:
        """Until the last sample was handed to the sink and the sink drained."""
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(self._play_task)

    @property
    def done(self) -> bool:
        return self._play_task.done()

    async def cancel(self) -> None:
        """Stop synthesis and playback now; drop whatever the sink still has queued."""
        if self.cancelled:
            return
        self.cancelled = True
        tasks = [t for t in (self._synth_task, self._play_task) if not t.done()]
        for t in tasks:
            t.cancel()
        try:
            await self.sink.stop()
        finally:
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t

    # --- workers -------------------------------------------------------------------------

    async def _synth_loop(self) -> None:
        first = True
        try:
            while True:
                item = await self._text_q.get()
                if item is _END:
                    break
                assert isinstance(item, str)
                agen = self.tts.synthesize(item)
                self.synthesizing = True
                with contextlib.ExitStack() as urgent:
                    if first and self._cpu is not None:
                        urgent.enter_context(self._cpu.urgent())  # the user waits for this
                    try:
                        async for chunk in agen:
                            if first:
                                self._mark("tts_first_chunk")
                                first = False
                                urgent.close()
                            self.synthesizing = False
                            await self._audio_q.put(chunk)
                            self.synthesizing = True
                    finally:
                        self.synthesizing = False
                        await agen.aclose()
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 -- reported, the reply ends, loop goes on
            self.failed = True
            if self._on_error:
                self._on_error(err)
        await self._audio_q.put(_END)

    def _follow_speaker(self, item: SpeechChunk, started: bool) -> None:
        """Where a real-time speaker would be: a gap when this block comes after the last
        one has finished playing (sinks that take audio at once are modelled the same)."""
        now = self._now()
        if started and now > self._speaker_free_at:
            self.longest_gap_s = max(self.longest_gap_s, now - self._speaker_free_at)
        self._speaker_free_at = max(now, self._speaker_free_at) \
            + len(item.samples) / item.sample_rate

    async def _play_loop(self) -> None:
        await self._gate.wait()
        started = False
        last_text = None
        try:
            while True:
                item = await self._audio_q.get()
                if item is _END:
                    break
                assert isinstance(item, SpeechChunk)
                if len(item.samples) == 0:
                    continue
                if item.text != last_text:
                    self.spoken.append(item.text)
                    last_text = item.text
                self._follow_speaker(item, started)
                if not started:
                    self._mark("first_audio_out")
                    started = True
                if self._reference is not None:
                    self._reference.reference(item.samples, item.sample_rate)
                if self._clock is not None:
                    begins = max(self._clock.now(), self.audible_until)
                    self.audible_until = begins + len(item.samples) / item.sample_rate
                await self.sink.play(item.samples, item.sample_rate)
                self.samples_out += len(item.samples)
            if started:
                await self.sink.drain()
                if self._clock is not None:
                    await self._clock.sleep_until(self.audible_until)
                self._mark("playback_end")
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001
            self.failed = True
            if self._on_error:
                self._on_error(err)
