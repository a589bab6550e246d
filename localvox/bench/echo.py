"""``localvox bench echo``: echo cancellation on simulated laptops, measured.

For each simulated room (``localvox.audio.room_sim.ROOMS``: dry desk to a loud,
reverberant kitchen with clock drift and a non-linear speaker) it measures:

- ERLE (dB) during assistant speech with nobody talking;
- false barge-ins per minute of assistant speech (Silero VAD + the engine's barge-in rule
  on the cleaned signal; the same rule on the raw microphone for comparison);
- barge-in detection rate, the share detected within 300 ms, and the detection delay,
  when the user speaks over the reply;
- WER of the user's barge-in utterance: without any echo (reference), after cleaning,
  and raw (echo left in);
- the canceller's real-time factor on one core.

Speech is made with the packaged Piper voice (deterministic); rooms and noise are seeded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
from typing import Any

NAME = "echo"
HELP = "echo cancellation on simulated laptop rooms: ERLE, false/true barge-ins, WER, speed"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rooms", default="", help="comma-separated room names (default: all)")
    p.add_argument("--trials", type=int, default=10,
                   help="barge-in trials per room (one user utterance each)")
    p.add_argument("--filter-ms", type=float, default=None, help="override [echo] filter_ms")
    p.add_argument("--openings", type=int, default=20,
                   help="reply openings per room (first 4 s of a first reply, echo only)")
    p.add_argument("--no-asr", action="store_true", help="skip the WER measurement")
    p.add_argument("--threshold", type=float, default=None,
                   help="barge-in VAD threshold (default: [vad] threshold, the full-duplex "
                        "rule; [pipeline] barge_in_threshold is the half-duplex one)")
    p.add_argument("--min-ms", type=float, default=None,
                   help="barge-in minimum run (default: [pipeline] barge_in_min_ms)")


def _norm(text: str) -> str:
    text = text.lower().replace("-", " ")
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9' ]", " ", text)).strip()


class _ASR:
    """The project's Whisper transcriber when present, else faster-whisper on the same model."""

    def __init__(self, config: Any) -> None:
        self.impl: Any = None
        self.model: Any = None
        try:
            from localvox.registry import create

            self.impl = create("asr", "whisper", config)
            self.name = "localvox.asr.whisper"
        except Exception:  # noqa: BLE001 -- backend not there yet: use faster-whisper directly
            from faster_whisper import WhisperModel

            from localvox.modelpacks import resolve_model

            path = resolve_model(config.asr.model, config)
            self.model = WhisperModel(str(path), device="cpu", compute_type="int8",
                                      cpu_threads=config.asr.threads)
            self.name = f"faster-whisper {config.asr.model}"

    def text(self, samples) -> str:
        if self.impl is not None:
            return asyncio.run(self.impl.transcribe(samples)).text
        segs, _ = self.model.transcribe(samples, language="en", beam_size=1,
                                        condition_on_previous_text=False, vad_filter=False)
        return " ".join(s.text for s in segs)


