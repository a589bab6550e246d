"""``bench latency``'s report: the per-turn record, nearest-rank percentiles, the table, the plot.

The measuring half (``latency.py``) plays the turns and fills one ``TurnResult`` each;
everything here is pure bookkeeping over those records (tool and chat turns in separate
groups, each with its own p50/p95 per stage and its own ratio to the baseline), so it is
tested without models (``tests/test_bench_latency.py``). Split out of ``latency.py`` to
hold it under ~400 lines; ``bench agent`` and ``bench commands`` reuse ``percentile``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

STAGES = (("endpoint", "endpoint wait"), ("final_transcript", "final transcript"),
          ("llm_first_token", "LLM first token"), ("first_chunk_text", "LLM first clause"),
          ("tts_first_chunk", "TTS first chunk"),
          ("first_audio_out", "audio out"))
"""Critical-path milestones after the true end of speech, in order."""

IDLE_FLOOR_S = 5.0
"""How long the idle loop is probed for the machine's stall floor (the table says so)."""
KINDS = ("tool", "chat")


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
    kind: str = "tool"
    """``tool`` (no LLM call) or ``chat`` (the LLM was called)."""
    source: str = "piper"
    stall_ms: float | None = None
    """The event loop's longest stall while this turn ran (loop-lag probe)."""
    stall_no_worker_ms: float | None = None
    """The same turn with the per-frame DSP on the loop (``--audio-worker both``)."""
    gap_ms: float | None = None
    """The longest silence inside the spoken reply (speech ran dry between chunks)."""


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (no interpolation between turns)."""
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return None
    k = max(0, min(len(vals) - 1, math.ceil(q / 100.0 * len(vals)) - 1))
    return vals[k]


def _rows(results: list[TurnResult]) -> dict[str, Any]:
    rows: dict[str, dict[str, float | None]] = {}
    answered = [r for r in results if r.voice_to_voice_ms is not None]
    for key, label in STAGES:
        vals = [r.stages_ms.get(key, 0.0) for r in answered]
        rows[label] = {"p50": percentile(vals, 50), "p95": percentile(vals, 95)}
    v2v = [r.voice_to_voice_ms for r in answered]
    base = [r.baseline_ms for r in results if r.baseline_ms is not None]
    rows["voice-to-voice"] = {"p50": percentile(v2v, 50), "p95": percentile(v2v, 95)}
    gaps = [r.gap_ms for r in answered if r.gap_ms is not None]
    rows["gap inside the reply (longest)"] = {"p50": percentile(gaps, 50),
                                              "p95": percentile(gaps, 95)}
    stalls = [r.stall_ms for r in results if r.stall_ms is not None]
    rows["event-loop stall (longest)"] = {"p50": percentile(stalls, 50),
                                          "p95": percentile(stalls, 95)}
    before = [r.stall_no_worker_ms for r in results if r.stall_no_worker_ms is not None]
    if before:
        rows["  same, DSP on the loop"] = {"p50": percentile(before, 50),
                                           "p95": percentile(before, 95)}
    for key in ("silence", "transcribe", "generate", "synthesize"):
        vals = [r.baseline_stages_ms[key] for r in results if key in r.baseline_stages_ms]
        if vals:
            rows[f"baseline: {key}"] = {"p50": percentile(vals, 50), "p95": percentile(vals, 95)}
    if base:
        rows["baseline voice-to-voice"] = {"p50": percentile(base, 50),
                                           "p95": percentile(base, 95)}
    p50, b50 = percentile(v2v, 50), percentile(base, 50)
    return {"stages": rows, "ratio_p50": round(p50 / b50, 3) if p50 and b50 else None,
            "replied": len(v2v), "total": len(results)}


def summarize(results: list[TurnResult], config: Any) -> dict[str, Any]:
    return {
        "config": {"asr": config.asr.model, "tts": config.tts.voice, "llm": config.llm.model,
                   "speculative": config.pipeline.speculative,
                   "smart_turn": config.endpoint.smart_turn,
                   "audio_worker": config.pipeline.audio_worker,
                   "complete_silence_ms": config.endpoint.complete_silence_ms,
                   "baseline_silence_ms": config.endpoint.default_silence_ms},
        "turns": [asdict(r) for r in results],
        "kinds": {k: _rows([r for r in results if r.kind == k]) for k in KINDS
                  if any(r.kind == k for r in results)},
        "speculation": {k: sum(1 for r in results if r.speculative == k)
                        for k in ("used", "discarded")},
    }


def print_table(summary: dict[str, Any]) -> None:
    def fmt(v: float | None) -> str:
        return f"{v:8.0f}" if v is not None else "       -"

    for kind, block in summary["kinds"].items():
        print(f"\n{kind} turns ({block['replied']}/{block['total']} answered with speech)")
        print(f"{'stage (ms)':<34}{'p50':>8}{'p95':>8}")
        for label, row in block["stages"].items():
            print(f"{label:<34}{fmt(row['p50'])}{fmt(row['p95'])}")
        if block["ratio_p50"] is not None:
            print(f"{'ratio engine / baseline (p50)':<34}{block['ratio_p50']:8.2f}")
    if summary.get("idle_loop_stall_ms") is not None:
        print(f"\nidle loop (probe only, {IDLE_FLOOR_S:.0f} s): longest stall "
              f"{summary['idle_loop_stall_ms']:.0f} ms -- the machine's floor under its "
              "current load")
    spec = summary["speculation"]
    print(f"\nspeculation used {spec['used']}, discarded {spec['discarded']}.  "
          f"Config: {summary['config']}")
    print("targets (issue #20): tool p50 <= 450 ms, ratio <= 0.3; chat p50 <= 900 ms, "
          "p95 <= 1500 ms; stall p95 <= 20 ms")


def plot(summary: dict[str, Any], path: str) -> None:
    from localvox.bench.common import figure, save_figure

    kinds = list(summary["kinds"])
    fig, axes = figure(1, len(kinds) + 1, size=(6 * (len(kinds) + 1), 4.5))
    axes = list(axes[0])
    for ax, kind in zip(axes, kinds):
        turns = [t for t in summary["turns"]
                 if t["kind"] == kind and t["voice_to_voice_ms"] is not None]
        bottom = [0.0] * len(turns)
        for key, label in STAGES:
            vals = [t["stages_ms"].get(key, 0.0) for t in turns]
            ax.bar(range(1, len(turns) + 1), vals, bottom=bottom, label=label)
            bottom = [b + v for b, v in zip(bottom, vals)]
        ax.set_xlabel(f"{kind} turn")
        ax.set_ylabel("ms after the true end of speech")
        ax.set_title(f"{kind} turns: voice-to-voice per stage "
                     f"(ratio {summary['kinds'][kind]['ratio_p50']})")
        ax.legend(fontsize=7)
    ax = axes[-1]
    data, labels = [], []
    for kind in kinds:
        data.append([t["voice_to_voice_ms"] for t in summary["turns"]
                     if t["kind"] == kind and t["voice_to_voice_ms"] is not None])
        labels.append(kind)
        base = [t["baseline_ms"] for t in summary["turns"]
                if t["kind"] == kind and t["baseline_ms"] is not None]
        if base:
            data.append(base)
            labels.append(f"{kind} baseline")
    ax.boxplot(data)
    ax.set_xticks(range(1, len(labels) + 1), labels, fontsize=8)
    ax.set_ylabel("voice-to-voice latency (ms)")
    ax.set_title("distribution")
    save_figure(fig, path)
