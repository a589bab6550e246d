"""``localvox bench latency``: voice-to-voice latency of the real loop vs a naive pipeline.

Each scripted turn is one spoken question from the WAV fixtures (``tests/fixtures``, with
``layout.json`` giving where each phrase ends), played in real time into the same
``TurnEngine`` the app uses (default models, ``--no-wake``), with a fresh agent session
per turn so every turn sees the same context. Voice-to-voice latency is measured from the
*true* end of the user's speech -- the phrase's last sample in the fixture, mapped onto the
engine's clock -- to the first reply sample handed to the sink.

In the same run, the same turns go through a naive sequential baseline: wait a fixed
end-of-turn silence after the utterance (``[endpoint] default_silence_ms``), transcribe
the whole utterance on faster-whisper's plain 30 s path, generate the whole reply, then
synthesise the whole reply. Its latency is that silence plus the three measured compute
times. Percentiles are nearest-rank over the measured turns; nothing is estimated.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

NAME = "latency"
HELP = "voice-to-voice latency (p50/p95 per stage) of the speech loop vs a naive sequential one"

STAGES = (("endpoint", "endpoint wait"), ("final_transcript", "final transcript"),
          ("llm_first_token", "LLM first token"), ("tts_first_chunk", "TTS first chunk"),
          ("first_audio_out", "audio out"))
"""Critical-path milestones after the true end of speech, in order."""

LEAD_S = 0.6
TAIL_S = 2.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    from localvox.config import REPO_ROOT

    p.add_argument("--turns", type=int, default=10, help="scripted turns (default 10)")
    p.add_argument("--fixtures", default=str(REPO_ROOT / "tests" / "fixtures"),
                   help="folder with the WAV fixtures and layout.json")
    p.add_argument("--no-baseline", action="store_true", help="skip the sequential baseline")


@dataclass
class Clip:
    name: str
    text: str
    samples: np.ndarray
    speech_end_s: float
    """End of the phrase inside ``samples`` (seconds)."""


@dataclass
class TurnResult:
    clip: str
    transcript: str
    reply: str
    voice_to_voice_ms: float | None
    stages_ms: dict[str, float] = field(default_factory=dict)
    speculative: str = ""
    baseline_ms: float | None = None
    baseline_stages_ms: dict[str, float] = field(default_factory=dict)


def load_clips(folder: str | Path) -> list[Clip]:
    """Single questions/statements from the fixtures (not wake phrases, not weather)."""
    from localvox.audio.base import SAMPLE_RATE
    from localvox.audio.wav import read_wav
    from localvox.errors import LocalvoxError

    folder = Path(folder)
    layout_path = folder / "layout.json"
    if not layout_path.is_file():
        raise LocalvoxError(f"no {layout_path}: pass --fixtures DIR with the WAV fixtures")
    layout = json.loads(layout_path.read_text(encoding="utf-8"))
    clips: list[Clip] = []
    margin = int(0.05 * SAMPLE_RATE)
    for name, info in layout.items():
        path = folder / f"{name}.wav"
        if not path.is_file():
            continue
        audio = read_wav(path)
        for i, seg in enumerate(info["segments"]):
            text = seg["text"]
            if "jarvis" in text.lower() or "weather" in text.lower():
                continue
            a, b = max(0, seg["start"] - margin), min(len(audio), seg["end"] + margin)
            clips.append(Clip(f"{name}#{i}", text, audio[a:b].copy(),
                              (seg["end"] - a) / SAMPLE_RATE))
    if not clips:
        raise LocalvoxError(f"no usable speech clips in {folder}")
    return clips


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (no interpolation between turns)."""
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return None
    k = max(0, min(len(vals) - 1, math.ceil(q / 100.0 * len(vals)) - 1))
    return vals[k]


def contributions(marks: dict[str, float], true_end: float) -> dict[str, float]:
    """How far each milestone pushed the critical path (ms); work hidden earlier counts 0."""
    out: dict[str, float] = {}
    reached = true_end
    for key, _ in STAGES:
        if key in marks:
            out[key] = max(0.0, marks[key] - reached) * 1000.0
            reached = max(reached, marks[key])
    return out


async def engine_turn(config: Any, parts: Any, llm: Any, clip: Clip) -> TurnResult:
    import numpy as np

    from localvox.audio.base import SAMPLE_RATE
    from localvox.audio.null import NullSink
    from localvox.audio.wav import WavSource
    from localvox.pipeline.events import FinalTranscript
    from localvox.pipeline.factory import build_engine, open_agent

    agent = await open_agent(config, llm=llm)
    lead = np.zeros(int(LEAD_S * SAMPLE_RATE), np.float32)
    source = WavSource(samples=np.concatenate([lead, clip.samples]), realtime=True,
                       tail_silence_s=TAIL_S, frame_ms=config.audio.frame_ms)
    engine = await build_engine(config, parts=parts, agent=agent, source=source,
                                sink=NullSink(), trace_path=None)
    engine.trace = None
    q = engine.subscribe()
    await engine.run()
    await agent.close()
    finals = []
    while not q.empty():
        ev = q.get_nowait()
        if isinstance(ev, FinalTranscript):
            finals.append(ev.text)
    true_end = engine.clock.stream_to_clock(LEAD_S + clip.speech_end_s)
    voiced = [t for t in engine.traces if "first_audio_out" in t.marks]
    if not voiced:
        return TurnResult(clip.name, " / ".join(finals), "", None)
    tr = voiced[0]
    v2v = (tr.marks["first_audio_out"] - true_end) * 1000.0
    return TurnResult(clip.name, tr.text, tr.reply, round(v2v, 1),
                      {k: round(v, 1) for k, v in contributions(tr.marks, true_end).items()},
                      tr.speculative)


