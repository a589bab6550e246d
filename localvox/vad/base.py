"""The VAD contract: speech probability per frame."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class VoiceActivityDetector(Protocol):
    """Streaming VAD. ``frame_samples`` is the block size it wants (e.g. 512 at 16 kHz)."""

    name: str
    frame_samples: int

    def probability(self, samples: np.ndarray) -> float:
        """Speech probability in [0, 1] for one block of ``frame_samples`` samples."""

    def reset(self) -> None: ...
