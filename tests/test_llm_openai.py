"""The OpenAI-compatible client against a REAL llama.cpp server (llama_cpp.server) on
loopback, serving the packaged SmolLM2 GGUF. No mocks on this path."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from localvox.config import load_config
from localvox.errors import LLMError
from localvox.llm.openai import OpenAICompatibleLLM, ToolCallAccumulator

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.models

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, model: Path, port: int) -> None:
        self.model, self.port, self.proc = model, port, None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model),
             "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", "2048",
             "--chat_format", "chatml-function-calling", "--n_threads", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(f"{self.base_url}/models", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                # The llama.cpp server is another process: polling is the only signal it gives.
                time.sleep(0.3)
        raise RuntimeError("llama_cpp.server did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture(scope="module")
def server():
    from localvox.modelpacks import resolve_model

    srv = Server(resolve_model("smollm2_135m", load_config(use_user_file=False)), _free_port())
    srv.start()
    yield srv
    srv.kill()


async def test_streams_text(server):
    llm = OpenAICompatibleLLM(server.base_url, max_tokens=24, temperature=0)
    chunks = [c async for c in llm.chat([{"role": "user", "content": "Say hello."}])]
    await llm.close()
    text = "".join(c.content for c in chunks)
    assert len([c for c in chunks if c.content]) > 1  # it really streamed, piece by piece
    assert text.strip()
    assert chunks[-1].finish_reason in ("stop", "length") and chunks[-1].tool_calls == []


async def test_streams_tool_call_complete_at_the_end(server):
    llm = OpenAICompatibleLLM(server.base_url, max_tokens=60, temperature=0)
    chunks = [c async for c in llm.chat(
        [{"role": "user", "content": "What's the weather in Paris?"}], tools=[WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}})]
    await llm.close()
    calls = [call for c in chunks for call in c.tool_calls]
    assert len(calls) == 1 and calls is not None
    assert calls[0].name == "get_weather" and calls[0].id
    import json
    assert "city" in json.loads(calls[0].arguments)
    assert all(not c.tool_calls for c in chunks[:-1])  # complete calls only, once, at the end


def test_accumulator_merges_deltas_by_index():
    acc = ToolCallAccumulator()
    acc.add([{"index": 1, "id": "b", "function": {"name": "two", "arguments": "{\"x\""}}])
    acc.add([{"index": 0, "id": "a", "function": {"name": "one", "arguments": ""}}])
    acc.add([{"index": 1, "function": {"arguments": ": 1}"}}])
    calls = acc.calls()
    assert [(c.id, c.name, c.arguments) for c in calls] == [("a", "one", "{}"),
                                                            ("b", "two", "{\"x\": 1}")]


async def test_unreachable_server_is_one_line_error():
    llm = OpenAICompatibleLLM(f"http://127.0.0.1:{_free_port()}/v1", retries=1, backoff_s=0.01)
    with pytest.raises(LLMError) as err:
        [c async for c in llm.chat([{"role": "user", "content": "hi"}])]
    assert "cannot reach the LLM server" in str(err.value) and "\n" not in str(err.value)


async def test_killed_mid_stream_then_conversation_continues(server):
    llm = OpenAICompatibleLLM(server.base_url, max_tokens=400, temperature=0.8)
    messages = [{"role": "user", "content": "Write a long story about a dragon."}]
    got = []
    with pytest.raises(LLMError) as err:
        async for chunk in llm.chat(messages):
            got.append(chunk.content)
            if len(got) == 3:
                server.kill()
    assert len(got) >= 3
    assert "mid-reply" in str(err.value) and "\n" not in str(err.value)
    # while it is down: a clear error, not a hang or a traceback
    with pytest.raises(LLMError):
        [c async for c in llm.chat(messages, max_tokens=5)]
    server.start()
    # the same client object carries on once the server is back
    chunks = [c async for c in llm.chat([{"role": "user", "content": "Say hi."}],
                                        max_tokens=8)]
    assert "".join(c.content for c in chunks).strip()
    await llm.close()


def test_chat_command_against_the_server(server, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "XDG_DATA_HOME": str(tmp_path),
           "XDG_CONFIG_HOME": str(tmp_path)}
    out = subprocess.run(
        [str(ROOT / ".venv/bin/localvox"), "chat", "--llm", "openai", "--base-url",
         server.base_url, "--tool-mode", "intent", "--set", "llm.max_tokens=16"],
        input="What is 12 times 7?\nHello there!\n", capture_output=True, text=True,
        timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert "84" in lines[0]
    assert len(lines) >= 2 and lines[1].strip()  # the LLM on the server answered the greeting
