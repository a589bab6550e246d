"""``localvox bench wake DIR``: wake word miss rate, false accepts per hour, detection delay.

DIR is the ``wake/`` folder made by ``scripts/make_eval_set.py`` (or its root): positives
(the wake phrase, sometimes followed by a question, at various voices, speeds and noise)
with ``manifest.json`` giving where each phrase ends, and negatives (long stretches of
other speech, near-miss phrases included). Every file is fed in 32 ms frames through the
configured detector (``[wake] model``, ``threshold``, ``refractory_s``) exactly as the
turn engine feeds it, from a fresh ``reset()``.

* miss rate: positives with no detection between the phrase start and 2 s after its end;
* detection delay: detection time minus the phrase end, in stream time (openWakeWord
  scores every 80 ms, so this is quantised to 80 ms), plus the compute time;
* false accepts per hour: detections on the negatives / their duration in hours.

Every 80 ms score is kept, so the same run also sweeps the threshold (the miss / false
accept trade-off the plot draws), with the refractory period applied as the detector does.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

NAME = "wake"
HELP = "wake word miss rate, false accepts per hour and detection delay on a labelled set"

HIT_WINDOW_S = 2.0
SWEEP = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", nargs="?", default=None,
                   help="wake set folder (default: scripts/make_eval_set.py's, user cache)")
    p.add_argument("--model", default=None, help="wake model id (default: [wake] model)")
    p.add_argument("--threshold", type=float, default=None,
                   help="detection threshold (default: [wake] threshold)")
    p.add_argument("--frame-ms", type=int, default=32)


def load_set(directory: str | Path | None) -> tuple[Path, dict[str, Any]]:
    from localvox.errors import LocalvoxError

    if directory is None:
        from localvox.config import xdg_dir

        directory = xdg_dir("cache") / "eval"
    d = Path(directory)
    if (d / "wake").is_dir():
        d = d / "wake"
    manifest = d / "manifest.json"
    if not manifest.is_file():
        raise LocalvoxError(f"{d}: no wake manifest.json; make the set with "
                            "`.venv/bin/python scripts/make_eval_set.py`")
    return d, json.loads(manifest.read_text(encoding="utf-8"))


def feed_file(det: Any, audio: Any, frame: int) -> tuple[list[Any], list[tuple[float, float]],
                                                          float]:
    """Feed one clip from a fresh state: (detections, [(step end s, score)], compute s)."""
    from localvox.audio.base import SAMPLE_RATE

    det.reset()
    detections, scores = [], []
    busy = 0.0
    for i in range(0, len(audio), frame):
        block = audio[i:i + frame]
        end_s = (i + len(block)) / SAMPLE_RATE
        t0 = time.perf_counter()
        d = det.process(block, end_s)
        busy += time.perf_counter() - t0
        if d is not None:
            detections.append(d)
        scores.append((end_s, float(getattr(det, "last_score", 0.0))))
    return detections, scores, busy


def fires(scores: list[tuple[float, float]], threshold: float, refractory_s: float
          ) -> list[float]:
    """Times a detector at ``threshold`` with ``refractory_s`` would fire on this score trace."""
    out: list[float] = []
    for at, s in scores:
        if s >= threshold and (not out or at - out[-1] >= refractory_s):
            out.append(at)
    return out


def run(args: argparse.Namespace, config: Any) -> int:
    from localvox.audio.base import SAMPLE_RATE
    from localvox.audio.wav import read_wav
    from localvox.bench.common import percentile, table, write_json
    from localvox.wake.openwakeword import create

    d, manifest = load_set(args.dir)
    model = args.model or config.wake.model
    threshold = config.wake.threshold if args.threshold is None else args.threshold
    refractory = config.wake.refractory_s
    det = create(config, model=model, threshold=threshold)
    frame = SAMPLE_RATE * args.frame_ms // 1000

    pos_rows = []
    busy_total = audio_total = 0.0
    for row in manifest["positive"]:
        audio = read_wav(d / "positive" / row["file"])
        dets, scores, busy = feed_file(det, audio, frame)
        busy_total += busy
        audio_total += len(audio) / SAMPLE_RATE
        start, end = row["phrase_start_s"], row["phrase_end_s"]
        hits = [x for x in dets if start <= x.at_s <= end + HIT_WINDOW_S]
        in_window = [s for at, s in scores if start <= at <= end + HIT_WINDOW_S]
        pos_rows.append({
            "file": row["file"], "voice": f"{row.get('engine', '')} {row.get('voice', '')}".strip(),
            "noise": row.get("noise"), "snr_db": row.get("snr_db"),
            "detected": bool(hits), "delay_s": hits[0].at_s - end if hits else None,
            "score": hits[0].score if hits else None,
            "max_score": max(in_window, default=0.0),
            "other_detections": len(dets) - len(hits), "scores": scores})
    neg_rows = []
    neg_s = 0.0
    for row in manifest["negative"]:
        audio = read_wav(d / "negative" / row["file"])
        dets, scores, busy = feed_file(det, audio, frame)
        busy_total += busy
        secs = len(audio) / SAMPLE_RATE
        audio_total += secs
        neg_s += secs
        neg_rows.append({"file": row["file"], "seconds": secs, "noise": row.get("noise"),
                         "false_accepts": [round(x.at_s, 2) for x in dets],
                         "max_score": max((s for _, s in scores), default=0.0),
                         "scores": scores})
    close = getattr(det, "close", None)
    if close is not None:
        close()

    n_pos = len(pos_rows)
    misses = sum(not r["detected"] for r in pos_rows)
    delays = [r["delay_s"] for r in pos_rows if r["delay_s"] is not None]
    fa = sum(len(r["false_accepts"]) for r in neg_rows)
    hours = neg_s / 3600.0
    sweep = []
    for th in sorted(set(SWEEP) | {threshold}):
        miss = sum(not any(r_start <= at <= r_end + HIT_WINDOW_S
                           for at in fires(r["scores"], th, refractory))
                   for r, (r_start, r_end) in zip(
                       pos_rows, [(m["phrase_start_s"], m["phrase_end_s"])
                                  for m in manifest["positive"]]))
        fas = sum(len(fires(r["scores"], th, refractory)) for r in neg_rows)
        sweep.append({"threshold": th, "miss_rate": miss / max(1, n_pos),
                      "false_accepts_per_hour": fas / hours if hours else float("nan")})
    result = {
        "bench": "wake", "model": model, "threshold": threshold, "refractory_s": refractory,
        "positives": n_pos, "misses": misses, "miss_rate": misses / max(1, n_pos),
        "delay_p50_s": percentile(delays, 50), "delay_p95_s": percentile(delays, 95),
        "delay_max_s": max(delays, default=float("nan")),
        "negative_hours": hours, "false_accepts": fa,
        "false_accepts_per_hour": fa / hours if hours else float("nan"),
        "compute_rtf": busy_total / audio_total if audio_total else float("nan"),
        "sweep": sweep,
        "positive_rows": [{k: v for k, v in r.items() if k != "scores"} for r in pos_rows],
        "negative_rows": [{k: v for k, v in r.items() if k != "scores"} for r in neg_rows],
    }
    print(table(["figure", "value"], [
        ["model", model], ["threshold", threshold],
        ["positives", n_pos],
        ["miss rate", f"{100 * result['miss_rate']:.1f}% ({misses}/{n_pos})"],
        ["detection delay p50", f"{1000 * result['delay_p50_s']:.0f} ms after phrase end"],
        ["detection delay p95", f"{1000 * result['delay_p95_s']:.0f} ms"],
        ["negatives", f"{60 * hours:.1f} min of speech and noise"],
        ["false accepts", fa],
        ["false accepts / hour", f"{result['false_accepts_per_hour']:.2f}"],
        ["compute (RTF)", f"{result['compute_rtf']:.4f} ({100 * result['compute_rtf']:.2f}% of a core)"],
    ], title=f"wake word: {model}"))
    missed = [r for r in pos_rows if not r["detected"]]
    if missed:
        print()
        print(table(["missed positive", "voice", "noise", "max score"],
                    [[r["file"], r["voice"], f"{r['noise']} {r['snr_db'] or ''}".strip(),
                      f"{r['max_score']:.2f}"] for r in missed]))
    fas_rows = [r for r in neg_rows if r["false_accepts"]]
    if fas_rows:
        print()
        print(table(["negative with false accept", "at (s)"],
                    [[r["file"], ", ".join(map(str, r["false_accepts"]))] for r in fas_rows]))
    print()
    print(table(["threshold", "miss rate", "FA/hour"],
                [[s["threshold"], f"{100 * s['miss_rate']:.1f}%",
                  f"{s['false_accepts_per_hour']:.2f}"] for s in sweep],
                title="threshold sweep (same scores)"))
    write_json(args.json, result)
    if args.plot:
        plot(result, pos_rows, args.plot)
    return 0


def plot(result: dict[str, Any], pos_rows: list[dict[str, Any]], path: str) -> None:
    from localvox.bench.common import figure, save_figure

    fig, ax = figure(1, 3, size=(15, 4.5))
    a0, a1, a2 = ax[0]
    sw = result["sweep"]
    a0.plot([s["false_accepts_per_hour"] for s in sw], [100 * s["miss_rate"] for s in sw], "o-")
    for s in sw:
        a0.annotate(f"{s['threshold']:.2f}", (s["false_accepts_per_hour"], 100 * s["miss_rate"]),
                    fontsize=7)
    a0.axhline(100 * result["miss_rate"], color="gray", lw=0.5)
    a0.set_xlabel("false accepts per hour")
    a0.set_ylabel("miss rate %")
    a0.set_title(f"{result['model']}: threshold trade-off")
    delays = [1000 * r["delay_s"] for r in pos_rows if r["delay_s"] is not None]
    a1.hist(delays, bins=12)
    a1.set_xlabel("detection delay after phrase end (ms)")
    a1.set_ylabel("positives")
    a1.set_title("detection delay")
    for r in pos_rows[:12]:
        if r["scores"]:
            a2.plot([t for t, _ in r["scores"]], [s for _, s in r["scores"]], lw=0.8)
    a2.axhline(result["threshold"], color="red", ls="--", lw=0.8, label="threshold")
    a2.set_xlabel("stream time (s)")
    a2.set_ylabel("score")
    a2.set_title("score traces (first 12 positives)")
    a2.legend()
    save_figure(fig, path)
