"""Faults: the loop keeps going (or ends cleanly) and says what happened.

Covered here: the audio device vanishing mid-turn; a 10-minute utterance; an hour of
silence (fast-fed: no growth, no drift of stream time), plus a minute of room noise through
the real Silero VAD and openWakeWord; the disk filling up while writing notes, the audit
log and the latency trace.

Covered elsewhere (not repeated): LLM server killed mid-stream
(test_llm_openai::test_killed_mid_stream_then_conversation_continues); a tool that hangs or
raises (test_agent_tools::test_failures_become_error_results,
test_timeout_uses_registry_default); malformed tool-call JSON
(test_builtin_tools::test_malformed_tool_json_becomes_an_error_result); cloud socket
dropped (test_serve_clients::test_socket_dropped_mid_utterance_reconnects_without_losing_the_turn,
test_server_closing_before_complete_is_a_clear_error_then_recovers).

The engine tests use small fakes for the stages whose output is not the point (a VAD that
reads the probability from the signal level, an ASR that counts what it is fed, an agent
that answers at once) and the real endpointer, so an hour of audio runs in seconds.
"""

from __future__ import annotations

import asyncio
import gc
import shutil
import sqlite3
import subprocess
import tracemalloc
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import numpy as np
import psutil
import pytest

from conftest import model_marks
from localvox.asr.base import Transcript
from localvox.audio.base import SAMPLE_RATE, AudioFrame
from localvox.audio.wav import WavSink
from localvox.config import load_config
from localvox.errors import AudioDeviceError
from localvox.pipeline.agent_port import ReplyText
from localvox.pipeline.engine import EngineOptions, TurnEngine
from localvox.pipeline.events import (Notice, ReplyDone, SessionEnded, SpeechStarted,
                                      SpeechStopped, WakeDetected)
from localvox.pipeline.trace import TraceWriter
from localvox.vad.endpoint import Endpointer
from localvox.wake.base import Detection

FRAME = 512  # 32 ms
LOUD, WAKE_LEVEL, QUIET = 0.45, 0.2, 0.002

# --------------------------------------------------------------------------------------
# Small fakes
# --------------------------------------------------------------------------------------


class LevelVAD:
    """Speech probability = 2 x peak level (0.45 -> 0.9)."""

    name = "level-vad"

    def probability(self, samples: np.ndarray) -> float:
        return float(min(1.0, 2.0 * float(np.max(np.abs(samples), initial=0.0))))

    def reset(self) -> None:
        pass


class LevelWake:
    """Fires at the end of 0.3 s of audio at exactly WAKE_LEVEL."""

    name = "level_wake"

    def __init__(self) -> None:
        self.run = 0.0
        self.calls = 0

    def process(self, samples: np.ndarray, end_s: float) -> Detection | None:
        self.calls += 1
        if abs(float(np.max(samples)) - WAKE_LEVEL) < 1e-4:
            self.run += len(samples) / SAMPLE_RATE
            if self.run >= 0.3:
                self.run = -1e9
                return Detection(self.name, 0.9, end_s)
        else:
            self.run = 0.0
        return None

    def reset(self) -> None:
        self.run = 0.0


class CountingStream:
    def __init__(self, asr: "CountingASR") -> None:
        self.asr = asr
        self.n = 0

    async def feed(self, samples: np.ndarray) -> None:
        self.n += len(samples)  # counts, keeps nothing: the engine's buffers are under test

    async def partial(self, *, force: bool = False) -> Transcript | None:
        return None

    async def finish(self) -> Transcript:
        self.asr.fed.append(self.n / SAMPLE_RATE)
        return Transcript("hello there.", True, self.n / SAMPLE_RATE)

    async def cancel(self) -> None:
        self.asr.cancelled += 1


class CountingASR:
    name = "counting-asr"

    def __init__(self) -> None:
        self.fed: list[float] = []
        self.cancelled = 0
        self.streams = 0

    def stream(self) -> CountingStream:
        self.streams += 1
        return CountingStream(self)


class QuickAgent:
    def __init__(self) -> None:
        self.turns: list[str] = []

    async def respond(self, text: str) -> AsyncIterator[Any]:
        self.turns.append(text)
        yield ReplyText("Okay.")

    async def interrupt(self, heard: str) -> None:
        pass

    async def discard(self) -> None:
        pass

    def prepare(self, heard_so_far: str) -> None:
        pass


class NoTTS:
    name = "no-tts"

    async def synthesize(self, text: str):  # pragma: no cover - speech output is off
        if False:
            yield None


