"""Typed agent events and their JSON codec.

Everything that moves through a :class:`~localvox.agent.session.Session` is a small
dataclass subclassing :class:`Event`. Each class owns a dotted ``type`` string (the wire
name), registered when the class is defined::

    @dataclass
    class Escalation(Event, type="myapp.escalation"):
        reason: str

``to_dict()`` / ``to_json()`` give a flat object ``{"type": ..., "timestamp": ..., **fields}``;
``Event.from_dict()`` / ``Event.from_json()`` rebuild the right class and check every field
against its type hint, so a malformed frame from a front end is one clear ``ValueError``
rather than a half-built event deep inside a node. Unknown fields are ignored (a newer peer
may send more); unknown types and missing or wrongly typed fields are errors.

The names follow the Atoms SDK (``system.*`` comes from the platform, ``agent.*`` from the
agent) so its users recognise them.
"""

from __future__ import annotations

import dataclasses
import json
import time
import types
import typing
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar, Literal, Union

__all__ = [
    "Event", "event_types",
    "UserJoined", "UserStartedSpeaking", "UserStoppedSpeaking", "Interrupt", "LLMRequest",
    "Ready", "TranscriptUpdate", "ResponseStart", "ResponseChunk", "ResponseEnd", "Speak",
    "EndCall", "TransferType", "TransferOption", "TransferCall",
    "ToolCallStart", "ToolCallEnd", "ToolCallError", "ErrorEvent",
]

_REGISTRY: dict[str, type["Event"]] = {}


def event_types() -> dict[str, type["Event"]]:
    """Every registered event type string and its class (a copy)."""
    return dict(_REGISTRY)


@dataclass(kw_only=True)
class Event:
    """Base of every event. ``timestamp`` is seconds since the epoch (``time.time()``)."""

    type: ClassVar[str] = ""
    timestamp: float = field(default_factory=time.time, repr=False, compare=True)

    def __init_subclass__(cls, type: str | None = None, **kwargs: Any) -> None:  # noqa: A002
        super().__init_subclass__(**kwargs)
        if type is not None:
            cls.type = type
        elif "type" not in cls.__dict__:
            return  # an abstract intermediate class; it inherits no wire name
        existing = _REGISTRY.get(cls.type)
        if existing is not None and (existing.__module__, existing.__qualname__) != (
                cls.__module__, cls.__qualname__):
            raise ValueError(f"event type {cls.type!r} is already used by "
                             f"{existing.__module__}.{existing.__qualname__}")
        _REGISTRY[cls.type] = cls

    # -- encoding -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type}
        for f in dataclasses.fields(self):
            data[f.name] = _encode(getattr(self, f.name))
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    # -- decoding -------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Any) -> "Event":
        """Build the event named by ``data["type"]``; raises ``ValueError`` on bad input."""
        if not isinstance(data, dict):
            raise ValueError(f"an event must be a JSON object, got {_kind(data)}")
        name = data.get("type")
        if not isinstance(name, str) or not name:
            raise ValueError("an event needs a non-empty string 'type'")
        target = _REGISTRY.get(name)
        if target is None:
            raise ValueError(f"unknown event type {name!r}")
        if not issubclass(target, cls):
            raise ValueError(f"event type {name!r} is not a {cls.__name__}")
        return _decode_dataclass(target, data, name)

    @classmethod
    def from_json(cls, text: str | bytes) -> "Event":
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"an event must be JSON: {exc}") from None
        return cls.from_dict(data)


# -- platform → agent ---------------------------------------------------------------------

@dataclass
class UserJoined(Event, type="system.user.joined"):
    """The user connected; an output node may greet with ``speak()``."""


@dataclass
class UserStartedSpeaking(Event, type="system.user.started_speaking"):
    pass


@dataclass
class UserStoppedSpeaking(Event, type="system.user.stopped_speaking"):
    pass


@dataclass
class Interrupt(Event, type="system.control.interrupt"):
    """Barge-in: interruptible nodes cancel what they are doing. Delivered synchronously."""


@dataclass
class LLMRequest(Event, type="system.llm.request"):
    """Ask output nodes for a reply; ``request_id`` is echoed on the response events."""

    request_id: str = ""


# -- agent → platform ---------------------------------------------------------------------

