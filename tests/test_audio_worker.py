"""The audio worker: per-frame DSP in one thread, frames in order, overruns counted, and the
engine giving the same turns with it as without it (scripted timeline of the engine tests).
"""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest
from test_pipeline_engine import (LOUD, WAKE, FakeVAD, FakeWake, make_engine, of,
                                  run_collect, timeline)

from localvox.audio.base import SAMPLE_RATE
from localvox.audio.wav import WavSource
from localvox.pipeline.audio_worker import AudioWorker, LockedCleaner, ProcessedFrame, attach
from localvox.pipeline.events import FinalTranscript, Notice, ReplyDone, WakeDetected


class ThreadVAD(FakeVAD):
    """The engine tests' VAD, recording which thread scored each frame. With ``gate`` it
    holds its first frame until the gate opens: a model slower than the microphone."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.threads: set[int] = set()
        self.calls = 0
        self.gate = gate

    def probability(self, samples: np.ndarray) -> float:
        self.threads.add(threading.get_ident())
        self.calls += 1
        if self.gate is not None:
            assert self.gate.wait(timeout=60), "the reader never met a full queue"
        return super().probability(samples)


class OpensTheGate:
    """A source that opens ``gate`` as it hands out frame ``at``. The callback runs only once
    the reader awaits, i.e. after its ``_put`` of that frame has met the full queue: with
    the worker held on frame 0 and ``max_queue=2``, frame 3 always finds it full."""

    def __init__(self, inner: WavSource, gate: threading.Event, at: int) -> None:
        self.inner, self.gate, self.at = inner, gate, at

    async def frames(self):
        i = 0
        async for frame in self.inner.frames():
            if i == self.at:
                asyncio.get_running_loop().call_soon(self.gate.set)
            yield frame
            i += 1

    async def close(self) -> None:
        await self.inner.close()


class Doubler:
    full_duplex = False

    def __init__(self) -> None:
        self.refs = 0

    def reference(self, samples: np.ndarray, sample_rate: int) -> None:
        self.refs += 1

    def clean(self, samples: np.ndarray, start_s: float) -> np.ndarray:
        return samples * 2


async def collect(worker: AudioWorker) -> list[ProcessedFrame]:
    return [f async for f in worker.frames()]


async def test_frames_come_back_in_order_cleaned_and_scored_off_the_loop() -> None:
    audio = np.repeat(np.arange(20, dtype=np.float32) / 100, 512)
    vad = ThreadVAD()
    worker = AudioWorker(WavSource(samples=audio, realtime=False, tail_silence_s=0.0),
                         vad=lambda: vad, wake=lambda: None, needs=lambda: (True, False),
                         cleaner=Doubler())
    frames = await collect(worker)
    assert [f.start_s for f in frames] == pytest.approx([i * 512 / SAMPLE_RATE
                                                          for i in range(20)])
    assert [float(f.samples[0]) for f in frames] == pytest.approx([i / 50 for i in range(20)])
    assert [f.prob for f in frames] == pytest.approx([min(1.0, i / 25) for i in range(20)])
    assert vad.threads and threading.get_ident() not in vad.threads
    assert worker.stats()["processed"] == 20


async def test_only_what_the_state_needs_is_computed() -> None:
    audio = timeline((0.32, WAKE))
    vad, wake = ThreadVAD(), FakeWake()
    sleeping = AudioWorker(WavSource(samples=audio, realtime=False, tail_silence_s=0.0),
                           vad=lambda: vad, wake=lambda: wake, needs=lambda: (False, True))
    frames = await collect(sleeping)
    assert vad.calls == 0 and wake.fed == len(frames) == 10
    assert all(f.prob is None and f.scored_wake for f in frames)


async def test_a_slow_worker_makes_the_reader_wait_counts_overruns_and_drops_nothing() -> None:
    audio = np.zeros(30 * 512, np.float32)
    gate = threading.Event()
    vad = ThreadVAD(gate)
    source = OpensTheGate(WavSource(samples=audio, realtime=False, tail_silence_s=0.0), gate,
                          at=3)
    worker = AudioWorker(source, vad=lambda: vad, wake=lambda: None,
                         needs=lambda: (True, False), max_queue=2)
    frames = await collect(worker)
    assert len(frames) == 30 and vad.calls == 30
    assert worker.overruns > 0
    assert worker.stats()["max_backlog"] <= 2


async def test_a_failing_stage_is_reported_once_and_the_frame_goes_on() -> None:
    class Broken:
        def probability(self, samples: np.ndarray) -> float:
            raise RuntimeError("onnx gone")

    worker = AudioWorker(WavSource(samples=np.zeros(5 * 512, np.float32), realtime=False,
                                   tail_silence_s=0.0),
                         vad=lambda: Broken(), wake=lambda: None, needs=lambda: (True, False))
    frames = await collect(worker)
    assert len(frames) == 5 and all(f.prob == 0.0 for f in frames)
    assert [worker.new_error(f) for f in frames] == [True, False, False, False, False]
    assert "onnx gone" in (frames[0].error or "")


def test_locked_cleaner_forwards_both_sides() -> None:
    inner = Doubler()
    c = LockedCleaner(inner)
    c.reference(np.zeros(10, np.float32), 16000)
    assert inner.refs == 1 and c.clean(np.ones(4, np.float32), 0.0).tolist() == [2, 2, 2, 2]


async def test_the_engine_gives_the_same_turns_with_the_worker_and_scores_nothing_itself() -> None:
    audio = timeline((0.3, 0), (1.0, LOUD), (1.6, 0))
    plain = make_engine(audio, speculative=False)
    want = await run_collect(plain)

    engine = make_engine(audio, speculative=False)
    vad = ThreadVAD()
    engine.vad = vad
    worker = attach(engine)
    got = await run_collect(engine)
    assert [f.text for f in of(got, FinalTranscript)] == \
        [f.text for f in of(want, FinalTranscript)] == ["what time is it"]
    assert [r.text for r in of(got, ReplyDone)] == [r.text for r in of(want, ReplyDone)]
    assert vad.calls > 0 and threading.get_ident() not in vad.threads
    assert worker.stats()["processed"] >= len(audio) // 512
    assert not [n for n in of(got, Notice) if n.level == "error"]


async def test_wake_word_through_the_worker() -> None:
    audio = timeline((0.5, WAKE), (0.3, 0), (0.6, LOUD), (1.0, 0))
    engine = make_engine(audio, mode="wake", speculative=False)
    attach(engine)
    events = await run_collect(engine)
    assert len(of(events, WakeDetected)) == 1
    assert [f.text for f in of(events, FinalTranscript)] == ["what time is it"]


async def test_the_probe_sees_the_loop_blocked() -> None:
    from localvox.bench.latency import LoopProbe

    probe = LoopProbe()
    probe.start()
    await asyncio.sleep(0.02)
    # On purpose: a blocking call on the loop is exactly the stall the probe must see (the
    # kind of model call that used to run in _on_frame). asyncio.sleep would not block it.
    time.sleep(0.1)
    await asyncio.sleep(0.02)
    assert await probe.stop() >= 90
