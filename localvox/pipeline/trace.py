"""Per-turn latency marks, the engine's clock, and the JSONL trace file.

Why one clock: every milestone of a turn (speech start in the audio, the endpoint
decision, the LLM's first token, the first sample handed to the speaker) must sit on one
time line, or "end of user speech -> first reply audio" means nothing.

``EngineClock`` is ``time.monotonic()`` plus an offset that only grows. Audio frames
carry *stream time* (seconds since the source started). The first frame pins
``base`` so that stream time ``s`` maps to clock time ``base + s``. Each frame is stamped
as arriving at ``base + frame.end_s`` -- when a microphone would have delivered it -- and
if the clock is behind that (a file source read faster than real time), the offset jumps
forward to it. So in ``--fast`` mode the time the loop would have spent waiting for audio
is skipped, while every second of compute still counts (fast mode paces the input while
anything computes, and a reply "plays" on this clock: ``localvox.pipeline.clock``); in
real-time mode the jumps are only the few milliseconds by which a paced file runs ahead of
a real microphone. Either
way ``speech_end`` (stream time of the last voiced frame, mapped through ``base``) and
``first_audio_out`` (clock time of the first ``sink.play``) are directly comparable.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any, Callable

from localvox.pipeline.events import TurnTrace

MARKS = ("speech_start", "speech_end", "endpoint", "first_partial", "final_transcript",
         "llm_request", "llm_first_token", "first_chunk_text", "tts_first_chunk",
         "first_audio_out", "playback_end", "interrupt")
"""Every milestone a turn can record, in the order they usually happen. ``llm_request`` is
when the agent was asked: before ``final_transcript`` on a speculative turn.
``first_chunk_text`` is when the reply's first chunk of text was complete and went to the
synthesiser: it splits what the LLM takes to write the first clause from what the TTS takes
to voice it (on chat turns the two were one 709 ms "TTS first chunk" stage)."""

VOICE_MARKS = ("speech_start", "speech_end", "endpoint", "first_partial", "final_transcript",
               "llm_first_token", "first_chunk_text", "tts_first_chunk", "first_audio_out",
               "playback_end")
"""The milestones a complete, uninterrupted spoken turn must have."""


class EngineClock:
    """Monotonic seconds that never fall behind the audio stream (see module docstring).

    ``monotonic`` is injectable: tests drive the engine on a virtual clock (the event
    loop's own ``time``, advanced by a test loop that skips idle waits) instead of
    wall-clock sleeps and tolerances.
    """

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._mono = monotonic
        self._offset = 0.0
        self.base: float | None = None
        self.skipping = False
        """Set once nothing can arrive any more (fast mode, input ended): ``sleep_until``
        then moves the clock instead of waiting."""
        self._moved: asyncio.Event | None = None

    def now(self) -> float:
        return self._mono() + self._offset

    def on_frame(self, start_s: float, end_s: float) -> float:
        """Stamp a frame's arrival; jumps the clock forward if audio is ahead of it."""
        if self.base is None:
            self.base = self.now() - start_s
        self.advance_to(self.base + end_s)
        return self.now()

    def advance_to(self, t: float) -> None:
        """Jump forward to ``t`` if the clock is behind it (never backwards)."""
        lag = t - self.now()
        if lag > 0:
            self._offset += lag
            if self._moved is not None:
                self._moved.set()

    def skip_waits(self) -> None:
        """From now on ``sleep_until`` jumps instead of waiting (see ``skipping``)."""
        self.skipping = True
        if self._moved is not None:
            self._moved.set()

    async def sleep_until(self, t: float) -> None:
        """Until ``now() >= t``: real time passes, or frames move the clock (fast mode)."""
        while (left := t - self.now()) > 0:
            if self.skipping:
                self.advance_to(t)
                return
            if self._moved is None:
                self._moved = asyncio.Event()
            self._moved.clear()
            try:
                await asyncio.wait_for(self._moved.wait(), left)
            except TimeoutError:
                pass

    def stream_to_clock(self, stream_s: float) -> float:
        """Clock time of a point in the audio stream (``now()`` before the first frame)."""
        if self.base is None:
            return self.now()
        return self.base + stream_s


class TurnMarks:
    """Milestones of one turn; the first stamp of each mark wins (later repeats are ignored)."""

    def __init__(self, turn_id: int, clock: EngineClock) -> None:
        self.turn_id = turn_id
        self.clock = clock
        self.marks: dict[str, float] = {}
        self.text = ""
        self.reply = ""
        self.interrupted = False
        self.speculative = ""
        self.longest_gap_s = 0.0
        self.source = "voice"
        """Who started the turn: ``voice``, ``text`` (typed) or ``agent`` (a timer ringing)."""

    def mark(self, name: str, at: float | None = None) -> None:
        if name not in MARKS:
            raise ValueError(f"unknown trace mark {name!r}")
        if name not in self.marks:
            self.marks[name] = self.clock.now() if at is None else at

    def set(self, name: str, at: float) -> None:
        """Overwrite a mark (``speech_end`` moves while the user pauses and resumes)."""
        if name not in MARKS:
            raise ValueError(f"unknown trace mark {name!r}")
        self.marks[name] = at

    def to_event(self) -> TurnTrace:
        ordered = {k: round(self.marks[k], 6) for k in MARKS if k in self.marks}
        return TurnTrace(turn_id=self.turn_id, marks=ordered, text=self.text,
                         reply=self.reply, interrupted=self.interrupted,
                         speculative=self.speculative, source=self.source,
                         longest_gap_ms=round(self.longest_gap_s * 1000.0, 1))


def stage_latencies(marks: dict[str, float]) -> dict[str, float]:
    """Durations (ms) between milestones; only those whose both ends were recorded.

    ``voice_to_voice`` is the figure users feel: last voiced audio -> first reply audio; a
    typed turn has ``text_to_voice`` instead (its transcript is the typed line).
    ``llm_first_token`` is the LLM's own time, from the request to its first token: a
    speculative reply asks before the final transcript, so measuring from the final would
    read negative ("llm -61 ms").
    """
    llm_from = "llm_request" if "llm_request" in marks else "final_transcript"
    spans = {
        "endpoint_wait": ("speech_end", "endpoint"),
        "final_transcript": ("endpoint", "final_transcript"),
        "llm_first_token": (llm_from, "llm_first_token"),
        "llm_first_clause": ("llm_first_token", "first_chunk_text"),
        "tts_first_chunk": ("first_chunk_text", "tts_first_chunk"),
        "audio_out": ("tts_first_chunk", "first_audio_out"),
        "voice_to_voice": ("speech_end", "first_audio_out"),
        "text_to_voice": ("final_transcript", "first_audio_out"),
    }
    out: dict[str, float] = {}
    for name, (a, b) in spans.items():
        if a in marks and b in marks:
            out[name] = round((marks[b] - marks[a]) * 1000.0, 1)
    return out


class TraceWriter:
    """Appends one JSON object per finished turn to a JSONL file (created on first write)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()

    def write(self, trace: TurnTrace) -> None:
        record: dict[str, Any] = trace.to_dict()
        record["latency_ms"] = stage_latencies(trace.marks)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


def read_traces(path: str | Path) -> list[TurnTrace]:
    """Load a JSONL trace back into events (bench plots, tests)."""
    out: list[TurnTrace] = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            data = json.loads(line)
            data.pop("latency_ms", None)
            ev = TurnTrace.from_dict(data)
            assert isinstance(ev, TurnTrace)
            out.append(ev)
    return out
