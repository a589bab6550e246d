"""Per-frame DSP in one worker thread: the event loop keeps only the decisions.

Why: the echo canceller, Silero and openWakeWord used to run inside the engine's
``_on_frame``, on the same asyncio loop as Textual, the agent and every other task. Each
costs milliseconds per 32 ms frame, more when the other core is busy with Whisper or the
LLM, and all of it is time in which the loop answers nothing: a barge-in, a keypress and
the next frame all wait. ``localvox bench latency`` reports the loop's longest stall per
turn (a loop-lag probe); this module is what brings it down.

How: ``AudioWorker.frames()`` reads the source on the loop (reading is cheap: the device
callback or the WAV pacer does the waiting) and hands each frame to one worker thread
through a bounded ``queue.Queue``. The thread cleans the frame (echo canceller), scores it
(VAD probability, or the wake word while the engine sleeps -- never both: the sleeping
loop's CPU budget is the wake word alone) and hands back a ``ProcessedFrame`` in order.
The engine reads those values instead of computing them.

Nothing is dropped silently: when the thread falls ``max_queue`` frames behind, the reader
waits for room (backpressure; the device's own buffer absorbs it) and counts an
*overrun*; ``stats()`` reports the count and the engine publishes it as a notice once.
A frame scored before the engine changed state (e.g. the frame after a wake word, scored
while the engine still slept) has no VAD probability; the engine then uses 0.0 and the
frame is counted as ``late`` -- the loop never calls the VAD itself, because Silero's
state belongs to the worker thread.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable

import numpy as np

from localvox.audio.base import AudioFrame, AudioSource
from localvox.worker_queue import until_end

MAX_QUEUE = 16
"""Frames the worker may fall behind (512 ms at 32 ms frames) before the reader waits."""

_END = object()


@dataclass(frozen=True)
class ProcessedFrame(AudioFrame):
    """A frame the worker has cleaned and scored."""

    prob: float | None = None
    """VAD speech probability (None: not scored -- the engine was sleeping or idle)."""
    wake: Any = None
    """The wake detector's ``Detection`` ending in this frame, if it ran and fired."""
    scored_wake: bool = False
    error: str | None = None
    """A stage failed on this frame (reported once by the engine; the value is a default)."""


