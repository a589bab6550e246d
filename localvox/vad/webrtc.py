"""WebRTC VAD (``webrtcvad-wheels``): a tiny, model-free alternative to Silero.

Why keep it: it needs no model file and costs microseconds per frame, so it is the
fallback when the Silero model is unavailable and a baseline in benchmarks. It is a GMM
on band energies and says "speech" for much non-speech noise; Silero is the default.

WebRTC VAD judges 10/20/30 ms frames of 16-bit PCM and answers yes/no. To fit the
``probability`` contract, any block is cut into 10 ms sub-frames (leftovers carried to the
next call) and the answer is the fraction of voiced sub-frames in the block.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from localvox.audio.base import SAMPLE_RATE, to_int16
from localvox.errors import ConfigError, ModelError

if TYPE_CHECKING:
    from localvox.config import Config

SUBFRAME = SAMPLE_RATE // 100
"""10 ms at 16 kHz."""


class WebRtcVAD:
    """``VoiceActivityDetector`` on WebRTC's VAD.

    Args:
        mode: aggressiveness 0 (keeps the most speech) .. 3 (rejects the most non-speech).
    """

    frame_samples = 3 * SUBFRAME

    def __init__(self, mode: int = 2) -> None:
        if mode not in (0, 1, 2, 3):
            raise ConfigError(f"webrtc VAD mode must be 0..3, got {mode!r}")
        try:
            import webrtcvad
        except ImportError:
            raise ModelError("WebRTC VAD missing: pip install webrtcvad-wheels") from None
        self._vad = webrtcvad.Vad(mode)
        self.mode = mode
        self.name = f"webrtc:{mode}"
        self.reset()

    def reset(self) -> None:
        self._pending = np.zeros(0, dtype=np.float32)
        self.last = 0.0

    def probability(self, samples: np.ndarray) -> float:
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        if self._pending.size:
            x = np.concatenate([self._pending, x])
        n = x.size // SUBFRAME
        self._pending = x[n * SUBFRAME:].copy()
        if n == 0:
            return self.last
        pcm = to_int16(x[: n * SUBFRAME]).tobytes()
        step = SUBFRAME * 2
        voiced = sum(self._vad.is_speech(pcm[i:i + step], SAMPLE_RATE)
                     for i in range(0, len(pcm), step))
        self.last = voiced / n
        return self.last


def create(config: "Config", *, mode: int = 2, **kw: Any) -> WebRtcVAD:
    del config  # no model, no keys: WebRTC VAD has only its aggressiveness
    return WebRtcVAD(mode=mode, **kw)