async def baseline_turn(config: Any, parts: Any, llm: Any, clip: Clip,
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


async def _bench(args: argparse.Namespace, config: Any) -> dict[str, Any]:
    from localvox.agent.assistant import create_llm
    from localvox.pipeline.factory import load_parts

    config = copy.deepcopy(config)
    config.wake.mode = "always"
    clips = load_clips(args.fixtures)
    print(f"loading models ({config.asr.model}, {config.tts.voice}, {config.llm.model}) ...",
          flush=True)
    parts = await load_parts(config, need_wake=False)
    llm = await asyncio.to_thread(create_llm, config)
    plain = _plain_asr(parts)
    # Warm-up turn (first inference of every model is slower); not counted.
    await engine_turn(config, parts, llm, clips[0])
    if not args.no_baseline:
        await baseline_turn(config, parts, llm, clips[0], plain)
    results: list[TurnResult] = []
    for i in range(args.turns):
        clip = clips[i % len(clips)]
        r = await engine_turn(config, parts, llm, clip)
        if not args.no_baseline:
            r.baseline_ms, r.baseline_stages_ms = await baseline_turn(config, parts, llm,
                                                                      clip, plain)
        results.append(r)
        base = f"  baseline {r.baseline_ms:.0f} ms" if r.baseline_ms is not None else ""
        v2v = f"{r.voice_to_voice_ms:.0f} ms" if r.voice_to_voice_ms is not None else "no reply"
        print(f"turn {i + 1:2d}/{args.turns}  {v2v:>9}{base}  "
              f"{'[spec ' + r.speculative + '] ' if r.speculative else ''}"
              f"{r.transcript!r} -> {r.reply[:50]!r}", flush=True)
    close = getattr(llm, "close", None)
    if close is not None:
        await close()
    return summarize(results, config)


def summarize(results: list[TurnResult], config: Any) -> dict[str, Any]:
    rows: dict[str, dict[str, float | None]] = {}
    for key, label in STAGES:
        vals = [r.stages_ms.get(key, 0.0) for r in results if r.voice_to_voice_ms is not None]
        rows[label] = {"p50": percentile(vals, 50), "p95": percentile(vals, 95)}
    v2v = [r.voice_to_voice_ms for r in results if r.voice_to_voice_ms is not None]
    base = [r.baseline_ms for r in results if r.baseline_ms is not None]
    rows["voice-to-voice"] = {"p50": percentile(v2v, 50), "p95": percentile(v2v, 95)}
    for key in ("silence", "transcribe", "generate", "synthesize"):
        vals = [r.baseline_stages_ms[key] for r in results if r.baseline_stages_ms]
        if vals:
            rows[f"baseline: {key}"] = {"p50": percentile(vals, 50), "p95": percentile(vals, 95)}
    if base:
        rows["baseline voice-to-voice"] = {"p50": percentile(base, 50),
                                           "p95": percentile(base, 95)}
    p50, b50 = percentile(v2v, 50), percentile(base, 50)
    return {
        "config": {"asr": config.asr.model, "tts": config.tts.voice, "llm": config.llm.model,
                   "speculative": config.pipeline.speculative,
                   "complete_silence_ms": config.endpoint.complete_silence_ms,
                   "baseline_silence_ms": config.endpoint.default_silence_ms},
        "turns": [asdict(r) for r in results],
        "stages": rows,
        "ratio_p50": round(p50 / b50, 3) if p50 and b50 else None,
        "replied": len(v2v), "total": len(results),
        "speculation": {k: sum(1 for r in results if r.speculative == k)
                        for k in ("used", "discarded")},
    }


def print_table(summary: dict[str, Any]) -> None:
    def fmt(v: float | None) -> str:
        return f"{v:8.0f}" if v is not None else "       -"

    print(f"\n{'stage (ms)':<34}{'p50':>8}{'p95':>8}")
    for label, row in summary["stages"].items():
        print(f"{label:<34}{fmt(row['p50'])}{fmt(row['p95'])}")
    if summary["ratio_p50"] is not None:
        print(f"{'ratio engine / baseline (p50)':<34}{summary['ratio_p50']:8.2f}")
    spec = summary["speculation"]
    print(f"\n{summary['replied']}/{summary['total']} turns answered with speech; speculation "
          f"used {spec['used']}, discarded {spec['discarded']}.  Config: {summary['config']}")


def plot(summary: dict[str, Any], path: str) -> None:
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    turns = [t for t in summary["turns"] if t["voice_to_voice_ms"] is not None]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    bottom = np.zeros(len(turns))
    for key, label in STAGES:
        vals = np.array([t["stages_ms"].get(key, 0.0) for t in turns])
        ax1.bar(range(1, len(turns) + 1), vals, bottom=bottom, label=label)
        bottom += vals
    ax1.set_xlabel("turn")
    ax1.set_ylabel("ms after the true end of speech")
    ax1.set_title("voice-to-voice, per stage (critical path)")
    ax1.legend(fontsize=8)
    data = [[t["voice_to_voice_ms"] for t in turns]]
    labels = ["engine"]
    base = [t["baseline_ms"] for t in summary["turns"] if t["baseline_ms"] is not None]
    if base:
        data.append(base)
        labels.append("sequential baseline")
    ax2.boxplot(data)
    ax2.set_xticks(range(1, len(labels) + 1), labels)
    for i, d in enumerate(data, start=1):
        ax2.scatter(np.full(len(d), i) + np.random.default_rng(0).uniform(-0.08, 0.08, len(d)),
                    d, s=12, alpha=0.6)
    ax2.set_ylabel("voice-to-voice latency (ms)")
    ax2.set_title(f"distribution (ratio p50 {summary['ratio_p50']})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


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
