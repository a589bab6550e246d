"""The wake word set ``localvox bench wake`` builds from recordings of real people.

Layout read (that of ``../shared/speech``)::

    ROOT/wake/<model>/*.wav    positives: real people saying the wake word (one per clip)
    ROOT/wake/<other>/*.wav    other keywords: negatives for every other model
    ROOT/intent/*/ *.wav       spoken requests (coffee orders): negatives
    ROOT/asr/*/ *.wav          read speech: negatives
    ROOT/noise/*.wav           background noise

Positives follow Picovoice's wake-word benchmark: every clip twice, clean and with the
kitchen noise at 10 dB SNR, each after a 1.5 s lead-in (and 2 s of tail for the detector
to answer in). Speech power for the SNR is taken over the clip's active part (``active_bounds``), so the digital-zero padding of the source does not count.

Negatives: the unique real speech here is only ~21 minutes, so the negative hour is built
by playing all of it once per *condition* -- clean, kitchen at 10 dB, dish-washing at 5 dB,
exercise bike at 15 dB -- each pass in its own shuffled order, clips joined with 0.4-1.2 s
gaps into ~2 minute streams (the detector runs continuously over a stream, as it does in a
room), plus the noise files alone. That is ~1.4 h, of which ~21 min is distinct speech: the
bench prints both, and false-accept rates below 1 per 1.4 h cannot be measured on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from localvox.audio.base import SAMPLE_RATE

LEAD_IN_S = 1.5
TAIL_S = 2.0
POSITIVE_NOISE = ("kitchen", 10.0)
CONDITIONS: tuple[tuple[str | None, float | None], ...] = (
    (None, None), ("kitchen", 10.0), ("doing_the_dishes", 5.0), ("exercise_bike", 15.0))
"""Negative passes: (noise file stem, SNR dB); None = clean."""
STREAM_S = 120.0
ACTIVE_DB = 30.0
ACTIVE_ABOVE_FLOOR_DB = 15.0


@dataclass
class Clip:
    name: str
    """``folder/file.wav`` (positives) or ``stream id`` (negatives)."""
    audio: np.ndarray
    condition: str
    phrase_start_s: float = 0.0
    phrase_end_s: float = 0.0
    half: str = ""
    """Positives: "A" (even index in the sorted list) or "B" (odd), for hold-out reports."""
    sources: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return len(self.audio) / SAMPLE_RATE


@dataclass
class WakeSet:
    positives: list[Clip]
    negatives: list[Clip]
    unique_negative_s: float
    """Seconds of distinct recordings behind the negatives (each is played once per condition)."""
    description: str


def speech_root(directory: str | Path | None) -> Path | None:
    """DIR, or ``../shared/speech`` next to the repository (a worktree sits one level deeper)."""
    from localvox.config import REPO_ROOT

    if directory is not None:
        return Path(directory)
    for base in (REPO_ROOT.parent, REPO_ROOT.parent.parent):
        if (base / "shared" / "speech" / "noise").is_dir():
            return base / "shared" / "speech"
    return None


def is_speech_root(d: Path) -> bool:
    return (d / "noise").is_dir() and ((d / "wake").is_dir() or (d / "intent").is_dir())


def _wavs(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.wav"))


def active_bounds(audio: np.ndarray) -> tuple[float, float]:
    """(start s, end s) of the spoken part of a clip, from 10 ms frame levels.

    Active: 15 dB above the clip's own floor (the 20th percentile of its non-silent
    frames) and within 30 dB of its loudest frame. Crowd-sourced clips have room noise
    ~40 dB below the voice, with bumps to -33 dB that a peak-only rule counts as speech.
    """
    hop = SAMPLE_RATE // 100
    n = len(audio) // hop
    if n == 0:
        return 0.0, len(audio) / SAMPLE_RATE
    rms = np.sqrt(np.mean(np.square(audio[:n * hop].reshape(n, hop), dtype=np.float64), axis=1))
    db = 20 * np.log10(np.maximum(rms, 1e-9))
    heard = db[rms > 1e-6]
    floor = float(np.percentile(heard, 20)) if heard.size else -180.0
    on = np.flatnonzero(db >= max(floor + ACTIVE_ABOVE_FLOOR_DB, db.max() - ACTIVE_DB))
    return float(on[0] * hop / SAMPLE_RATE), float((on[-1] + 1) * hop / SAMPLE_RATE)


def speech_power(audio: np.ndarray) -> float:
    a, b = active_bounds(audio)
    part = audio[int(a * SAMPLE_RATE):int(b * SAMPLE_RATE)]
    return float(np.mean(np.square(part, dtype=np.float64))) if len(part) else 0.0


def add_noise(audio: np.ndarray, noise: np.ndarray, snr_db: float, rng: np.random.Generator,
              power: float | None = None) -> np.ndarray:
    """``audio`` plus a random stretch of ``noise`` (looped) at ``snr_db`` below ``power``."""
    p = speech_power(audio) if power is None else power
    start = int(rng.integers(0, len(noise)))
    reps = int(np.ceil((start + len(audio)) / len(noise))) + 1
    seg = np.tile(noise, reps)[start:start + len(audio)].astype(np.float64)
    pn = float(np.mean(np.square(seg))) or 1e-12
    gain = np.sqrt(p / (pn * 10 ** (snr_db / 10))) if p > 0 else 0.0
    return np.clip(audio + gain * seg, -1.0, 1.0).astype(np.float32)


def build_positives(folder: Path, noise: np.ndarray, *, seed: int = 0) -> list[Clip]:
    """Every clip clean and with ``noise`` at 10 dB, after a 1.5 s lead-in."""
    from localvox.audio.wav import read_wav

    rng = np.random.default_rng(seed)
    lead, tail = (np.zeros(int(s * SAMPLE_RATE), np.float32) for s in (LEAD_IN_S, TAIL_S))
    out: list[Clip] = []
    # Sorted as plain strings, as the source's README numbers them; halves alternate.
    for i, path in enumerate(sorted(_wavs(folder), key=lambda p: p.name)):
        clip = read_wav(path)
        a, b = active_bounds(clip)
        audio = np.concatenate([lead, clip, tail])
        name = f"{folder.name}/{path.name}"
        half = "AB"[i % 2]
        for cond, snr in ((None, None), POSITIVE_NOISE):
            x = audio if cond is None else add_noise(audio, noise, float(snr), rng,
                                                     speech_power(clip))
            out.append(Clip(name, x, "clean" if cond is None else f"{cond} {snr:g} dB",
                            LEAD_IN_S + a, LEAD_IN_S + b, half))
    return out


def negative_sources(root: Path, model: str) -> list[Path]:
    """Folders of real speech with no ``model`` wake word in them."""
    folders = [d for d in sorted((root / "wake").glob("*")) if d.is_dir() and d.name != model]
    for kind in ("intent", "asr"):
        folders += [d for d in sorted((root / kind).glob("*")) if d.is_dir()]
    return folders


def build_negatives(root: Path, model: str, noises: dict[str, np.ndarray], *, seed: int = 0,
                    conditions: tuple[tuple[str | None, float | None], ...] = CONDITIONS,
                    stream_s: float = STREAM_S) -> tuple[list[Clip], float]:
    """Streams of real speech, one pass per condition; the noise files alone. (clips, unique s)"""
    from localvox.audio.wav import read_wav

    clips: list[tuple[str, np.ndarray]] = []
    for folder in negative_sources(root, model):
        for path in _wavs(folder):
            clips.append((f"{folder.parent.name}/{folder.name}/{path.name}", read_wav(path)))
    unique_s = sum(len(x) for _, x in clips) / SAMPLE_RATE
    out: list[Clip] = []
    for ci, (cond, snr) in enumerate(conditions):
        rng = np.random.default_rng(seed + ci)
        order = rng.permutation(len(clips))
        label = "clean" if cond is None else f"{cond} {snr:g} dB"
        parts: list[np.ndarray] = []
        names: list[str] = []
        powers: list[float] = []

        def flush() -> None:
            if not parts:
                return
            audio = np.concatenate(parts)
            if cond is not None:
                # One gain per stream from its speech: each clip keeps its own loudness.
                audio = add_noise(audio, noises[cond], float(snr), rng,
                                  float(np.mean(powers)))
            out.append(Clip(f"{label} #{sum(c.condition == label for c in out)}", audio,
                            label, sources=list(names)))
            parts.clear()
            names.clear()
            powers.clear()

        for k in order:
            name, x = clips[k]
            parts += [x, np.zeros(int(rng.uniform(0.4, 1.2) * SAMPLE_RATE), np.float32)]
            names.append(name)
            powers.append(speech_power(x))
            if sum(len(p) for p in parts) >= stream_s * SAMPLE_RATE:
                flush()
        flush()
    for stem, noise in sorted(noises.items()):
        out.append(Clip(f"noise/{stem}.wav", noise, "noise alone", sources=[f"noise/{stem}.wav"]))
    return out, unique_s


def load_noises(root: Path) -> dict[str, np.ndarray]:
    from localvox.audio.wav import read_wav

    return {p.stem: read_wav(p) for p in _wavs(root / "noise")}


def build(root: Path, model: str, *, positives: list[Clip] | None = None) -> WakeSet:
    """The whole set for ``model``; ``positives`` replaces the real ones (hey_jarvis)."""
    from localvox.errors import LocalvoxError

    noises = load_noises(root)
    if POSITIVE_NOISE[0] not in noises:
        raise LocalvoxError(f"{root}/noise: no {POSITIVE_NOISE[0]}.wav to mix positives with")
    if positives is None:
        folder = root / "wake" / model
        if not folder.is_dir():
            raise LocalvoxError(f"{folder}: no real {model!r} recordings; pass --positives "
                                "a synthetic set (scripts/make_eval_set.py)")
        positives = build_positives(folder, noises[POSITIVE_NOISE[0]])
    negatives, unique_s = build_negatives(root, model, noises)
    hours = sum(c.seconds for c in negatives) / 3600
    desc = (f"{hours:.2f} h of negatives: {unique_s / 60:.1f} min of distinct real speech "
            f"({', '.join(str(p.relative_to(root)) for p in negative_sources(root, model))}) "
            f"played {len(CONDITIONS)} times ("
            + ", ".join("clean" if c is None else f"{c} {s:g} dB" for c, s in CONDITIONS)
            + f") in shuffled ~{STREAM_S:.0f} s streams, plus {len(noises)} noise files alone")
    return WakeSet(positives, negatives, unique_s, desc)
