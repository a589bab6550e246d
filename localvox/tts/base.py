"""The TTS contract: text in, PCM chunks out, cancellable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import AsyncIterator, Protocol

import numpy as np


@dataclass(frozen=True)
class SpeechChunk:
    samples: np.ndarray
    """Mono float32."""
    sample_rate: int
    text: str
    """The text this audio speaks (for captions and interruption bookkeeping)."""


class Synthesizer(Protocol):
    name: str
    sample_rate: int

    def synthesize(self, text: str) -> AsyncIterator[SpeechChunk]:
        """Speak one chunk of text (a clause or sentence). Cancel by closing the iterator."""

    async def close(self) -> None: ...
