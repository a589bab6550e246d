"""What the TUI needs from the speech loop.

The TUI only sends commands and renders ``PipelineEvent``s; it owns no turn state. Any
engine with these methods can drive it: the real one from ``localvox.pipeline``, or a
scripted one in tests.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from localvox.pipeline.events import PipelineEvent


class VoiceEngine(Protocol):
    def subscribe(self) -> "asyncio.Queue[PipelineEvent]":
        """A queue that receives every event published from now on."""

    async def run(self) -> None:
        """Run the loop until ``stop()`` or the input ends."""

    async def submit_text(self, text: str) -> None:
        """A typed user turn, answered by the same agent (and spoken unless muted)."""

    async def push_to_talk(self, active: bool) -> None: ...

    def set_muted(self, muted: bool) -> None:
        """Mute the microphone (no wake word, no speech) until unmuted."""

    async def interrupt(self) -> None:
        """Stop speaking now and cancel the reply in flight."""

    def set_speech_output(self, enabled: bool) -> None: ...

    async def stop(self) -> None: ...

    async def close(self) -> None:
        """Release devices and the agent once ``run()`` has returned."""

    def describe(self) -> dict[str, Any]:
        """Labels for the status bar: wake_word, asr, llm, tts, audio_input, echo."""
