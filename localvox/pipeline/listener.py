"""Per-frame listening: VAD, wake word, endpointer and the barge-in rule, failure-tolerant.

Why apart from the engine: these are the decisions made on every 32 ms frame, and each
stage can fail in its own way (a broken VAD model, a TFLite error in the wake detector).
The listener turns those failures into one notice each and safe defaults, keeps the short
audio history a barge-in replays, and answers questions; the engine alone acts on the
answers (changes state, starts utterances).
"""

from __future__ import annotations

import collections
import contextlib
from typing import Any, Callable

import numpy as np

from localvox.audio.base import AudioFrame
from localvox.pipeline.bargein import BargeInRule
from localvox.pipeline.options import EngineOptions, Segmenter


class Listener:
    """Runs the listening stages on frames. ``vad``/``wake``/``segmenter`` may be swapped
    at any time (the engine attaches them when models finish loading)."""

    def __init__(self, *, vad: Any, wake: Any, segmenter: Segmenter | None,
                 options: EngineOptions, notice: Callable[..., None]) -> None:
        self.vad = vad
        self.wake = wake
        self.segmenter = segmenter
        self.opts = options
        self._notice = notice
        self.ring: collections.deque[tuple[AudioFrame, float]] = collections.deque(maxlen=64)
        """Recent frames with their speech probability: a barge-in replays the onset."""
        self._barge_rule = BargeInRule(options.barge_in_threshold, options.barge_in_min_ms)
        self._vad_failed = False
        self._wake_failed = False
        self._seg_reset = True

    # --- stages, each failing softly ------------------------------------------------------

    def probability(self, samples: np.ndarray) -> float:
        """Speech probability of one frame (the VAD buffers odd block sizes itself)."""
        try:
            return float(self.vad.probability(samples))
        except Exception as err:  # noqa: BLE001 -- a broken VAD must not kill the loop
            if not self._vad_failed:
                self._vad_failed = True
                self._notice(err)
            return 0.0

    def detect_wake(self, frame: AudioFrame) -> Any:
        """A ``Detection`` if the wake word ends in this frame."""
        if self.wake is None:
            return None
        try:
            return self.wake.process(frame.samples, frame.end_s)
        except Exception as err:  # noqa: BLE001 -- reported once; say "--no-wake" to go on
            if not self._wake_failed:
                self._wake_failed = True
                self._notice(f"wake word detector failed ({err}); push-to-talk or --no-wake "
                             "still work")
            return None

    def reset_wake(self) -> None:
        if self.wake is not None:
            self.wake.reset()

    def reset_vad(self) -> None:
        with contextlib.suppress(Exception):
            self.vad.reset()

    # --- endpointing ----------------------------------------------------------------------

    def reset_segmenter(self) -> None:
        """Restart endpointing at the next frame (its stream clock is set from that frame)."""
        self._seg_reset = True

    def segment(self, frame: AudioFrame, prob: float) -> list[Any]:
        """The endpointer's decisions for this frame."""
        assert self.segmenter is not None
        if self._seg_reset:
            self._seg_reset = False
            self.segmenter.reset(frame.start_s)
        return self.segmenter.feed(frame.samples, prob)

    # --- barge-in -------------------------------------------------------------------------

    def watch_barge_in(self, frame: AudioFrame, prob: float, *,
                       full_duplex: bool = False) -> float | None:
        """Stream time of the user's onset once speech above the barge-in threshold has
        lasted ``barge_in_min_ms``; else None. Half duplex, the raised threshold keeps the
        assistant's own echo below it; full duplex (echo cancelled), the normal one applies."""
        if not self.opts.barge_in:
            return None
        threshold = (self.opts.full_duplex_barge_in_threshold if full_duplex
                     else self.opts.barge_in_threshold)
        if self._barge_rule.threshold != threshold:
            self._barge_rule = BargeInRule(threshold, self.opts.barge_in_min_ms)
        return self._barge_rule.feed(prob, frame.start_s, frame.duration_s)

    def clear_barge_in(self) -> None:
        self._barge_rule.reset()

    def replay_from(self, onset_s: float) -> list[tuple[AudioFrame, float]]:
        """Buffered frames from ``pre_roll_ms`` before ``onset_s``: the first syllable of a
        barge-in is heard by the next utterance, not lost."""
        first = onset_s - self.opts.pre_roll_ms / 1000.0
        return [(f, p) for f, p in self.ring if f.end_s > first]
