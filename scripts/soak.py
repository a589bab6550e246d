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

With ``--malloc-trim`` it also reports RSS after glibc's ``malloc_trim`` (what drops there
was free heap the allocator kept, i.e. fragmentation; what stays is live). The JSON says
which memory mappings grew (``rss_by_mapping_growth_kb``: main heap, thread arenas, model
files).
``--diagnose A,B`` adds a tracemalloc diff and live-object counts by type between turns A
and B, and the sizes of the session's per-turn containers (history, snapshot, streams).

    .venv/bin/python scripts/soak.py               # 500 turns
    .venv/bin/python scripts/soak.py --turns 30    # what CI runs (tests/test_soak.py)
    .venv/bin/python scripts/soak.py --turns 200 --warm-up 50 --diagnose 100,180
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import tempfile
import threading
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


def malloc_trim() -> bool:
    """Give free heap pages back to the OS (glibc only); False where unavailable.

    Why: RSS that drops after ``malloc_trim`` was free memory glibc had kept (arena
    fragmentation), not live objects; what stays is what the process really holds."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
        return True
    except (OSError, AttributeError):
        return False


def stats(trim: bool = False) -> dict[str, Any]:
    """Process figures after a full collection; with ``trim``, also ``rss_trimmed_mb``
    after ``malloc_trim`` (off by default: trimming at the warm-up point would release
    pages that then no longer count at the end, flattering the growth figure)."""
    from localvox.bench.common import process_stats

    gc.collect()
    out = process_stats()
    if trim and malloc_trim():
        import psutil

        out["rss_trimmed_mb"] = psutil.Process().memory_info().rss / 2**20
    out["thread_names"] = sorted(t.name for t in threading.enumerate())
    return out


class Probe:
    """Leak hunting (``--diagnose A,B``): Python allocations (tracemalloc, started at turn
    A) and live objects by type (gc), diffed between turns A and B, plus the engine's own
    per-session containers, so a growing RSS can be traced to the code that allocates."""

    def __init__(self, start: int, end: int, frames: int = 12) -> None:
        self.start, self.end, self.frames = start, end, frames
        self.snap: Any = None
        self.types: dict[str, int] = {}
        self.report: dict[str, Any] = {}

    @staticmethod
    def type_counts() -> dict[str, int]:
        gc.collect()
        counts: dict[str, int] = {}
        for o in gc.get_objects():
            name = type(o).__qualname__
            counts[name] = counts.get(name, 0) + 1
        return counts

    def at_turn(self, n: int, engine: Any) -> None:
        import tracemalloc

        if n == self.start:
            tracemalloc.start(self.frames)
            self.types = self.type_counts()
            gc.collect()
            self.snap = tracemalloc.take_snapshot()
            self.report["containers_start"] = containers(engine)
            self.maps = memory_maps()
        elif n == self.end and self.snap is not None:
            gc.collect()
            snap = tracemalloc.take_snapshot()
            flt = [tracemalloc.Filter(False, tracemalloc.__file__)]
            stats = snap.filter_traces(flt).compare_to(self.snap.filter_traces(flt),
                                                       "traceback")
            top = []
            for st in stats[:15]:
                frames = [f"{f.filename.replace(str(ROOT) + '/', '')}:{f.lineno}"
                          for f in st.traceback[-6:]]
                top.append({"size_diff_kb": round(st.size_diff / 1024, 1),
                            "count_diff": st.count_diff, "where": frames})
            total = sum(st.size_diff for st in stats)
            tracemalloc.stop()
            maps = memory_maps()
            moved = sorted(((maps.get(k, 0) - self.maps.get(k, 0), k)
                            for k in set(maps) | set(self.maps)), reverse=True)
            self.report["rss_by_mapping_diff_kb"] = {
                k: d for d, k in moved[:10] + moved[-6:] if abs(d) >= 256}
            self.report["rss_by_mapping_end_kb"] = {
                k: v for k, v in sorted(maps.items(), key=lambda kv: -kv[1])[:12]}
            types = self.type_counts()
            grown = sorted(((types.get(k, 0) - self.types.get(k, 0), k)
                            for k in set(types) | set(self.types)), reverse=True)
            self.report.update({
                "turns": [self.start, self.end],
                "python_alloc_diff_kb": round(total / 1024, 1),
                "top_allocations": top,
                "object_growth": {k: d for d, k in grown[:20] if d > 0},
                "containers_end": containers(engine)})
            self.snap = None


def memory_maps() -> dict[str, int]:
    """Resident KiB per mapping (/proc/self/smaps): the heap, each model file, and each
    anonymous block by start address and size (a glibc thread arena grows in place, so
    its key changes size; a preallocated buffer filling in keeps its key)."""
    out: dict[str, int] = {}
    try:
        text = Path("/proc/self/smaps").read_text()
    except OSError:
        return out
    key = ""
    for line in text.splitlines():
        head = line.split()
        if not head:
            continue
        if "-" in head[0] and not head[0].endswith(":"):
            lo, hi = (int(x, 16) for x in head[0].split("-"))
            path = head[5] if len(head) > 5 else ""
            key = Path(path).name if path.startswith("/") else (
                path or f"anon@{lo:x} {(hi - lo) / 2**20:.1f} MiB")
        elif head[0] == "Rss:":
            out[key] = out.get(key, 0) + int(head[1])
    return out


def containers(engine: Any) -> dict[str, Any]:
    """Sizes of what a session keeps per turn (each must stay bounded)."""
    session = getattr(engine.agent, "session", None)
    out: dict[str, Any] = {"traces": len(engine.traces),
                           "asyncio_tasks": len(asyncio.all_tasks()),
                           "bus_subscribers": len(engine.bus._subscribers)}
    if session is not None:
        out["session_subscribers"] = len(session._subscribers)
        out["session_bus_queue"] = session._bus.qsize()
        for node in session.nodes:
            out[f"node:{node.name}:queue"] = node._queue.qsize()
            out[f"node:{node.name}:inflight"] = len(node._inflight)
            ctx = getattr(node, "context", None)
            if ctx is not None:
                out[f"node:{node.name}:history"] = len(ctx)
    snapshot = getattr(engine.agent, "_snapshot", None)
    if snapshot is not None:
        out["agent_snapshot_messages"] = sum(len(m) for _, m in snapshot)
    return out


async def start_default_executor() -> int:
    """Start every worker of the loop's default executor now (Python's usual size).

    Why: whisper, piper and synchronous tools run in ``asyncio.to_thread``; the pool adds
    a worker only when all are busy, so a third worker can first appear at turn 300 when a
    partial decode, a synthesis and a notes query happen to overlap. That is the pool
    reaching its fixed size, not a leak; starting it whole keeps the thread check about
    threads made per turn."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    workers = min(32, (os.cpu_count() or 1) + 4)
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=workers,
                                                 thread_name_prefix="asyncio"))
    barrier = threading.Barrier(workers)
    await asyncio.gather(*(loop.run_in_executor(None, barrier.wait, 10)
                           for _ in range(workers)))
    return workers


