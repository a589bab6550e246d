"""Streaming Silero VAD (v6, ONNX) on onnxruntime.

Why this model file: the ``silero-vad`` PyPI package pulls in torch; faster-whisper ships
the same network as ``assets/silero_vad_v6.onnx`` and localvox already depends on it.

How it is fed (as faster-whisper's ``SileroVADModel`` does, but one window at a time):
windows of 512 samples at 16 kHz, each prefixed with the last 64 samples of the previous
window ("context"), shape [n, 576]; the LSTM state ``h``/``c`` ([1, 1, 128] each) is
carried from call to call, which is what makes it streaming. Several windows given at
once run as one batch (the model walks the batch axis in order, carrying state).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from localvox.errors import ModelError

if TYPE_CHECKING:
    from localvox.config import Config

WINDOW = 512
"""Samples per Silero window at 16 kHz (32 ms)."""
CONTEXT = 64
STATE_SHAPE = (1, 1, 128)

_SESSIONS: dict[str, Any] = {}
_LOCK = threading.Lock()


def load_session(model_path: str | Path) -> Any:
    """One onnxruntime session per model file per process (sessions are thread-safe to run).

    One intra-op thread: a 512-sample window is far too small to split, and the other
    core is busy with Whisper or Piper.
    """
    key = str(model_path)
    with _LOCK:
        session = _SESSIONS.get(key)
        if session is not None:
            return session
        try:
            import onnxruntime
        except ImportError:
            raise ModelError("Silero VAD needs onnxruntime: pip install onnxruntime") from None
        opts = onnxruntime.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.enable_cpu_mem_arena = False
        opts.log_severity_level = 4
        try:
            session = onnxruntime.InferenceSession(key, sess_options=opts,
                                                   providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own exception types
            raise ModelError(f"cannot load Silero VAD model {model_path}: {err}") from None
        _SESSIONS[key] = session
        return session


class SileroVAD:
    """``VoiceActivityDetector`` on Silero v6.

    ``probability(samples)`` accepts any block length: samples are buffered, every complete
    512-sample window is scored, and the highest probability among the windows completed
    by this call is returned (the previous value if none completed). With the default
    32 ms frames each call is exactly one window.
    """

    frame_samples = WINDOW

    def __init__(self, model_path: str | Path, *, refresh_after_s: float | None = 3.0,
                 quiet_below: float = 0.35) -> None:
        self.session = load_session(model_path)
        self.name = "silero"
        self.quiet_below = quiet_below
        self._refresh_windows = (None if refresh_after_s is None
                                 else max(1, int(round(refresh_after_s * 16000 / WINDOW))))
        self.reset()

    def reset(self) -> None:
        """Start a new stream: zero the LSTM state, context and buffer."""
        self._h = np.zeros(STATE_SHAPE, dtype=np.float32)
        self._c = np.zeros(STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._quiet_run = 0
        self.last = 0.0

    def probabilities(self, samples: np.ndarray) -> np.ndarray:
        """Score every complete window in ``samples`` (plus buffered leftovers), in order."""
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        if self._pending.size:
            x = np.concatenate([self._pending, x])
        n = x.size // WINDOW
        self._pending = x[n * WINDOW:].copy()
        if n == 0:
            return np.zeros(0, dtype=np.float32)
        windows = x[: n * WINDOW].reshape(n, WINDOW)
        probs = np.empty(n, dtype=np.float32)
        done = 0
        while done < n:
            # Run up to the window where a refresh may fall due, so that it lands on the
            # same window whether audio arrives one window per call or all at once.
            todo = n - done
            if self._refresh_windows is not None:
                todo = min(todo, max(1, self._refresh_windows - self._quiet_run))
            probs[done : done + todo] = self._run(windows[done : done + todo])
            self._note_quiet(probs[done : done + todo])
            done += todo
        self.last = float(probs[-1])
        return probs

    def _run(self, windows: np.ndarray) -> np.ndarray:
        n = len(windows)
        contexts = np.empty((n, CONTEXT), dtype=np.float32)
        contexts[0] = self._context
        if n > 1:
            contexts[1:] = windows[:-1, -CONTEXT:]
        batch = np.ascontiguousarray(np.concatenate([contexts, windows], axis=1))
        out, self._h, self._c = self.session.run(
            None, {"input": batch, "h": self._h, "c": self._c})
        self._context = windows[-1, -CONTEXT:].copy()
        return np.asarray(out, dtype=np.float32).reshape(-1)

    def _note_quiet(self, probs: np.ndarray) -> None:
        """Refresh the LSTM state after ``refresh_after_s`` of continuous non-speech.

        Why: carried over many seconds of room tone (or of cleaned echo), Silero's state
        drifts into a numb regime: measured on the simulated rooms, an utterance after
        12 s of room tone needs a median 290 ms to pass the barge-in rule, against 170 ms
        after 2 s (``localvox bench echo`` shows the effect as slow barge-ins in later
        replies). Pipecat resets its Silero state every 5 s for the same reason; here it
        only happens between speech, never inside a run the endpointer or barge-in rule
        is counting, and the 64-sample context is kept so the next window is continuous.
        """
        if self._refresh_windows is None:
            return
        loud = np.flatnonzero(probs >= self.quiet_below)
        self._quiet_run = (self._quiet_run + len(probs) if len(loud) == 0
                           else len(probs) - 1 - int(loud[-1]))
        if self._quiet_run >= self._refresh_windows:
            self._h = np.zeros(STATE_SHAPE, dtype=np.float32)
            self._c = np.zeros(STATE_SHAPE, dtype=np.float32)
            self._quiet_run = 0

    def probability(self, samples: np.ndarray) -> float:
        probs = self.probabilities(samples)
        return float(probs.max()) if probs.size else self.last


def create(config: "Config", **kw: Any) -> SileroVAD:
    from localvox.modelpacks import resolve_model

    return SileroVAD(resolve_model(config.vad.model, config), **kw)
