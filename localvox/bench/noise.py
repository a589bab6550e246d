"""Mixing recorded noise into speech at a set SNR (``bench commands``, the regression tests).

SNR is measured over the *speech span* (first to last voiced 20 ms frame, voiced = within
20 dB of the loudest frame), not over the whole file: the coffee clips carry about 1 s of
silence before and 4 s after the order, which would otherwise lower the speech power and
make every "6 dB" mix easier than it says. The noise is laid over the whole clip, leading
and trailing silence included, so the endpointer hears the kitchen too, as a user's
microphone would. The noise starts at ``offset`` samples into the noise file (wrapping),
so different clips meet different parts of it.

(Skipped by ``localvox bench`` discovery: it defines no bench.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where it is used: `localvox --help` stays instant
    import numpy as np

__all__ = ["mix_at_snr", "shared_speech", "speech_span"]

FRAME = 320  # 20 ms at 16 kHz


def speech_span(x: np.ndarray, floor_db: float = 20.0) -> tuple[int, int]:
    """(start, end) samples of the voiced part: frames within ``floor_db`` of the loudest."""
    import numpy as np

    x = np.asarray(x, dtype=np.float32).reshape(-1)
    k = len(x) // FRAME
    if k == 0:
        return 0, len(x)
    rms = np.sqrt(np.mean(np.square(x[:k * FRAME].reshape(k, FRAME)), axis=1))
    peak = float(rms.max())
    if peak <= 0:
        return 0, 0
    voiced = np.flatnonzero(rms >= peak * 10 ** (-floor_db / 20))
    return int(voiced[0]) * FRAME, int(voiced[-1] + 1) * FRAME


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float | None,
               offset: int = 0) -> np.ndarray:
    """``speech`` plus ``noise`` scaled so the speech span sits ``snr_db`` above it.

    ``snr_db=None`` returns the clean speech. A silent clip gets no noise scaling (there is
    no speech to measure) and is returned as is.
    """
    import numpy as np

    x = np.asarray(speech, dtype=np.float32).reshape(-1)
    if snr_db is None or len(x) == 0:
        return x.copy()
    start, end = speech_span(x)
    if end <= start:
        return x.copy()
    n = np.asarray(noise, dtype=np.float32).reshape(-1)
    if len(n) == 0:
        return x.copy()
    idx = (np.arange(len(x)) + offset) % len(n)
    bed = n[idx]
    p_speech = float(np.mean(np.square(x[start:end])))
    p_noise = float(np.mean(np.square(bed[start:end]))) or 1e-12
    gain = np.sqrt(p_speech / (p_noise * 10 ** (snr_db / 10)))
    return np.clip(x + gain * bed, -1.0, 1.0).astype(np.float32)


def shared_speech() -> "Path":
    """``../shared/speech`` beside the repository (or beside its parent, for worktrees)."""
    from pathlib import Path

    from localvox.config import REPO_ROOT

    for base in (REPO_ROOT.parent, REPO_ROOT.parent.parent):
        candidate = Path(base) / "shared" / "speech"
        if candidate.is_dir():
            return candidate
    return REPO_ROOT.parent / "shared" / "speech"
