#!/usr/bin/env python3
"""Soak: N turns through the headless turn engine, spoken (WAV) and typed turns mixed.

Why: leaks show up only after hundreds of turns -- a list of traces that is never
trimmed, a thread per reply, a file handle per note. This drives the same engine the
runner and the terminal app use (``build_engine`` with the default models and the default
assistant, notes and trace in a temporary folder), one turn at a time:

* spoken turns: Piper-made questions (made once at start, with the packaged voice) fed as
  a microphone in fast mode, endpointed by Silero, transcribed by Whisper;
* typed turns: ``submit_text`` with tool requests (time, date, arithmetic, units, notes);
* every 25th turn (from the 2nd) is chit-chat answered by the LLM (short replies), so
  that path soaks too and the model is loaded during the warm-up.

After a warm-up (10 % of the turns, at least 10) it records resident memory, threads and
open file descriptors, and again at the end. It fails (exit 1) on any turn that produces
no reply within 60 s, any error notice, RSS growth over 5 % after warm-up, or more
threads or open files at the end than after warm-up.

    .venv/bin/python scripts/soak.py               # 500 turns
    .venv/bin/python scripts/soak.py --turns 30    # what CI runs (tests/test_soak.py)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, AsyncIterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SPOKEN = ["What time is it?", "What is twelve times seven?", "What's the date today?",
          "How many grams are in a pound?", "Read me my notes."]
TYPED = ["what time is it", "what's 17 times 23", "convert 5 miles to kilometers",
         "make a note to buy milk", "read me my notes", "what's the date today",
         "what is 144 divided by 12", "delete the last note"]
CHAT = ["tell me a joke", "how are you today"]
MAX_RSS_GROWTH = 0.05


class CountingSink:
    """A speaker that plays nothing and keeps nothing (only counts samples), so the soak
    measures the engine, not a sink that stores every reply (``WavSink(None)`` does)."""

    name = "soak-null"

    def __init__(self) -> None:
        self.samples_played = 0

    async def play(self, samples: Any, sample_rate: int) -> None:
        self.samples_played += len(samples)
        await asyncio.sleep(0)

    async def drain(self) -> None:
        await asyncio.sleep(0)

    async def stop(self) -> None:
        pass

    async def close(self) -> None:
        pass


class ClipSource:
    """A microphone that speaks one queued clip at a time (fast), then waits for the next."""

    name = "soak-clips"

    def __init__(self, frame_ms: int = 32) -> None:
        from localvox.audio.base import SAMPLE_RATE

        self.frame = SAMPLE_RATE * frame_ms // 1000
        self.sr = SAMPLE_RATE
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self._pos = 0

    async def frames(self) -> AsyncIterator[Any]:
        import numpy as np

        from localvox.audio.base import AudioFrame

        while True:
            clip = await self.queue.get()
            if clip is None:
                return
            for i in range(0, len(clip), self.frame):
                block = clip[i:i + self.frame]
                if len(block) < self.frame:
                    block = np.pad(block, (0, self.frame - len(block)))
                yield AudioFrame(block, self._pos / self.sr)
                self._pos += self.frame
                await asyncio.sleep(0)

    async def close(self) -> None:
        self.queue.put_nowait(None)


async def make_clips(tts: Any) -> list[Any]:
    import numpy as np

    from localvox.audio.base import SAMPLE_RATE, resample

    rng = np.random.default_rng(0)
    clips = []
    for text in SPOKEN:
        audio = await tts.synthesize_all(text)
        audio = resample(audio, tts.sample_rate, SAMPLE_RATE)
        pad = np.zeros(int(0.4 * SAMPLE_RATE), np.float32)
        tail = np.zeros(int(1.6 * SAMPLE_RATE), np.float32)
        clip = np.concatenate([pad, audio, tail])
        clips.append((clip + rng.standard_normal(len(clip)).astype(np.float32) * 0.0008)
                     .astype(np.float32))
    return clips


def stats() -> dict[str, Any]:
    from localvox.bench.common import process_stats

    gc.collect()
    return process_stats()


async def soak(turns: int, verbose: bool) -> dict[str, Any]:
    from localvox.config import load_config
    from localvox.pipeline import events as ev
    from localvox.pipeline.factory import build_engine, load_parts

    tmp = Path(tempfile.mkdtemp(prefix="localvox-soak-"))
    config = load_config(use_user_file=False)
    config.wake.mode = "always"
    config.agent.notes_db = str(tmp / "notes.sqlite3")
    config.llm.max_tokens = 24
    config.pipeline.speculative = True
    parts = await load_parts(config, need_wake=False)
    clips = await make_clips(parts.tts)
    source = ClipSource(config.audio.frame_ms)
    sink = CountingSink()
    engine = await build_engine(config, parts=parts, source=source, sink=sink,
                                trace_path=tmp / "turns.jsonl")
    engine.opts.hold_input_while_replying = True
    queue = engine.subscribe()
    runner = asyncio.ensure_future(engine.run())
    warm = max(10, turns // 10)
    failures: list[str] = []
    notices: list[str] = []
    baseline: dict[str, Any] | None = None
    t0 = time.perf_counter()
    counts = {"spoken": 0, "typed": 0, "chat": 0}
    import psutil

    proc = psutil.Process()
    curve: list[float] = []
    for n in range(turns):
        if n == warm:
            baseline = stats()
        if n % 25 == 1:  # early, so the LLM is loaded inside the warm-up
            kind, text = "chat", CHAT[(n // 25) % len(CHAT)]
            await engine.submit_text(text)
        elif n % 2 == 0:
            kind, text = "spoken", SPOKEN[(n // 2) % len(SPOKEN)]
            source.queue.put_nowait(clips[(n // 2) % len(clips)])
        else:
            kind, text = "typed", TYPED[(n // 2) % len(TYPED)]
            await engine.submit_text(text)
        counts[kind] += 1
        heard = reply = None
        try:
            async with asyncio.timeout(60):
                while True:
                    e = await queue.get()
                    if isinstance(e, ev.FinalTranscript):
                        heard = e.text
                    elif isinstance(e, ev.Notice):
                        notices.append(e.message)
                        if e.level == "error":
                            failures.append(f"turn {n + 1} ({kind} {text!r}): {e.message}")
                    elif isinstance(e, ev.ReplyDone):
                        reply = e.text
                        break
                    elif isinstance(e, ev.SessionEnded):
                        raise RuntimeError(f"session ended: {e.reason}")
        except TimeoutError:
            failures.append(f"turn {n + 1} ({kind} {text!r}): no reply within 60 s "
                            f"(heard {heard!r})")
        if reply is not None and not reply.strip():
            failures.append(f"turn {n + 1} ({kind} {text!r}): empty reply")
        curve.append(proc.memory_info().rss / 2**20)
        if verbose:
            print(f"{n + 1:4d} {kind:6s} {heard!r} -> {reply!r}", flush=True)
        elif (n + 1) % 50 == 0:
            print(f"  {n + 1} turns, {time.perf_counter() - t0:.0f} s", flush=True)
        while not queue.empty():  # MicLevel and friends between turns
            e = queue.get_nowait()
            if isinstance(e, ev.Notice):
                notices.append(e.message)
    await asyncio.sleep(0.2)
    final = stats()
    await engine.stop()
    await asyncio.gather(runner, return_exceptions=True)
    baseline = baseline or final
    growth = (final["rss_mb"] - baseline["rss_mb"]) / baseline["rss_mb"]
    if growth > MAX_RSS_GROWTH:
        failures.append(f"RSS grew {100 * growth:.1f}% after warm-up (limit "
                        f"{100 * MAX_RSS_GROWTH:.0f}%)")
    if final["threads"] > baseline["threads"]:
        failures.append(f"threads {baseline['threads']} -> {final['threads']}")
    if final["fds"] > baseline["fds"]:
        failures.append(f"open file descriptors {baseline['fds']} -> {final['fds']}")
    if final["open_files"] > baseline["open_files"]:
        failures.append(f"open files {baseline['open_files']} -> {final['open_files']}")
    return {"turns": turns, "counts": counts, "warm_up_turns": warm,
            "seconds": time.perf_counter() - t0, "after_warm_up": baseline, "end": final,
            "rss_growth": growth, "audio_out_samples": sink.samples_played, "traces": len(engine.traces), "notices": notices, "rss_curve_mb": curve,
            "failures": failures}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--turns", type=int, default=500)
    ap.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every turn")
    args = ap.parse_args(argv)
    from localvox.bench.common import table

    result = asyncio.run(soak(args.turns, args.verbose))
    b, e = result["after_warm_up"], result["end"]
    print(table(["figure", f"after warm-up ({result['warm_up_turns']} turns)",
                 f"after {result['turns']} turns"], [
        ["RSS (MB)", f"{b['rss_mb']:.1f}", f"{e['rss_mb']:.1f} "
                                           f"({100 * result['rss_growth']:+.2f}%)"],
        ["threads", b["threads"], e["threads"]],
        ["open files", b["open_files"], e["open_files"]],
        ["file descriptors", b["fds"], e["fds"]],
    ], title=f"soak: {result['counts']['spoken']} spoken, {result['counts']['typed']} typed, "
             f"{result['counts']['chat']} chit-chat turns in {result['seconds']:.0f} s"))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2), encoding="utf-8")
    if result["notices"]:
        print(f"{len(result['notices'])} notices; first: {result['notices'][0]}")
    if result["failures"]:
        print(f"FAIL: {len(result['failures'])} problem(s)")
        for f in result["failures"][:20]:
            print(f"  {f}")
        return 1
    print("PASS: every turn answered; no growth beyond limits")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
