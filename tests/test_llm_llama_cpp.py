"""llama.cpp in-process backend: streaming, cancel mid-generation, bad model files."""

from __future__ import annotations

import pytest

from localvox.config import load_config
from localvox.errors import LLMError
from localvox.llm.llama_cpp import LlamaCppLLM, create


@pytest.fixture(scope="module")
def llm():
    # the mechanism needs no good brain: the 135M model loads in a fraction of a second
    config = load_config(use_user_file=False)
    config.llm.model = "smollm2_135m"
    model = create(config)
    model.load()
    return model


@pytest.mark.models
async def test_streams_text_then_final_chunk(llm):
    chunks = [c async for c in llm.chat([{"role": "user", "content": "Name a colour."}],
                                        max_tokens=12, temperature=0)]
    assert sum(1 for c in chunks if c.content) > 1
    assert "".join(c.content for c in chunks).strip()
    assert chunks[-1].finish_reason in ("stop", "length") and chunks[-1].tool_calls == []


@pytest.mark.models
async def test_closing_the_stream_stops_generation(llm):
    stream = llm.chat([{"role": "user", "content": "Write a very long story."}],
                      max_tokens=2000, temperature=0.8)
    seen = 0
    async for chunk in stream:
        seen += bool(chunk.content)
        if seen == 3:
            break
    await stream.aclose()
    # the worker notices the stop flag at its next token and releases the model: had it
    # kept generating 2000 tokens, the lock would stay held far longer than this.
    assert llm._gen_lock.acquire(timeout=10)
    llm._gen_lock.release()
    chunks = [c async for c in llm.chat([{"role": "user", "content": "Say yes."}],
                                        max_tokens=4)]
    assert "".join(c.content for c in chunks).strip()  # the model is usable again


@pytest.mark.models
async def test_native_tool_call_is_complete(llm):
    tools = [{"type": "function", "function": {
        "name": "get_weather", "description": "Get the weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}}]
    chunks = [c async for c in llm.chat(
        [{"role": "user", "content": "weather in Paris"}], tools=tools,
        tool_choice={"type": "function", "function": {"name": "get_weather"}})]
    calls = chunks[-1].tool_calls
    assert len(calls) == 1 and calls[0].name == "get_weather" and calls[0].id


async def test_not_a_gguf_is_one_line(tmp_path):
    bad = tmp_path / "model.gguf"
    bad.write_text("this is not a model")
    model = LlamaCppLLM(bad)
    with pytest.raises(LLMError) as err:
        [c async for c in model.chat([{"role": "user", "content": "hi"}])]
    assert "not a GGUF model file" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.models
def test_default_reads_the_gguf_instead_of_mapping_it(llm):
    """A mapped GGUF is resident twice once llama.cpp repacks its weights for the CPU
    (the 1.5B: 1897 MiB mapped vs 1306 MiB read): by default the file is read, not mapped."""
    from pathlib import Path

    maps = Path("/proc/self/maps").read_text()
    assert llm.model_path is not None and llm.model_path.name not in maps
    mapped = LlamaCppLLM(llm.model_path, use_mmap=True)
    mapped.load()
    assert llm.model_path.name in Path("/proc/self/maps").read_text()
