"""A scripted engine for TUI tests: records commands, replays pipeline events.

It stands in for the speech loop only where the test is about the UI; the integration
tests in test_tui_engine.py drive the real engine.
"""

from __future__ import annotations

import asyncio
from typing import Any

from localvox.pipeline import events as ev


class ScriptedEngine:
    def __init__(self, audio_input: str = "none") -> None:
        self.queue: asyncio.Queue[ev.PipelineEvent] = asyncio.Queue()
        self.calls: list[tuple[Any, ...]] = []
        self.turn = 0
        self.audio_input = audio_input
        self.stopped = asyncio.Event()

    def subscribe(self) -> asyncio.Queue[ev.PipelineEvent]:
        return self.queue

    async def run(self) -> None:
        await self.stopped.wait()

    async def emit(self, *events: ev.PipelineEvent) -> None:
        for e in events:
            await self.queue.put(e)

    async def submit_text(self, text: str) -> None:
        self.turn += 1
        t = self.turn
        self.calls.append(("text", text))
        await self.emit(
            ev.StateChanged(ev.TurnState.THINKING), ev.FinalTranscript(t, text, "text"),
            ev.ReplyChunk(t, "Sure. "), ev.ReplyChunk(t, f"You said: {text}."),
            ev.ReplyDone(t, f"Sure. You said: {text}."), ev.StateChanged(ev.TurnState.SLEEPING),
            ev.TurnTrace(t, {"final_transcript": 1.0, "llm_first_token": 1.2,
                             "first_audio_out": 1.35}, source="text"),
        )

    async def push_to_talk(self, active: bool) -> None:
        self.calls.append(("ptt", active))

    def set_muted(self, muted: bool) -> None:
        self.calls.append(("mute", muted))

    async def interrupt(self) -> None:
        self.calls.append(("interrupt",))

    def set_speech_output(self, enabled: bool) -> None:
        self.calls.append(("speech", enabled))

    async def stop(self) -> None:
        self.stopped.set()

    async def close(self) -> None:
        self.calls.append(("close",))

    def describe(self) -> dict[str, Any]:
        return {"wake_word": "hey_jarvis", "asr": "whisper tiny.en", "llm": "smollm2-135m",
                "tts": "piper joe", "audio_input": self.audio_input}


def factory_for(engine: ScriptedEngine):
    async def factory(progress):
        progress("loading models")
        return engine

    return factory