class GeneratedSource:
    """Frames from ``level_at(frame_index) -> samples``, fast, with integer-exact times;
    ``fail_at`` raises ``AudioDeviceError`` there (the microphone unplugged)."""

    name = "generated"

    def __init__(self, n_frames: int, level_at: Callable[[int], np.ndarray], *,
                 fail_at: int | None = None, on_frame: Callable[[int], None] | None = None
                 ) -> None:
        self.n_frames = n_frames
        self.level_at = level_at
        self.fail_at = fail_at
        self.on_frame = on_frame
        self.closed = False

    async def frames(self) -> AsyncIterator[AudioFrame]:
        for i in range(self.n_frames):
            if self.closed:
                return
            if self.fail_at is not None and i == self.fail_at:
                raise AudioDeviceError("the microphone went away (device unplugged)")
            if self.on_frame is not None:
                self.on_frame(i)
            if i % 64 == 0:
                await asyncio.sleep(0)
            yield AudioFrame(self.level_at(i), i * FRAME / SAMPLE_RATE)

    async def close(self) -> None:
        self.closed = True


_CONST: dict[float, np.ndarray] = {}


def const(level: float) -> np.ndarray:
    if level not in _CONST:
        a = np.full(FRAME, level, np.float32)
        a.setflags(write=False)
        _CONST[level] = a
    return _CONST[level]


def make_engine(source: Any, *, mode: str = "always", wake: Any = None, asr: Any = None,
                agent: Any = None, trace: TraceWriter | None = None, vad: Any = None,
                max_utterance_s: float = 30.0) -> TurnEngine:
    config = load_config(use_user_file=False)
    opts = EngineOptions(mode=mode, speech_output=False, hold_input_while_replying=True,
                         speculative=False, level_every=3)
    seg = Endpointer(config.endpoint, threshold=0.5, max_utterance_s=max_utterance_s)
    return TurnEngine(source=source, sink=WavSink(None), vad=vad or LevelVAD(), segmenter=seg,
                      asr=asr or CountingASR(), tts=NoTTS(), agent=agent or QuickAgent(),
                      chunker_factory=lambda: None, wake=wake, options=opts, trace=trace)


async def run_collect(engine: TurnEngine, timeout: float = 120) -> tuple[list[Any], Any]:
    """Run to the end, draining events as a front end would; (events, run() exception)."""
    q = engine.subscribe()
    events: list[Any] = []
    task = asyncio.ensure_future(engine.run())
    error = None
    try:
        async with asyncio.timeout(timeout):
            while True:
                ev = await q.get()
                if not type(ev).__name__ == "MicLevel":
                    events.append(ev)
                if isinstance(ev, SessionEnded):
                    break
            await task
    except Exception as err:  # noqa: BLE001 -- returned for the test to judge
        error = err
    return events, error


def _rss() -> int:
    return int(psutil.Process().memory_info().rss)


def of(events: list[Any], cls: type) -> list[Any]:
    return [e for e in events if isinstance(e, cls)]


# --------------------------------------------------------------------------------------
# The audio device vanishing mid-turn
# --------------------------------------------------------------------------------------


async def test_device_vanishing_mid_turn_is_a_notice_and_ends_cleanly():
    # 1 s quiet, then the user speaks; the device dies 1 s into the utterance.
    def level(i: int) -> np.ndarray:
        return const(QUIET if i < 31 else LOUD)

    asr = CountingASR()
    engine = make_engine(GeneratedSource(200, level, fail_at=62), asr=asr)
    events, error = await run_collect(engine)
    assert of(events, SpeechStarted), "the turn had started"
    assert of(events, SessionEnded)
    assert error is None, f"run() raised {error!r}"
    notices = [n.message for n in of(events, Notice)]
    assert any("microphone went away" in m for m in notices), notices


async def test_device_vanishing_leaves_no_task_running():
    """Whatever run() does with the error, nothing of the turn is left running after it."""
    def level(i: int) -> np.ndarray:
        return const(QUIET if i < 31 else LOUD)

    asr = CountingASR()
    engine = make_engine(GeneratedSource(200, level, fail_at=62), asr=asr)
    before = {t for t in asyncio.all_tasks() if not t.done()}
    events, _ = await run_collect(engine)
    await asyncio.sleep(0.05)
    left = {t for t in asyncio.all_tasks() if not t.done()} - before
    assert not left, left
    assert of(events, SessionEnded)
    assert asr.streams == 1


# --------------------------------------------------------------------------------------
# A 10-minute utterance
# --------------------------------------------------------------------------------------


