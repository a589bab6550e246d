"""``OutputAgentNode``: the node that talks -- ``LLMRequest`` in, a streamed reply out.

Why apart from ``node_base``: the reply framing (``ResponseStart`` / ``ResponseChunk``... /
``ResponseEnd``, always, even after an error or an interrupt), recording the reply in the
context exactly once (marked ``interrupted`` when cut off), handoffs (end call, transfer)
and the tool loop (``run_llm_with_tools``: parallel tool calls, a holding phrase only after
``holding_after_ms``) are the output node's own; the queue and task machinery is shared
with every node. Import it from ``localvox.agent.nodes``, the SDK's path.
"""

from __future__ import annotations

import abc
import asyncio
import inspect
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from localvox.agent.context import ContextManager
from localvox.agent.events import (EndCall, Event, LLMRequest, ResponseChunk, ResponseEnd,
                                   ResponseStart, Speak, TranscriptUpdate, TransferCall,
                                   TransferOption)
from localvox.agent.node_base import Node
from localvox.agent.tools import RunContext, ToolRegistry, ToolResult
from localvox.llm.base import LLM, ToolCall

log = logging.getLogger("localvox.agent.nodes")

# Said to the model (not recorded) when several tool rounds are used up. Without it the
# default 1.5B, offered no tools after four rounds of verify_customer / execute_query in the
# bank example, wrote yet another <tool_call> (cut from speech): the caller heard nothing.
ANSWER_NOW = ("Answer the user now in one or two short sentences, using only the tool results "
              "above. Do not call tools.")


def _canonical(arguments: Any) -> str:
    """A tool call's arguments in one spelling, to spot the same call made again."""
    import json

    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return arguments
    return json.dumps(arguments, sort_keys=True, default=str)


