"""The audit logger: a background node that records the whole call, off the reply path.

Every event the session delivers is turned into an audit record and handed to
``AuditStore`` (a queue and a writer thread), so ``process_event`` returns in
microseconds and the reply never waits for the disk. What is recorded: call start and end,
every transcript line, every tool call with its arguments and a result preview, every
verification attempt, transfers and errors. Numbers are masked inside ``AuditStore``.
"""

from __future__ import annotations

import json
from typing import Any

from localvox.agent import events as ev
from localvox.agent.nodes import BackgroundAgentNode
from localvox.examples.bank.audit import AuditStore, preview
from localvox.examples.bank.events import VerificationAttempt


def _args(text: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def record_for(event: ev.Event) -> tuple[str, dict[str, Any]] | None:
    """(kind, payload) for an event worth auditing, else None."""
    if isinstance(event, ev.UserJoined):
        return "CALL_START", {}
    if isinstance(event, ev.TranscriptUpdate):
        return "TRANSCRIPT", {"role": event.role, "content": event.content,
                              "interrupted": event.interrupted}
    if isinstance(event, ev.Speak):  # said outside a reply: a greeting, an announcement
        return "TRANSCRIPT", {"role": "assistant", "content": event.text, "spoken": True}
    if isinstance(event, ev.ToolCallStart):
        return "TOOL_CALL_START", {"call_id": event.call_id, "tool": event.name,
                                   "arguments": _args(event.arguments)}
    if isinstance(event, ev.ToolCallEnd):
        return "TOOL_CALL_END", {"call_id": event.call_id, "tool": event.name,
                                 "result_preview": preview(event.result),
                                 "latency_ms": round(event.latency_ms, 1)}
    if isinstance(event, ev.ToolCallError):
        return "TOOL_CALL_ERROR", {"call_id": event.call_id, "tool": event.name,
                                   "error": preview(event.error),
                                   "latency_ms": round(event.latency_ms, 1)}
    if isinstance(event, VerificationAttempt):
        return "VERIFICATION", {"factors_given": event.factors_given, "ok": event.ok,
                                "level": event.level, "failed_attempts": event.failed_attempts,
                                "locked": event.locked}
    if isinstance(event, ev.TransferCall):
        return "TRANSFER", {"number": event.number, "type": event.option.type.value,
                            "handoff_prompt": event.option.handoff_prompt,
                            "on_hold_music": event.on_hold_music}
    if isinstance(event, ev.EndCall):
        return "CALL_END", {"reason": event.reason or "end_call"}
    if isinstance(event, ev.ErrorEvent):
        return "ERROR", {"message": event.message, "severity": event.severity}
    return None


class AuditLogger(BackgroundAgentNode):
    """Writes the call's trail to ``store`` under ``session_id``."""

    def __init__(self, store: AuditStore, session_id: str) -> None:
        super().__init__(name="audit-logger")
        self.store = store
        self.session_id = session_id
        self.ended = False
        self._ending: str | None = None

    async def process_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.ResponseEnd) and self._ending is not None:
            # the handoff happened inside this reply; its parting words are logged now
            self.close_call(self._ending)
            return
        rec = record_for(event)
        if rec is None:
            return
        kind, payload = rec
        if kind == "CALL_START":
            payload = {"session_id": self.session_id}
        if kind == "CALL_END":
            self._ending = payload["reason"]
            return
        self.store.log(self.session_id, kind, payload)
        if kind == "TRANSFER":
            self._ending = f"{payload['type']} transfer"

    async def on_stop(self) -> None:
        self.close_call(self._ending or "session closed")
        await super().on_stop()

    def close_call(self, reason: str = "session closed") -> None:
        """Record the end of a call that ended without an end-call event (hang-up)."""
        if not self.ended:
            self.ended = True
            self.store.log(self.session_id, "CALL_END", {"reason": reason})
