"""``localvox bench wake DIR``: wake word miss rate and false accepts, stage one vs two stages.

DIR is either a folder of real recordings laid out like ``../shared/speech`` (positives:
``wake/<model>/``; negatives: every other folder of speech, played clean and under three
noises; see ``localvox.bench.wake_set``), or a synthetic set from
``scripts/make_eval_set.py`` (``wake/manifest.json``). ``--positives SET`` takes the
positives from a synthetic set and the negatives from DIR's real speech (hey_jarvis: no
human recordings of it exist here).

One run feeds every clip in 32 ms frames, as the turn engine does, through the two-stage
detector (``localvox.wake.two_stage``) with stage one at ``[wake] first_threshold``. Every
80 ms stage-one score is kept, so the same run gives:

* stage one alone at any threshold (refractory applied as the detector does);
* both stages at the operating point (the detector's real detections), and swept over
  the stage-one threshold (an accepted check counts at threshold t when stage one reaches
  t within its episode, ``accepted``);
* miss rates at fixed false-accept rates. A rate r per hour allows floor(r * hours) false
  accepts on the hours we have; below 1 per (hours) only "0 seen" can be said, with its
  95% upper bound 3/hours per hour, which the table prints.

Miss: no detection between the phrase start and 2 s after its end. Delay: detection
stream time minus the phrase end (energy-based for real clips), plus the stage-two compute.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

NAME = "wake"
HELP = "wake word miss rate and false accepts per hour, stage one alone and two stages"

HIT_WINDOW_S = 2.0
EPISODE_BEFORE_S, EPISODE_AFTER_S = 0.24, 0.72
"""The stretch of stage-one scores one check stands for in the two-stage sweep."""
SWEEP = tuple(round(0.01 * i, 2) for i in range(1, 10)) + tuple(
    round(0.05 * i, 2) for i in range(2, 20)) + (0.97, 0.99)
FA_TARGETS = (1.0, 0.1)
POISSON_95 = (3.0, 4.74, 6.3, 7.75, 9.15)
"""One-sided 95% upper bounds on a Poisson mean after seeing 0..4 events."""
PUBLISHED = (("Porcupine (Picovoice, published)", 2.7), ("Snowboy (published)", 31.9),
             ("PocketSphinx (published)", 52.0))
"""Picovoice wake-word-benchmark, alexa, 10 dB noise, miss rate at 1 false alarm per 10 h."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", nargs="?", default=None,
                   help="real recordings (../shared/speech layout; default: found next to "
                        "the repository) or a synthetic set from scripts/make_eval_set.py")
    p.add_argument("--model", default=None, help="wake model id (default: [wake] model)")
    p.add_argument("--positives", default=None, metavar="SET",
                   help="take positives from this synthetic set (wake/manifest.json)")
    p.add_argument("--threshold", type=float, default=None,
                   help="stage-one-alone operating threshold (default: [wake] threshold)")
    p.add_argument("--first-threshold", type=float, default=None,
                   help="stage one's threshold in two stages (default: [wake] first_threshold)")
    p.add_argument("--half", choices=("A", "B"), default=None,
                   help="only this half of the real positives (even / odd in sorted order)")
    p.add_argument("--every", type=int, default=1, metavar="N",
                   help="use every Nth negative stream (a quicker, shorter run)")
    p.add_argument("--frame-ms", type=int, default=32)


def load_synthetic(directory: str | Path) -> tuple[list[Any], list[Any]]:
    """(positives, negatives) of a ``scripts/make_eval_set.py`` wake set."""
    import json

    from localvox.audio.wav import read_wav
    from localvox.bench.wake_set import Clip
    from localvox.errors import LocalvoxError

    d = Path(directory)
    if (d / "wake").is_dir():
        d = d / "wake"
    manifest = d / "manifest.json"
    if not manifest.is_file():
        raise LocalvoxError(f"{d}: no wake manifest.json; make the set with "
                            "`.venv/bin/python scripts/make_eval_set.py`")
    m = json.loads(manifest.read_text(encoding="utf-8"))

    def cond(row: dict[str, Any]) -> str:
        return f"{row.get('noise') or 'clean'} {row['snr_db']:.0f} dB" if row.get("snr_db") \
            else str(row.get("noise") or "clean")

    pos = [Clip(r["file"], read_wav(d / "positive" / r["file"]), cond(r), r["phrase_start_s"],
                r["phrase_end_s"]) for r in m["positive"]]
    neg = [Clip(r["file"], read_wav(d / "negative" / r["file"]), cond(r), sources=[r["file"]])
           for r in m["negative"]]
    return pos, neg