async def soak(turns: int, verbose: bool, warm_up: int | None = None,
               probe: Probe | None = None, prestart: bool = True,
               trim: bool = False) -> dict[str, Any]:
    from localvox.audio.null import NullSink
    from localvox.config import load_config
    from localvox.pipeline import events as ev
    from localvox.pipeline.factory import build_engine, load_parts

    if prestart:
        await start_default_executor()
    tmp = Path(tempfile.mkdtemp(prefix="localvox-soak-"))
    config = load_config(use_user_file=False)
    config.wake.mode = "always"
    config.agent.notes_db = str(tmp / "notes.sqlite3")
    config.llm.max_tokens = 24
    config.pipeline.speculative = True
    parts = await load_parts(config, need_wake=False)
    clips = await make_clips(parts.tts)
    source = ClipSource(config.audio.frame_ms)
    sink = NullSink("soak-null")  # keeps nothing: the soak measures the engine, not a
                                  # sink storing every reply (as ``WavSink(None)`` does)
    engine = await build_engine(config, parts=parts, source=source, sink=sink,
                                trace_path=tmp / "turns.jsonl")
    engine.opts.hold_input_while_replying = True
    queue = engine.subscribe()
    runner = asyncio.ensure_future(engine.run())
    warm = warm_up if warm_up is not None else max(10, turns // 10)
    failures: list[str] = []
    notices: list[str] = []
    baseline: dict[str, Any] | None = None
    maps_warm: dict[str, int] = {}
    t0 = time.perf_counter()
    counts = {"spoken": 0, "typed": 0, "chat": 0}
    import psutil

    proc = psutil.Process()
    curve: list[float] = []
    for n in range(turns):
        if n == warm:
            baseline = stats(trim)
            maps_warm = memory_maps()
        if probe is not None:
            probe.at_turn(n, engine)
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
    final = stats(trim)
    maps_end = memory_maps()
    maps_warm = maps_warm or maps_end
    moved = sorted(((maps_end.get(k, 0) - maps_warm.get(k, 0), k)
                    for k in set(maps_end) | set(maps_warm)), reverse=True)
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
            "rss_growth": growth, "audio_out_samples": sink.samples_played,
            "traces": len(engine.traces), "notices": notices, "rss_curve_mb": curve,
            "containers": containers(engine),
            "rss_by_mapping_growth_kb": {k: d for d, k in moved[:8] + moved[-4:] if abs(d) >= 256},
            "diagnosis": probe.report if probe else None,
            "failures": failures}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--turns", type=int, default=500)
    ap.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every turn")
    ap.add_argument("--warm-up", type=int, metavar="N",
                    help="turns before the baseline (default 10%% of the turns, at least 10)")
    ap.add_argument("--diagnose", metavar="A,B",
                    help="diff Python allocations and live objects between turns A and B")
    ap.add_argument("--lazy-executor", action="store_true",
                    help="let the default executor start workers on demand (see "
                         "start_default_executor)")
    ap.add_argument("--malloc-trim", action="store_true",
                    help="also report RSS after glibc's malloc_trim (fragmentation vs live)")
    args = ap.parse_args(argv)
    probe = None
    if args.diagnose:
        a, b = (int(x) for x in args.diagnose.split(","))
        probe = Probe(a, b)
    from localvox.bench.common import table

    result = asyncio.run(soak(args.turns, args.verbose, args.warm_up, probe,
                               not args.lazy_executor, args.malloc_trim))
    b, e = result["after_warm_up"], result["end"]
    print(table(["figure", f"after warm-up ({result['warm_up_turns']} turns)",
                 f"after {result['turns']} turns"], [
        ["RSS (MB)", f"{b['rss_mb']:.1f}", f"{e['rss_mb']:.1f} "
                                           f"({100 * result['rss_growth']:+.2f}%)"],
        *([["RSS after malloc_trim (MB)", f"{b['rss_trimmed_mb']:.1f}",
             f"{e['rss_trimmed_mb']:.1f}"]] if "rss_trimmed_mb" in e else []),
        ["threads", b["threads"], e["threads"]],
        ["open files", b["open_files"], e["open_files"]],
        ["file descriptors", b["fds"], e["fds"]],
    ], title=f"soak: {result['counts']['spoken']} spoken, {result['counts']['typed']} typed, "
             f"{result['counts']['chat']} chit-chat turns in {result['seconds']:.0f} s"))
    if result["diagnosis"]:
        print(json.dumps(result["diagnosis"], indent=1))
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
