"""llama.cpp for GGUFs whose chat template localvox does not render itself.

Why apart from ``llama_cpp.py``: the default path renders the model's own template, keeps
the prompt in the KV cache and parses Hermes ``<tool_call>`` blocks. A template without
tool support (SmolLM2, Gemma 3) asked for a tool call, or a GGUF with no template at all,
goes through llama-cpp-python's own handlers instead: slower (no prefix cache, not
streamed for tools) but correct. Called only from ``LlamaCppLLM``'s worker thread.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from localvox.llm.base import ChatChunk
from localvox.llm.openai import ToolCallAccumulator


def grammar_tool_call(llm: Any, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                      overrides: dict[str, Any], put: Callable[[Any], None],
                      defaults: tuple[float, int]) -> None:
    """Tools on a template without tool support: llama-cpp-python's grammar handler."""
    from llama_cpp import llama_chat_format

    handler = llama_chat_format.get_chat_completion_handler("chatml-function-calling")
    wrapped = [t if "function" in t else {"type": "function", "function": t} for t in tools]
    result = handler(llama=llm, messages=messages, tools=wrapped,
                     tool_choice=overrides.pop("tool_choice", "auto"),
                     temperature=overrides.pop("temperature", defaults[0]),
                     max_tokens=overrides.pop("max_tokens", defaults[1]),
                     stream=False)
    choice = result["choices"][0]
    msg = choice.get("message") or {}
    if msg.get("content"):
        put(ChatChunk(content=msg["content"]))
    acc = ToolCallAccumulator()
    acc.add([dict(c, index=i) for i, c in enumerate(msg.get("tool_calls") or [])])
    put(ChatChunk(tool_calls=acc.calls(), finish_reason=choice.get("finish_reason") or "stop"))


def plain_completion(llm: Any, messages: list[dict[str, Any]], overrides: dict[str, Any],
                     stop: threading.Event, put: Callable[[Any], None],
                     defaults: tuple[float, int]) -> None:
    """A GGUF without a chat template: llama-cpp-python's built-in format, streamed."""
    result = llm.create_chat_completion(
        messages=messages, stream=True,
        temperature=overrides.pop("temperature", defaults[0]),
        max_tokens=overrides.pop("max_tokens", defaults[1]))
    for piece in result:
        if stop.is_set():
            break
        delta = piece["choices"][0].get("delta") or {}
        if delta.get("content"):
            put(ChatChunk(content=delta["content"]))
    put(ChatChunk(finish_reason="stop"))