def build_set(args: argparse.Namespace, model: str) -> Any:
    from localvox.bench import wake_set
    from localvox.errors import LocalvoxError

    root = wake_set.speech_root(args.dir)
    if root is None:
        raise LocalvoxError("no ../shared/speech next to the repository: pass DIR")
    if not wake_set.is_speech_root(root):       # a synthetic set: positives and negatives
        pos, neg = load_synthetic(root)
        return wake_set.WakeSet(pos, neg, sum(c.seconds for c in neg),
                                f"synthetic set {root}")
    positives = load_synthetic(args.positives)[0] if args.positives else None
    s = wake_set.build(root, model, positives=positives)
    if args.half:
        s.positives = [c for c in s.positives if c.half == args.half]
    if args.every > 1:
        s.negatives = s.negatives[::args.every]
        s.description += f"; every {args.every}th stream used"
    return s


def feed(det: Any, audio: Any, frame: int) -> dict[str, Any]:
    """One clip from a fresh ``reset``: detections, stage-one scores, checks, compute."""
    from localvox.audio.base import SAMPLE_RATE

    det.reset()
    dets, scores, busy = [], [], 0.0
    for i in range(0, len(audio), frame):
        block = audio[i:i + frame]
        end_s = (i + len(block)) / SAMPLE_RATE
        t0 = time.perf_counter()
        d = det.process(block, end_s)
        busy += time.perf_counter() - t0
        if d is not None:
            dets.append(d)
        scores.append((end_s, det.last_score))
    return {"detections": dets, "scores": scores, "checks": list(det.checks), "busy_s": busy}


def fires(scores: list[tuple[float, float]], threshold: float, refractory_s: float
          ) -> list[float]:
    """Times a detector at ``threshold`` with ``refractory_s`` would fire on this score trace."""
    out: list[float] = []
    for at, s in scores:
        if s >= threshold and (not out or at - out[-1] >= refractory_s):
            out.append(at)
    return out


def episode_peak(scores: list[tuple[float, float]], at_s: float) -> float:
    """Stage one's best score from ``EPISODE_BEFORE_S`` before a check to ``EPISODE_AFTER_S`` after."""
    return max((s for t, s in scores if at_s - EPISODE_BEFORE_S <= t <= at_s + EPISODE_AFTER_S),
               default=0.0)


def accepted(checks: list[Any], threshold: float, refractory_s: float,
             scores: list[tuple[float, float]] | None = None) -> list[Any]:
    """Accepted checks whose episode reaches stage-one ``threshold``, refractory applied.

    An approximation of the detector run at that threshold: it would have checked a little
    later in the same episode (on a window holding more of the phrase), where we take the
    verdict of the check actually made. With ``scores`` the episode's peak is compared,
    else the check's own stage-one score.
    """
    out: list[Any] = []
    for c in checks:
        peak = episode_peak(scores, c.at_s) if scores is not None else c.first_score
        if c.verdict.accepted and peak >= threshold \
                and (not out or c.at_s - out[-1].at_s >= refractory_s):
            out.append(c)
    return out


def _hit(c: Any, at_s: float) -> bool:
    return c.phrase_start_s <= at_s <= c.phrase_end_s + HIT_WINDOW_S


def curve(pos: list[dict[str, Any]], neg: list[dict[str, Any]], hours: float, refractory: float,
          times: Any, thresholds: Any) -> list[dict[str, Any]]:
    """Miss rate and false accepts for each threshold; ``times(run, t)`` gives firing times."""
    out = []
    for t in thresholds:
        miss = sum(not any(_hit(r["clip"], at) for at in times(r, t)) for r in pos)
        fa = sum(len(times(r, t)) for r in neg)
        out.append({"threshold": t, "miss_rate": miss / max(1, len(pos)), "misses": miss,
                    "false_accepts": fa, "false_accepts_per_hour": fa / hours if hours else math.nan})
    return out


def at_fa_rate(points: list[dict[str, Any]], per_hour: float, hours: float) -> dict[str, Any]:
    """The lowest miss rate among points with at most floor(per_hour * hours) false accepts."""
    allowed = math.floor(per_hour * hours + 1e-9)
    ok = [p for p in points if p["false_accepts"] <= allowed]
    best = min(ok, key=lambda p: (p["miss_rate"], -p["threshold"]), default=None)
    seen = best["false_accepts"] if best else 0
    return {"per_hour": per_hour, "allowed": allowed, "point": best,
            "measurable": allowed >= 1,
            "upper_bound_per_hour": POISSON_95[min(seen, 4)] / hours if hours else math.nan}


