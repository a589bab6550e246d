"""The article's listings (``examples/atoms/``) in localvox's speech loop, on the default
offline models: each answers a typed turn and a spoken one (a Piper-voiced WAV through
the wake word, VAD, endpointing and Whisper), the weather tool is called, cold and warm
transfers reach the loop (and the TUI) as notices naming the number, the hold music and
the private hand-off prompt.

The listings are loaded exactly as ``localvox agent FILE.py`` loads them
(``launch.load_app``) and put in front of the engine the public factory builds; the
speech models load once for the module.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import model_marks  # type: ignore[import-not-found]

REPO = Path(__file__).resolve().parent.parent
LISTINGS = REPO / "examples" / "atoms"
NUMBER = "+1 555 0100"

pytestmark = model_marks("whisper_tiny_en", "piper_joe_medium", "silero_vad", "smollm2_135m",
                         "hey_jarvis", "oww_melspectrogram", "oww_embedding")

SPOKEN = {
    "minimal_agent": "Tell me something nice about the moon.",
    "weather_agent": "What's the weather in New Delhi?",
    "bank_agent": "Hello, I need some help with my savings account.",
    "transfer_agent": "Warm transfer to a supervisor because my bill is wrong.",
    "sentiment_agent": "My internet is not working.",
}


@pytest.fixture(scope="module")
def config() -> Any:
    """The shipped defaults, with tools picked by intent routing (deterministic on any
    local model; ``auto`` picks it for the local backend today)."""
    from localvox.config import load_config

    config = load_config(use_user_file=False)
    config.llm.tool_mode = "intent"
    return config


@pytest.fixture(scope="module")
def parts(config: Any) -> Any:
    from localvox.pipeline.factory import load_parts

    return asyncio.run(load_parts(config))


@pytest.fixture(scope="module")
def calls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One WAV per listing: "Hey Jarvis." then its question, in a raised Piper voice."""
    from localvox.audio.room_sim import piper_speech
    from localvox.audio.wav import write_wav

    folder = tmp_path_factory.mktemp("calls")
    names = list(SPOKEN)
    clips = piper_speech(["Hey Jarvis."] + [SPOKEN[n] for n in names], pitch=1.08)
    gap = np.zeros(int(0.6 * 16000), np.float32)
    paths = {}
    for name, clip in zip(names, clips[1:]):
        path = folder / f"{name}.wav"
        write_wav(path, np.concatenate([gap, clips[0], gap, clip, np.zeros(40000, np.float32)]))
        paths[name] = path
    return paths


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    monkeypatch.setenv("TRANSFER_NUMBER", NUMBER)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def _app(name: str, config: Any) -> Any:
    from localvox.agent.client import set_active_config
    from localvox.agent.launch import load_app

    set_active_config(config)
    return load_app(LISTINGS / f"{name}.py")


async def _typed(name: str, config: Any, parts: Any, tmp: Path, *lines: str) -> list[Any]:
    """Typed turns through the speech loop (answered by the listing, spoken to a WAV)."""
    from localvox.agent.launch import open_port
    from localvox.pipeline import events as ev
    from localvox.pipeline.factory import build_engine

    app = _app(name, config)
    port, _ = await open_port(app, config, name)
    engine = await build_engine(config, parts=parts, agent=port, use_source=False,
                                output_path=str(tmp / f"{name}-typed.wav"), realtime=False,
                                trace_path=tmp / "turns.jsonl")
    queue = engine.subscribe()
    run = asyncio.create_task(engine.run())
    seen: list[Any] = []
    try:
        for line in lines:
            await engine.submit_text(line)
            while True:
                event = await asyncio.wait_for(queue.get(), 180)
                seen.append(event)
                if isinstance(event, (ev.ReplyDone, ev.SessionEnded)):
                    break
            if isinstance(seen[-1], ev.SessionEnded):
                break
        # A transfer's SessionEnded follows its reply, and a reply without one is followed
        # by nothing: no event says "nothing more is coming", so this one wait is bounded
        # (1 s) rather than event-driven; stopping at once could pre-empt the handoff.
        for _ in range(20):
            await asyncio.sleep(0.05)
            while not queue.empty():
                seen.append(queue.get_nowait())
    finally:
        await engine.stop()
        await asyncio.gather(run, return_exceptions=True)
        await engine.close()
        await app.close()
    while not queue.empty():
        seen.append(queue.get_nowait())
    return seen


async def _spoken(name: str, config: Any, parts: Any, wav: Path, tmp: Path) -> list[Any]:
    """The listing as ``localvox agent FILE.py --input call.wav --output reply.wav``."""
    from localvox.agent.launch import open_port
    from localvox.pipeline.factory import build_engine

    app = _app(name, config)
    port, _ = await open_port(app, config, name)
    parts.wake.reset()          # shared across engines; each recording is a new stream
    engine = await build_engine(config, parts=parts, agent=port, input_path=str(wav),
                                output_path=str(tmp / f"{name}-reply.wav"), realtime=False,
                                trace_path=tmp / "turns.jsonl")
    engine.opts.hold_input_while_replying = True
    queue = engine.subscribe()
    try:
        await asyncio.wait_for(engine.run(), 300)
    finally:
        await engine.close()
        await app.close()
    seen = []
    while not queue.empty():
        seen.append(queue.get_nowait())
    return seen


