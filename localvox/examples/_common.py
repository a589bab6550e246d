"""Small helpers shared by the examples (not part of the SDK).

``tool_mode(config)`` decides who picks tools: "native" (the model's own function calling
for every turn), "hybrid" (the default with llama_cpp: the intent router first, then the
model with the tools offered -- if it can call tools natively, as the default Qwen2.5 1.5B
does -- else without them) or "intent" (router, then the model without tools: the
deterministic fallback for SmolLM2). ``IntentLLM`` makes intent routing look like an LLM
to the SDK's tool loop: for a routed request it "answers" with the tool call, and after
*its own* call it answers with the tool's sentence, verbatim, so a small model never
garbles a figure. A call the model made itself is answered by the model.
"""

from __future__ import annotations

from typing import Any, AsyncIterator

from localvox.llm.base import ChatChunk


def tool_mode(config: Any) -> str:
    mode = getattr(config.llm, "tool_mode", "auto")
    if mode == "auto":
        return "native" if config.llm.backend == "openai" else "hybrid"
    return mode


def create_llm(config: Any) -> Any:
    from localvox.registry import create

    return create("llm", config.llm.backend, config)


def start_warm(llm: Any, messages: list[dict[str, Any]],
               tools: list[dict[str, Any]] | None) -> "asyncio.Task[None]":
    """Load the model and read the system prompt + tool schemas in the background (the
    first turn then only evaluates the caller's words). Failures are the turn's to report."""
    import asyncio
    import logging

    async def warm() -> None:
        try:
            await llm.warm(messages, tools)
        except Exception:  # noqa: BLE001 - an optimisation; the turn reports real errors
            logging.getLogger(__name__).debug("warming the LLM failed", exc_info=True)

    return asyncio.ensure_future(warm())


class IntentLLM:
    """An ``LLM`` that routes with ``localvox.agent.intent.IntentRouter`` first."""

    def __init__(self, llm: Any, router: Any, *, native: bool = False) -> None:
        self.llm = llm
        self.router = router
        self.native = native
        self._native_ok: bool | None = None
        self.name = f"intent+{getattr(llm, 'name', 'llm')}"

    async def warm(self, messages: list[dict[str, Any]] | None = None,
                   tools: list[dict[str, Any]] | None = None, *,
                   user_so_far: str = "") -> None:
        await self.llm.warm(messages, tools, user_so_far=user_so_far)

    async def supports_tools(self) -> bool:
        return self.native and await self._model_calls_tools()

    async def _model_calls_tools(self) -> bool:
        if self._native_ok is None:
            self._native_ok = bool(await self.llm.supports_tools())
        return self._native_ok

    async def chat(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
                   *, stream: bool = True, **kw: Any) -> AsyncIterator[ChatChunk]:
        last = messages[-1] if messages else {}
        if last.get("role") == "tool" and str(last.get("tool_call_id", "")).startswith("intent_"):
            # our own call: the tool's sentence is the answer (tools return speakable text)
            yield ChatChunk(content=str(last.get("content", "")), finish_reason="stop")
            return
        if tools and last.get("role") == "user":
            call = self.router.tool_call(str(last.get("content", "")))
            if call is not None:
                yield ChatChunk(tool_calls=[call], finish_reason="tool_calls")
                return
        if tools and self.native and await self._model_calls_tools():
            stream_ = self.llm.chat(messages, tools=tools, stream=stream, **kw)
            try:
                async for chunk in stream_:
                    yield chunk
            finally:
                await stream_.aclose()
            return
        if last.get("role") == "tool":  # no native calling: say the result as it is
            yield ChatChunk(content=str(last.get("content", "")), finish_reason="stop")
            return
        chat_messages = [m for m in messages if m.get("role") in ("system", "user")]
        async for sentence in chat_text(self.llm, chat_messages[:1] + chat_messages[1:][-2:]):
            yield ChatChunk(content=sentence)

    async def close(self) -> None:
        await self.llm.close()


async def chat_text(llm: Any, messages: list[dict[str, Any]], *, max_sentences: int = 2,
                    ) -> AsyncIterator[str]:
    """Stream a tool-less reply, stopping at ``max_sentences`` or when a sentence repeats.

    Tiny models loop ("I'm just trying to ... I'm just trying to ..."); a spoken reply should
    be short anyway. Stopping closes the stream, which cancels generation.
    """
    import re

    stream = llm.chat(messages, tools=None, stream=True)
    seen: set[str] = set()
    pending = ""
    said = 0
    try:
        async for chunk in stream:
            if not chunk.content:
                continue
            pending += chunk.content
            while (m := re.search(r"[.!?](\s+|$)", pending)) and m.end() < len(pending) + 1:
                if not m.group(1) and m.end() == len(pending):
                    break  # "3." might be "3.5": wait for more text
                sentence, pending = pending[:m.end()], pending[m.end():]
                key = " ".join(sentence.lower().split())
                if key in seen:
                    return
                seen.add(key)
                yield sentence
                said += 1
                if said >= max_sentences:
                    return
        if pending.strip() and " ".join(pending.lower().split()) not in seen:
            yield pending
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
