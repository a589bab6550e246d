"""One tool call's edges: its JSON arguments in, telemetry out, its return value as text.

Why apart from the registry (``tools``): small models emit half a JSON object, tools
return dataclasses, enums or handoff events, and a broken telemetry callback must never
break a call. Each of those is a small rule with its own wording for the model (an
``is_error`` result it can retry on), kept here so the registry reads as the call's flow.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from localvox.agent.events import EndCall, Event, TransferCall
from localvox.agent.tool_info import ToolInfo

log = logging.getLogger("localvox.agent.tools")

Emit = Callable[[Event], Awaitable[None]]


class ToolFailed(Exception):
    """A call that cannot run (unknown tool, bad arguments, a timeout): its message is
    the error text the model sees."""


def parse_json_arguments(text: str, info: ToolInfo) -> Any:
    if not text or not text.strip():
        if not info.parameters["properties"]:
            return {}  # a tool without parameters: empty arguments are unambiguous
        raise ToolFailed(f"bad arguments for {info.name}: arguments were empty; "
                         "expected a JSON object")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError) as exc:
        raise ToolFailed(f"bad arguments for {info.name}: not valid JSON ({exc})") from None


async def safe_emit(emit: Emit | None, event: Event) -> None:
    """Telemetry must never break a tool call."""
    if emit is None:
        return
    try:
        await emit(event)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.warning("emitting %s failed", event.type, exc_info=True)


async def render(value: Any, emit: Emit | None) -> str:
    """A tool's return value as text for the model; an Event is sent (handoffs)."""
    if isinstance(value, Event):
        if emit is None:
            raise ToolFailed(f"the tool returned a {value.type} event but nothing is "
                             "listening (give ToolRegistry an emit callback)")
        await emit(value)
        if isinstance(value, EndCall):
            summary: dict[str, Any] = {"status": "success", "action": "end_call"}
        elif isinstance(value, TransferCall):
            summary = {"status": "success", "action": "transfer_call",
                       "transfer_number": value.number, "transfer_type": value.option.type.value}
        else:
            summary = {"status": "success", "event": value.type}
        return json.dumps(summary)
    if value is None:
        return "done"
    if isinstance(value, str):
        return value
    if isinstance(value, enum.Enum):
        value = value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, (tuple, set, frozenset)):
        value = list(value)
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)
