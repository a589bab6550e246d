"""The engine factory: no sound card means text mode with a notice, never a crash."""

from __future__ import annotations

import pytest

from localvox import registry
from localvox.config import load_config
from localvox.errors import AudioDeviceError, LocalvoxError
from localvox.pipeline.events import Notice, ReplyDone, TurnState
from localvox.pipeline.factory import SpeechParts, build_engine, default_trace_path

from test_pipeline_engine import FakeAgent, FakeASR, FakeTTS, FakeVAD, typed_turn  # noqa: E402


@pytest.fixture
def no_sound_card(monkeypatch):
    real = registry.create

    def create(stage, backend, config, **kw):
        if stage == "audio" and backend == "device":
            raise AudioDeviceError(f"no sound card found (no {kw.get('kind')} devices)")
        return real(stage, backend, config, **kw)

    monkeypatch.setattr(registry, "create", create)


async def test_no_sound_card_gives_text_mode_and_typed_turns_work(no_sound_card, tmp_path):
    config = load_config(use_user_file=False)
    config.wake.mode = "always"
    parts = SpeechParts(vad=FakeVAD(), asr=FakeASR(["x"]), tts=FakeTTS())
    agent = FakeAgent(reply="Hi there.")
    engine = await build_engine(config, parts=parts, agent=agent,
                                trace_path=tmp_path / "t.jsonl")
    assert engine.source is None
    events = await typed_turn(engine, "hello")
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert any("no source devices" in m for m in notices)
    assert any("no sink devices" in m for m in notices)
    assert [e.text for e in events if isinstance(e, ReplyDone)] == ["Hi there."]
    assert engine.state == TurnState.IDLE
    assert (tmp_path / "t.jsonl").read_text().count("\n") == 1
    assert engine.describe()["audio_input"] == "none"


async def test_wake_mode_without_a_wake_model_is_a_clear_error(no_sound_card):
    config = load_config(use_user_file=False)
    parts = SpeechParts(vad=FakeVAD(), asr=FakeASR(["x"]), tts=FakeTTS(), wake=None)
    with pytest.raises(LocalvoxError, match="--no-wake"):
        await build_engine(config, parts=parts, agent=FakeAgent())


def test_default_trace_path_is_in_the_state_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    config = load_config(use_user_file=False)
    assert default_trace_path(config) == tmp_path / "localvox" / "turns.jsonl"
    config.pipeline.trace_path = str(tmp_path / "mine.jsonl")
    assert default_trace_path(config) == tmp_path / "mine.jsonl"
