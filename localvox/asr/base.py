"""The ASR contract: a streaming recogniser per utterance.

A ``Transcriber`` is the loaded model (shared, heavy). ``stream()`` opens one utterance:
feed audio as it arrives, ask for partials while the user speaks, and ``finish()`` for the
final transcript at the endpoint. Backends may decode in the background; ``finish`` must
reuse what is already decoded instead of starting over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from localvox.asr.bias import Bias


@dataclass(frozen=True)
class Transcript:
    text: str
    is_final: bool
    audio_s: float
    """Seconds of audio this transcript covers."""
    decode_s: float = 0.0
    """Wall time spent decoding it."""


class TranscriptStream(Protocol):
    async def feed(self, samples: np.ndarray) -> None: ...

    async def partial(self) -> Transcript | None:
        """A fresh partial if enough new audio arrived since the last one, else None."""

    async def finish(self) -> Transcript: ...

    async def cancel(self) -> None: ...


class Transcriber(Protocol):
    name: str

    def stream(self) -> TranscriptStream: ...

    async def transcribe(self, samples: np.ndarray) -> Transcript:
        """Whole-utterance decode (CLI ``transcribe``, benchmarks)."""

    def set_bias(self, bias: "Bias | None") -> str | None:
        """Expect these phrases in the streams opened from now on (``localvox.asr.bias``).

        Returns a one-line notice if some did not fit, else None. A backend that cannot
        be biased ignores it and returns None.
        """