@dataclass
class Ready(Event, type="agent.ready"):
    """Sent by the session before any node starts (so a greeting is never the first frame)."""


@dataclass
class TranscriptUpdate(Event, type="agent.transcript.update"):
    role: Literal["user", "assistant"]
    content: str
    interrupted: bool = False


@dataclass
class ResponseStart(Event, type="agent.llm.response.start"):
    request_id: str = ""


@dataclass
class ResponseChunk(Event, type="agent.llm.response.chunk"):
    text: str
    request_id: str = ""


@dataclass
class ResponseEnd(Event, type="agent.llm.response.end"):
    interrupted: bool = False
    request_id: str = ""


@dataclass
class Speak(Event, type="agent.speak"):
    text: str


@dataclass
class EndCall(Event, type="agent.end_call"):
    reason: str = ""


class TransferType(str, Enum):
    COLD = "cold"
    WARM = "warm"
    # The Atoms SDK's spellings (``TransferOptionType.COLD_TRANSFER``): the same members.
    COLD_TRANSFER = "cold"
    WARM_TRANSFER = "warm"


@dataclass
class TransferOption:
    """How to hand over: cold (connect at once) or warm (brief the human first)."""

    type: TransferType = TransferType.COLD
    handoff_prompt: str | None = None
    """Warm transfers only: the private briefing for the receiving agent."""


@dataclass
class TransferCall(Event, type="agent.transfer_call"):
    number: str
    option: TransferOption = field(default_factory=TransferOption)
    on_hold_music: str | None = None


@dataclass
class ToolCallStart(Event, type="agent.tool_call.start"):
    call_id: str
    name: str
    arguments: str


@dataclass
class ToolCallEnd(Event, type="agent.tool_call.end"):
    call_id: str
    name: str
    result: str
    latency_ms: float


@dataclass
class ToolCallError(Event, type="agent.tool_call.error"):
    call_id: str
    name: str
    error: str
    latency_ms: float


@dataclass
class ErrorEvent(Event, type="agent.error"):
    message: str
    severity: Literal["warning", "fatal"] = "warning"
    payload: dict[str, Any] = field(default_factory=dict)


# -- codec helpers ------------------------------------------------------------------------

def _encode(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "an array", dict: "an object"}.get(type(value), type(value).__name__)


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _decode_dataclass(cls: type, data: dict[str, Any], where: str) -> Any:
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        if f.name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ValueError(f"{where}: missing field {f.name!r}")
            continue
        kwargs[f.name] = _decode(hints[f.name], data[f.name], f"{where}.{f.name}")
    return cls(**kwargs)


def _decode(hint: Any, value: Any, where: str) -> Any:
    """Check ``value`` (decoded JSON) against ``hint`` and convert enums/dataclasses."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        arms = typing.get_args(hint)
        if value is None:
            if type(None) in arms:
                return None
            raise ValueError(f"{where} must not be null")
        errors = []
        for arm in arms:
            if arm is type(None):
                continue
            try:
                return _decode(arm, value, where)
            except ValueError as exc:
                errors.append(str(exc))
        raise ValueError(errors[0] if len(errors) == 1 else f"{where}: {'; '.join(errors)}")
    if origin is Literal:
        allowed = typing.get_args(hint)
        if any(value == a and type(value) is type(a) for a in allowed):
            return value
        raise ValueError(f"{where} must be one of {list(allowed)}, got {value!r}")
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(value)
        except (ValueError, TypeError):
            raise ValueError(f"{where} must be one of {[m.value for m in hint]}, "
                             f"got {value!r}") from None
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ValueError(f"{where} must be an object, got {_kind(value)}")
        return _decode_dataclass(hint, value, where)
    if origin in (list, tuple) or hint in (list, tuple):
        if not isinstance(value, list):
            raise ValueError(f"{where} must be an array, got {_kind(value)}")
        args = typing.get_args(hint)
        return [_decode(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)] \
            if args else value
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{where} must be an object, got {_kind(value)}")
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"{where} must be a boolean, got {_kind(value)}")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ValueError(f"{where} must be a number, got {_kind(value)}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ValueError(f"{where} must be an integer, got {_kind(value)}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ValueError(f"{where} must be a string, got {_kind(value)}")
    return value