async def test_ten_minute_utterance_is_capped_and_memory_stays_bounded():
    minutes = 10
    n = int(minutes * 60 * SAMPLE_RATE / FRAME)
    rng = np.random.default_rng(3)
    speechy = [(LOUD * (0.9 + 0.1 * rng.random(FRAME))).astype(np.float32) for _ in range(16)]
    for a in speechy:
        a.setflags(write=False)
    asr = CountingASR()
    engine = make_engine(GeneratedSource(n, lambda i: speechy[i % 16]), asr=asr)
    gc.collect()
    tracemalloc.start()
    try:
        events, error = await run_collect(engine, timeout=240)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error is None
    stopped = of(events, SpeechStopped)
    # Capped at [vad] max_utterance_s = 30 s: about 20 turns, none longer than the cap.
    assert len(stopped) >= minutes * 2 - 1
    assert max(asr.fed) <= 30.0 + FRAME / SAMPLE_RATE
    assert len(of(events, ReplyDone)) == len(asr.fed)
    # 30 s of float32 audio is 1.9 MB; ten minutes would be 38 MB if anything kept it all.
    assert peak < 12 * 2**20, f"peak traced memory {peak / 2**20:.1f} MB"


# --------------------------------------------------------------------------------------
# An hour of silence
# --------------------------------------------------------------------------------------


async def test_an_hour_of_silence_no_growth_no_drift_then_a_turn():
    hour = int(3600 * SAMPLE_RATE / FRAME)           # 112500 frames
    wake_start = hour
    wake_frames = 10                                  # 0.32 s at WAKE_LEVEL
    speech_start = wake_start + wake_frames + 8       # a short pause, then 1 s of speech
    speech_frames = 31
    total = speech_start + speech_frames + 60
    rng = np.random.default_rng(5)
    hiss = [(rng.standard_normal(FRAME) * QUIET).astype(np.float32) for _ in range(8)]
    for a in hiss:
        a.setflags(write=False)

    def level(i: int) -> np.ndarray:
        if wake_start <= i < wake_start + wake_frames:
            return const(WAKE_LEVEL)
        if speech_start <= i < speech_start + speech_frames:
            return const(LOUD)
        return hiss[i % 8]

    mem: dict[str, tuple[int, int]] = {}

    def checkpoint(i: int) -> None:
        # After a minute of warm-up and at the end of the hour: live Python objects and RSS.
        if i in (int(60 * SAMPLE_RATE / FRAME), hour - 1):
            gc.collect()
            mem["start" if "start" not in mem else "end"] = (len(gc.get_objects()), _rss())

    wake = LevelWake()
    asr = CountingASR()
    engine = make_engine(GeneratedSource(total, level, on_frame=checkpoint), mode="wake",
                         wake=wake, asr=asr)
    events, error = await run_collect(engine, timeout=300)
    assert error is None
    objects = mem["end"][0] - mem["start"][0]
    rss = mem["end"][1] - mem["start"][1]
    assert objects < 500, f"{objects} more live objects after 59 minutes of silence"
    assert rss < 8 * 2**20, f"RSS grew {rss / 2**20:.1f} MB over 59 minutes of silence"
    assert wake.calls >= hour  # every silent frame went through the wake path
    [det] = of(events, WakeDetected)
    expected_wake = (wake_start + wake_frames) * FRAME / SAMPLE_RATE
    assert abs(det.at_s - expected_wake) <= FRAME / SAMPLE_RATE + 1e-9
    [started] = of(events, SpeechStarted)
    assert abs(started.at_s - speech_start * FRAME / SAMPLE_RATE) <= FRAME / SAMPLE_RATE + 1e-9
    [stopped] = of(events, SpeechStopped)
    expected_end = (speech_start + speech_frames) * FRAME / SAMPLE_RATE
    assert abs(stopped.at_s - expected_end) <= FRAME / SAMPLE_RATE + 1e-9
    assert len(of(events, ReplyDone)) == 1


@pytest.fixture(scope="module")
def real_parts():
    marks = model_marks("silero_vad", "hey_jarvis", "oww_melspectrogram", "oww_embedding")
    if marks[1].args[0]:
        pytest.skip(marks[1].kwargs["reason"])
    from localvox import registry

    config = load_config(use_user_file=False)
    return (registry.create("vad", config.vad.backend, config),
            registry.create("wake", "openwakeword", config))


@pytest.mark.models
async def test_a_minute_of_room_noise_through_real_vad_and_wake_word(real_parts):
    vad, wake = real_parts
    n = int(60 * SAMPLE_RATE / FRAME)
    rng = np.random.default_rng(9)
    t = np.arange(FRAME) / SAMPLE_RATE
    noise = [(rng.standard_normal(FRAME) * 0.004 + 0.001 * np.sin(2 * np.pi * 50 * (t + k)))
             .astype(np.float32) for k in range(32)]
    # Wake mode: every frame goes to openWakeWord; nothing may fire.
    engine = make_engine(GeneratedSource(n, lambda i: noise[i % 32]), mode="wake", wake=wake,
                         vad=vad)
    events, error = await run_collect(engine)
    assert error is None
    assert not of(events, WakeDetected)
    assert wake.max_score < 0.5
    # Always listening: every frame goes to Silero and the endpointer; no speech is heard.
    engine = make_engine(GeneratedSource(n, lambda i: noise[i % 32]), mode="always", vad=vad)
    events, error = await run_collect(engine)
    assert error is None
    assert not of(events, SpeechStarted)