class OutputAgentNode(Node, abc.ABC):
    """The node that talks: turns ``LLMRequest`` into a streamed reply.

    Subclasses implement ``generate_response()``, an async generator of text chunks that
    reads ``self.context``. The framework wraps each reply in ``ResponseStart`` /
    ``ResponseChunk``… / ``ResponseEnd`` (always, even after an error or an interrupt),
    adds user transcripts to the context, records the reply in the context (marked
    ``interrupted`` when cut off) and emits ``TranscriptUpdate(role="assistant")``.
    After an ``EndCall`` or ``TransferCall`` the node answers no further requests.
    """

    def __init__(self, name: str | None = None, interruptible: bool = True) -> None:
        super().__init__(name, interruptible)
        self.context = ContextManager()
        self._handoff: Event | None = None
        self._unrecorded: list[str] = []

    @abc.abstractmethod
    def generate_response(self) -> AsyncIterator[str]:
        """Yield the reply as text chunks (an ``async def`` with ``yield``)."""

    async def on_event(self, event: Event) -> None:
        """Hook: called for every event before the framework answers an ``LLMRequest``."""

    def can_speculate(self, text: str) -> bool:
        """May a reply to ``text`` start before the final transcript confirms it?

        The speech loop may answer a partial transcript during the end-of-turn silence and
        throw the reply away if the final differs; that is only safe when answering runs
        nothing with an effect (no tool). Default False: a node that knows it calls no tool
        for ``text`` says so (the built-in assistant does for chat turns).
        """
        return False

    def prepare_turn(self, heard_so_far: str) -> None:
        """Hook: the user is still talking and has said ``heard_so_far`` so far.

        The speech loop passes each partial transcript here, before the final one starts
        the turn; a node may get ready for it (the built-in assistant has its model read
        the words). It must not act on it. Default: nothing.
        """

    @property
    def handoff_started(self) -> bool:
        """True once this node (or anyone in the session) ended or transferred the call."""
        return self._handoff is not None or (self.session is not None and self.session.ended)

    async def send_event(self, event: Event) -> None:
        if isinstance(event, (EndCall, TransferCall)) and self._handoff is None:
            self._handoff = event
        await super().send_event(event)

    async def speak(self, text: str, *, record: bool = False) -> None:
        """Say ``text`` outside a reply (e.g. a greeting on ``UserJoined``).

        ``record=True`` also adds it to the context as an assistant message.
        """
        if self.session is None:
            log.warning("%s.speak() outside a session: nobody will hear it", self.name)
        await self.send_event(Speak(text=text))
        if record:
            self.context.add_message({"role": "assistant", "content": text})

    async def end_call(self, reason: str = "") -> None:
        await self.send_event(EndCall(reason=reason))

    async def transfer_call(self, number: str, option: TransferOption | None = None,
                            on_hold_music: str | None = None) -> None:
        await self.send_event(TransferCall(number=number, option=option or TransferOption(),
                                           on_hold_music=on_hold_music))

    async def process_event(self, event: Event) -> None:
        await self.send_event(event)
        if isinstance(event, TranscriptUpdate) and event.role == "user":
            self.context.add_message({"role": "user", "content": event.content})
        await self.on_event(event)
        if isinstance(event, LLMRequest):
            await self._respond(event)

    async def _respond(self, request: LLMRequest) -> None:
        rid = request.request_id
        await self.send_event(ResponseStart(request_id=rid))
        said: list[str] = []
        self._unrecorded = []
        size_before = len(self.context)
        interrupted = False
        try:
            if self.handoff_started:
                return
            gen = self.generate_response()
            try:
                async for chunk in gen:
                    if not isinstance(chunk, str):
                        raise TypeError("generate_response() must yield str, "
                                        f"got {type(chunk).__name__}")
                    if not chunk:
                        continue
                    said.append(chunk)
                    self._unrecorded.append(chunk)
                    await self.send_event(ResponseChunk(text=chunk, request_id=rid))
            finally:
                aclose = getattr(gen, "aclose", None)
                if aclose is not None:
                    await aclose()
        except asyncio.CancelledError:
            interrupted = True
            raise
        except Exception as exc:
            await self._report(exc, request, "generate_response")
        finally:
            self._record_reply(interrupted, size_before)
            text = "".join(said)
            if text.strip():
                await self.send_event(TranscriptUpdate(role="assistant", content=text,
                                                       interrupted=interrupted))
            await self.send_event(ResponseEnd(interrupted=interrupted, request_id=rid))

    def _record_reply(self, interrupted: bool, size_before: int) -> None:
        """Put what was said (and not yet recorded) in the context, once.

        ``generate_response`` may record its own reply, as the Atoms examples do; then the
        framework only records a reply that was cut off before the code got there.
        """
        text = "".join(self._unrecorded)
        self._unrecorded = []
        if not text.strip():
            return
        added = self.context.history[size_before:]
        recorded_itself = any(m["role"] == "assistant" and not m.get("tool_calls")
                              for m in added)
        if recorded_itself and not interrupted:
            return
        last = self.context.last()
        if last is not None and last["role"] == "assistant" and last.get("content") == text:
            return
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if interrupted:
            message["interrupted"] = True
        self.context.add_message(message)

    async def run_llm_with_tools(self, llm: LLM, tools: ToolRegistry | None = None, *,
                                 max_rounds: int = 4, holding_phrase: str = "One moment.",
                                 holding_after_ms: float = 700,
                                 **chat_kwargs: Any) -> AsyncIterator[str]:
        """The tool loop, as an async generator to ``yield from`` in ``generate_response``.

        Streams the model's text; when it asks for tools, records the assistant tool-call
        message, runs the calls through ``tools`` (in parallel), says ``holding_phrase``
        only if they take longer than ``holding_after_ms``, records the results and streams
        the follow-up. At most ``max_rounds`` tool rounds; then one last answer is asked
        for without tools. Stops after a handoff (end call / transfer).
        """
        schemas = tools.get_schemas() if tools is not None and len(tools) else None
        rounds = 0
        previous: set[tuple[str, str]] = set()
        while True:
            offered = schemas if rounds < max_rounds else None
            text: list[str] = []
            calls: list[ToolCall] = []
            messages = self.context.messages
            if offered is None and schemas is not None and max_rounds > 1:
                # several rounds and still calling: say so. (After one round the plain
                # request is the usual "read the result"; wrappers that speak a tool's own
                # words look for the tool result last, as barista's and the router's do.)
                messages = [*messages, {"role": "system", "content": ANSWER_NOW}]
            stream: Any = llm.chat(messages, tools=offered, stream=True, **chat_kwargs)
            if inspect.isawaitable(stream):
                stream = await stream
            try:
                async for chunk in stream:
                    if chunk.content:
                        text.append(chunk.content)
                        yield chunk.content
                    if chunk.tool_calls:
                        calls.extend(chunk.tool_calls)
            finally:
                aclose = getattr(stream, "aclose", None)
                if aclose is not None:
                    await aclose()
            if not calls or offered is None or tools is None:
                return
            rounds += 1
            asked = {(c.name, _canonical(c.arguments)) for c in calls}
            if asked == previous:  # the last round's calls again: the same results again
                rounds = max_rounds
                continue
            previous = asked
            calls = [c if c.id else ToolCall(f"call_{uuid.uuid4().hex[:12]}", c.name,
                                             c.arguments) for c in calls]
            self.context.add_message({"role": "assistant", "content": "".join(text),
                                      "tool_calls": [c.to_dict() for c in calls]})
            self._unrecorded = []
            running = asyncio.ensure_future(tools.execute(
                calls, parallel=True, context=RunContext(session=self.session, node=self),
                emit=tools.emit or self.send_event))
            results: list[ToolResult] | None = None
            try:
                done, _ = await asyncio.wait({running}, timeout=holding_after_ms / 1000)
                if not done and holding_phrase:
                    filler = holding_phrase if holding_phrase.endswith(" ") \
                        else holding_phrase + " "
                    yield filler
                    # heard by the user, but not model output: keep it out of the context
                    if self._unrecorded and self._unrecorded[-1] == filler:
                        self._unrecorded.pop()
                results = await running
            finally:
                if results is None:  # interrupted: every tool call still needs its answer
                    running.cancel()
                    self.context.add_messages([ToolResult(
                        c.id, c.name, "Error: cancelled because the user interrupted",
                        True).to_message() for c in calls])
            self.context.add_messages([r.to_message() for r in results])
            if self.handoff_started:
                return
