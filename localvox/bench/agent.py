"""``localvox bench agent``: your agent file's voice-to-voice latency vs the built-in assistant.

The issue's target: a user agent run with ``app.run()`` answers by voice as fast as the
built-in assistant (within 10 %). Both run in the same ``TurnEngine`` on the same speech
models, the same LLM instance and the same spoken clips (``tests/fixtures``, as ``bench
latency`` uses them), alternating turn by turn so machine load hits both alike, each turn
with a fresh session. Voice-to-voice is from the true end of the phrase (its last sample,
mapped onto the engine clock) to the first reply sample handed to the sink; percentiles
are nearest-rank over the measured turns. The built-in figure is the anchor.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
from pathlib import Path
from typing import Any

NAME = "agent"
HELP = "voice-to-voice latency of an agent file (default: the article's minimal agent) vs " \
       "the built-in assistant"

TARGET = 0.10
"""The issue's tolerance: within 10 % of the built-in assistant's p50."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    from localvox.config import REPO_ROOT

    p.add_argument("--file", default=str(REPO_ROOT / "examples" / "atoms" / "minimal_agent.py"),
                   help="the agent file (a FILE.py that makes an App)")
    p.add_argument("--turns", type=int, default=6, help="measured turns per agent (default 6)")
    p.add_argument("--fixtures", default=str(REPO_ROOT / "tests" / "fixtures"),
                   help="folder with the WAV fixtures and layout.json")


async def _turn(config: Any, parts: Any, agent: Any, clip: Any) -> dict[str, Any]:
    from localvox.bench.latency import LEAD_S, clip_engine

    engine = await clip_engine(config, parts, agent, clip.samples)
    await engine.run()
    await agent.close()
    true_end = engine.clock.stream_to_clock(LEAD_S + clip.speech_end_s)
    voiced = [t for t in engine.traces if "first_audio_out" in t.marks]
    if not voiced:
        return {"clip": clip.name, "v2v_ms": None, "reply": ""}
    trace = voiced[0]
    return {"clip": clip.name, "v2v_ms": round((trace.marks["first_audio_out"] - true_end)
                                               * 1000.0, 1),
            "transcript": trace.text, "reply": trace.reply, "speculative": trace.speculative}


async def _bench(args: argparse.Namespace, config: Any) -> dict[str, Any]:
    from localvox.agent.assistant import create_llm
    from localvox.agent.client import set_active_config, share_backend, take_announcements
    from localvox.agent.launch import open_port, load_app
    from localvox.bench.turnset import fixture_clips
    from localvox.pipeline.factory import load_parts, open_agent

    config = copy.deepcopy(config)
    config.wake.mode = "always"
    clips = fixture_clips(args.fixtures)
    set_active_config(config)
    print(f"loading models ({config.asr.model}, {config.tts.voice}, {config.llm.model}) ...",
          flush=True)
    parts = await load_parts(config, need_wake=False)
    llm = await asyncio.to_thread(create_llm, config)
    share_backend(config, llm)        # the agent file's OpenAIClient gets the same model
    app = load_app(args.file)

    async def builtin() -> Any:
        return await open_agent(config, llm=llm)

    async def user() -> Any:
        port, _ = await open_port(app, config, Path(args.file).stem)
        return port

    # Only turns both answer with the LLM: the built-in answers "what time is it?" with its
    # clock tool and no LLM, which says nothing about running a user's agent.
    from localvox.agent.assistant import AssistantNode

    probe = await builtin()
    router = next(n.router for n in probe.session.nodes if isinstance(n, AssistantNode))
    await probe.close()
    chat = [c for c in clips if router.tool_call(c.text) is None]
    print(f"{len(chat)} of {len(clips)} clips are open conversation (the rest would run a "
          "built-in tool)", flush=True)
    clips = chat
    await _turn(config, parts, await builtin(), clips[0])      # warm-up, not counted
    await _turn(config, parts, await user(), clips[0])
    for line in take_announcements():
        print(line)
    rows: dict[str, list[dict[str, Any]]] = {"builtin": [], "agent": []}
    for i in range(args.turns):
        clip = clips[i % len(clips)]
        for label, make in (("builtin", builtin), ("agent", user)):
            result = await _turn(config, parts, await make(), clip)
            rows[label].append(result)
            v2v = f"{result['v2v_ms']:.0f} ms" if result["v2v_ms"] is not None else "no reply"
            spec = f" [spec {result['speculative']}]" if result.get("speculative") else ""
            print(f"turn {i + 1:2d}/{args.turns} {label:>7} {v2v:>9}{spec}  "
                  f"{clip.text!r} -> {result['reply'][:50]!r}", flush=True)
    await app.close()
    await llm.close()
    return summarize(rows, args.file)


def summarize(rows: dict[str, list[dict[str, Any]]], file: str) -> dict[str, Any]:
    from localvox.bench.latency_report import percentile

    out: dict[str, Any] = {"file": file, "turns": rows, "target_ratio": TARGET}
    for label, results in rows.items():
        values = [r["v2v_ms"] for r in results if r["v2v_ms"] is not None]
        out[label] = {"p50": percentile(values, 50), "p95": percentile(values, 95),
                      "answered": len(values), "turns": len(results)}
    base, mine = out["builtin"]["p50"], out["agent"]["p50"]
    out["ratio_p50"] = round(mine / base, 3) if base and mine else None
    return out


def print_table(summary: dict[str, Any]) -> None:
    def fmt(value: float | None) -> str:
        return f"{value:.0f} ms" if value is not None else "-"

    print(f"\nvoice-to-voice, first reply audio (under the current machine load)")
    print(f"{'':28}{'p50':>10}{'p95':>10}{'answered':>10}")
    for label, title in (("builtin", "built-in assistant (anchor)"),
                         ("agent", Path(summary["file"]).name)):
        row = summary[label]
        print(f"{title:28}{fmt(row['p50']):>10}{fmt(row['p95']):>10}"
              f"{row['answered']:>6}/{row['turns']}")
    ratio = summary["ratio_p50"]
    if ratio is not None:
        verdict = "within" if abs(ratio - 1) <= TARGET else "outside"
        print(f"agent / built-in p50 = {ratio:.2f} ({verdict} the ±{TARGET:.0%} target)")


def run(args: argparse.Namespace, config: Any) -> int:
    summary = asyncio.run(_bench(args, config))
    print_table(summary)
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2), encoding="utf-8")
        print(f"wrote {args.json}")
    return 0