# --------------------------------------------------------------------------------------
# Disk full
# --------------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs (we run as root here); skipped where mounting is not allowed."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                       capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs: {r.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill(disk: Path) -> Path:
    """Write zeros until the filesystem is full (unbuffered, so closing cannot fail)."""
    import os

    filler = disk / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


async def test_disk_full_while_writing_notes_is_clear_and_corrupts_nothing(small_disk):
    from localvox.agent.assistant import create_app
    from localvox.agent.builtin_tools import BuiltinTools
    from localvox.agent.events import ResponseChunk, ToolCallEnd, ToolCallError

    config = load_config(use_user_file=False)
    config.llm.tool_mode = "intent"
    db = small_disk / "notes.sqlite3"
    app = create_app(config, llm=_NoLLM(), tools_factory=lambda c: BuiltinTools(c, notes_path=db))
    session = await app.open_session()

    async def say(text: str) -> tuple[str, list[Any]]:
        reply, tools = [], []
        async for ev in session.turn(text):
            if isinstance(ev, ResponseChunk):
                reply.append(ev.text)
            elif isinstance(ev, (ToolCallEnd, ToolCallError)):
                tools.append(ev)
        return "".join(reply), tools

    for item in ("buy milk", "call the bank", "water the plants"):
        await say(f"make a note to {item}")
    filler = fill(small_disk)
    reply, tools = await say("make a note that the plumber comes on thursday with a very "
                             "long explanation " + "of the pipes " * 400)
    assert any(isinstance(t, ToolCallError) or "full" in str(getattr(t, "result", ""))
               for t in tools), tools
    assert "full" in reply.lower(), reply            # the user is told why
    listed, _ = await say("read me my notes")          # reading still works on a full disk
    assert "buy milk" in listed and "water the plants" in listed, listed
    filler.unlink()
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        texts = [r[0] for r in con.execute("SELECT text FROM notes ORDER BY id")]
    finally:
        con.close()
    assert len(texts) == 3 and not any("plumber" in t for t in texts)
    reply, _ = await say("make a note to fix the gate")  # space again: it works again
    assert "fix the gate" in reply.lower()
    await app.close()


class _NoLLM:
    """The notes turns are routed by intent; the LLM must not be needed."""

    name = "no-llm"

    async def chat(self, messages, tools=None, stream=True, **kw):  # pragma: no cover
        raise AssertionError("the LLM was asked")
        yield None


def _audit_until_full(disk: Path) -> tuple[Any, Path, Path, str]:
    from localvox.examples.bank.audit import AuditStore

    path = disk / "audit.sqlite3"
    store = AuditStore(path)
    for i in range(5):
        store.log("s1", "turn", {"i": i, "text": "hello"})
    store.flush()
    filler = fill(disk)
    for i in range(40):
        store.log("s1", "turn", {"i": 100 + i, "text": "x" * 2000})
    with pytest.raises(RuntimeError) as err:
        store.flush()
    return store, path, filler, str(err.value)


def test_disk_full_while_writing_the_audit_log_corrupts_nothing(small_disk):
    from localvox.examples.bank.audit import read_trail, verify_chain

    store, path, filler, msg = _audit_until_full(small_disk)
    assert "\n" not in msg and msg.startswith("audit write failed")
    filler.unlink()
    for _ in range(50):  # flush() reports the queued failures one per call
        try:
            store.flush()
            break
        except RuntimeError:
            continue
    store.log("s1", "turn", {"i": 999, "text": "after"})  # space again: writing resumes
    store.flush()
    store.close()
    ok, bad = verify_chain(path)
    assert ok, f"hash chain broken at record {bad}"
    payloads = [r.payload for r in read_trail(path, "s1")]
    text = " ".join(map(str, payloads))
    for i in range(5):
        assert f"'i': {i}," in text or f'"i": {i},' in text, text[:300]
    assert "999" in text


def test_disk_full_audit_error_says_the_disk_is_full(small_disk):
    store, _, filler, msg = _audit_until_full(small_disk)
    filler.unlink()
    store.close()
    assert "full" in msg.lower(), msg


async def test_trace_file_on_a_full_disk_is_a_notice_and_the_turn_completes():
    def level(i: int) -> np.ndarray:
        return const(LOUD if 10 <= i < 41 else QUIET)

    engine = make_engine(GeneratedSource(120, level), trace=TraceWriter("/dev/full"))
    events, error = await run_collect(engine)
    assert error is None
    assert len(of(events, ReplyDone)) == 1
    notices = [n.message for n in of(events, Notice)]
    assert any("trace" in m and "No space left" in m for m in notices), notices
