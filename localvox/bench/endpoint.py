"""``localvox bench endpoint``: both sides of the end-of-turn trade, on real speech.

Three policies, side by side, over the same Silero probabilities and the same transcripts:

* ``adaptive``: the transcript-based silence (``[endpoint]`` complete / incomplete /
  default silences chosen from the latest partial);
* ``smart-turn@MS``: an MS VAD silence, then Smart Turn v3.2 decides; the adaptive
  silence stays as the fallback until its verdict is in;
* ``agree@MS``: Smart Turn asked at MS, but "complete" ends the turn only when the latest
  partial transcript looks complete as well (``[endpoint] smart_turn_agree``); when they
  disagree the adaptive silence decides.

Two sets of utterances:

* ``complete``: whole utterances from ``../shared/speech`` (``asr/`` read speech with
  1.5 s of room tone appended -- the LJSpeech clips are trimmed -- and the first
  ``--coffee`` spoken coffee orders, which keep their original trailing silence). Scored:
  the end-of-turn wait, from the true end of speech to the endpoint, p50/p95.
* ``paused``: utterances with a mid-sentence pause -- the ``asr/`` clips with a 300-900 ms
  pause of their own room tone spliced in at a phrase boundary (a word gap before
  "and", "of", "the", ... or after a comma, found with Whisper's word timestamps), and
  Piper utterances that stop after "um", "and", "the weather in ...". An endpoint
  decided before the true end of speech is a false cut-off.

Timing is replayed in stream time, never assumed: the replay feeds 32 ms frames as fast
as it can, but every piece of background work -- the partial transcript the engine forces
at 64 ms of silence, and each Smart Turn verdict -- is computed when the live loop would
start it and handed to the endpointer only after its *measured* wall time has passed in
stream time. The engine's periodic partials (every 500 ms of speech) are not replayed: at
the silence that matters they are superseded by the forced one. True end of speech is an
energy rule (last 10 ms frame within 40 dB of the clip's peak and 12 dB above its floor),
independent of the VAD being measured. Figures measured under load inflate both the
Whisper and the Smart Turn delays. The sets are built in ``endpoint_data``, the replay
is ``endpoint_replay``; this module is the command: arguments, summary, table, plot.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from typing import Any

from localvox.bench.endpoint_data import load_sets
from localvox.bench.endpoint_replay import (FORCE_PARTIAL_MS, Outcome, ReplayCache, replay,
                                            vad_probs)

NAME = "endpoint"
HELP = ("end-of-turn wait and false cut-offs on real speech: adaptive silence, Smart Turn, "
        "and the two agreeing")
ANCHORS = ("published: Pipecat runs Smart Turn after a 200 ms VAD stop (its default "
           "stop_secs fallback is 3 s); issue #20 measured 76 ms per Smart Turn inference "
           "on one thread and a 447 ms p50 end-of-turn wait in `bench latency` with the "
           "adaptive silence")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--speech", default=None, help="the real-speech folder (../shared/speech)")
    p.add_argument("--coffee", type=int, default=20,
                   help="spoken coffee orders in the complete set (default 20)")
    p.add_argument("--limit", type=int, default=0, help="at most this many asr clips (0: all)")
    p.add_argument("--no-piper", action="store_true", help="no Piper utterances")
    p.add_argument("--ask-ms", default="",
                   help="Smart Turn silences to compare, e.g. 200,100 (default: "
                        "[endpoint] smart_turn_silence_ms)")
    p.add_argument("--agree-ms", default="96,128",
                   help="silences at which the 'agree' policy asks Smart Turn (it ends the "
                        "turn early only if the partial transcript looks complete too); "
                        "'' for none (default 96,128)")
    p.add_argument("--force-partial-ms", type=int, default=FORCE_PARTIAL_MS,
                   help="silence before the replayed engine forces a partial decode "
                        f"(EngineOptions.force_partial_after_ms, default {FORCE_PARTIAL_MS})")
    p.add_argument("--agree-threshold", default="",
                   help="also run the agree policies at these Smart Turn thresholds, e.g. 0.7")
    p.add_argument("--reask-ms", default="",
                   help="also run the agree policies asking a 'not finished' again at these "
                        "silences, e.g. 256 ([endpoint] smart_turn_reask_ms)")
    p.add_argument("--hysteresis", default="",
                   help="also run every policy with these [vad] hysteresis values, e.g. "
                        "0.05,0.1 (the VAD lag: a smaller one ends speech sooner)")


# --------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------
def summarize(outcomes: list[Outcome], cache: ReplayCache) -> dict[str, Any]:
    from localvox.bench.common import percentile
    from localvox.vad.endpoint import TAIL_MS

    rows = []
    for policy in dict.fromkeys(o.policy for o in outcomes):
        for kind in ("complete", "paused"):
            sel = [o for o in outcomes if o.policy == policy and o.kind == kind]
            if not sel:
                continue
            waits = [o.wait_ms for o in sel if o.wait_ms is not None]
            lags = [o.vad_end_ms for o in sel if o.vad_end_ms is not None and not o.cut_off]
            rows.append({"policy": policy, "set": kind, "utterances": len(sel),
                         "wait_p50_ms": percentile(waits, 50), "wait_p95_ms": percentile(waits, 95),
                         "vad_lag_p50_ms": percentile(lags, 50),
                         "cut_offs": sum(o.cut_off for o in sel),
                         "cut_in_pause": sum(o.in_pause for o in sel),
                         "words_clipped": sum(o.vad_end_ms is not None and not o.cut_off
                                              and o.vad_end_ms < -TAIL_MS for o in sel),
                         "by_smart_turn": sum(o.reason == "smart_turn" for o in sel)})
    return {"rows": rows, "outcomes": [asdict(o) for o in outcomes],
            "smart_turn_ms": {"p50": percentile(cache.turn_ms, 50),
                              "p95": percentile(cache.turn_ms, 95), "n": len(cache.turn_ms)},
            "partial_decode_ms": {"p50": percentile(cache.decode_ms, 50),
                                  "p95": percentile(cache.decode_ms, 95),
                                  "n": len(cache.decode_ms)},
            "anchors": ANCHORS}


def print_summary(s: dict[str, Any]) -> None:
    from localvox.bench.common import table
    from localvox.vad.endpoint import TAIL_MS

    print(table(("policy", "set", "utterances", "wait p50 ms", "wait p95 ms", "VAD lag p50",
                 "cut-offs", "in the pause", "ended by Smart Turn", "words clipped"),
                [(r["policy"], r["set"], r["utterances"], r["wait_p50_ms"], r["wait_p95_ms"],
                  r["vad_lag_p50_ms"], r["cut_offs"], r["cut_in_pause"], r["by_smart_turn"],
                  r["words_clipped"]) for r in s["rows"]],
                title="\nend of turn: true end of speech -> endpoint (cut-off: endpoint "
                      "before the true end; words clipped: the utterance audio, which ends "
                      f"{TAIL_MS} ms after the VAD's end, stops before the true end)"))
    st, pd = s["smart_turn_ms"], s["partial_decode_ms"]
    print(f"Smart Turn inference: p50 {st['p50']:.0f} ms, p95 {st['p95']:.0f} ms "
          f"({st['n']} runs); forced partial decode: p50 {pd['p50']:.0f} ms, "
          f"p95 {pd['p95']:.0f} ms ({pd['n']} runs)")
    print(s["anchors"])


def plot(s: dict[str, Any], path: str) -> None:
    from localvox.bench.common import figure, save_figure

    fig, axes = figure(size=(8, 4))
    ax = axes[0][0]
    for policy in dict.fromkeys(o["policy"] for o in s["outcomes"]):
        waits = [o["wait_ms"] for o in s["outcomes"]
                 if o["policy"] == policy and o["kind"] == "complete" and o["wait_ms"] is not None]
        ax.hist(waits, bins=30, alpha=0.6, label=policy)
    ax.set_xlabel("end-of-turn wait on complete utterances (ms)")
    ax.set_ylabel("utterances")
    ax.legend()
    save_figure(fig, path)


def run(args: argparse.Namespace, config: Any) -> int:
    import asyncio

    from localvox.bench.common import write_json
    from localvox.pipeline.factory import load_parts
    from localvox.vad import smart_turn

    print(f"loading models ({config.asr.model}, {config.tts.voice}, Silero, Smart Turn) ...",
          flush=True)
    parts = asyncio.run(load_parts(config, need_wake=False))
    detector = smart_turn.create(config)
    t0 = time.perf_counter()
    utts = load_sets(args, parts)
    print(f"{sum(u.kind == 'complete' for u in utts)} complete and "
          f"{sum(u.kind == 'paused' for u in utts)} paused utterances "
          f"({time.perf_counter() - t0:.0f} s to prepare)", flush=True)
    detector.probability(utts[0].samples)          # warm-up, not counted
    cache = ReplayCache()
    outcomes: list[Outcome] = []
    asks = [int(a) for a in args.ask_ms.split(",") if a.strip()] if args.ask_ms \
        else [config.endpoint.smart_turn_silence_ms]
    agrees = [int(a) for a in args.agree_ms.split(",") if a.strip()]
    thresholds = [float(t) for t in args.agree_threshold.split(",") if t.strip()]
    base = ["adaptive"] + [f"smart-turn@{a}" for a in asks] + [f"agree@{a}" for a in agrees] \
        + [f"agree@{a} t{t:g}" for t in thresholds
           if t != config.endpoint.smart_turn_threshold for a in agrees]
    reasks = [int(r) for r in args.reask_ms.split(",") if r.strip()]
    base += [f"{p} r{r}" for r in reasks for p in base if p.startswith("agree@")]
    hysts = [float(h) for h in args.hysteresis.split(",") if h.strip()]
    policies = base + [f"{p} h{h:g}" for h in hysts if h != config.vad.hysteresis for p in base]
    ep = config.endpoint
    default = ("adaptive" if not ep.smart_turn else
               f"{'agree' if ep.smart_turn_agree else 'smart-turn'}@{ep.smart_turn_silence_ms}")
    print(f"configured default: {default}", flush=True)
    for utt in utts:
        probs = vad_probs(parts.vad, utt.samples)
        for policy in policies:
            outcomes.append(replay(utt, probs, config, parts, cache, policy, detector,
                                   args.force_partial_ms))
    summary = summarize(outcomes, cache)
    print_summary(summary)
    write_json(getattr(args, "json", None), summary)
    if getattr(args, "plot", None):
        plot(summary, args.plot)
    return 0