class LockedCleaner:
    """The echo canceller shared by two threads: playback reference from the loop, mic
    frames from the worker. One lock around both sides (the canceller itself is written
    for one task)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self._lock = threading.Lock()

    @property
    def full_duplex(self) -> bool:
        return bool(getattr(self.inner, "full_duplex", False))

    def reference(self, samples: np.ndarray, sample_rate: int) -> None:
        with self._lock:
            self.inner.reference(samples, sample_rate)

    def stop_reference(self, at_s: float | None = None) -> None:
        stop = getattr(self.inner, "stop_reference", None)
        if stop is not None:
            with self._lock:
                stop(at_s)

    def clean(self, samples: np.ndarray, start_s: float) -> np.ndarray:
        with self._lock:
            return self.inner.clean(samples, start_s)


class AudioWorker:
    """Source -> worker thread (clean, VAD / wake) -> ``ProcessedFrame``s, in order.

    Args:
        source: the audio source (read on the loop).
        vad: ``() -> VoiceActivityDetector | None`` (read per frame: stages attach late).
        wake: ``() -> WakeDetector | None``.
        needs: ``() -> (score_vad, score_wake)`` for the engine's current state.
        cleaner: echo suppression (wrap it in ``LockedCleaner`` if the loop also feeds it).
        max_queue: frames in flight before the reader waits (and counts an overrun).
    """

    def __init__(self, source: AudioSource, *, vad: Callable[[], Any],
                 wake: Callable[[], Any], needs: Callable[[], tuple[bool, bool]],
                 cleaner: Any = None, max_queue: int = MAX_QUEUE) -> None:
        self.source = source
        self.name = getattr(source, "name", "audio")
        self._vad, self._wake, self._needs = vad, wake, needs
        self.cleaner = cleaner
        self.max_queue = max(1, max_queue)
        self.overruns = 0
        self.late = 0
        self.processed = 0
        self.max_backlog = 0
        self._errors: set[str] = set()

    def stats(self) -> dict[str, int]:
        return {"processed": self.processed, "overruns": self.overruns, "late": self.late,
                "max_backlog": self.max_backlog}

    async def close(self) -> None:
        await self.source.close()

    # --- the worker thread ------------------------------------------------------------------

    def process(self, frame: AudioFrame) -> ProcessedFrame:
        """Clean and score one frame (runs in the worker thread; public for tests)."""
        samples, error = frame.samples, None
        if self.cleaner is not None:
            try:
                samples = self.cleaner.clean(samples, frame.start_s)
            except Exception as err:  # noqa: BLE001 -- the raw frame goes on
                error = f"echo canceller failed ({err}); the microphone is used as is"
        score_vad, score_wake = self._needs()
        prob, det = None, None
        if score_vad:
            vad = self._vad()
            if vad is not None:
                try:
                    prob = float(vad.probability(samples))
                except Exception as err:  # noqa: BLE001
                    prob, error = 0.0, f"voice activity detector failed ({err})"
        if score_wake:
            wake = self._wake()
            if wake is not None:
                try:
                    det = wake.process(samples, frame.start_s + len(samples) / 16000)
                except Exception as err:  # noqa: BLE001
                    error = (f"wake word detector failed ({err}); push-to-talk or --no-wake "
                             "still work")
        return ProcessedFrame(samples, frame.start_s, prob, det, score_wake, error)

    def _thread(self, inbox: "queue.Queue[Any]", loop: asyncio.AbstractEventLoop,
                outbox: "asyncio.Queue[Any]") -> None:
        while True:
            item = inbox.get()
            if item is _END:
                loop.call_soon_threadsafe(outbox.put_nowait, _END)
                return
            try:
                out: Any = self.process(item)
            except BaseException as err:  # noqa: BLE001 -- handed to the loop, re-raised
                out = err
            loop.call_soon_threadsafe(outbox.put_nowait, out)

    # --- the loop side ------------------------------------------------------------------------

    async def frames(self) -> AsyncIterator[ProcessedFrame]:
        """Processed frames in source order, until the source ends."""
        loop = asyncio.get_running_loop()
        inbox: queue.Queue[Any] = queue.Queue(maxsize=self.max_queue)
        outbox: asyncio.Queue[Any] = asyncio.Queue()
        thread = threading.Thread(target=self._thread, args=(inbox, loop, outbox),
                                  name="audio-worker", daemon=True)
        thread.start()
        pump = asyncio.ensure_future(self._pump(inbox))
        try:
            async for item in until_end(outbox, _END):
                self.processed += 1
                yield item
            await pump          # re-raises a source error (e.g. the microphone went away)
        finally:
            if not pump.done():
                pump.cancel()
            with _suppress():
                await pump
            _put_end(inbox)

    async def _put(self, inbox: "queue.Queue[Any]", item: Any) -> None:
        if inbox.full():
            self.overruns += 1           # the worker is max_queue frames behind: wait
            while inbox.full():
                await asyncio.sleep(0.002)
        inbox.put_nowait(item)
        self.max_backlog = max(self.max_backlog, inbox.qsize())

    async def _pump(self, inbox: "queue.Queue[Any]") -> None:
        try:
            async for frame in self.source.frames():
                await self._put(inbox, frame)
        except asyncio.CancelledError:
            _put_end(inbox)              # the engine stopped reading: nothing more to do
            raise
        except BaseException:
            await self._put(inbox, _END)   # every frame read so far still gets processed
            raise
        await self._put(inbox, _END)

    def new_error(self, frame: ProcessedFrame) -> bool:
        """True the first time a given stage failure is seen (the engine reports it once)."""
        if not frame.error or frame.error in self._errors:
            return False
        self._errors.add(frame.error)
        return True

    def needs_fallback(self, frame: ProcessedFrame) -> bool:
        """Count a frame the engine wanted a VAD probability for but got none."""
        if frame.prob is None:
            self.late += 1
            return True
        return False


def attach(engine: Any, *, max_queue: int = MAX_QUEUE) -> AudioWorker:
    """Move the engine's per-frame DSP to an ``AudioWorker`` (``build_engine`` calls this).

    The engine reads ``engine.audio_worker.frames()`` instead of the source; its echo
    canceller is wrapped in ``LockedCleaner`` (playback feeds it from the loop, the worker
    cleans the mic in its thread).
    """
    from localvox.pipeline.events import TurnState

    if engine.cleaner is not None and not isinstance(engine.cleaner, LockedCleaner):
        engine.cleaner = LockedCleaner(engine.cleaner)

    def needs() -> tuple[bool, bool]:
        state = engine.state
        if state in (TurnState.IDLE, TurnState.MUTED):
            return False, False
        return state != TurnState.SLEEPING, state == TurnState.SLEEPING

    worker = AudioWorker(engine.source, vad=lambda: engine.vad, wake=lambda: engine.wake,
                         needs=needs, cleaner=engine.cleaner, max_queue=max_queue)
    engine.audio_worker = worker
    return worker


def _put_end(inbox: "queue.Queue[Any]") -> None:
    """Tell the thread to stop; never blocks the loop (a full queue is drained first)."""
    while True:
        try:
            inbox.put_nowait(_END)
            return
        except queue.Full:
            try:
                inbox.get_nowait()
            except queue.Empty:
                pass


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> bool:
        return exc[0] is not None and issubclass(exc[0], (asyncio.CancelledError, Exception))
