"""The default assistant: built-in tools, routed so that even a 135M model gets them right.

``tool_mode`` (``[llm] tool_mode``):

* ``intent``: each user turn goes through :class:`~localvox.agent.intent.IntentRouter`
  first. A match runs the tool and the tool's own sentence is the reply (no LLM round
  trip, so nothing for a tiny model to garble and no added latency). No match → the LLM
  answers as open conversation, offered no tools (so it cannot call ``set_timer`` for
  "tell me a joke").
* ``native``: the model's own function calling through the SDK's tool loop
  (``run_llm_with_tools``), for capable models behind an OpenAI-compatible server or a
  bigger GGUF.
* ``auto``: native for the ``openai`` backend, intent for ``llama_cpp``.

History is per session (each session builds its own node) and trimmed to the model's
context window before every LLM call; the system prompt is never dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from localvox.agent.builtin_tools import BuiltinTools
from localvox.agent.intent import IntentRouter
from localvox.agent.nodes import OutputAgentNode
from localvox.agent.tools import RunContext, ToolRegistry

if TYPE_CHECKING:
    from localvox.config import Config
    from localvox.llm.base import LLM

log = logging.getLogger(__name__)

_CHARS_PER_TOKEN = 3.5  # fallback estimate when the backend cannot tokenize


def resolve_tool_mode(config: "Config") -> str:
    mode = config.llm.tool_mode
    if mode == "auto":
        return "native" if config.llm.backend == "openai" else "intent"
    return mode


def create_llm(config: "Config") -> "LLM":
    from localvox import registry

    return registry.create("llm", config.llm.backend, config)


class AssistantNode(OutputAgentNode):
    """The output node of the default assistant."""

    def __init__(self, config: "Config", llm: "LLM", *, tools: BuiltinTools | None = None,
                 registry: ToolRegistry | None = None, tool_mode: str | None = None,
                 name: str = "assistant") -> None:
        super().__init__(name=name)
        self.config = config
        self.llm = llm
        self.tools = tools
        self.registry = registry or ToolRegistry(timeout_s=config.agent.tool_timeout_s)
        if tools is not None:
            self.registry.discover(tools)
        self.tool_mode = tool_mode or resolve_tool_mode(config)
        self.router = IntentRouter(self.registry.get_schemas(),
                                   sentences=self.registry.get_sentences())
        if config.agent.system_prompt:
            self.context.add_message({"role": "system", "content": config.agent.system_prompt})
        self._reminders: asyncio.Task[None] | None = None

    # -- lifecycle: speak timers and alarms as they fire -------------------------------------
    async def on_start(self) -> None:
        await super().on_start()
        if self.tools is not None:
            self._reminders = asyncio.create_task(self._speak_reminders(),
                                                  name=f"{self.name}-reminders")

    async def on_stop(self) -> None:
        if self._reminders is not None:
            self._reminders.cancel()
            await asyncio.gather(self._reminders, return_exceptions=True)
            self._reminders = None
        await super().on_stop()

    async def _speak_reminders(self) -> None:
        assert self.tools is not None
        while True:
            reminder = await self.tools.timers.due.get()
            await self.speak(reminder.message, record=True)

    def refresh_tools(self) -> None:
        """Call after registering more tools on ``self.registry`` (user tools)."""
        self.router.set_tools(self.registry.get_schemas(), self.registry.get_sentences())

    # -- context window ----------------------------------------------------------------------
    def _count_tokens(self, messages: list[dict[str, Any]]) -> int:
        text = "\n".join(f"{m['role']}: {m.get('content') or ''}"
                         f"{json.dumps(m['tool_calls']) if m.get('tool_calls') else ''}"
                         for m in messages)
        counter = getattr(self.llm, "tokenize_len", None)
        if counter is not None:
            try:
                return int(counter(text)) + 4 * len(messages)
            except Exception:  # noqa: BLE001 - a count is an estimate; never fail a turn
                pass
        return int(len(text) / _CHARS_PER_TOKEN) + 4 * len(messages)

    def trim_history(self) -> int:
        budget = self.config.llm.n_ctx - self.config.llm.max_tokens - 32
        return self.context.trim(fits=lambda msgs: self._count_tokens(msgs) <= budget)

    # -- replies -----------------------------------------------------------------------------
    async def generate_response(self) -> AsyncIterator[str]:
        if self.tool_mode == "intent":
            last = self.context.last("user")
            call = self.router.tool_call(last["content"]) if last else None
            if call is not None:
                results = await self.registry.execute(
                    [call], context=RunContext(session=self.session, node=self),
                    emit=self.send_event)
                yield spoken_result(results[0].content, results[0].is_error)
                return
            self.trim_history()
            async for chunk in self._stream(self.llm.chat(self.context.messages)):
                yield chunk
            return
        self.trim_history()
        agent = self.config.agent
        async for chunk in self.run_llm_with_tools(
                self.llm, self.registry, max_rounds=agent.max_tool_rounds,
                holding_phrase=agent.holding_phrase, holding_after_ms=agent.holding_after_ms):
            yield chunk

    async def _stream(self, stream: AsyncIterator[Any]) -> AsyncIterator[str]:
        try:
            async for chunk in stream:
                if chunk.content:
                    yield chunk.content
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()


def spoken_result(content: str, is_error: bool) -> str:
    """A tool result as a sentence for the user ("Error: calculate failed: x" → "Sorry, x")."""
    if not is_error:
        return content
    text = content.removeprefix("Error: ")
    if " failed: " in text:
        text = text.split(" failed: ", 1)[1]
    text = text.rstrip(".")
    return f"Sorry, {text[:1].lower()}{text[1:]}."


def create_app(config: "Config", llm: "LLM | None" = None,
               tools_factory: Any = None) -> Any:
    """The default assistant as an :class:`~localvox.agent.app.App`.

    One LLM is shared by every session (the model loads once); each session gets its own
    node, history and timers. ``tools_factory(config) -> BuiltinTools`` lets tests point
    notes at a temporary database.
    """
    from localvox.agent.app import App

    shared: dict[str, Any] = {"llm": llm}

    async def setup(session: Any) -> None:
        if shared["llm"] is None:
            shared["llm"] = create_llm(config)
        tools = (tools_factory or BuiltinTools)(config)
        session.add_node(AssistantNode(config, shared["llm"], tools=tools))
        await session.start()

    return App(setup)
