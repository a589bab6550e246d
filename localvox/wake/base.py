"""The wake word contract."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Detection:
    name: str
    """Wake word model id, e.g. ``hey_jarvis``."""
    score: float
    at_s: float
    """Stream time (seconds) of the end of the audio that triggered it."""


class WakeDetector(Protocol):
    """Fed 16 kHz mono float32 audio in any block size; returns a detection or None."""

    name: str

    def process(self, samples: np.ndarray, end_s: float) -> Detection | None: ...

    def reset(self) -> None: ...
