"""The engine's agent port over the real SDK session and default assistant (scripted LLM)."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import pytest

from localvox.config import load_config
from localvox.llm.base import ChatChunk
from localvox.pipeline.agent_port import ReplyText, SessionAgent, ToolFinished, ToolStarted


class ScriptedLLM:
    """Streams ``reply`` word by word, ``delay`` s apart; remembers what it was asked."""

    name = "scripted"

    def __init__(self, reply: str, delay: float = 0.02) -> None:
        self.reply, self.delay = reply, delay
        self.requests: list[list[dict[str, Any]]] = []
        self.cancelled = 0

    async def chat(self, messages, tools=None, *, stream=True, **kw) -> AsyncIterator[ChatChunk]:
        self.requests.append([dict(m) for m in messages])
        done = False
        try:
            for i, word in enumerate(self.reply.split()):
                await asyncio.sleep(self.delay)
                yield ChatChunk(content=(" " if i else "") + word)
            yield ChatChunk(finish_reason="stop")
            done = True
        finally:
            if not done:
                self.cancelled += 1

    async def close(self) -> None:
        pass


@pytest.fixture
async def agent(tmp_path):
    from localvox.agent.assistant import create_app

    config = load_config(use_user_file=False)
    config.llm.tool_mode = "intent"
    config.agent.notes_db = str(tmp_path / "notes.db")
    llm = ScriptedLLM("Once upon a time there was a tiny robot who loved to sing songs. "
                      "It sang all day long.", delay=0.03)
    app = create_app(config, llm=llm)
    port = SessionAgent(await app.open_session())
    port.llm = llm  # type: ignore[attr-defined]
    yield port
    await port.close()


def _history(port: SessionAgent) -> list[dict[str, Any]]:
    (ctx,) = port._contexts()
    return [m for m in ctx.history if m["role"] != "system"]


async def test_respond_streams_text_and_records_the_turn(agent):
    pieces = [p async for p in agent.respond("tell me a story")]
    text = "".join(p.text for p in pieces if isinstance(p, ReplyText))
    assert text.startswith("Once upon a time") and text.endswith("long.")
    hist = _history(agent)
    assert [m["role"] for m in hist] == ["user", "assistant"]
    assert hist[0]["content"] == "tell me a story" and not hist[1].get("interrupted")


async def test_closing_early_stops_the_llm_and_records_interrupted(agent):
    gen = agent.respond("tell me a story")
    got = []
    async for piece in gen:
        got.append(piece)
        if len(got) == 3:
            break
    await gen.aclose()
    # Closing the stream alone stops the SDK's generation (it runs in the node's task).
    await asyncio.sleep(0.1)
    assert agent.llm.cancelled == 1
    await agent.interrupt("Once upon a")                 # what the engine does next: harmless
    hist = _history(agent)
    assert hist[-1]["role"] == "assistant" and hist[-1].get("interrupted") is True
    assert "sang all day" not in hist[-1]["content"]


async def test_discard_forgets_a_speculative_turn(agent):
    _ = [p async for p in agent.respond("hello there")]
    before = [dict(m) for m in _history(agent)]
    gen = agent.respond("tell me a sto")
    async for _piece in gen:
        break
    await gen.aclose()
    await agent.discard()
    assert _history(agent) == before
    # The next real turn sees no trace of the guess.
    _ = [p async for p in agent.respond("tell me a story")]
    last_request = agent.llm.requests[-1]
    assert not any("tell me a sto" == m.get("content") for m in last_request)


async def test_can_speculate_only_where_no_tool_can_run(agent):
    assert agent.can_speculate("tell me a story about robots")
    assert not agent.can_speculate("what time is it")          # the intent router's clock
    pieces = [p async for p in agent.respond("what time is it")]
    assert any(isinstance(p, ToolStarted) and p.name == "get_time" for p in pieces)
    assert any(isinstance(p, ToolFinished) and not p.is_error for p in pieces)
