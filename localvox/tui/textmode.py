"""Plain line-based mode (``localvox --text``) for pipes and screen readers.

Same engine as the full-screen app; events become plain lines, typed lines become turns.
When stdin ends (a pipe), the current reply is finished before exiting. Timers and alarms
print as ``localvox:`` lines whenever they ring (and are spoken when there is a voice).
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from localvox.pipeline import events as ev
from localvox.tui.port import VoiceEngine


class LinePrinter:
    """Renders pipeline events as lines of text."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.open_reply: int | None = None

    def _line(self, text: str) -> None:
        self._end_reply()
        print(text, file=self.out, flush=True)

    def _end_reply(self) -> None:
        if self.open_reply is not None:
            print(file=self.out, flush=True)
            self.open_reply = None

    def handle(self, event: ev.PipelineEvent) -> None:
        match event:
            case ev.FinalTranscript(text=text, source="voice"):
                self._line(f"you: {text}")
            case ev.ReplyChunk(turn_id=turn_id, text=text):
                if self.open_reply != turn_id:
                    self._end_reply()
                    print("localvox: ", end="", file=self.out)
                    self.open_reply = turn_id
                print(text, end="", file=self.out, flush=True)
            case ev.ReplyDone(interrupted=True):
                print(" [interrupted]", end="", file=self.out)
                self._end_reply()
            case ev.ReplyDone():
                self._end_reply()
            case ev.ToolCallFinished(name=name, result=result, is_error=err, latency_ms=ms):
                mark = "error" if err else "ok"
                self._line(f"  [tool {name}: {mark}, {ms:.0f} ms] {result[:200]}")
            case ev.Notice(level=level, message=message):
                self._line(f"[{level}] {message}")
            case ev.WakeDetected(name=name):
                self._line(f"[wake word: {name}]")
            case _:
                pass


async def run_text_mode(engine: VoiceEngine, stdin: TextIO = sys.stdin,
                        stdout: TextIO = sys.stdout) -> int:
    printer = LinePrinter(stdout)
    queue = engine.subscribe()
    done_turns: asyncio.Queue[int] = asyncio.Queue()

    typed: set[int] = set()

    async def pump() -> None:
        while True:
            event = await queue.get()
            printer.handle(event)
            if isinstance(event, ev.FinalTranscript) and event.source == "text":
                typed.add(event.turn_id)
            elif isinstance(event, ev.ReplyDone) and event.turn_id in typed:
                # Only the answer to a typed line releases the next one: a timer ringing
                # meanwhile is a reply of its own.
                typed.discard(event.turn_id)
                done_turns.put_nowait(event.turn_id)

    pump_task = asyncio.create_task(pump())
    run_task = asyncio.create_task(engine.run())
    info = engine.describe()
    has_audio = info.get("audio_input") not in (None, "", "none")
    interactive = stdin.isatty()
    try:
        while True:
            if interactive:
                print("> ", end="", file=stdout, flush=True)
            line = await asyncio.to_thread(stdin.readline)
            if not line:
                if has_audio:
                    # Typed input is over but the voice loop goes on (a WAV input ends
                    # by itself; a microphone runs until Ctrl+C).
                    await run_task
                break
            text = line.strip()
            if not text:
                continue
            if not interactive:
                print(f"you: {text}", file=stdout)
            await engine.submit_text(text)
            await done_turns.get()  # one reply per line keeps piped output in order
    finally:
        await engine.stop()
        await asyncio.gather(run_task, return_exceptions=True)
        await engine.close()
        pump_task.cancel()
        await asyncio.gather(pump_task, return_exceptions=True)
    return 0
