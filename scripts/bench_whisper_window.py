#!/usr/bin/env python3
"""Plain (30 s window) vs windowed Whisper decode, side by side, on Piper-made speech.

    .venv/bin/python scripts/bench_whisper_window.py [--runs 5] [--models whisper_tiny_en whisper_base]

Each clip is a sentence spoken by the packaged Piper voice with 0.3 s of silence before
and 0.5 s after (what the endpointer hands over). Both paths decode every clip ``--runs``
times, interleaved so background load hits both alike; the table shows median wall times,
their ratio, the window used, and the word error rate of each path against the text.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

SENTENCES = [
    "Hello there.",
    "What time is it?",
    "Set a timer for ten minutes.",
    "What's the weather like in Paris tomorrow?",
    "Please add eggs, butter and two lemons to my shopping list.",
    "Remind me to call my mother this evening, and book a table for four at eight.",
    "The quick brown fox jumps over the lazy dog while the cat sleeps on the warm windowsill.",
]


def words(text: str) -> list[str]:
    text = text.lower().replace("10", "ten").replace("4", "four").replace("8", "eight")
    return re.sub(r"[^a-z0-9' ]", " ", text).split()


def edit_distance(a: list[str], b: list[str]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def make_clips() -> list[tuple[str, np.ndarray]]:
    from localvox.audio.base import resample
    from localvox.config import load_config
    from localvox.tts.piper import create

    tts = create(load_config(use_user_file=False))
    clips = []
    for text in SENTENCES:
        audio = resample(np.concatenate(tts.synthesize_blocking(text)), tts.sample_rate, 16000)
        pad = lambda s: np.zeros(int(s * 16000), np.float32)  # noqa: E731
        clips.append((text, np.concatenate([pad(0.3), audio, pad(0.5)])))
    return clips


def bench_model(model_id: str, clips: list[tuple[str, np.ndarray]], runs: int) -> None:
    from localvox.asr.whisper import create
    from localvox.config import load_config

    config = load_config(use_user_file=False)
    config.asr.model = model_id
    asr = create(config)
    asr.decode(clips[0][1], windowed=True)  # warm up both paths
    asr.decode(clips[0][1], windowed=False)
    print(f"\n{model_id} ({config.asr.compute_type}, {config.asr.threads} threads, "
          f"beam {config.asr.beam_size}), median of {runs} runs")
    head = f"{'clip':<44} {'audio':>6} {'window':>6} {'plain':>8} {'windowed':>9} {'ratio':>6}  same  path"
    print(head)
    print("-" * len(head))
    ratios, errs = [], {"plain": 0, "windowed": 0}
    n_words, same_count, t_plain, t_win = 0, 0, [], []
    for text, audio in clips:
        tp, tw = [], []
        for _ in range(runs):
            p = asr.decode(audio, windowed=False)
            w = asr.decode(audio, windowed=True)
            tp.append(p.decode_s)
            tw.append(w.decode_s)
        mp, mw = statistics.median(tp), statistics.median(tw)
        ratios.append(mw / mp)
        t_plain.append(mp)
        t_win.append(mw)
        ref = words(text)
        n_words += len(ref)
        errs["plain"] += edit_distance(ref, words(p.text))
        errs["windowed"] += edit_distance(ref, words(w.text))
        same = words(p.text) == words(w.text)
        same_count += same
        label = text if len(text) <= 44 else text[:41] + "..."
        print(f"{label:<44} {len(audio) / 16000:5.2f}s {w.window_s:5.0f}s {mp * 1000:6.0f}ms "
              f"{mw * 1000:7.0f}ms {mw / mp:6.2f}  {'yes' if same else 'NO ':<4}  {w.path}")
        if not same:
            print(f"    plain:    {p.text}\n    windowed: {w.text}")
    print("-" * len(head))
    print(f"{'total':<44} {'':>6} {'':>6} {sum(t_plain) * 1000:6.0f}ms "
          f"{sum(t_win) * 1000:7.0f}ms {sum(t_win) / sum(t_plain):6.2f}  "
          f"{same_count}/{len(clips)}")
    print(f"median ratio windowed/plain: {statistics.median(ratios):.2f} "
          f"(speed-up {1 / statistics.median(ratios):.1f}x)")
    print(f"WER vs the spoken text: plain {errs['plain'] / n_words:.1%}, "
          f"windowed {errs['windowed'] / n_words:.1%} ({n_words} words)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--models", nargs="+", default=["whisper_tiny_en", "whisper_base"])
    args = ap.parse_args()
    clips = make_clips()
    for model_id in args.models:
        bench_model(model_id, clips, args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
