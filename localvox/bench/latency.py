"""``localvox bench latency``: voice-to-voice latency of the real loop vs a naive pipeline.

Each scripted turn is one spoken question (``localvox.bench.turnset``: the Piper fixtures,
tool and chat questions in the configured Piper voice, and real people from
``../shared/speech``), played in real time into the same ``TurnEngine`` the app uses
(configured models; the global ``--llm-model`` flag swaps the LLM; ``--no-wake``), with a fresh agent
session per turn so every turn sees the same context. Voice-to-voice latency is measured
from the *true* end of the user's speech -- the phrase's last sample, mapped onto the
engine's clock -- to the first reply sample handed to the sink.

Turns are reported in two groups, because they are different products: *tool* turns
(answered by the intent router and a tool, no LLM call) and *chat* turns (the LLM was
called; counted by wrapping it). Each group has its own p50/p95 per stage and its own
ratio to the baseline. A loop-lag probe (a task asking to wake every 5 ms) records the
event loop's longest stall during each turn: everything the loop does synchronously --
per-frame DSP, tokenising, model loading -- shows up there.

In the same run, the same turns go through a naive sequential baseline: wait a fixed
end-of-turn silence after the utterance (``[endpoint] default_silence_ms``), transcribe
the whole utterance on faster-whisper's plain 30 s path, generate the whole reply, then
synthesise the whole reply. Its latency is that silence plus the three measured compute
times. Percentiles are nearest-rank over the measured turns; nothing is estimated.
The per-turn record, the percentiles, the table and the plot are in ``latency_report.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localvox.bench.latency_report import (IDLE_FLOOR_S, STAGES, TurnResult, plot, print_table,
                                           summarize)

if TYPE_CHECKING:
    from localvox.bench.turnset import Clip, CountingLLM

NAME = "latency"
HELP = "voice-to-voice latency (p50/p95 per stage) of the speech loop vs a naive sequential one"

LEAD_S = 0.6
TAIL_S = 2.0
PROBE_S = 0.005


def add_arguments(p: argparse.ArgumentParser) -> None:
    from localvox.config import REPO_ROOT

    p.add_argument("--turns", type=int, default=12, help="scripted turns (default 12)")
    p.add_argument("--fixtures", default=str(REPO_ROOT / "tests" / "fixtures"),
                   help="folder with the WAV fixtures and layout.json")
    p.add_argument("--speech", default=None, help="the real-speech folder (../shared/speech)")
    p.add_argument("--sources", default="piper,real",
                   help="turn sources: piper (fixtures + synthesised), real (default both)")
    p.add_argument("--no-baseline", action="store_true", help="skip the sequential baseline")
    p.add_argument("--audio-worker", choices=("on", "off", "both"), default="on",
                   help="per-frame DSP in the audio worker thread (on), on the event loop "
                        "(off), or each turn played both ways for the stall column (both)")


class LoopProbe:
    """Measures event-loop stalls: a task that asks to wake every ``PROBE_S`` and records
    how late it woke. The longest lateness in a window is the loop's longest stall."""

    def __init__(self) -> None:
        self.max_s = 0.0
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t = loop.time()
            await asyncio.sleep(PROBE_S)
            lag = loop.time() - t - PROBE_S
            self.lags.append(lag)
            self.max_s = max(self.max_s, lag)

    def start(self) -> None:
        self.max_s = 0.0
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> float:
        """Stop; the longest stall since ``start`` (ms)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        return round(self.max_s * 1000.0, 1)


def contributions(marks: dict[str, float], true_end: float) -> dict[str, float]:
    """How far each milestone pushed the critical path (ms); work hidden earlier counts 0."""
    out: dict[str, float] = {}
    reached = true_end
    for key, _ in STAGES:
        if key in marks:
            out[key] = max(0.0, marks[key] - reached) * 1000.0
            reached = max(reached, marks[key])
    return out


async def clip_engine(config: Any, parts: Any, agent: Any, samples: Any) -> Any:
    """One clip as a live microphone gives it: ``LEAD_S`` of silence, the clip in real
    time, ``TAIL_S`` of trailing silence; replies go to a silent sink, no trace file."""
    import numpy as np

    from localvox.audio.base import SAMPLE_RATE
    from localvox.audio.null import NullSink
    from localvox.audio.wav import WavSource
    from localvox.pipeline.factory import build_engine

    lead = np.zeros(int(LEAD_S * SAMPLE_RATE), np.float32)
    source = WavSource(samples=np.concatenate([lead, samples]), realtime=True,
                       tail_silence_s=TAIL_S, frame_ms=config.audio.frame_ms)
    engine = await build_engine(config, parts=parts, agent=agent, source=source,
                                sink=NullSink(), trace_path=None)
    engine.trace = None
    return engine


async def engine_turn(config: Any, parts: Any, llm: "CountingLLM", clip: "Clip") -> TurnResult:
    from localvox.pipeline.events import FinalTranscript
    from localvox.pipeline.factory import open_agent

    agent = await open_agent(config, llm=llm)
    engine = await clip_engine(config, parts, agent, clip.samples)
    q = engine.subscribe()
    calls = llm.calls
    probe = LoopProbe()
    probe.start()
    await engine.run()
    stall = await probe.stop()
    kind = "chat" if llm.calls > calls else "tool"
    await agent.close()
    finals = []
    while not q.empty():
        ev = q.get_nowait()
        if isinstance(ev, FinalTranscript):
            finals.append(ev.text)
    true_end = engine.clock.stream_to_clock(LEAD_S + clip.speech_end_s)
    voiced = [t for t in engine.traces if "first_audio_out" in t.marks]
    if not voiced:
        return TurnResult(clip.name, " / ".join(finals), "", None, kind=kind,
                          source=clip.source, stall_ms=stall)
    tr = voiced[0]
    v2v = (tr.marks["first_audio_out"] - true_end) * 1000.0
    return TurnResult(clip.name, tr.text, tr.reply, round(v2v, 1),
                      {k: round(v, 1) for k, v in contributions(tr.marks, true_end).items()},
                      tr.speculative, kind=kind, source=clip.source, stall_ms=stall,
                      gap_ms=tr.longest_gap_ms)


async def baseline_turn(config: Any, parts: Any, llm: Any, clip: "Clip",
                        plain_asr: Any) -> tuple[float, dict[str, float]]:
    """Record all, transcribe all, generate all, synthesise all: one after the other."""
    import numpy as np

    from localvox.audio.base import SAMPLE_RATE
    from localvox.pipeline.agent_port import ReplyText
    from localvox.pipeline.factory import open_agent

    silence = config.endpoint.default_silence_ms
    pre = np.zeros(int(config.vad.pre_roll_ms * SAMPLE_RATE / 1000), np.float32)
    utterance = np.concatenate([pre, clip.samples])
    t0 = time.perf_counter()
    text = (await plain_asr(utterance)).text
    t1 = time.perf_counter()
    agent = await open_agent(config, llm=llm)
    parts_text: list[str] = []
    async for piece in agent.respond(text):
        if isinstance(piece, ReplyText):
            parts_text.append(piece.text)
    await agent.close()
    t2 = time.perf_counter()
    reply = "".join(parts_text).strip()
    async for _chunk in parts.tts.synthesize(reply):
        pass
    t3 = time.perf_counter()
    stages = {"silence": float(silence), "transcribe": (t1 - t0) * 1000.0,
              "generate": (t2 - t1) * 1000.0, "synthesize": (t3 - t2) * 1000.0}
    return round(sum(stages.values()), 1), {k: round(v, 1) for k, v in stages.items()}


def _plain_asr(parts: Any) -> Any:
    """The ASR's whole-utterance decode on Whisper's fixed 30 s window, if it has one."""
    import inspect

    fn = parts.asr.transcribe
    if "windowed" in inspect.signature(fn).parameters:
        return lambda x: fn(x, windowed=False)
    return fn


def load_turns(args: argparse.Namespace, parts: Any) -> list["Clip"]:
    """Piper and real-speech turns, interleaved (tool questions, chat, real people)."""
    from localvox.bench import turnset
    from localvox.bench.endpoint_data import speech_root
    from localvox.errors import LocalvoxError

    sources = {s.strip() for s in args.sources.split(",") if s.strip()}
    groups: list[list["Clip"]] = []
    if "piper" in sources:
        synth = turnset.piper_clips(parts.tts) if parts.tts is not None else []
        groups.append([c for c in synth if c.text in turnset.PIPER_TOOL])
        groups.append([c for c in synth if c.text in turnset.PIPER_CHAT]
                      + turnset.fixture_clips(args.fixtures))
    if "real" in sources:
        root = Path(args.speech) if args.speech else speech_root()
        groups.append(turnset.real_clips(root))
    clips = turnset.interleave(*groups)
    if not clips:
        raise LocalvoxError("no turns to play: check --sources, --fixtures and --speech")
    return clips


async def _bench(args: argparse.Namespace, config: Any) -> dict[str, Any]:
    from localvox.agent.assistant import create_llm
    from localvox.bench.turnset import CountingLLM
    from localvox.pipeline.factory import load_parts

    config = copy.deepcopy(config)
    config.wake.mode = "always"
    print(f"loading models ({config.asr.model}, {config.tts.voice}, {config.llm.model}) ...",
          flush=True)
    parts = await load_parts(config, need_wake=False)
    llm = CountingLLM(await asyncio.to_thread(create_llm, config))
    clips = load_turns(args, parts)
    plain = _plain_asr(parts)
    # Warm-up turns (first inference of every model is slower; the first chat turn loads
    # the LLM's prompt cache); not counted.
    for clip in clips[:2]:
        await engine_turn(config, parts, llm, clip)
    if not args.no_baseline:
        await baseline_turn(config, parts, llm, clips[0], plain)
    # The machine's own floor: the longest stall of an idle loop (only the probe running).
    # On a loaded machine the OS alone stalls the loop this long; turn stalls below it say
    # nothing about the engine.
    floor = LoopProbe()
    floor.start()
    await asyncio.sleep(IDLE_FLOOR_S)
    idle_stall = await floor.stop()
    results: list[TurnResult] = []
    config.pipeline.audio_worker = args.audio_worker != "off"
    loop_config = copy.deepcopy(config)
    loop_config.pipeline.audio_worker = False
    for i in range(args.turns):
        clip = clips[i % len(clips)]
        r = await engine_turn(config, parts, llm, clip)
        if args.audio_worker == "both":
            r.stall_no_worker_ms = (await engine_turn(loop_config, parts, llm, clip)).stall_ms
        if not args.no_baseline:
            r.baseline_ms, r.baseline_stages_ms = await baseline_turn(config, parts, llm,
                                                                      clip, plain)
        results.append(r)
        base = f"  baseline {r.baseline_ms:.0f} ms" if r.baseline_ms is not None else ""
        v2v = f"{r.voice_to_voice_ms:.0f} ms" if r.voice_to_voice_ms is not None else "no reply"
        print(f"turn {i + 1:2d}/{args.turns} {r.kind:4s} {r.source:5s} {v2v:>9}{base}  "
              f"stall {r.stall_ms:.0f} ms  "
              f"{'(loop DSP ' + format(r.stall_no_worker_ms, '.0f') + ' ms) ' if r.stall_no_worker_ms is not None else ''}"
              f"{'[spec ' + r.speculative + '] ' if r.speculative else ''}"
              f"{r.transcript[:40]!r} -> {r.reply[:40]!r}", flush=True)
    await llm.close()
    summary = summarize(results, config)
    summary["idle_loop_stall_ms"] = idle_stall
    return summary


def run(args: argparse.Namespace, config: Any) -> int:
    summary = asyncio.run(_bench(args, config))
    print_table(summary)
    if getattr(args, "json", None):
        Path(args.json).write_text(json.dumps(summary, indent=2), encoding="utf-8")
        print(f"JSON written to {args.json}")
    if getattr(args, "plot", None):
        plot(summary, args.plot)
        print(f"plot written to {args.plot}")
    return 0
