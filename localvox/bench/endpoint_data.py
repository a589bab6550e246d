"""The utterance sets of ``localvox bench endpoint``: complete and paused real speech.

Why apart from the bench: preparing the sets -- the true end of speech by energy, room
tone cut from each clip's own quietest 100 ms, a 300-900 ms pause spliced in at a phrase
boundary found with Whisper's word timestamps, Piper utterances that stop after "um" or
"and" -- is the bench's data, and ``bench latency`` / ``bench turnset`` reuse
``speech_root`` and ``speech_bounds``. No heavy import at module level (``localvox bench``
discovers every module here when building its parser).
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

SR = 16000
LEAD_S = 0.5
TAIL_S = 1.5
PAUSES_MS = (300, 500, 700, 900)
PIPER_PHRASES = (
    ("What's the weather in", "Paris tomorrow?"),
    ("Set a timer for, um,", "ten minutes."),
    ("Remind me to buy milk and", "call my sister tonight."),
    ("Um, what time", "is it in Tokyo?"),
    ("Add eggs and", "bread to my shopping list."),
    ("Can you tell me the", "capital of Australia?"),
    ("Turn the volume up to, uh,", "seven."),
    ("How many minutes are in", "three and a half hours?"),
)
_BOUNDARY_WORDS = {"and", "but", "or", "of", "the", "a", "to", "in", "with", "for", "which",
                   "that", "when", "who", "as", "from", "on", "at", "by", "into"}


def speech_root() -> Path:
    """``../shared/speech`` next to the repository (``$LOCALVOX_SPEECH_DIR`` overrides)."""
    from localvox.config import REPO_ROOT

    env = os.environ.get("LOCALVOX_SPEECH_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "speech"


@dataclass
class Utt:
    name: str
    kind: str                      # "complete" | "paused"
    samples: "np.ndarray"
    speech_end_s: float            # true end of speech (stream time of samples)
    pause: tuple[float, float] | None = None   # the spliced pause, if any


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------
def speech_bounds(x: "np.ndarray") -> tuple[float, float]:
    """(start_s, end_s) of speech by energy: 10 ms frames within 40 dB of the peak and
    12 dB above the floor (10th percentile)."""
    import numpy as np

    n = len(x) // 160
    if n == 0:
        return 0.0, 0.0
    rms = np.sqrt(np.mean(x[: n * 160].reshape(n, 160).astype(np.float64) ** 2, axis=1))
    db = 20 * np.log10(rms + 1e-9)
    thr = max(db.max() - 40.0, np.percentile(db, 10) + 12.0)
    loud = np.flatnonzero(db >= thr)
    return float(loud[0] * 0.01), float((loud[-1] + 1) * 0.01)


def room_tone(x: "np.ndarray", n: int, rng: Any) -> "np.ndarray":
    """``n`` samples of the clip's own quietest 100 ms, tiled with random offsets."""
    import numpy as np

    w = 1600
    k = max(1, len(x) // w)
    frames = x[: k * w].reshape(k, w)
    quiet = frames[int(np.argmin(np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1))))]
    if not np.any(quiet):
        quiet = rng.normal(0, 10 ** (-70 / 20), w).astype(np.float32)
    reps = [np.roll(quiet, int(rng.integers(w))) for _ in range(n // w + 1)]
    return np.concatenate(reps)[:n].astype(np.float32)


def _pad(x: "np.ndarray", rng: Any, lead_s: float = LEAD_S, tail_s: float = TAIL_S
         ) -> "np.ndarray":
    import numpy as np

    return np.concatenate([room_tone(x, int(lead_s * SR), rng), x,
                           room_tone(x, int(tail_s * SR), rng)]).astype(np.float32)


def phrase_boundary(model: Any, x: "np.ndarray") -> float | None:
    """A word gap in the middle 25-75 % of the speech at a phrase boundary (after a comma
    or before a function word), from Whisper's word timestamps; the quietest 10 ms in it."""
    import numpy as np

    segments, _ = model.transcribe(x, language="en", beam_size=1, word_timestamps=True,
                                   condition_on_previous_text=False, vad_filter=False)
    words = [w for s in segments for w in (s.words or [])]
    if len(words) < 4:
        return None
    t0, t1 = words[0].start, words[-1].end
    best = None
    for a, b in zip(words, words[1:]):
        mid = (a.end + b.start) / 2
        if not (t0 + 0.25 * (t1 - t0) <= mid <= t0 + 0.75 * (t1 - t0)):
            continue
        nxt = re.sub(r"[^a-z']", "", b.word.lower())
        if a.word.strip().endswith(",") or nxt in _BOUNDARY_WORDS:
            gap = b.start - a.end
            if best is None or gap > best[0]:
                best = (gap, a.end, b.start)
    if best is None:
        return None
    lo, hi = int(best[1] * SR), max(int(best[2] * SR), int(best[1] * SR) + 160)
    seg = x[lo:hi + 160]
    k = max(1, len(seg) // 160)
    e = (seg[: k * 160].reshape(k, 160).astype(np.float64) ** 2).mean(axis=1)
    return (lo + int(np.argmin(e)) * 160 + 80) / SR


def load_sets(args: argparse.Namespace, parts: Any) -> list[Utt]:
    import numpy as np

    from localvox.audio.base import resample
    from localvox.audio.wav import read_wav
    from localvox.errors import LocalvoxError

    root = Path(args.speech) if args.speech else speech_root()
    asr = sorted((root / "asr").glob("*/*.wav"))
    if not asr:
        raise LocalvoxError(f"no real speech under {root}/asr: pass --speech DIR "
                            "(the shared speech folder)")
    if args.limit:
        asr = asr[: args.limit]
    rng = np.random.default_rng(20)
    utts: list[Utt] = []
    model = parts.asr.model
    for i, path in enumerate(asr):
        x = read_wav(path)
        _, end = speech_bounds(x)
        utts.append(Utt(path.stem, "complete", _pad(x, rng), LEAD_S + end))
        cut = phrase_boundary(model, x)
        if cut is None:
            continue
        pause = PAUSES_MS[i % len(PAUSES_MS)] / 1000
        a, b = x[: int(cut * SR)], x[int(cut * SR):]
        y = np.concatenate([a, room_tone(x, int(pause * SR), rng), b])
        utts.append(Utt(f"{path.stem}+{int(pause * 1000)}ms", "paused", _pad(y, rng),
                        LEAD_S + end + pause, (LEAD_S + cut, LEAD_S + cut + pause)))
    for path in sorted((root / "intent" / "coffee").glob("*.wav"))[: args.coffee]:
        x = read_wav(path)
        _, end = speech_bounds(x)
        utts.append(Utt(path.stem, "complete", _pad(x, rng, tail_s=0.0), LEAD_S + end))
    if not args.no_piper and parts.tts is not None:
        tts = parts.tts
        for j, (first, second) in enumerate(PIPER_PHRASES):
            a = resample(np.concatenate(tts.synthesize_blocking(first)), tts.sample_rate, SR)
            b = resample(np.concatenate(tts.synthesize_blocking(second)), tts.sample_rate, SR)
            _, a_end = speech_bounds(a)
            b_start, b_end = speech_bounds(b)
            a, b = a[: int((a_end + 0.02) * SR)], b[max(0, int((b_start - 0.02) * SR)):]
            noise = rng.normal(0, 10 ** (-60 / 20), SR).astype(np.float32)
            for pause_ms in (PAUSES_MS[j % 4], PAUSES_MS[(j + 2) % 4]):
                gap = np.resize(noise, int(pause_ms * SR / 1000))
                y = np.concatenate([a, gap, b])
                _, end = speech_bounds(y)
                cut = len(a) / SR
                utts.append(Utt(f"piper:{first} ... {second}+{pause_ms}ms", "paused",
                                _pad(y + np.resize(noise, len(y)), rng), LEAD_S + end,
                                (LEAD_S + cut, LEAD_S + cut + pause_ms / 1000)))
    return utts