def run(args: argparse.Namespace, config: Any) -> int:
    import numpy as np

    from localvox.audio import room_sim as rs
    from localvox.echo.canceller import EchoCanceller
    from localvox.echo.evaluate import (erle_db, run_canceller, score_barge_in, speech_onset,
                                        vad_probs)
    from localvox.registry import create

    rooms = rs.ROOMS
    if args.rooms:
        wanted = [r.strip() for r in args.rooms.split(",") if r.strip()]
        known = {r.name: r for r in rooms}
        missing = [w for w in wanted if w not in known]
        if missing:
            from localvox.errors import ConfigError

            raise ConfigError(f"unknown room(s) {', '.join(missing)}; "
                              f"choose from {', '.join(known)}")
        rooms = tuple(known[w] for w in wanted)
    filter_ms = args.filter_ms or config.echo.filter_ms
    thr = args.threshold if args.threshold is not None else config.vad.threshold
    min_ms = args.min_ms if args.min_ms is not None else config.pipeline.barge_in_min_ms
    # Until the canceller claims full duplex (it has proven itself on the room), the
    # engine applies the half-duplex threshold to the cleaned signal; so does the bench.
    rule = {"half_duplex_threshold": config.pipeline.barge_in_threshold}

    print("making speech with Piper ...", flush=True)
    assistant = rs.piper_speech(rs.ASSISTANT_LINES, config=config)
    users = rs.piper_speech(rs.USER_LINES, pitch=1.12, config=config)
    gap = np.zeros(int(0.25 * rs.SR), np.float32)
    reply = np.concatenate([np.concatenate([a, gap]) for a in assistant]) * 0.5
    vad = create("vad", "silero", config)
    asr = None if args.no_asr else _ASR(config)

    def canceller() -> EchoCanceller:
        return EchoCanceller(filter_ms=filter_ms, max_delay_ms=config.echo.max_delay_ms)

    results = []
    for room in rooms:
        print(f"room {room.name} ...", flush=True)
        # 1. Echo only: the whole reply, nobody talking.
        scene = rs.simulate(room, reply)
        cl = run_canceller(scene, canceller())
        speech_s = len(reply) / rs.SR
        erle_all = erle_db(scene.mic, cl.out, scene.echo, cl.latency, end_s=speech_s)
        erle_conv = erle_db(scene.mic, cl.out, scene.echo, cl.latency, start_s=2.0,
                            end_s=speech_s)
        from localvox.echo.bargein import barge_ins

        fb_clean = len(barge_ins(vad_probs(vad, cl.out), 0.032, thr, min_ms, **rule,
                                 full_duplex=cl.full_duplex))
        fb_raw = len(barge_ins(vad_probs(vad, scene.mic), 0.032, thr, min_ms))
        rtf = cl.seconds / (len(scene.mic) / rs.SR)

        # 1b. Openings: the first 4 s of a first reply, where the canceller is still
        # learning the room -- the likeliest place for a false barge-in, so sample many.
        openings = {"gated": 0, "ungated": 0, "seconds": 0.0}
        for j in range(args.openings):
            opening = rs.simulate(room, np.roll(reply, -int(j * 0.97 * rs.SR))[: 4 * rs.SR])
            oc = run_canceller(opening, canceller())
            probs = vad_probs(vad, oc.out)
            openings["gated"] += bool(barge_ins(probs, 0.032, thr, min_ms, **rule,
                                                full_duplex=oc.full_duplex))
            openings["ungated"] += bool(barge_ins(probs, 0.032, thr, min_ms))
            openings["seconds"] += 4.0

        # 2. Barge-in trials: a user utterance over the reply, 2.5-7 s in.
        trials = []
        for j in range(args.trials):
            k = j % len(users)
            start = 2.5 + (j * 1.13) % 4.5
            rot = np.roll(reply, -int(j * 2.1 * rs.SR))
            sc = rs.simulate(room, rot, [(start, users[k])])
            c = run_canceller(sc, canceller())
            onset = speech_onset(users[k], start)
            end = start + len(users[k]) / rs.SR
            outcome = score_barge_in(vad_probs(vad, c.out), onset, end, thr, min_ms, **rule,
                                     full_duplex=c.full_duplex)
            # The same rule on the user's speech with no echo at all: the VAD's own floor.
            no_echo = score_barge_in(vad_probs(vad, sc.mic_without_echo), onset, end, thr,
                                     min_ms)
            row: dict[str, Any] = {"utterance": rs.USER_LINES[k], "start_s": start,
                                   "detected": outcome.fired is not None,
                                   "delay_ms": outcome.delay_ms,
                                   "false_before": outcome.false_before,
                                   "pre_onset_s": onset,
                                   "no_echo_delay_ms": no_echo.delay_ms}
            # The same barge-in in a later reply: the canceller has already heard 6 s of an
            # earlier reply (and a 1 s pause) in this room, as it has in every turn but the
            # first of a session.
            earlier = np.roll(reply, -int((j + 5) * 1.7 * rs.SR))[: int(6 * rs.SR)]
            pause = np.zeros(rs.SR, np.float32)
            shift = (len(earlier) + len(pause)) / rs.SR
            wsc = rs.simulate(room, np.concatenate([earlier, pause, rot]),
                              [(shift + start, users[k])])
            wc = run_canceller(wsc, canceller())
            warm = score_barge_in(vad_probs(vad, wc.out), onset + shift, end + shift, thr,
                                  min_ms, **rule, full_duplex=wc.full_duplex)
            row.update(warm_detected=warm.fired is not None, warm_delay_ms=warm.delay_ms,
                       warm_false_before=warm.false_before,
                       warm_pre_onset_s=onset + shift - len(pause) / rs.SR)
            if asr is not None:
                lo, hi = int((start - 0.2) * rs.SR), int((end + 0.4) * rs.SR)
                lat = c.latency
                row["text_ref"] = asr.text(sc.mic_without_echo[lo:hi])
                row["text_clean"] = asr.text(c.out[lo + lat : hi + lat])
                row["text_raw"] = asr.text(sc.mic[lo:hi])
            trials.append(row)
        results.append({"room": room.name, "rt60_s": room.rt60_s, "delay_ms": room.delay_ms,
                        "drift_ppm": room.drift_ppm, "echo_to_user_db": room.echo_to_user_db,
                        "estimated_delay_ms": cl.delay_ms, "erle_db": erle_all,
                        "erle_converged_db": erle_conv, "assistant_speech_s": speech_s,
                        "false_barge_ins_clean": fb_clean, "false_barge_ins_raw": fb_raw,
                        "rtf": rtf, "trials": trials, "openings": openings})

    summary = _summarise(results, asr is not None)
    _print_table(results, summary, filter_ms, thr, min_ms, asr.name if asr else None)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"filter_ms": filter_ms, "barge_in_threshold": thr,
                       "barge_in_min_ms": min_ms, "rooms": results, "summary": summary},
                      f, indent=2)
        print(f"wrote {args.json}")
    if args.plot:
        _plot(results, args.plot)
        print(f"wrote {args.plot}")
    return 0


