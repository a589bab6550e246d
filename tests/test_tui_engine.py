"""The TUI on the real speech loop, fed from a WAV recording instead of a microphone."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.widgets import Static

from localvox.config import load_config
from localvox.tui.app import LocalvoxApp
from localvox.tui.widgets.conversation import AssistantTurn, ToolCallView, UserTurn
from localvox.tui.widgets.latency import LatencyPanel

pytestmark = pytest.mark.models

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))


async def test_voice_turn_from_wav_shows_partial_transcript_tool_and_latency(
        tmp_path: Path) -> None:
    from localvox.pipeline.factory import build_engine

    config = load_config()

    async def factory(progress):
        return await build_engine(config, input_path=str(FIXTURES / "wake_then_question.wav"),
                                  output_path=str(tmp_path / "reply.wav"), realtime=True,
                                  progress=progress)

    app = LocalvoxApp(config, factory)
    partials: list[str] = []
    async with app.run_test(size=(120, 32)) as pilot:
        for _ in range(600):  # up to 60 s on a loaded machine; the clip is 3.4 s long
            await pilot.pause(0.1)
            shown = str(app.query_one("#partial", Static).render())
            if shown:
                partials.append(shown)
            if app.query_one(LatencyPanel).turns and app.query(AssistantTurn):
                if "streaming" not in app.query_one(AssistantTurn).classes:
                    break
        users = " ".join(str(w.render()) for w in app.query(UserTurn)).lower()
        reply = app.query_one(AssistantTurn).text
        tools = list(app.query(ToolCallView))
        latency = str(app.query_one(LatencyPanel).render())
    assert partials, "no partial transcript was shown while the user spoke"
    assert "what time is it" in users
    assert tools and tools[0].tool_name.startswith("get_")
    assert any(ch.isdigit() for ch in reply)
    assert "voice→voice" in latency and "endpoint" in latency
    assert "first clause" in latency and "first audio" in latency  # the LLM vs the TTS
    await asyncio.sleep(0)