def run(args: argparse.Namespace, config: Any) -> int:
    from localvox.audio.base import SAMPLE_RATE
    from localvox.bench.wake_report import print_report, plot
    from localvox.bench.common import percentile, write_json
    from localvox.wake.two_stage import create

    model = args.model or config.wake.model
    threshold = config.wake.threshold if args.threshold is None else args.threshold
    first = config.wake.first_threshold if args.first_threshold is None else args.first_threshold
    refractory = config.wake.refractory_s
    s = build_set(args, model)
    det = create(config, model=model, threshold=first)
    frame = SAMPLE_RATE * args.frame_ms // 1000
    t_start = time.perf_counter()
    pos = [dict(feed(det, c.audio, frame), clip=c) for c in s.positives]
    neg = [dict(feed(det, c.audio, frame), clip=c) for c in s.negatives]
    det.close()
    neg_s = sum(r["clip"].seconds for r in neg)
    hours = neg_s / 3600
    audio_s = neg_s + sum(r["clip"].seconds for r in pos)

    def one(r: dict[str, Any], t: float) -> list[float]:
        return fires(r["scores"], t, refractory)

    def two(r: dict[str, Any], t: float) -> list[float]:
        return [c.at_s for c in accepted(r["checks"], t, refractory, r["scores"])]

    grid1 = sorted(set(SWEEP) | {threshold, first})
    grid2 = [t for t in grid1 if t >= first]
    curves = {"stage one": curve(pos, neg, hours, refractory, one, grid1),
              "two stages": curve(pos, neg, hours, refractory, two, grid2)}
    checks = [c for r in pos + neg for c in r["checks"]]
    check_s = [c.verdict.seconds for c in checks]

    def rows(sel: list[dict[str, Any]], times: Any, t: float, delay_extra: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, keep in (("all", lambda c: True), ("clean", lambda c: c.condition == "clean"),
                          ("noisy", lambda c: c.condition != "clean"),
                          ("half A", lambda c: c.half == "A"), ("half B", lambda c: c.half == "B")):
            part = [r for r in sel if keep(r["clip"])]
            if part:
                miss = sum(not any(_hit(r["clip"], at) for at in times(r, t)) for r in part)
                out[key] = {"n": len(part), "misses": miss, "miss_rate": miss / len(part)}
        delays = []
        for r in sel:
            hits = [c for c in r["checks"] if c.verdict.accepted and _hit(r["clip"], c.at_s)] \
                if delay_extra else []
            at = next((a for a in times(r, t) if _hit(r["clip"], a)), None)
            if at is not None:
                extra = hits[0].verdict.seconds if hits else 0.0
                delays.append(at - r["clip"].phrase_end_s + extra)
        out["delay_p50_s"] = percentile(delays, 50)
        out["delay_p95_s"] = percentile(delays, 95)
        return out

    result: dict[str, Any] = {
        "bench": "wake", "model": model, "set": s.description,
        "stage_one_threshold": threshold, "first_threshold": first, "refractory_s": refractory,
        "verifier": {"model": config.wake.verifier_model, "window_s": config.wake.verify_window_s,
                     "match": config.wake.verify_match},
        "positives": len(pos), "negative_hours": hours,
        "distinct_negative_minutes": s.unique_negative_s / 60,
        "operating": {
            "stage one": dict(rows(pos, one, threshold, False),
                              false_accepts=sum(len(one(r, threshold)) for r in neg)),
            "two stages": dict(rows(pos, two, first, True),
                               false_accepts=sum(len(r["detections"]) for r in neg))},
        "at_fa_rate": {name: [at_fa_rate(c, r, hours) for r in FA_TARGETS]
                       for name, c in curves.items()},
        "curves": curves, "published": [{"system": n, "miss_rate_pct": m} for n, m in PUBLISHED],
        "checks": len(checks), "check_p50_s": percentile(check_s, 50),
        "check_p95_s": percentile(check_s, 95),
        "compute_rtf": sum(r["busy_s"] for r in pos + neg) / audio_s if audio_s else math.nan,
        "wall_s": time.perf_counter() - t_start,
        "false_accept_rows": [
            {"stream": r["clip"].name, "at_s": round(c.at_s, 2), "first_score": c.first_score,
             "accepted": c.verdict.accepted, "heard": c.verdict.heard,
             "similarity": c.verdict.score}
            for r in neg for c in r["checks"] if c.first_score >= first],
        "positive_rows": [
            {"clip": r["clip"].name, "condition": r["clip"].condition, "half": r["clip"].half,
             "stage_one_max": max((sc for at, sc in r["scores"] if _hit(r["clip"], at)),
                                  default=0.0),
             "detected": any(_hit(r["clip"], d.at_s) for d in r["detections"]),
             "heard": [c.verdict.heard for c in r["checks"]]} for r in pos],
    }
    print_report(result)
    write_json(args.json, result)
    if args.plot:
        plot(result, args.plot)
    return 0
