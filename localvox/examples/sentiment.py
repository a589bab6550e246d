"""Sentiment escalation: a background node watches the caller's mood and, after three
frustrated turns, asks the output node to offer a warm transfer, with the reason.

* ``SentimentMonitor`` (a ``BackgroundAgentNode`` placed in front of the agent) scores every
  user transcript offline with ``sentiment_score.score`` (a lexicon with negation,
  intensifiers and frustration phrases; microseconds, no cloud). It forwards every event
  the moment it arrives (the SDK's background-node contract), so it never delays a reply;
  after the third frustrated turn it sends one ``EscalationRequest`` with the reason.
* ``SupportAgent`` answers as a broadband support agent. When the request arrives it
  offers a supervisor; a plain "yes" (or asking for a supervisor) makes a warm transfer at
  once, whose private briefing carries the monitor's reason and the caller's words; after
  it, it says nothing. Hybrid, like the default assistant: any other answer to the offer
  ("hmm, if they can actually fix it then fine") goes to the model with
  ``warm_transfer_to_supervisor`` offered when it calls tools natively (the default
  Qwen2.5 1.5B); a model without native calling (SmolLM2) just chats.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

from localvox.agent.events import (Event, TranscriptUpdate, TransferCall, TransferOption,
                                   TransferType)
from localvox.agent.nodes import BackgroundAgentNode, OutputAgentNode
from localvox.agent.tools import ToolRegistry, function_tool
from localvox.examples.sentiment_score import score

FRUSTRATED_TURNS = 3
SUPERVISOR_NUMBER = "+91-80-4000-2000"
SYSTEM_PROMPT = ("You are a support agent for Skyline Broadband on a phone call. Be calm, "
                 "kind and brief: one or two spoken sentences.")
OFFER = ("I'm sorry this has been so frustrating. Would you like me to bring in a supervisor "
         "who can take this further?")


@dataclass
class EscalationRequest(Event, type="sentiment.escalation_request"):
    """From the monitor to the output node: offer a warm transfer, because ``reason``."""

    reason: str
    turns: list[str] = field(default_factory=list)


class SentimentMonitor(BackgroundAgentNode):
    def __init__(self, threshold: int = FRUSTRATED_TURNS) -> None:
        super().__init__(name="sentiment-monitor")
        self.threshold = threshold
        self.frustrated: list[tuple[str, tuple[str, ...]]] = []
        self.escalated = False

    async def process_event(self, event: Event) -> None:
        if not (isinstance(event, TranscriptUpdate) and event.role == "user"):
            return
        result = score(event.content)
        if not result.frustrated:
            return
        self.frustrated.append((event.content, result.cues))
        if len(self.frustrated) >= self.threshold and not self.escalated:
            self.escalated = True
            cues = sorted({c for _, cs in self.frustrated for c in cs})
            reason = (f"caller sounded frustrated in {len(self.frustrated)} turns "
                      f"(cues: {', '.join(cues) or 'negative wording'})")
            await self.send_event(EscalationRequest(
                reason=reason, turns=[t for t, _ in self.frustrated]))


class SupportAgent(OutputAgentNode):
    def __init__(self, llm: Any, *, supervisor_number: str = SUPERVISOR_NUMBER,
                 native: bool = False) -> None:
        super().__init__(name="support-agent")
        self.llm = llm
        self.native = native
        self.supervisor_number = supervisor_number
        self.offer: EscalationRequest | None = None
        self.tools = ToolRegistry()
        self.tools.discover(self)
        self.context.add_message({"role": "system", "content": SYSTEM_PROMPT})

    async def on_event(self, event: Event) -> None:
        if isinstance(event, EscalationRequest) and self.offer is None:
            self.offer = event
            await self.speak(OFFER, record=True)

    @function_tool
    def warm_transfer_to_supervisor(self, reason: str) -> TransferCall:
        """Warm transfer: brief a supervisor first, then connect the caller.

        Args:
            reason: Summary of the caller's issue for the supervisor.
        """
        words = " | ".join(self.offer.turns) if self.offer else ""
        return TransferCall(number=self.supervisor_number, option=TransferOption(
            type=TransferType.WARM, handoff_prompt=f"Customer escalation: {reason}. "
                                                   f"Caller said: {words}"),
            on_hold_music="uplifting_beats")

    async def generate_response(self) -> AsyncIterator[str]:
        last = self.context.last("user")
        text = (last or {}).get("content", "").lower()
        accepted = self.offer is not None and re.match(
            r"\s*(yes|yeah|yep|sure|ok|okay|please)\b", text)
        asked = re.search(r"\b(supervisor|manager|human|real person)\b", text)
        # "No, I don't want a supervisor" named one too: it was transferred by this rule
        declined = re.search(r"^\s*(no|nope|nah)\b|\b(don't|do not|dont) (want|need)\b|"
                             r"\bno need\b", text)
        if (accepted or asked) and not declined:
            reason = self.offer.reason if self.offer else "caller asked for a supervisor"
            yield "Of course. I'm briefing a supervisor now; please hold."
            import json
            import uuid

            from localvox.agent.tools import RunContext
            from localvox.llm.base import ToolCall

            call = ToolCall(f"policy_{uuid.uuid4().hex[:12]}", "warm_transfer_to_supervisor",
                            json.dumps({"reason": reason}))
            await self.tools.execute([call], context=RunContext(session=self.session, node=self),
                                     emit=self.send_event)
            return
        # a clear "no" is not the model's to decide: offered the tool, the 1.5B transferred
        # "No, I don't want a supervisor, just tell me how to restart the router" (measured)
        if self.offer is not None and not declined and self.native \
                and await self.llm.supports_tools():
            async for chunk in self._native_answer(self.offer):
                yield chunk
            return
        from localvox.examples._common import chat_text

        msgs = [m for m in self.context.messages if m["role"] in ("system", "user")]
        async for sentence in chat_text(self.llm, msgs[:1] + msgs[1:][-2:]):
            yield sentence

    async def _native_answer(self, offer: EscalationRequest) -> AsyncIterator[str]:
        """The model decides whether the caller took the offer, and calls the tool if so."""
        from localvox.agent.assistant import shaped
        from localvox.llm.spoken import SpokenFilter

        note = (f" You offered the caller a supervisor because the {offer.reason}. If they "
                "accept, call warm_transfer_to_supervisor with a one-line reason; otherwise "
                "keep helping.")
        self.context.add_message({"role": "system", "content": note.strip()})
        try:
            async for chunk in shaped(self.run_llm_with_tools(self.llm, self.tools, max_rounds=1),
                                      SpokenFilter()):
                yield chunk
        finally:
            kept = self.context.history
            self.context.set_messages([m for m in kept if m.get("content") != note.strip()])


def create_app(config: Any, *, llm: Any = None) -> Any:
    from localvox.agent.app import App
    from localvox.examples._common import create_llm, tool_mode

    shared: dict[str, Any] = {"llm": llm}
    native = config is not None and tool_mode(config) in ("hybrid", "native")

    async def setup(session: Any) -> None:
        if shared["llm"] is None:
            shared["llm"] = create_llm(config)
        monitor = SentimentMonitor()
        agent = SupportAgent(shared["llm"], native=native)
        session.add_edge(monitor, agent)
        await session.start()

    return App(setup)
