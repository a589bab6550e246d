"""Progressive start-up: typed turns are answered while the speech models still load.

The speech parts come from the real factory path (``build_engine(progressive=True)`` ->
``progressive_stages`` -> ``registry.create`` in worker threads); only ``registry.create``
is replaced, by fakes that block until the test opens a gate -- a slow model load on cue.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import numpy as np
import pytest

from localvox import registry
from localvox.audio.wav import WavSource
from localvox.config import load_config
from localvox.errors import LocalvoxError
from localvox.pipeline.events import FinalTranscript, Notice, ReplyDone, TurnState
from localvox.pipeline.factory import build_engine

from test_pipeline_engine import (LOUD, FakeAgent, FakeASR, FakeTTS, FakeVAD,  # noqa: E402
                                  PacedSink, timeline)


class WarmASR(FakeASR):
    async def transcribe(self, samples: np.ndarray) -> Any:
        return None


class SlowModels:
    """``registry.create`` for speech stages: waits for ``tts_gate`` / ``input_gate``."""

    def __init__(self, asr_error: Exception | None = None) -> None:
        self.tts_gate = threading.Event()
        self.input_gate = threading.Event()
        self.asr_error = asr_error
        self.created: list[str] = []

    def create(self, stage: str, backend: str, config: Any, **kw: Any) -> Any:
        gate = self.tts_gate if stage == "tts" else self.input_gate
        if stage in ("tts", "vad", "asr", "wake") and not gate.wait(10):
            raise TimeoutError(f"test gate for {stage} never opened")
        self.created.append(stage)
        if stage == "tts":
            return FakeTTS()
        if stage == "vad":
            return FakeVAD()
        if stage == "asr":
            if self.asr_error is not None:
                raise self.asr_error
            return WarmASR(["what time is it"])
        raise AssertionError(f"unexpected registry.create({stage!r})")

    def release_all(self) -> None:
        self.tts_gate.set()
        self.input_gate.set()


@pytest.fixture
def slow(monkeypatch):
    models = SlowModels()
    monkeypatch.setattr(registry, "create", models.create)
    yield models
    models.release_all()          # never leave a worker thread waiting


async def wait_for(predicate, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


async def progressive_engine(tmp_path, source=None):
    config = load_config(use_user_file=False)
    config.wake.mode = "always"
    config.echo.enabled = False
    agent = FakeAgent(reply="Hi there.")
    engine = await asyncio.wait_for(
        build_engine(config, progressive=True, agent=agent, source=source, use_source=False,
                     sink=PacedSink(lambda: 0.0), trace_path=tmp_path / "t.jsonl"), 5)
    engine.sink = PacedSink(engine.clock.now)
    return engine, agent


def drain(q: asyncio.Queue) -> list[Any]:
    out = []
    while not q.empty():
        out.append(q.get_nowait())
    return out


async def test_typed_turn_answered_before_speech_models_load_then_spoken_then_voice(
        slow, tmp_path):
    audio = timeline((0.3, 0), (1.0, LOUD), (1.6, 0))
    source = WavSource(samples=audio, realtime=True, tail_silence_s=0.0)
    engine, agent = await progressive_engine(tmp_path, source)
    assert slow.created == []                       # returned with no speech model loaded
    assert engine.describe()["tts"] == "piper_joe_medium"   # the configured voice, pending
    q = engine.subscribe()
    task = asyncio.ensure_future(engine.run())

    # 1. Nothing loaded yet: the typed question is answered, shown, not spoken.
    await engine.submit_text("hello")
    await wait_for(lambda: len(engine.traces) == 1)
    assert engine.state == TurnState.IDLE          # not listening: no VAD/ASR yet
    events = drain(q)
    assert [e.text for e in events if isinstance(e, ReplyDone)] == ["Hi there."]
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert any("loading speech output and voice input" in m for m in notices)
    assert any("still loading" in m and "not spoken" in m for m in notices)
    assert engine.sink.samples == 0 and "first_audio_out" not in engine.traces[0].marks

    # 2. The voice is in: the next typed reply is spoken; still not listening.
    slow.tts_gate.set()
    await wait_for(lambda: engine.tts is not None)
    await engine.submit_text("and again")
    await wait_for(lambda: len(engine.traces) == 2)
    assert engine.sink.samples > 0 and "first_audio_out" in engine.traces[1].marks
    assert engine.state == TurnState.IDLE
    notices = [e.message for e in drain(q) if isinstance(e, Notice)]
    assert "speech output ready: replies are spoken" in notices
    assert not any("not spoken" in m for m in notices)          # said once, not per reply

    # 3. Voice input is in: the engine starts listening and the recording is heard whole
    # (the source was not read -- and its speech lost -- while the models loaded).
    slow.input_gate.set()
    await asyncio.wait_for(task, 15)
    events = drain(q)
    assert any(isinstance(e, Notice) and e.message.startswith("voice input ready")
               for e in events)
    voice = [e for e in events if isinstance(e, FinalTranscript)]
    assert [(e.text, e.source) for e in voice] == [("what time is it", "voice")]
    assert agent.calls[:2] == ["hello", "and again"] and len(engine.traces) == 3
    assert engine.describe()["asr"] == "fake-asr"


async def test_failed_voice_input_load_is_a_notice_and_typing_goes_on(slow, tmp_path):
    slow.asr_error = LocalvoxError("ASR model whisper_tiny_en missing: pip install x")
    slow.release_all()
    source = WavSource(samples=timeline((1.0, LOUD), (1.0, 0)), realtime=True)
    engine, agent = await progressive_engine(tmp_path, source)
    q = engine.subscribe()
    task = asyncio.ensure_future(engine.run())
    await wait_for(lambda: engine._loader is not None and not engine._loader.loading)
    await engine.submit_text("still there?")
    await wait_for(lambda: len(engine.traces) == 1)
    assert engine.state == TurnState.IDLE and engine.tts is not None and engine.asr is None
    await engine.stop()
    await asyncio.wait_for(task, 5)
    events = drain(q)
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert ("voice input unavailable (ASR model whisper_tiny_en missing: pip install x); "
            "typed messages still work") in notices
    assert [e.text for e in events if isinstance(e, ReplyDone)] == ["Hi there."]
    assert engine.sink.samples > 0                  # the voice did load: spoken


async def test_without_a_microphone_only_the_voice_loads(slow, tmp_path):
    slow.release_all()
    engine, _ = await progressive_engine(tmp_path, source=None)
    task = asyncio.ensure_future(engine.run())
    await wait_for(lambda: engine._loader is not None and not engine._loader.loading)
    assert slow.created == ["tts"] and engine.tts is not None
    await engine.stop()
    await asyncio.wait_for(task, 5)


async def test_stop_while_loading_ends_cleanly(slow, tmp_path):
    source = WavSource(samples=timeline((1.0, 0)), realtime=True)
    engine, _ = await progressive_engine(tmp_path, source)
    task = asyncio.ensure_future(engine.run())
    await asyncio.sleep(0.1)
    await engine.stop()
    await asyncio.wait_for(task, 5)                 # did not wait for the models
    assert engine.state == TurnState.IDLE and engine.asr is None


async def test_turn_typed_before_run_keeps_its_state(slow, tmp_path):
    """The TUI sends queued text before ``run()``: starting must not reset THINKING."""
    engine, _ = await progressive_engine(tmp_path, source=None)
    engine.agent.ttft = 0.3
    await engine.submit_text("hello")
    assert engine.state == TurnState.THINKING
    task = asyncio.ensure_future(engine.run())
    await asyncio.sleep(0.1)
    assert engine.state == TurnState.THINKING
    await wait_for(lambda: len(engine.traces) == 1)
    await engine.stop()
    await asyncio.wait_for(task, 5)
