"""The Textual app driven headless with Pilot: rendering, keys and settings."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from localvox.config import load_config
from localvox.pipeline import events as ev
from localvox.tui.app import LocalvoxApp
from localvox.tui.widgets.conversation import AssistantTurn, ToolCallView, UserTurn
from localvox.tui.widgets.latency import LatencyPanel
from localvox.tui.widgets.render import voice_to_voice, waterfall
from localvox.tui.widgets.status import MicMeter, StateLabel
from tests.tui_helpers import ScriptedEngine, factory_for


@pytest.fixture(autouse=True)
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    return tmp_path / "cfg" / "localvox" / "config.toml"


def _app(engine: ScriptedEngine) -> LocalvoxApp:
    return LocalvoxApp(load_config(), factory_for(engine))


async def test_typed_message_shows_streamed_answer() -> None:
    engine = ScriptedEngine()
    app = _app(engine)
    async with app.run_test(size=(120, 32)) as pilot:
        await pilot.pause()
        assert app.focused is app.query_one("#prompt", Input)
        await pilot.press(*"hello there", "enter")
        await pilot.pause(0.2)
        assert ("text", "hello there") in engine.calls
        users = [str(w.render()) for w in app.query(UserTurn)]
        assert any("hello there" in u for u in users)
        reply = app.query_one(AssistantTurn)
        assert reply.text == "Sure. You said: hello there."
        assert "streaming" not in reply.classes
        latency = str(app.query_one(LatencyPanel).render())
        assert "first audio" in latency and "350 ms" in latency and "p50" in latency


async def test_voice_turn_partial_tool_call_and_waterfall() -> None:
    engine = ScriptedEngine(audio_input="wav:dialog.wav")
    app = _app(engine)
    async with app.run_test(size=(120, 32)) as pilot:
        await pilot.pause()
        await engine.emit(ev.StateChanged(ev.TurnState.HEARING),
                          ev.MicLevel(0.2, 0.5),
                          ev.PartialTranscript(1, "what time"))
        await pilot.pause(0.1)
        assert app.query_one(StateLabel).state == "hearing"
        assert "what time" in str(app.query_one("#partial", Static).render())
        assert app.query_one(MicMeter).level == pytest.approx(0.2)
        await engine.emit(
            ev.FinalTranscript(1, "What time is it?"),
            ev.ToolCallStarted(1, "call-1", "get_time", "{}"),
            ev.ToolCallFinished(1, "call-1", "get_time", "It is 10:42.", False, 4.0),
            ev.ReplyChunk(1, "It is 10:42."), ev.ReplyDone(1, "It is 10:42."),
            ev.TurnTrace(1, {"speech_end": 2.0, "endpoint": 2.4, "final_transcript": 2.45,
                             "llm_first_token": 2.6, "first_audio_out": 2.75}))
        await pilot.pause(0.1)
        assert str(app.query_one("#partial", Static).render()) == ""
        tool = app.query_one(ToolCallView)
        assert tool.tool_name == "get_time" and "✓ 4 ms" in str(tool.title)
        text = str(app.query_one(LatencyPanel).render())
        for stage in ("endpoint", "transcript", "first token", "first audio"):
            assert stage in text
        assert "750 ms" in text  # voice→voice: speech end 2.0 → first audio 2.75


async def test_keys_act_on_the_engine() -> None:
    engine = ScriptedEngine(audio_input="mic")
    app = _app(engine)
    async with app.run_test(size=(120, 32)) as pilot:
        await pilot.pause()
        await pilot.press("f2")
        await pilot.press("f2")
        await pilot.press("f3")
        await pilot.press("escape")
        await pilot.press("f4")
        await pilot.pause()
    assert ("ptt", True) in engine.calls and ("ptt", False) in engine.calls
    assert ("mute", True) in engine.calls
    assert ("interrupt",) in engine.calls
    speech = [c for c in engine.calls if c[0] == "speech"]
    assert speech[-1] == ("speech", False)
    assert engine.calls[-1] == ("close",)  # quitting releases devices and the agent


async def test_no_sound_card_means_text_mode_note() -> None:
    engine = ScriptedEngine(audio_input="none")
    app = _app(engine)
    async with app.run_test(size=(120, 32)) as pilot:
        await pilot.pause()
        notices = " ".join(str(n.render()) for n in app.query(".notice"))
        assert "text mode" in notices
        assert app.query_one(MicMeter).enabled is False


async def test_typed_before_ready_is_sent_once_ready() -> None:
    engine = ScriptedEngine()
    import asyncio

    gate = asyncio.Event()

    async def slow_factory(progress):
        progress("loading speech recognition")
        await gate.wait()
        return engine

    app = LocalvoxApp(load_config(), slow_factory)
    async with app.run_test(size=(120, 32)) as pilot:
        await pilot.pause()
        assert "loading speech recognition" in str(app.query_one("#loading", Static).render())
        await pilot.press(*"early", "enter")
        await pilot.pause()
        assert engine.calls == []
        gate.set()
        await pilot.pause(0.2)
        assert ("text", "early") in engine.calls


async def test_settings_persist(isolated_config: Path) -> None:
    engine = ScriptedEngine()
    app = _app(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("f9")
        await pilot.pause()
        from textual.widgets import Select

        screen = app.screen
        screen.query_one("#set-wake-model", Select).value = "alexa"
        screen.query_one("#set-asr-model", Select).value = "whisper_base"
        await pilot.click("#save")
        await pilot.pause()
    assert load_config().wake.model == "alexa"
    assert load_config().asr.model == "whisper_base"
    assert "alexa" in isolated_config.read_text()


def test_waterfall_render_is_pure() -> None:
    marks = {"speech_end": 0.0, "endpoint": 0.4, "final_transcript": 0.5,
             "llm_first_token": 0.7, "first_audio_out": 0.9}
    text = waterfall(marks).plain
    assert "400 ms" in text and "100 ms" in text and "200 ms" in text
    assert voice_to_voice(marks) == pytest.approx(0.9)
    assert "—" in waterfall({"final_transcript": 1.0}).plain


def test_main_screen_snapshot(snap_compare) -> None:
    engine = ScriptedEngine()

    async def run_before(pilot) -> None:
        await pilot.pause()
        await pilot.press(*"what is 12 times 7", "enter")
        await pilot.pause(0.2)

    assert snap_compare(_app(engine), terminal_size=(110, 30), run_before=run_before)


async def test_typed_turn_latency_is_text_to_voice_not_voice_to_voice() -> None:
    engine = ScriptedEngine()
    app = _app(engine)
    async with app.run_test(size=(120, 32)) as pilot:
        await pilot.pause()
        await pilot.press(*"hello", "enter")
        await pilot.pause(0.2)
        text = str(app.query_one(LatencyPanel).render())
        assert "text→voice" in text and "voice→voice" not in text
        await engine.emit(ev.TurnTrace(2, {"speech_end": 2.0, "endpoint": 2.4,
                                           "final_transcript": 2.45, "llm_first_token": 2.6,
                                           "first_audio_out": 2.75}))
        await pilot.pause(0.1)
        text = str(app.query_one(LatencyPanel).render())
        assert "voice→voice" in text and "750 ms" in text and "over 1 turn" in text
        # A timer ringing is no user turn: the panel keeps showing the last one.
        await engine.emit(ev.TurnTrace(3, {"llm_request": 9.0, "first_audio_out": 9.1},
                                       source="agent"))
        await pilot.pause(0.1)
        assert "turn #2" in str(app.query_one(LatencyPanel).render())


async def test_timer_set_in_the_tui_rings_in_the_conversation_and_is_spoken(tmp_path) -> None:
    """Through the real engine and the SDK's TimerService: the timer's announcement is
    shown as an assistant message and spoken (issue #15: it was dropped)."""
    from localvox.agent.assistant import create_app
    from localvox.agent.builtin_tools import BuiltinTools
    from localvox.audio.wav import WavSink
    from localvox.pipeline.agent_port import SessionAgent
    from localvox.pipeline.engine import EngineOptions, TurnEngine
    from tests.test_pipeline_engine import FakeTTS, SentenceChunker

    class NoLLM:
        name = "none"

    config = load_config(use_user_file=False)
    config.llm.tool_mode = "intent"
    tts, sink = FakeTTS(), WavSink(None)

    async def factory(progress):
        app = create_app(config, llm=NoLLM(),  # type: ignore[arg-type]
                         tools_factory=lambda c: BuiltinTools(c, notes_path=tmp_path / "n.db"))
        agent = SessionAgent(await app.open_session())
        return TurnEngine(source=None, sink=sink, vad=None, segmenter=None, asr=None,
                          tts=tts, agent=agent, chunker_factory=SentenceChunker,
                          options=EngineOptions(mode="always"))

    app = LocalvoxApp(config, factory)
    async with app.run_test(size=(120, 32)) as pilot:
        await pilot.pause()
        await pilot.press(*"set a timer for one second", "enter")
        replies: list[str] = []
        for _ in range(150):                           # up to 15 s on a loaded machine
            await pilot.pause(0.1)
            replies = [t.text for t in app.query(AssistantTurn)]
            if any("timer is done" in r for r in replies):
                break
        assert replies[0] == "Timer set for 1 second."
        assert replies[-1] == "Your 1 second timer is done."
    assert "Your 1 second timer is done." in tts.texts
    assert sink.samples_played > 0


async def test_events_that_arrive_while_the_app_closes_are_dropped_quietly() -> None:
    """A live microphone keeps sending levels until the engine stops, and the engine stops
    in on_unmount, after Textual has taken the screen down: CI once failed with
    NoMatches('StatusBar') from the event pump at exit."""
    engine = ScriptedEngine(audio_input="mic")
    app = _app(engine)

    async def live_mic() -> None:
        while not engine.stopped.is_set():
            engine.queue.put_nowait(ev.MicLevel(rms=0.1, peak=0.2))
            await asyncio.sleep(0)

    async with app.run_test() as pilot:
        await pilot.pause(0.2)
        feeder = asyncio.create_task(live_mic())
        await pilot.pause(0.1)
    await feeder
    assert ("close",) in engine.calls


async def test_the_conversation_goes_on_behind_the_settings_screen() -> None:
    """Events keep arriving while Settings (F9) is open: the mic level and a reply must land
    on the main screen, not be looked up on the modal one."""
    engine = ScriptedEngine(audio_input="mic")
    app = _app(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("f9")
        await pilot.pause()
        await engine.emit(ev.MicLevel(rms=0.2, peak=0.3))
        await engine.submit_text("hello there")
        await pilot.pause(0.2)
        await pilot.press("escape")
        await pilot.pause(0.2)
        reply = app.query_one(AssistantTurn).text
    assert "You said: hello there" in reply