def _wer(refs: list[str], hyps: list[str]) -> float:
    import jiwer

    refs_n = [_norm(r) or "<empty>" for r in refs]
    return float(jiwer.wer(refs_n, [_norm(h) for h in hyps]))


def _room_wers(r: dict) -> dict[str, float]:
    refs = [t["utterance"] for t in r["trials"]]
    return {k: _wer(refs, [t[f"text_{k}"] for t in r["trials"]]) for k in ("ref", "clean", "raw")}


def _summarise(results: list[dict], with_asr: bool) -> dict[str, Any]:
    trials = [t for r in results for t in r["trials"]]
    delays = [t["delay_ms"] for t in trials if t["delay_ms"] is not None]
    # Echo-only time: the whole reply of each room's echo-only scene, plus the part of every
    # barge-in trial before the user speaks (the engine stops the reply at the first
    # barge-in, so a trial contributes at most one false one).
    minutes = (sum(r["assistant_speech_s"] + r["openings"]["seconds"] for r in results)
               + sum(t["pre_onset_s"] for t in trials)) / 60
    false_clean = (sum(r["false_barge_ins_clean"] + r["openings"]["gated"] for r in results)
                   + sum(1 for t in trials if t["false_before"]))
    warm_minutes = sum(t["warm_pre_onset_s"] for t in trials) / 60
    warm_delays = [t["warm_delay_ms"] for t in trials if t["warm_delay_ms"] is not None]
    s: dict[str, Any] = {
        "erle_db_mean": statistics.fmean(r["erle_db"] for r in results),
        "erle_converged_db_mean": statistics.fmean(r["erle_converged_db"] for r in results),
        "false_barge_ins_per_min_clean": false_clean / minutes,
        "false_barge_ins_per_min_raw": sum(r["false_barge_ins_raw"] for r in results)
        / (sum(r["assistant_speech_s"] for r in results) / 60),
        "trials_with_false_barge_in": sum(1 for t in trials if t["false_before"]),
        "openings": sum(int(r["openings"]["seconds"] // 4) for r in results),
        "openings_with_false_barge_in": sum(r["openings"]["gated"] for r in results),
        "openings_with_false_barge_in_ungated": sum(r["openings"]["ungated"]
                                                    for r in results),
        "barge_in_detected": sum(t["detected"] for t in trials) / max(1, len(trials)),
        "barge_in_within_300ms": sum(1 for d in delays if d <= 300) / max(1, len(trials)),
        "barge_in_delay_ms_median": statistics.median(delays) if delays else None,
        "barge_in_delay_ms_max": max(delays) if delays else None,
        "no_echo_within_300ms": sum(1 for t in trials if t["no_echo_delay_ms"] is not None
                                    and t["no_echo_delay_ms"] <= 300) / max(1, len(trials)),
        "no_echo_delay_ms_median": statistics.median(
            [t["no_echo_delay_ms"] for t in trials if t["no_echo_delay_ms"] is not None] or [0]),
        "warm_false_barge_ins_per_min": sum(1 for t in trials if t["warm_false_before"])
        / max(warm_minutes, 1e-9),
        "warm_barge_in_detected": sum(t["warm_detected"] for t in trials) / max(1, len(trials)),
        "warm_barge_in_within_300ms": sum(1 for d in warm_delays if d <= 300)
        / max(1, len(trials)),
        "warm_barge_in_delay_ms_median": statistics.median(warm_delays) if warm_delays else None,
        "rtf_max": max(r["rtf"] for r in results),
        "trials": len(trials),
    }
    if with_asr:
        for r in results:
            r["wer"] = _room_wers(r)
        refs = [t["utterance"] for t in trials]
        s["wer"] = {k: _wer(refs, [t[f"text_{k}"] for t in trials])
                    for k in ("ref", "clean", "raw")}
    return s


def _print_table(results: list[dict], s: dict, filter_ms: float, thr: float, min_ms: float,
                 asr_name: str | None) -> None:
    print()
    print(f"echo canceller: filter {filter_ms:g} ms; barge-in rule: Silero p >= {thr} for "
          f">= {min_ms} ms; ASR: {asr_name or 'off'}")
    head = (f"{'room':<13}{'rt60':>5}{'delay':>7}{'est':>7}{'ERLE':>6}{'ERLE2s':>7}"
            f"{'FB/min raw>cln':>16}{'detect':>8}{'<=300':>7}{'med ms':>8}{'later':>7}"
            f"{'WER ref/cln/raw':>18}{'RTF':>7}")
    print(head)
    print("-" * len(head))
    for r in results:
        tr = r["trials"]
        det = sum(t["detected"] for t in tr) / max(1, len(tr))
        ds = [t["delay_ms"] for t in tr if t["delay_ms"] is not None]
        w300 = sum(1 for d in ds if d <= 300) / max(1, len(tr))
        mins = r["assistant_speech_s"] / 60
        pre = (sum(t["pre_onset_s"] for t in tr) + r["openings"]["seconds"]) / 60
        nfb = (r["false_barge_ins_clean"] + r["openings"]["gated"]
               + sum(1 for t in tr if t["false_before"]))
        fb = f"{r['false_barge_ins_raw'] / mins:.0f}>{nfb / (mins + pre):.1f}"
        wer = r.get("wer")
        ws = f"{wer['ref']:.2f}/{wer['clean']:.2f}/{wer['raw']:.2f}" if wer else "-"
        est = f"{r['estimated_delay_ms']:.0f}" if r["estimated_delay_ms"] is not None else "-"
        later = sum(1 for t in tr if t["warm_delay_ms"] is not None
                    and t["warm_delay_ms"] <= 300) / max(1, len(tr))
        print(f"{r['room']:<13}{r['rt60_s']:>5.2f}{r['delay_ms']:>7.0f}{est:>7}"
              f"{r['erle_db']:>6.1f}{r['erle_converged_db']:>7.1f}{fb:>16}{det:>8.0%}"
              f"{w300:>7.0%}{(statistics.median(ds) if ds else float('nan')):>8.0f}{later:>7.0%}"
              f"{ws:>18}{r['rtf']:>7.3f}")
    print("-" * len(head))
    print(f"ERLE mean {s['erle_db_mean']:.1f} dB ({s['erle_converged_db_mean']:.1f} dB after "
          f"the first 2 s); false barge-ins {s['false_barge_ins_per_min_clean']:.2f}/min of "
          f"assistant speech cleaned vs {s['false_barge_ins_per_min_raw']:.1f}/min raw")
    print(f"reply openings (first 4 s of a first reply, echo only): "
          f"{s['openings_with_false_barge_in']} of {s['openings']} had a false barge-in with "
          f"the engine's rule ({s['openings_with_false_barge_in_ungated']} if full duplex "
          f"were claimed from the start)")
    med = s["barge_in_delay_ms_median"]
    worst = s["barge_in_delay_ms_max"]
    print(f"barge-in in the first reply of a session (cold canceller): {s['barge_in_detected']:.0%} detected, {s['barge_in_within_300ms']:.0%} "
          f"within 300 ms of onset (median {med if med is None else round(med)} ms, "
          f"max {worst if worst is None else round(worst)} ms) over "
          f"{s['trials']} trials; in {s['trials_with_false_barge_in']} trials a false barge-in "
          f"came first (before the user spoke)")
    wm = s["warm_barge_in_delay_ms_median"]
    print(f"  in a later reply (canceller already warm): {s['warm_barge_in_detected']:.0%} "
          f"detected, {s['warm_barge_in_within_300ms']:.0%} within 300 ms (median "
          f"{wm if wm is None else round(wm)} ms); false barge-ins "
          f"{s['warm_false_barge_ins_per_min']:.2f}/min")
    print(f"  same rule on the user's speech with no echo at all: "
          f"{s['no_echo_within_300ms']:.0%} within 300 ms (median "
          f"{s['no_echo_delay_ms_median']:.0f} ms)")
    if "wer" in s:
        w = s["wer"]
        print(f"WER of the barge-in utterance: {w['ref']:.3f} without echo, "
              f"{w['clean']:.3f} after cleaning, {w['raw']:.3f} with the echo left in")
    print(f"canceller speed: worst real-time factor {s['rtf_max']:.3f} (one core, 16 kHz)")


def _plot(results: list[dict], path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        from localvox.errors import LocalvoxError

        raise LocalvoxError("--plot needs matplotlib: pip install matplotlib") from None
    import numpy as np

    names = [r["room"] for r in results]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    axes[0].bar(names, [r["erle_db"] for r in results], label="whole reply")
    axes[0].bar(names, [r["erle_converged_db"] for r in results], alpha=0.5, label="after 2 s")
    axes[0].set_ylabel("ERLE (dB)")
    axes[0].legend()
    for r in results:
        ds = [t["delay_ms"] for t in r["trials"] if t["delay_ms"] is not None]
        axes[1].scatter([r["room"]] * len(ds), ds)
    axes[1].axhline(300, color="red", linestyle="--")
    axes[1].set_ylabel("barge-in detection delay (ms)")
    if all("wer" in r for r in results):
        x = np.arange(len(names))
        for i, k in enumerate(("ref", "clean", "raw")):
            axes[2].bar(x + (i - 1) * 0.27, [r["wer"][k] for r in results], 0.27, label=k)
        axes[2].set_xticks(x, names)
        axes[2].set_ylabel("WER of barge-in utterance")
        axes[2].legend()
    for ax in axes:
        ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(path)