def _of(events: list[Any], kind: str) -> list[Any]:
    return [e for e in events if type(e).__name__ == kind]


def _reply_audio(path: Path) -> float:
    from localvox.audio.wav import read_wav

    audio = read_wav(path)
    return float(np.sqrt(np.mean(audio ** 2))) if len(audio) else 0.0


@pytest.mark.parametrize("name", list(SPOKEN))
async def test_listing_answers_a_spoken_turn(name: str, config: Any, parts: Any,
                                             calls: dict[str, Path], tmp_path: Path) -> None:
    events = await _spoken(name, config, parts, calls[name], tmp_path)
    assert [e.name for e in _of(events, "WakeDetected")] == ["hey_jarvis"]
    heard = " ".join(e.text for e in _of(events, "FinalTranscript")).lower()
    key = {"minimal_agent": "moon", "weather_agent": "weather", "bank_agent": "account",
           "transfer_agent": "supervisor", "sentiment_agent": "internet"}[name]
    assert key in heard, heard
    replies = [e.text for e in _of(events, "ReplyDone") if e.text.strip()]
    assert replies, [type(e).__name__ for e in events]
    traces = [t for t in _of(events, "TurnTrace") if "first_audio_out" in t.marks]
    assert traces and "speech_end" in traces[0].marks     # a voice turn, timed to the speaker
    assert _reply_audio(tmp_path / f"{name}-reply.wav") > 0.005
    if name == "weather_agent":
        assert [t.name for t in _of(events, "ToolCallStarted")] == ["get_weather"]
        assert "sunny, 72°F" in replies[-1] and "delhi" in replies[-1].lower()
    if name == "transfer_agent":
        notices = [n.message for n in _of(events, "Notice")
                   if n.message.startswith("transferring")]
        assert notices == [f"transferring (warm) to {NUMBER}, hold music 'uplifting_beats'; "
                           "private hand-off prompt: 'Customer escalation: because my bill "
                           "is wrong'"], notices
        assert [e.reason for e in _of(events, "SessionEnded")] == ["transfer"]


@pytest.mark.parametrize("name", ["minimal_agent", "weather_agent", "bank_agent"])
async def test_listing_answers_a_typed_turn(name: str, config: Any, parts: Any,
                                            tmp_path: Path) -> None:
    # (SmolLM2-135M answered "Say hello to me." with a line of emoji once: nothing to speak)
    line = {"minimal_agent": "What is the capital of France?",
            "weather_agent": "What's the weather in Paris?",
            "bank_agent": "Hello, who am I speaking to?"}[name]
    events = await _typed(name, config, parts, tmp_path, line)
    replies = [e.text for e in _of(events, "ReplyDone")]
    assert len(replies) == 1 and replies[0].strip(), [type(e).__name__ for e in events]
    if name == "weather_agent":
        assert [t.name for t in _of(events, "ToolCallStarted")] == ["get_weather"]
        finished = _of(events, "ToolCallFinished")
        assert finished[0].result == "The weather in paris is sunny, 72°F"
        assert replies[0] == ("One moment while I check that for you. "
                              "The weather in paris is sunny, 72°F")
    assert _reply_audio(tmp_path / f"{name}-typed.wav") > 0.005, (replies, events)


async def test_cold_transfer_listing_by_typing(config: Any, parts: Any, tmp_path: Path) -> None:
    events = await _typed("transfer_agent", config, parts, tmp_path,
                          "Please transfer me to a human agent.")
    assert [t.name for t in _of(events, "ToolCallStarted")] == ["transfer_to_human_agent"]
    assert [n.message for n in _of(events, "Notice") if "transferring" in n.message] == [
        f"transferring (cold) to {NUMBER}, hold music 'relaxing_sound'"]
    assert _of(events, "ReplyDone")[0].text.endswith("Transferring you now.")
    assert [e.reason for e in _of(events, "SessionEnded")] == ["transfer"]


async def test_sentiment_listing_escalates_after_three_frustrated_turns(
        config: Any, parts: Any, tmp_path: Path) -> None:
    events = await _typed("sentiment_agent", config, parts, tmp_path, "This is useless!",
                          "Still not working, ridiculous.", "I am fed up with this.")
    replies = [e.text for e in _of(events, "ReplyDone")]
    assert len(replies) == 3 and all(r.strip() for r in replies)
    assert "supervisor" not in " ".join(replies[:2])
    assert replies[2].endswith("I'm bringing in a supervisor now.")
    assert [n.message for n in _of(events, "Notice") if "transferring" in n.message] == [
        f"transferring (warm) to {NUMBER}, hold music 'uplifting_beats'; private hand-off "
        "prompt: 'Customer escalation: caller sounded negative or frustrated in 3 turns'"]


