"""The weather example: intent routing on the tiny model, the SDK tool loop, "one moment"
only when the lookup is slow, JSON arguments, and tools offered again after a result.

The weather service is open-meteo (unreachable here), so a loopback server answers with
its documented JSON shapes (geocoding ``results[]``; forecast ``current`` and ``daily``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from localvox.agent import events as ev
from localvox.config import load_config
from localvox.examples.weather import create_app
from localvox.llm.base import ChatChunk, ToolCall

REPO = Path(__file__).resolve().parent.parent
PLACES = {"new delhi": (28.61, 77.21, "New Delhi", 31.4), "mumbai": (19.07, 72.88, "Mumbai", 29.0)}


class OpenMeteo(BaseHTTPRequestHandler):
    delay_s = 0.0
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        type(self).requests.append(self.path)
        # A slow weather API, in the server thread: what the "one moment" feedback is for.
        time.sleep(type(self).delay_s)
        if url.path.endswith("/search"):
            hit = PLACES.get(q.get("name", "").lower())
            body = {"results": [{"name": hit[2], "latitude": hit[0], "longitude": hit[1]}]} \
                if hit else {}
        else:
            temp = next(p[3] for p in PLACES.values() if abs(p[0] - float(q["latitude"])) < 0.01)
            body = {"current": {"temperature_2m": temp, "weather_code": 1, "wind_speed_10m": 9},
                    "daily": {"temperature_2m_max": [temp + 3], "temperature_2m_min": [temp - 6],
                              "precipitation_probability_max": [10]}}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), OpenMeteo)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def config(server):
    cfg = load_config()
    cfg.agent.weather_url = f"{server}/v1/forecast"
    cfg.agent.geocode_url = f"{server}/v1/search"
    cfg.agent.holding_after_ms = 150
    OpenMeteo.delay_s = 0.0
    return cfg


class NoChatLLM:
    name = "no-chat"

    async def chat(self, messages, tools=None, stream=True, **kw):  # noqa: ANN001
        raise AssertionError("a routed weather request must not reach the LLM")
        yield  # pragma: no cover

    async def close(self) -> None:
        pass


async def _turn(session, text):
    chunks, events = [], []
    async for e in session.turn(text):
        events.append(e)
        if isinstance(e, ev.ResponseChunk):
            chunks.append(e.text)
    return chunks, events


async def test_intent_mode_routes_the_tiny_model_and_answers_from_the_service(config):
    config.llm.backend, config.llm.tool_mode = "llama_cpp", "auto"
    config.agent.holding_after_ms = 3000  # far above a loopback lookup
    app = create_app(config, llm=NoChatLLM())
    session = await app.open_session()
    chunks, events = await _turn(session, "What's the weather in New Delhi?")
    await app.close()
    [start] = [e for e in events if isinstance(e, ev.ToolCallStart)]
    assert start.name == "get_weather"
    assert json.loads(start.arguments)["location"].lower() == "new delhi"  # JSON, not str(dict)
    reply = "".join(chunks)
    assert "New Delhi" in reply and "31 degrees" in reply
    assert "One moment" not in reply  # a fast lookup needs no holding phrase


async def test_slow_lookup_says_one_moment_first(config):
    OpenMeteo.delay_s = 0.3  # two requests, 0.6 s: well past holding_after_ms (150 ms)
    app = create_app(config, llm=NoChatLLM())
    session = await app.open_session()
    chunks, _ = await _turn(session, "What's the weather in Mumbai?")
    await app.close()
    assert chunks[0].startswith("One moment")
    assert "29 degrees" in "".join(chunks[1:])


class ScriptedCapableModel:
    """Stands in for a capable function-calling model (none runs on this machine): asks
    for New Delhi, then for Mumbai after reading the first result, then answers."""

    name = "scripted"

    def __init__(self) -> None:
        self.offered: list[bool] = []
        self.seen: list[list[dict]] = []

    async def chat(self, messages, tools=None, stream=True, **kw):  # noqa: ANN001
        self.offered.append(bool(tools))
        self.seen.append([dict(m) for m in messages])
        tool_results = [m for m in messages if m["role"] == "tool"]
        if len(tool_results) == 0:
            yield ChatChunk(tool_calls=[ToolCall("c1", "get_weather", '{"location": "New Delhi"}')])
        elif len(tool_results) == 1 and tools:
            yield ChatChunk(tool_calls=[ToolCall("c2", "get_weather", '{"location": "Mumbai"}')])
        else:
            yield ChatChunk(content="Delhi is warmer than Mumbai today.")

    async def close(self) -> None:
        pass


async def test_native_mode_chains_tools_and_keeps_json_arguments(config):
    config.llm.tool_mode = "native"
    config.agent.holding_after_ms = 5000
    model = ScriptedCapableModel()
    app = create_app(config, llm=model)
    session = await app.open_session()
    chunks, events = await _turn(session, "Is Delhi warmer than Mumbai?")
    await app.close()
    assert "".join(chunks) == "Delhi is warmer than Mumbai today."
    assert model.offered == [True, True, True]  # the follow-up call still offers the tools
    assistant_calls = [m for m in model.seen[-1] if m.get("tool_calls")]
    for m in assistant_calls:
        json.loads(m["tool_calls"][0]["function"]["arguments"])
    results = [m["content"] for m in model.seen[-1] if m["role"] == "tool"]
    assert "31 degrees" in results[0] and "29 degrees" in results[1]
    assert sum(isinstance(e, ev.ToolCallEnd) for e in events) == 2


@pytest.mark.models
def test_text_mode_on_the_default_model(server, tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", XDG_DATA_HOME=str(tmp_path),
               XDG_CONFIG_HOME=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, "-m", "localvox", "example", "weather", "--text",
         "--set", f"agent.weather_url={server}/v1/forecast",
         "--set", f"agent.geocode_url={server}/v1/search"],
        input="What's the weather in New Delhi?\nThanks! Say hello.\n", capture_output=True,
        text=True, timeout=180, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.split("you> ")[1:3]
    assert "In New Delhi it's 31 degrees" in first
    assert second.split("agent> ", 1)[1].strip()  # the default model answered the chit-chat


@pytest.fixture(scope="module")
def default_llm():
    from localvox.examples._common import create_llm

    return create_llm(load_config(use_user_file=False))


@pytest.mark.models
async def test_default_model_calls_get_weather_natively_when_no_template_matches(
        config, default_llm):
    """"Should I wear shorts in Mumbai?" matches no weather template: hybrid mode offers the
    tool to the model, which calls it through its own <tool_call> format."""
    config.llm.tool_mode = "auto"
    config.agent.holding_after_ms = 5000
    app = create_app(config, llm=default_llm)
    session = await app.open_session()
    chunks, events = await _turn(session, "Should I wear shorts in Mumbai today?")
    await app.close()
    starts = [e for e in events if isinstance(e, ev.ToolCallStart)]
    assert starts and all(s.name == "get_weather" and not s.call_id.startswith("intent_")
                          for s in starts)
    assert "mumbai" in json.loads(starts[0].arguments)["location"].lower()
    reply = "".join(chunks)
    assert reply.strip() and "<tool_call>" not in reply and "{" not in reply
