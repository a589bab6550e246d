#!/usr/bin/env python3
"""Make the small speech fixtures in tests/fixtures/ (run once; the outputs are committed).

Speech comes from the packaged Piper voice (piper_joe_medium) and, for one clip, espeak-ng,
so tests never depend on a recording nobody can regenerate. Each clip is laid out
explicitly: silence, phrase, silence, phrase... Every phrase is trimmed to its audible
extent before placement, so the sample where speech starts and ends is known exactly.
That layout goes to ``layout.json`` (sample positions at 16 kHz), letting tests assert on
where an utterance begins and ends without transcribing anything. A ``.txt`` transcript
sits beside each WAV.

    .venv/bin/python scripts/make_fixtures.py            # all fixtures
    .venv/bin/python scripts/make_fixtures.py --only follow_up   # one (layout.json merged)
    .venv/bin/python scripts/make_fixtures.py --check    # only report what exists

Needs the piper_joe_medium model pack and ``espeak-ng`` on PATH (apt-get install espeak-ng).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from localvox.audio.base import SAMPLE_RATE, resample  # noqa: E402
from localvox.audio.wav import read_wav, write_wav  # noqa: E402

OUT = ROOT / "tests" / "fixtures"
NOISE_STD = 0.0008
"""Faint background hiss (about -62 dBFS) so silence is not digitally perfect zeros."""

# name -> list of steps; a float is seconds of silence, a string is a phrase (Piper),
# ("espeak", text) is a phrase in espeak-ng's voice, ("after_reply", reply, s) is the
# silence in which the assistant would answer ``reply`` (REPLY_LATENCY_S, then the reply's
# audio in the same Piper voice) followed by ``s`` more seconds.
FIXTURES: dict[str, list] = {
    "hey_jarvis": [0.5, "Hey Jarvis.", 0.6],
    "wake_then_question": [0.5, "Hey Jarvis.", 0.6, "What time is it?", 0.8],
    "two_questions": [0.4, "What time is it?", 1.5, "What is the weather like today?", 0.8],
    "other_speech": [0.4, "The quick brown fox jumps over the lazy dog.", 0.3,
                     "I like to read a good book in the evening.", 0.6],
    "what_time": [0.4, "What time is it?", 0.6],
    "espeak_question": [0.4, ("espeak", "What is the capital of France?"), 0.6],
    # Issue #15: a follow-up without the wake word, 4.25 s after the reply's last sample
    # (inside [wake] follow_up_s = 5.0 with 0.75 s to spare for a slower machine).
    "follow_up": [0.5, "Hey Jarvis.", 0.35, "What is 12 times 7?",
                  ("after_reply", "12 times 7 is 84.", 4.25), "And what is that plus one?",
                  1.5],
    # Issue #15: a timer set by voice must ring while the session runs (`run --realtime`).
    "timer_request": [0.4, "Set a timer for 1 second.", 10.0],
}

OWN_RNG = {"follow_up", "timer_request"}
"""Fixtures added later draw their hiss from their own seed, so adding one does not change
the others (which share one generator in order)."""

REPLY_LATENCY_S = 0.7
"""End of speech -> first reply audio assumed for an ``after_reply`` gap (measured about
0.64 s for a first turn, issue #15)."""


def _trim(x: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    """Cut leading/trailing silence: keep from the first to the last 10 ms block above threshold."""
    block = SAMPLE_RATE // 100
    n = len(x) // block
    if n == 0:
        return x
    peaks = np.abs(x[: n * block]).reshape(n, block).max(axis=1)
    loud = np.nonzero(peaks > threshold)[0]
    if len(loud) == 0:
        return x
    return x[loud[0] * block:(loud[-1] + 1) * block]


class Speaker:
    """Turns text into trimmed 16 kHz float32 speech with Piper or espeak-ng."""

    def __init__(self) -> None:
        from piper import PiperVoice

        from localvox.modelpacks import resolve_model

        model = resolve_model("piper_joe_medium")
        self.voice = PiperVoice.load(model, config_path=f"{model}.json")
        self.rate = int(self.voice.config.sample_rate)

    def piper(self, text: str, trim: bool = True) -> np.ndarray:
        chunks = [c.audio_float_array for c in self.voice.synthesize(text)]
        audio = resample(np.concatenate(chunks).astype(np.float32), self.rate, SAMPLE_RATE)
        return _trim(audio) if trim else audio

    @staticmethod
    def espeak(text: str) -> np.ndarray:
        exe = shutil.which("espeak-ng")
        if exe is None:
            raise SystemExit("espeak-ng not found: apt-get install espeak-ng")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "e.wav"
            subprocess.run([exe, "-v", "en-us", "-s", "160", "-w", str(path), text], check=True)
            audio = read_wav(path)
        return _trim(audio)


def build(name: str, steps: list, speaker: Speaker, rng: np.random.Generator) -> dict:
    parts: list[np.ndarray] = []
    segments: list[dict] = []
    texts: list[str] = []
    pos = 0
    for step in steps:
        if isinstance(step, (int, float)):
            chunk = np.zeros(int(round(step * SAMPLE_RATE)), dtype=np.float32)
        elif isinstance(step, tuple) and step[0] == "after_reply":
            reply = len(speaker.piper(step[1], trim=False)) / SAMPLE_RATE  # as played
            chunk = np.zeros(int(round((REPLY_LATENCY_S + reply + step[2]) * SAMPLE_RATE)),
                             dtype=np.float32)
        else:
            engine, text = ("espeak", step[1]) if isinstance(step, tuple) else ("piper", step)
            chunk = speaker.espeak(text) if engine == "espeak" else speaker.piper(text)
            peak = float(np.max(np.abs(chunk)))
            chunk = chunk * (0.7 / peak) if peak > 0 else chunk
            segments.append({"text": text, "voice": engine, "start": pos,
                             "end": pos + len(chunk)})
            texts.append(text)
        parts.append(chunk)
        pos += len(chunk)
    audio = np.concatenate(parts)
    audio = audio + rng.normal(0.0, NOISE_STD, len(audio)).astype(np.float32)
    write_wav(OUT / f"{name}.wav", audio)
    (OUT / f"{name}.txt").write_text(" ".join(texts) + "\n", encoding="utf-8")
    return {"samples": len(audio), "sample_rate": SAMPLE_RATE, "segments": segments}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="list fixtures and sizes only")
    ap.add_argument("--only", action="append", default=[], metavar="NAME",
                    help="build only these fixtures (merged into layout.json)")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if not args.check:
        speaker = Speaker()
        rng = np.random.default_rng(1234)
        path = OUT / "layout.json"
        layout = json.loads(path.read_text(encoding="utf-8")) if args.only else {}
        for name, steps in FIXTURES.items():
            own = np.random.default_rng(sum(map(ord, name))) if name in OWN_RNG else rng
            if not args.only or name in args.only:
                layout[name] = build(name, steps, speaker, own)
        path.write_text(json.dumps(layout, indent=1) + "\n", encoding="utf-8")
    total = 0
    for wav in sorted(OUT.glob("*.wav")):
        size = wav.stat().st_size
        total += size
        print(f"{wav.name:28s} {size / 1024:7.1f} KiB  {len(read_wav(wav)) / SAMPLE_RATE:5.2f} s")
    print(f"{'total':28s} {total / 1024:7.1f} KiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
