"""``localvox bench commands DIR``: spoken commands through the whole loop, vs Picovoice's table.

DIR is laid out like ``../shared/speech/intent/coffee`` (Picovoice's speech-to-intent
benchmark): ``NAME.wav`` + ``NAME.json`` (``{"intent": ..., "slots": {...}}``), optionally a
Rhino grammar ``*.yaml``. Every clip, at every ``--snr`` (``clean`` or dB, noise from
``--noise`` mixed at that SNR over the speech span, :mod:`localvox.bench.noise`), goes
through the same ``TurnEngine`` the app runs, in fast mode: Silero VAD and the endpointer
find the turn from the clip's own leading/trailing silence, the streaming Whisper decode
(biased with the agent's tool vocabulary unless ``--no-bias``) gives the final, and the
``barista`` example's session routes it and makes its tool call. No wake word (``always``)
and no speech output: the tool call is the result.

Fast mode (the default) reads each clip as fast as the engine takes it, for accuracy over
hundreds of runs; ``--realtime`` plays it at real time, which is what the latency columns
mean for a user (measured: fast mode's clock put the first partial 3.5-6 s after the end
of speech on a loaded machine, real time 1-1.6 s before it).

A clip counts as **accepted** when the agent's first tool call is the labelled intent's tool
and its arguments equal the labelled slots exactly (lower-cased; no slot missing, none
extra) -- Picovoice's "command acceptance". A clip that yields no tool call is "no
command". Slot accuracy is the share of labelled slots whose value was right. Latencies
are on the engine's clock from the true end of speech (the clean clip's last voiced
frame): endpoint (the endpointer fired) and voice-to-tool-call (the tool call started).

Picovoice's published rows (their README, cafe and kitchen noise at 6-24 dB) are printed
beside ours; ``--plot`` draws acceptance vs SNR with Rhino's published points.

Where the parts live: the clip set and the acceptance rule in
:mod:`localvox.bench.commands_clips`, the summary, tables and plot in
:mod:`localvox.bench.commands_report`; this module runs clips through the engine (or
``--reroute``s saved transcripts) and re-exports those modules' public names.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import time
from pathlib import Path
from typing import Any

from localvox.bench.commands_clips import (Clip, Result, load_clips, parse_snrs, score,
                                           snr_label)
from localvox.bench.commands_report import PUBLISHED, plot, print_report, summarize
from localvox.bench.latency_report import percentile

__all__ = ["NAME", "HELP", "add_arguments", "run", "run_clip", "reroute", "Clip", "Result",
           "load_clips", "parse_snrs", "score", "snr_label", "PUBLISHED", "percentile", "plot",
           "print_report", "summarize"]

NAME = "commands"
HELP = "spoken commands (VAD, streaming ASR, routing, tool call) vs Picovoice's published table"

DEFAULT_SNRS = "clean,24,18,12,9,6"
LEAD_S = 0.0
TAIL_S = 1.5


def add_arguments(p: argparse.ArgumentParser) -> None:
    from localvox.bench.noise import shared_speech

    speech = shared_speech()
    p.add_argument("dir", nargs="?", default=str(speech / "intent" / "coffee"),
                   help="clips with .json labels (default ../shared/speech/intent/coffee)")
    p.add_argument("--snr", default=DEFAULT_SNRS,
                   help=f"comma-separated: clean or dB (default {DEFAULT_SNRS})")
    p.add_argument("--noise", default=str(speech / "noise" / "kitchen.wav"),
                   help="noise WAV mixed over the speech (default ../shared/speech/noise/kitchen.wav)")
    p.add_argument("--limit", type=int, default=0, help="only the first N clips")
    p.add_argument("--no-bias", action="store_true",
                   help="do not give Whisper the tools' vocabulary (to measure what it buys)")
    p.add_argument("--realtime", action="store_true",
                   help="play each clip in real time, as a live microphone does (the latency "
                        "figures a user meets; a clip takes its own length)")
    p.add_argument("--reroute", metavar="JSON",
                   help="no audio: route the transcripts saved by an earlier --json run "
                        "again with the current router (each clip's first final that routes)")
    p.add_argument("--verbose", "-v", action="store_true", help="print every clip")


async def run_clip(config: Any, parts: Any, app: Any, samples: Any,
                   speech_end_s: float, realtime: bool = False) -> dict[str, Any]:
    """One clip through the engine; the first tool call, transcripts and milestones."""
    from localvox.audio.null import NullSink
    from localvox.audio.wav import WavSource
    from localvox.pipeline.agent_port import SessionAgent, ToolStarted
    from localvox.pipeline.events import FinalTranscript
    from localvox.pipeline.factory import build_engine

    session = await app.open_session()
    calls: list[tuple[str, str, float]] = []
    holder: dict[str, Any] = {}

    class TimedAgent(SessionAgent):
        async def respond(self, text: str) -> Any:  # type: ignore[override]
            async for piece in super().respond(text):
                if isinstance(piece, ToolStarted):
                    calls.append((piece.name, piece.arguments, holder["engine"].clock.now()))
                yield piece

    agent = TimedAgent(session)
    source = WavSource(samples=samples, realtime=realtime, tail_silence_s=TAIL_S,
                       frame_ms=config.audio.frame_ms)
    engine = await build_engine(config, parts=parts, agent=agent, source=source,
                                sink=NullSink(), trace_path=None, realtime=realtime)
    holder["engine"] = engine
    engine.trace = None
    q = engine.subscribe()
    await engine.run()
    await agent.close()
    finals = []
    while not q.empty():
        ev = q.get_nowait()
        if isinstance(ev, FinalTranscript) and ev.text.strip():
            finals.append(ev.text)
    true_end = engine.clock.stream_to_clock(LEAD_S + speech_end_s)
    endpoint = None
    for tr in engine.traces:
        if "endpoint" in tr.marks:
            endpoint = (tr.marks["endpoint"] - true_end) * 1000
            break
    tool, args, tool_ms = None, {}, None
    if calls:
        name, raw, at = calls[0]
        tool, tool_ms = name, (at - true_end) * 1000
        try:
            args = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            args = {}
    marks = {k: round((v - true_end) * 1000) for tr in list(engine.traces)[:1]
             for k, v in tr.marks.items()}
    return {"finals": finals, "tool": tool, "args": args, "endpoint_ms": endpoint,
            "tool_ms": tool_ms, "marks": marks}


async def _bench(args: argparse.Namespace, config: Any) -> dict[str, Any]:
    import numpy as np

    from localvox.audio.wav import read_wav
    from localvox.bench.noise import mix_at_snr, speech_span
    from localvox.examples import barista
    from localvox.pipeline.startup import SpeechParts, load_input

    config = copy.deepcopy(config)
    config.wake.mode = "always"
    clips = load_clips(args.dir)
    if args.limit:
        clips = clips[:args.limit]
    snrs = parse_snrs(args.snr)
    noise = read_wav(args.noise) if any(s is not None for s in snrs) else np.zeros(0)
    print(f"loading models ({config.asr.model}, {config.vad.backend}) ...", flush=True)
    notices: list[Any] = []
    listening = await load_input(config, notices, need_wake=False)
    parts = SpeechParts(vad=listening["vad"], asr=listening["asr"], tts=None, notices=notices)
    probe = barista.BaristaAgent(llm=None)
    params = probe.tools.get_schemas()[0]["function"]["parameters"]["properties"]
    bias = None if args.no_bias or not config.asr.bias else barista.vocabulary(probe)
    notice = parts.asr.set_bias(bias)
    if notice:
        print(notice)
    prompt = getattr(parts.asr, "prompt", None)
    if prompt is not None and prompt.text:
        print(f"ASR prompt ({len(prompt.tokens)} tokens): {prompt.text}")
    llm: Any = None
    if config.llm.backend:
        from localvox.examples._common import create_llm

        try:
            llm = await asyncio.to_thread(create_llm, config)
        except Exception as err:  # noqa: BLE001 - the bench still measures routed orders
            print(f"LLM unavailable ({err}); unrouted turns get no reply")
    app = barista.create_app(config, llm=llm if llm is not None else _SilentLLM())
    results: list[Result] = []
    t_start = time.perf_counter()
    for snr in snrs:
        for i, clip in enumerate(clips):
            try:
                clean = read_wav(clip.path)
            except Exception as err:  # noqa: BLE001 - a corrupt clip is skipped, not fatal
                print(f"skipping {clip.path.name}: {str(err).splitlines()[0]}")
                continue
            _, end = speech_span(clean)
            samples = mix_at_snr(clean, noise, snr, offset=16000 * 7 * i)
            r = await run_clip(config, parts, app, samples, end / 16000, args.realtime)
            ok, right, errors = score(clip, r["tool"], r["args"], params)
            res = Result(clip.name, snr_label(snr), " / ".join(r["finals"]), r["tool"],
                         r["args"], ok, right, len(clip.slots), len(r["finals"]),
                         r["endpoint_ms"], r["tool_ms"], errors)
            results.append(res)
            if args.verbose:
                print(f"   marks (ms from the end of speech): {r['marks']}")
            if args.verbose or not ok:
                mark = "ok " if ok else "BAD"
                print(f"{mark} {snr_label(snr):>6} {clip.name[:8]} {res.transcript!r}"
                      + ("" if ok else f"  [{'; '.join(errors)}]"), flush=True)
        done = [r for r in results if r.snr == snr_label(snr)]
        print(f"-- {snr_label(snr)}: {sum(r.accepted for r in done)}/{len(done)} accepted "
              f"({time.perf_counter() - t_start:.0f} s so far)", flush=True)
    await app.close()
    if llm is not None and hasattr(llm, "close"):
        await llm.close()
    summary = summarize(results, snrs, bias_text=prompt.text if prompt is not None else "")
    summary["realtime"] = bool(args.realtime)
    summary["bias"] = not args.no_bias
    return summary


class _SilentLLM:
    """The LLM when none is configured or it fails to load: routed orders need no LLM, and
    an unrouted turn gets no reply instead of stopping the bench."""

    name = "none"

    async def chat(self, messages: Any, tools: Any = None, **kw: Any) -> Any:
        if False:
            yield None

    async def close(self) -> None:
        return None


def reroute(args: argparse.Namespace) -> dict[str, Any]:
    """Score an earlier run's transcripts with today's router: routing changes measured on
    the very transcripts the ASR gave (the ASR is the slow part of this bench)."""
    from localvox.agent.intent import IntentRouter
    from localvox.examples.barista import BaristaAgent

    node = BaristaAgent(llm=None)
    router = IntentRouter(node.tools.get_schemas(), sentences=node.tools.get_sentences())
    params = node.tools.get_schemas()[0]["function"]["parameters"]["properties"]
    clips = {c.name: c for c in load_clips(args.dir)}
    old = json.loads(Path(args.reroute).read_text(encoding="utf-8"))
    results, snrs = [], []
    for r in old["results"]:
        clip = clips.get(r["clip"])
        if clip is None:
            continue
        route = None
        for text in (r["transcript"].split(" / ") if r["transcript"] else []):
            if (route := router.route(text)) is not None:
                break
        tool, arguments = (route.tool, route.arguments) if route else (None, {})
        ok, right, errors = score(clip, tool, arguments, params)
        results.append(Result(r["clip"], r["snr"], r["transcript"], tool, arguments, ok, right,
                              len(clip.slots), r["turns"], r["endpoint_ms"], None, errors))
        snr = None if r["snr"] == "clean" else float(r["snr"].split()[0])
        if snr not in snrs:
            snrs.append(snr)
    print(f"re-routed {len(results)} transcripts from {args.reroute} (latencies not re-measured)")
    summary = summarize(results, snrs, bias_text=old.get("asr_prompt", ""))
    summary["rerouted_from"] = str(args.reroute)
    return summary


def run(args: argparse.Namespace, config: Any) -> int:
    from localvox.bench.common import write_json

    summary = reroute(args) if args.reroute else asyncio.run(_bench(args, config))
    print()
    print_report(summary)
    write_json(args.json, summary)
    if args.plot:
        plot(summary, args.plot)
    return 0
