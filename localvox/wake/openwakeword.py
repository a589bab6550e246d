"""openWakeWord on pyopen-wakeword's bundled TFLite runtime.

Why this runtime: the ``openwakeword`` package's TFLite path needs ``tflite-runtime``, which
does not import under numpy 2, and it ships no models. ``pyopen-wakeword`` carries its own
``libtensorflowlite_c`` and the same three-stage models (melspectrogram -> embedding ->
wake word classifier), which localvox resolves through the model packs.

The pipeline runs every 80 ms (1280 samples): audio -> 32-band mel frames -> one 96-dim
embedding per 8 mel frames -> the wake model scores the last 16 embeddings (~1.3 s). This
module only adapts that to the ``WakeDetector`` contract: float32 in any block size, a
threshold, and a refractory period so one utterance fires once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from localvox.audio.base import SAMPLE_RATE, to_int16
from localvox.errors import ModelError
from localvox.wake.base import Detection

if TYPE_CHECKING:
    from localvox.config import Config

WAKE_MODELS = ("hey_jarvis", "alexa", "hey_mycroft", "ok_nabu")
"""Wake word model ids the packs ship ([wake] model); settings screens list these."""
PRIME_S = 2.5
"""Seconds of silence the feature stage is primed with after a reset.

The wake model looks at 16 embeddings, each built from 76 mel frames, so ~2.1 s of
history must exist before the first score means anything. pyopen-wakeword primes with
8 s of zeros, which costs ~1 s of CPU on every reset here; 2.5 s gives the same scores.
"""
QUIET_GATE_DB = 10.0
"""A block this far above the tracked room floor counts as sound (see ``QuietGate``)."""
FLOOR_RISE_DB_PER_S = 3.0


class QuietGate:
    """Is there anything but steady room tone? Why: idle CPU.

    While localvox sleeps, almost all of its CPU is openWakeWord's embedding model, run
    every 80 ms on whatever the microphone hears -- mostly room tone, which cannot hold a
    wake word. The gate tracks the room's floor (the minimum of the level smoothed over
    ~0.1 s, allowed to rise slowly so a fan switching on is learned) and reports sound when
    the level is ``QUIET_GATE_DB`` above it; a spoken wake word is far louder than that.
    The floor is never forgotten: re-arming after a reply is the same room.
    """

    def __init__(self, gate_db: float = QUIET_GATE_DB, rise_db_per_s: float = FLOOR_RISE_DB_PER_S,
                 ) -> None:
        self.ratio = 10 ** (gate_db / 10)
        self.rise_db_per_s = rise_db_per_s
        self.smoothing_s = 0.1
        self.floor: float | None = None
        self.level: float | None = None

    def is_sound(self, samples: np.ndarray) -> bool:
        """Feed the next block; True if it (smoothed over ~0.1 s) stands out of the floor."""
        energy = max(float(np.mean(np.square(samples, dtype=np.float64))), 1e-10)
        seconds = len(samples) / SAMPLE_RATE
        if self.floor is None or self.level is None:   # a new room: assume sound until known
            self.floor = self.level = energy
            return True
        a = min(1.0, seconds / self.smoothing_s)   # room tone flickers by ~10 dB per block
        self.level = (1 - a) * self.level + a * energy
        loud = self.level > self.floor * self.ratio
        self.floor = min(self.level, self.floor * 10 ** (self.rise_db_per_s * seconds / 10))
        return loud


class OpenWakeWordDetector:
    """``WakeDetector`` for one openWakeWord model.

    Args:
        model_path: the wake word classifier (.tflite).
        melspectrogram_path, embedding_path: the shared feature front end (.tflite).
        name: reported in ``Detection.name`` (the model id).
        threshold: a score at or above this fires.
        refractory_s: after a detection, further ones within this much stream time are
            ignored (the score stays high for several 80 ms steps of the same phrase).

    ``last_score`` and ``max_score`` (since the last ``reset``) are kept for diagnostics
    and for tuning the threshold (``localvox doctor`` / the TUI meter).

    Idle gating (``gate_quiet``, on by default): while the microphone hears only room tone
    (``QuietGate``), the models are not run at all; the last ``PRIME_S`` of audio is kept.
    When sound comes, the feature stage restarts on that kept audio, so the wake model
    scores the onset of the phrase on the same ~2 s of real history it would have had
    running all along. ``skipped_s`` counts the audio not analysed.
    """

    def __init__(self, model_path: str | Path, melspectrogram_path: str | Path,
                 embedding_path: str | Path, *, name: str | None = None,
                 threshold: float = 0.5, refractory_s: float = 2.0,
                 libtensorflowlite_c_path: str | Path | None = None,
                 gate_quiet: bool = True) -> None:
        try:
            from pyopen_wakeword.openwakeword import (OpenWakeWord, OpenWakeWordFeatures,
                                                      _find_tensorflowlite_c)
        except ImportError:
            raise ModelError("wake word runtime missing: pip install pyopen-wakeword") from None
        try:
            lib = Path(libtensorflowlite_c_path) if libtensorflowlite_c_path \
                else _find_tensorflowlite_c()
            self._features: Any = OpenWakeWordFeatures(melspectrogram_path, embedding_path, lib)
            self._model: Any = OpenWakeWord(name or Path(model_path).stem,
                                            tflite_model=model_path,
                                            libtensorflowlite_c_path=lib)
        except (OSError, ValueError) as err:
            raise ModelError(f"cannot load wake word model {model_path}: {err}") from None
        self.name = name or Path(model_path).stem
        self.threshold = threshold
        self.refractory_s = refractory_s
        self.last_score = 0.0
        self.max_score = 0.0
        self._last_fire_s: float | None = None
        self._gate = QuietGate() if gate_quiet else None
        self._kept = np.zeros(int(PRIME_S * SAMPLE_RATE), np.float32)
        self._open_until = float("-inf")
        self._stale = False
        self.skipped_s = 0.0
        self._fed = 0
        """Samples given to ``process`` since the last reset, skipped ones included."""
        self._prime()

    def _prime(self) -> None:
        self._features.new_audio_samples = int(PRIME_S * SAMPLE_RATE)

    def _keep(self, samples: np.ndarray) -> None:
        n = min(len(samples), len(self._kept))
        self._kept = np.roll(self._kept, -n)
        self._kept[-n:] = samples[-n:]

    def _catch_up(self) -> np.ndarray:
        """Restart the feature stage on the kept audio (it was skipped while quiet).

        The kept audio is cut so that the 80 ms steps land where they would have landed
        running all along (the step grid is fixed by the prime at ``reset``): the wake
        model then scores the same windows of audio, not ones shifted by up to a step.
        """
        from pyopen_wakeword.openwakeword import MEL_SAMPLES, SAMPLES_PER_CHUNK

        phase = (MEL_SAMPLES - int(PRIME_S * SAMPLE_RATE)) % SAMPLES_PER_CHUNK
        want = (self._fed + MEL_SAMPLES - phase) % SAMPLES_PER_CHUNK
        n = len(self._kept) - (len(self._kept) - want) % SAMPLES_PER_CHUNK
        self._features.reset()
        self._model.reset()
        self._features.new_audio_samples = 0
        self._stale = False
        return self._kept[len(self._kept) - n:].copy()

    def process(self, samples: np.ndarray, end_s: float) -> Detection | None:
        """Feed 16 kHz float32 audio ending at stream time ``end_s``; return a detection or None.

        A block may complete several 80 ms steps; the best-scoring one that passes the
        threshold outside the refractory period is reported, timed at the end of its step.
        """
        samples = np.asarray(samples, dtype=np.float32)
        if samples.size == 0:
            return None
        self._fed += len(samples)
        if self._gate is not None:
            self._keep(samples)
            if self._gate.is_sound(samples):
                self._open_until = end_s + PRIME_S
            if end_s > self._open_until:     # only room tone for PRIME_S: nothing to hear
                self._stale = True
                self.skipped_s += len(samples) / SAMPLE_RATE
                return None
            if self._stale:
                samples = self._catch_up()
        pcm = to_int16(samples).tobytes()
        best: Detection | None = None
        for emb in self._features.process_streaming(pcm):
            for prob in self._model.process_streaming(emb):
                score = float(prob)
                self.last_score = score
                self.max_score = max(self.max_score, score)
                if score < self.threshold:
                    continue
                at_s = self._step_end_s(end_s)
                if self._in_refractory(at_s):
                    continue
                if best is None or score > best.score:
                    best = Detection(self.name, score, at_s)
        if best is not None:
            self._last_fire_s = best.at_s
        return best

    def _in_refractory(self, at_s: float) -> bool:
        return self._last_fire_s is not None and at_s - self._last_fire_s < self.refractory_s

    def _step_end_s(self, end_s: float) -> float:
        """Stream time of the end of the audio behind the score being looked at.

        The feature generator is lazy, so while a score is being read its count of
        not-yet-consumed samples says how far before ``end_s`` that step ended (to within
        one 80 ms step, which is all a refractory period and a trace need).
        """
        return max(0.0, end_s - self._features.new_audio_samples / SAMPLE_RATE)

    def reset(self) -> None:
        """Start over: forget buffered audio, scores and the refractory clock.

        For a new stream, or when waking is re-armed (e.g. after a reply in wake mode).
        Within one stream no reset is needed after a detection: the refractory period
        keeps the rest of the same phrase from firing again.
        """
        self._features.reset()
        self._model.reset()
        self._prime()
        self.last_score = 0.0
        self.max_score = 0.0
        self._last_fire_s = None
        # The gate's room floor is kept: re-arming after a reply is the same room, and a
        # floor learned from the user's first words would shut the gate on the next ones.
        self._kept[:] = 0.0
        self._fed = 0
        self._open_until = float("-inf")
        self._stale = False
        self.skipped_s = 0.0

    def close(self) -> None:
        self._features.close()
        self._model.close()


def create(config: "Config", *, model: str | None = None, threshold: float | None = None,
           refractory_s: float | None = None, **kw: Any) -> OpenWakeWordDetector:
    """Build the detector named by ``[wake] model`` from the model packs."""
    from localvox.modelpacks import resolve_model

    model_id = model or config.wake.model
    return OpenWakeWordDetector(
        resolve_model(model_id, config),
        resolve_model("oww_melspectrogram", config),
        resolve_model("oww_embedding", config),
        name=model_id,
        threshold=config.wake.threshold if threshold is None else threshold,
        refractory_s=config.wake.refractory_s if refractory_s is None else refractory_s,
        **kw,
    )
