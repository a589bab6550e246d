"""The default assistant: built-in tools, routed so every model size gets them right.

``tool_mode`` (``[llm] tool_mode``):

* ``hybrid`` (``auto`` with llama_cpp): each user turn goes through
  :class:`~localvox.agent.intent.IntentRouter` first -- instant and 95-100% right on the
  bundled tool sets. A match runs the tool and its own sentence is the reply. What the
  router does not match goes to the LLM with the user's ``@function_tool``s offered
  (the tools without templates) when the model calls tools natively (Qwen2.5's
  ``<tool_call>`` template); the built-ins stay with the router (see
  ``offered_schemas``). A model without native calling (SmolLM2, Gemma 3) gets the turn
  without tools, as plain conversation -- the deterministic fallback.
* ``intent``: router first, then the LLM without tools (the old default).
* ``native``: the model's own function calling for every turn (``openai`` backend).

Replies from the LLM are shaped for speech (``localvox.llm.spoken``): no markdown or
lists, at most ``[llm] spoken_max_sentences`` sentences and ``spoken_max_chars``
characters, generation stopped at the cap. History is per session; the exact fit to the
context window is done by the backend in its worker thread (it owns the tokenizer); here
it is only bounded by a character estimate, so nothing on the event loop tokenizes.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from localvox.agent.builtin_tools import BuiltinTools
from localvox.agent.events import Event, LLMRequest
from localvox.agent.intent import IntentRouter
from localvox.agent.nodes import OutputAgentNode
from localvox.agent.tools import RunContext, ToolRegistry
from localvox.errors import LocalvoxError
from localvox.llm.spoken import SpokenFilter

if TYPE_CHECKING:
    from localvox.config import Config
    from localvox.llm.base import LLM

log = logging.getLogger(__name__)

_CHARS_PER_TOKEN = 3.5  # estimate for bounding the history; the backend fits exactly


def resolve_tool_mode(config: "Config") -> str:
    mode = config.llm.tool_mode
    if mode == "auto":
        return "native" if config.llm.backend == "openai" else "hybrid"
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
        self._warming: asyncio.Task[None] | None = None
        self._native: bool | None = None

    # -- lifecycle: warm the model, speak timers and alarms as they fire -----------------------
    async def on_start(self) -> None:
        await super().on_start()
        if self.tools is not None:
            self._reminders = asyncio.create_task(self._speak_reminders(),
                                                  name=f"{self.name}-reminders")
        self._warm_next(self.system_messages())

    async def process_event(self, event: Event) -> None:
        await super().process_event(event)
        if isinstance(event, LLMRequest) and self.config.llm.read_ahead:
            self._warm_next(self.context.messages)  # the reply is recorded: read what follows

    def prepare_turn(self, heard_so_far: str) -> None:
        """Have the model read the user's words while they are still talking.

        A chat turn's first token waits for the model to read the question (about 13
        tokens, ~0.3-0.4 s for the 1.5B on two cores, most of it after the final transcript
        in ``bench latency``); read from the partials, only the last words and the closing
        header are left. Not for a turn the router already claims (a tool answers it)."""
        if not self.config.llm.read_ahead or not heard_so_far.strip() \
                or self._router_claims(heard_so_far):
            return
        self._warm_next(self.context.messages, heard_so_far)

    def _router_claims(self, text: str) -> bool:
        if self.tool_mode == "native":
            return False
        try:
            return self.router.tool_call(text) is not None
        except Exception:  # noqa: BLE001 -- the turn itself will report it
            return True

    def _warm_next(self, messages: list[dict[str, Any]], user_so_far: str = "") -> None:
        self._warming = asyncio.create_task(self._warm(list(messages), user_so_far),
                                            name=f"{self.name}-warm")

    async def prepared(self) -> None:
        """Wait until the model has read what the next turn starts with (benches, tests):
        what a user speaking or typing the next question gives it time for."""
        if self._warming is not None:
            await asyncio.gather(self._warming, return_exceptions=True)

    async def _warm(self, messages: list[dict[str, Any]], user_so_far: str = "") -> None:
        """Load the model and evaluate what the next turn starts with in the background:
        at start the system prompt + tool schemas, so the engine listens at once; after a
        reply the history up to the next user's words, so a turn reads only its own."""
        try:
            await self.llm.warm(messages, self.offered_schemas(), user_so_far=user_so_far)
        except LocalvoxError as exc:
            # the turn that needs the model says it (one line); routed turns still work
            log.info("the LLM is not ready: %s", exc)
        except Exception:  # noqa: BLE001 - warming is an optimisation, the turn reports
            log.warning("warming the LLM failed", exc_info=True)

    async def on_stop(self) -> None:
        for task in (self._reminders, self._warming):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._reminders = self._warming = None
        await super().on_stop()

    async def _speak_reminders(self) -> None:
        assert self.tools is not None
        while True:
            reminder = await self.tools.timers.due.get()
            await self.speak(reminder.message, record=True)

    def refresh_tools(self) -> None:
        """Call after registering more tools on ``self.registry`` (user tools)."""
        self.router.set_tools(self.registry.get_schemas(), self.registry.get_sentences())

    def system_messages(self) -> list[dict[str, Any]]:
        return [m for m in self.context.messages[:1] if m["role"] == "system"]

    def offered_schemas(self) -> list[dict[str, Any]] | None:
        """The tools the LLM is offered: every tool in native mode; in hybrid mode the ones
        the router has no templates for (user ``@function_tool``s). The built-ins stay the
        router's: offered all 13 built-in schemas, the 1.5B called a tool on "I'm bored."
        and "How many legs does a spider have?" (bench chat), while the router is 95-100%
        right on them and never calls one on chit-chat."""
        if self.tool_mode == "intent" or not len(self.registry):
            return None
        schemas = self.registry.get_schemas()
        if self.tool_mode == "hybrid":
            schemas = [t for t in schemas
                       if t.get("function", t)["name"] not in self.router.builtin]
        return schemas or None

    def can_speculate(self, text: str) -> bool:
        """Only where no tool can run: the router does not claim ``text`` and the LLM is
        offered no tools (hybrid or intent mode with only the built-ins, the default).
        Measured before (bench latency, default brain): chat turns were never speculated
        (0 of 5), so the 1.5B only started after the whole end-of-turn wait."""
        if self.tool_mode == "native" or self.offered_schemas() is not None:
            return False
        try:
            return self.router.tool_call(text) is None
        except Exception:  # noqa: BLE001 -- when unsure, do not guess
            return False

    async def native_tools(self) -> bool:
        """Does this turn's LLM call get tools? (asked once; the model's template decides)."""
        if self.offered_schemas() is None:
            return False
        if self._native is None:
            self._native = self.tool_mode == "native" or await self.llm.supports_tools()
        return self._native

    # -- context window ----------------------------------------------------------------------
    def _count_tokens(self, messages: list[dict[str, Any]]) -> int:
        """A cheap estimate (no tokenizer on the event loop); the backend fits exactly."""
        text = "\n".join(f"{m['role']}: {m.get('content') or ''}"
                         f"{json.dumps(m['tool_calls']) if m.get('tool_calls') else ''}"
                         for m in messages)
        return int(len(text) / _CHARS_PER_TOKEN) + 4 * len(messages)

    def trim_history(self) -> int:
        budget = self.config.llm.n_ctx - self.config.llm.max_tokens - 32
        return self.context.trim(fits=lambda msgs: self._count_tokens(msgs) <= budget)

    # -- replies -----------------------------------------------------------------------------
    async def generate_response(self) -> AsyncIterator[str]:
        last = self.context.last("user")
        user_text = str(last["content"]) if last else ""
        if self.tool_mode in ("intent", "hybrid") and last is not None:
            call = self.router.tool_call(user_text)
            if call is not None:
                results = await self.registry.execute(
                    [call], context=RunContext(session=self.session, node=self),
                    emit=self.send_event)
                yield spoken_result(results[0].content, results[0].is_error)
                return
        self.trim_history()
        cfg = self.config.llm
        shaper = SpokenFilter.for_request(user_text, max_sentences=cfg.spoken_max_sentences,
                                          max_chars=cfg.spoken_max_chars)
        if await self.native_tools():
            agent = self.config.agent
            offered = self.registry if self.tool_mode == "native" else self._user_registry()
            source = self.run_llm_with_tools(
                self.llm, offered, max_rounds=agent.max_tool_rounds,
                holding_phrase=agent.holding_phrase, holding_after_ms=agent.holding_after_ms)
        else:
            source = self._stream(self.llm.chat(self.context.messages))
        async for chunk in shaped(source, shaper, self.config.agent.holding_phrase):
            yield chunk

    def _user_registry(self) -> ToolRegistry:
        """The registry restricted to the tools offered in hybrid mode (same callables)."""
        return self.registry.subset(t.get("function", t)["name"]
                                    for t in self.offered_schemas() or [])

    async def _stream(self, stream: AsyncIterator[Any]) -> AsyncIterator[str]:
        try:
            async for chunk in stream:
                if chunk.content:
                    yield chunk.content
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()


async def shaped(source: AsyncIterator[str], shaper: SpokenFilter,
                 holding_phrase: str = "") -> AsyncIterator[str]:
    """Pass ``source`` through the speech filter; close it (stopping generation) at the cap.

    The tool loop's holding phrase passes unchanged (the loop recognises it to keep it out
    of the history) and does not count against the cap.
    """
    filler = holding_phrase.strip()
    try:
        async for piece in source:
            if filler and piece.strip() == filler:
                yield piece
                continue
            text = shaper.feed(piece)
            if text:
                yield text
            if shaper.done:
                return
        rest = shaper.finish()
        if rest:
            yield rest
    finally:
        aclose = getattr(source, "aclose", None)
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
