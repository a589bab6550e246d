"""`localvox chat` end to end in a subprocess, and the assistant's history handling."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from localvox.agent.assistant import AssistantNode, spoken_result
from localvox.config import load_config

ROOT = Path(__file__).resolve().parents[1]


def _localvox() -> str:
    exe = ROOT / ".venv" / "bin" / "localvox"
    if not exe.exists():
        pytest.skip("run `.venv/bin/pip install -e . --no-deps` first")
    return str(exe)


@pytest.mark.models
def test_piped_chat_answers_and_exits(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "XDG_DATA_HOME": str(tmp_path),
           "XDG_CONFIG_HOME": str(tmp_path)}
    out = subprocess.run(
        [_localvox(), "chat", "--set", "llm.max_tokens=16"],
        input="What is 12 times 7?\nwhat is 5 divided by 0\nTake a note to buy milk\n"
              "Hi, how are you?\n",
        capture_output=True, text=True, timeout=180, env=env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "12 times 7 is 84."
    assert lines[1] == "Sorry, you can't divide by zero."  # error is one line; chat goes on
    assert lines[2] == "Noted: buy milk."
    assert len(lines) >= 4 and lines[3].strip()  # the LLM answered the chit-chat
    assert (tmp_path / "localvox" / "notes.sqlite3").is_file()


def test_bad_model_is_one_line_and_exit_code(tmp_path):
    bad = tmp_path / "x.gguf"
    bad.write_text("nope")
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    out = subprocess.run([_localvox(), "chat", "--llm-model", str(bad)],
                         input="hello\nwhat is 2 plus 2\n", capture_output=True, text=True,
                         timeout=60, env=env)
    # the LLM cannot load: the chit-chat line gets a one-line error, the tool line still works
    assert "not a GGUF model file" in out.stderr
    assert len([ln for ln in out.stderr.splitlines() if "GGUF" in ln]) == 1
    assert "2 plus 2 is 4." in out.stdout


def test_history_trim_keeps_system_prompt(tmp_path):
    config = load_config(use_user_file=False)
    config.llm.n_ctx = 300
    config.llm.max_tokens = 100

    class NoLLM:
        name = "none"

    node = AssistantNode(config, NoLLM())  # type: ignore[arg-type]
    for i in range(40):
        node.context.add_message({"role": "user", "content": f"question {i} " * 5})
        node.context.add_message({"role": "assistant", "content": f"answer {i} " * 5})
    dropped = node.trim_history()
    messages = node.context.messages
    assert dropped > 0
    assert messages[0] == {"role": "system", "content": config.agent.system_prompt}
    assert messages[-1]["content"].startswith("answer 39")
    assert node._count_tokens(messages) <= config.llm.n_ctx - config.llm.max_tokens


def test_spoken_error_result():
    assert spoken_result("Error: calculate failed: you can't divide by zero", True) == \
        "Sorry, you can't divide by zero."
    assert spoken_result("It's 3 PM.", False) == "It's 3 PM."


async def test_timer_fires_during_session_and_is_spoken(tmp_path):
    import asyncio

    from localvox.agent.assistant import create_app
    from localvox.agent.builtin_tools import BuiltinTools
    from localvox.agent.events import ResponseChunk, Speak

    class NoLLM:
        name = "none"

    config = load_config(use_user_file=False)
    app = create_app(config, llm=NoLLM(),  # type: ignore[arg-type]
                     tools_factory=lambda c: BuiltinTools(c, notes_path=tmp_path / "n.db"))
    session = await app.open_session()
    events = session.events()
    reply = [e.text async for e in session.turn("set a timer for one second")
             if isinstance(e, ResponseChunk)]
    assert "".join(reply) == "Timer set for 1 second."

    async def next_speak() -> Speak:
        async for event in events:
            if isinstance(event, Speak):
                return event
        raise AssertionError("stream ended")

    spoken = await asyncio.wait_for(next_speak(), timeout=10)
    assert spoken.text == "Your 1 second timer is done."
    await app.close()