async def test_transfer_reaches_the_tui_as_a_visible_notice(config: Any, tmp_path: Path) -> None:
    from textual.widgets import Input

    from localvox.agent.launch import engine_factory
    from localvox.tui.app import LocalvoxApp
    from localvox.tui.widgets.conversation import ConversationView

    app = _app("transfer_agent", config)
    tui = LocalvoxApp(config, engine_factory(app, config, "transfer_agent",
                                             output_path=str(tmp_path / "reply.wav")))
    async with tui.run_test(size=(120, 32)) as pilot:
        for _ in range(600):
            await pilot.pause(0.1)
            if tui.engine is not None:
                break
        tui.query_one("#prompt", Input).value = "Please transfer me to a human agent."
        await pilot.press("enter")
        shown = ""
        for _ in range(600):     # up to 60 s on a loaded machine
            await pilot.pause(0.1)
            view = tui.query_one(ConversationView)
            shown = " ".join(str(w.render()) for w in view.query(".notice"))
            if "transferring (cold)" in shown and "conversation ended" in shown:
                break
    assert f"transferring (cold) to {NUMBER}, hold music 'relaxing_sound'" in shown, shown
    assert "conversation ended (transfer)" in shown
    await app.close()


def _cli(*args: str, stdin: str = "", tmp: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", XDG_DATA_HOME=str(tmp / "data"),
               XDG_CONFIG_HOME=str(tmp / "config"), XDG_STATE_HOME=str(tmp / "state"),
               PYTHONUNBUFFERED="1", TRANSFER_NUMBER=NUMBER,
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    env.pop("OPENAI_API_KEY", None)
    env.pop("OPENAI_BASE_URL", None)
    return subprocess.run([sys.executable, *args], input=stdin, capture_output=True, text=True,
                          timeout=300, cwd=REPO, env=env)


def test_localvox_agent_runs_a_listing_headless_on_a_recording(
        calls: dict[str, Path], tmp_path: Path) -> None:
    proc = _cli("-m", "localvox", "agent", "examples/atoms/weather_agent.py", "--text",
                "--set", "llm.tool_mode=intent",
                "--input", str(calls["weather_agent"]), "--output", str(tmp_path / "r.wav"),
                tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("[info] OpenAIClient(model='gpt-4o-mini') answers with the local "
                          "model"), out
    assert "[wake word: hey_jarvis]" in out and "you: What's the weather in New Delhi?" in out
    assert "[tool get_weather: ok" in out and "sunny, 72°F" in out
    assert "(voice-to-voice " in out
    assert _reply_audio(tmp_path / "r.wav") > 0.005


def test_python_listing_chat_flag_and_setup_without_start(tmp_path: Path) -> None:
    proc = _cli("examples/atoms/transfer_agent.py", "--chat", "--set", "llm.tool_mode=intent",
                stdin="Please transfer me to a human agent.\n", tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"[transferring (cold) to {NUMBER}, hold music 'relaxing_sound']" in proc.stdout
    bad = tmp_path / "forgets.py"
    bad.write_text("from localvox.atoms.agent.server import AtomsApp\n"
                   "async def on_start(session):\n    pass\n"
                   "AtomsApp(setup_handler=on_start).run()\n", encoding="utf-8")
    proc = _cli(str(bad), "--chat", tmp=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "localvox: the setup handler on_start() returned without calling session.start()"]


def test_listing_serves_websocket_sessions(tmp_path: Path) -> None:
    """``python transfer_agent.py --serve 127.0.0.1:0``: a client's turn gets the transfer."""
    import json as _json

    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1", TRANSFER_NUMBER=NUMBER,
               XDG_STATE_HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "c"),
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "examples/atoms/transfer_agent.py", "--serve",
                             "127.0.0.1:0"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("serving the agent on ws://127.0.0.1:"), line
        url = line.split()[4]

        async def talk() -> list[dict[str, Any]]:
            from websockets.asyncio.client import connect

            got: list[dict[str, Any]] = []
            async with connect(url) as ws:
                await ws.send(_json.dumps({"type": "agent.transcript.update", "role": "user",
                                           "content": "Please transfer me to a human agent."}))
                await ws.send(_json.dumps({"type": "system.llm.request", "request_id": "1"}))
                async for frame in ws:
                    got.append(_json.loads(frame))
            return got

        frames = asyncio.run(asyncio.wait_for(talk(), 60))
    finally:
        proc.terminate()
        proc.wait(10)
    transfers = [f for f in frames if f["type"] == "agent.transfer_call"]
    assert transfers and transfers[0]["number"] == NUMBER
    assert transfers[0]["option"]["type"] == "cold" and transfers[0]["on_hold_music"] == \
        "relaxing_sound"
