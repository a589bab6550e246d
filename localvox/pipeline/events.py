"""Typed events the speech loop emits, one small dataclass each.

The engine publishes these on one async stream; the TUI, the headless runner, the
benchmarks and the trace writer only consume them. Every event serialises to a flat JSON
object with a ``type`` field (``to_dict`` / ``from_dict``), in the spirit of Wyoming's
small events.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar


class TurnState(str, Enum):
    """What the assistant is doing; owned by the turn engine alone."""

    IDLE = "idle"                  # not listening (no audio source, or stopped)
    SLEEPING = "sleeping"          # listening for the wake word
    LISTENING = "listening"        # awake (or always-on): waiting for speech
    HEARING = "hearing"            # the user is speaking
    TRANSCRIBING = "transcribing"  # endpoint reached, final transcript on its way
    THINKING = "thinking"          # waiting for the agent's first words
    SPEAKING = "speaking"          # playing the reply
    MUTED = "muted"                # microphone muted by the user


_REGISTRY: dict[str, type["PipelineEvent"]] = {}


@dataclass(frozen=True)
class PipelineEvent:
    TYPE: ClassVar[str] = "event"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.TYPE] = cls

    def to_dict(self) -> dict[str, Any]:
        data = {"type": self.TYPE}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            data[f.name] = value.value if isinstance(value, Enum) else value
        return data

    @staticmethod
    def from_dict(data: dict[str, Any]) -> "PipelineEvent":
        cls = _REGISTRY.get(data.get("type", ""))
        if cls is None:
            raise ValueError(f"unknown pipeline event type {data.get('type')!r}")
        kwargs = {f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data}
        if cls is StateChanged:
            kwargs["state"] = TurnState(kwargs["state"])
            if kwargs.get("previous") is not None:
                kwargs["previous"] = TurnState(kwargs["previous"])
        return cls(**kwargs)


@dataclass(frozen=True)
class StateChanged(PipelineEvent):
    TYPE: ClassVar[str] = "state"
    state: TurnState
    previous: TurnState | None = None


@dataclass(frozen=True)
class WakeDetected(PipelineEvent):
    TYPE: ClassVar[str] = "wake"
    name: str
    score: float
    at_s: float


@dataclass(frozen=True)
class SpeechStarted(PipelineEvent):
    TYPE: ClassVar[str] = "speech-started"
    turn_id: int
    at_s: float


@dataclass(frozen=True)
class SpeechStopped(PipelineEvent):
    TYPE: ClassVar[str] = "speech-stopped"
    turn_id: int
    at_s: float


@dataclass(frozen=True)
class PartialTranscript(PipelineEvent):
    TYPE: ClassVar[str] = "partial"
    turn_id: int
    text: str


@dataclass(frozen=True)
class FinalTranscript(PipelineEvent):
    TYPE: ClassVar[str] = "transcript"
    turn_id: int
    text: str
    source: str = "voice"
    """``voice`` or ``text`` (typed in the TUI / chat)."""


@dataclass(frozen=True)
class ReplyChunk(PipelineEvent):
    TYPE: ClassVar[str] = "reply-chunk"
    turn_id: int
    text: str


@dataclass(frozen=True)
class ReplyDone(PipelineEvent):
    TYPE: ClassVar[str] = "reply-done"
    turn_id: int
    text: str
    interrupted: bool = False


@dataclass(frozen=True)
class ToolCallStarted(PipelineEvent):
    TYPE: ClassVar[str] = "tool-start"
    turn_id: int
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ToolCallFinished(PipelineEvent):
    TYPE: ClassVar[str] = "tool-end"
    turn_id: int
    call_id: str
    name: str
    result: str
    is_error: bool
    latency_ms: float


@dataclass(frozen=True)
class Interrupted(PipelineEvent):
    TYPE: ClassVar[str] = "interrupted"
    turn_id: int
    at_s: float


@dataclass(frozen=True)
class MicLevel(PipelineEvent):
    TYPE: ClassVar[str] = "mic-level"
    rms: float
    peak: float


@dataclass(frozen=True)
class TurnTrace(PipelineEvent):
    """Monotonic timestamps (seconds, one clock per run) of one turn's milestones.

    Keys: speech_start, speech_end, endpoint, first_partial, final_transcript,
    llm_request, llm_first_token, first_chunk_text, tts_first_chunk, first_audio_out,
    playback_end, interrupt.
    Missing milestones are absent (e.g. a typed turn has no speech_start).
    """

    TYPE: ClassVar[str] = "trace"
    turn_id: int
    marks: dict[str, float] = field(default_factory=dict)
    text: str = ""
    reply: str = ""
    interrupted: bool = False
    speculative: str = ""
    """``used`` (the reply started during the end-of-turn silence was kept), ``discarded``,
    or empty (no speculation)."""
    longest_gap_ms: float = 0.0
    """The longest silence inside the spoken reply: a chunk that was not synthesised by the
    time the one before it had finished playing (0 when speech never ran dry)."""
    source: str = "voice"
    """``voice`` (spoken), ``text`` (typed: its latency is text-to-voice) or ``agent`` (said
    on the agent's own initiative, e.g. a timer ringing: no user latency at all)."""


@dataclass(frozen=True)
class Notice(PipelineEvent):
    """Something the user should know: a fallback, a recoverable error, a fatal one."""

    TYPE: ClassVar[str] = "notice"
    level: str
    """info, warning or error."""
    message: str


@dataclass(frozen=True)
class SessionEnded(PipelineEvent):
    TYPE: ClassVar[str] = "session-ended"
    reason: str
    """end_call, transfer, input_ended or stopped."""
