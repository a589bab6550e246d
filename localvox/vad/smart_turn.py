"""Semantic end-of-turn: Pipecat's Smart Turn v3.2 (ONNX) on the utterance audio.

Why: a silence-only endpointer must wait long enough to ride over the pauses people make
mid-sentence ("set a timer for... ten minutes"), and that wait is the largest fixed cost of
every turn (447 ms p50 in ``localvox bench latency`` before this module). Smart Turn looks
at the last 8 s of the turn -- intonation, pace, the words' shape -- and says whether the
speaker is done, so a short VAD silence (Pipecat uses 200 ms) is enough when it is
confident. It is a Whisper-tiny encoder with a classifier head, 8.7 MB int8, BSD-2,
shipped inside the ``pipecat-ai`` wheel; localvox loads the ONNX file by path (model id
``smart_turn_v3_2`` in ``models/manifest.toml``) and never imports Pipecat.

Preprocessing, exactly as Pipecat's ``LocalSmartTurnAnalyzerV3._predict_endpoint``:

1. keep the last 8 s of 16 kHz audio; shorter audio is zero-padded at the *start*;
2. zero-mean / unit-variance normalise the 128000 samples (``do_normalize=True``,
   eps 1e-7), padding included;
3. Whisper log-mel features, 80 mels x 800 frames (n_fft 400, hop 160, last frame
   dropped, ``max(log, max-8)``, ``(x+4)/4``) -- computed here with faster-whisper's own
   ``FeatureExtractor`` (``padding=0``), which localvox already depends on;
4. ``input_features`` [1, 80, 800] -> the model's sigmoid output, P(turn complete).

Inference is ~76 ms on one core (the figure the issue measured; ``localvox bench
endpoint`` prints it again under the current load), so it never runs on the event loop:
``ThreadJudge`` runs it in one worker thread and the endpointer polls the result frame by
frame.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from localvox.errors import ModelError

if TYPE_CHECKING:
    from localvox.config import Config
    from localvox.vad.base import TurnDetector

log = logging.getLogger(__name__)

MODEL_ID = "smart_turn_v3_2"
INSTALL = "pip install --no-deps pipecat-ai"
SAMPLE_RATE = 16000
WINDOW_S = 8
WINDOW = WINDOW_S * SAMPLE_RATE
N_MELS = 80
NORM_EPS = 1e-7

_EXTRACTOR: Any = None
_EXTRACTOR_LOCK = threading.Lock()


def last_window(audio: np.ndarray) -> np.ndarray:
    """The last 8 s of ``audio``, zero-padded at the start to exactly 128000 samples."""
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    if x.size >= WINDOW:
        return x[x.size - WINDOW:]
    return np.concatenate([np.zeros(WINDOW - x.size, np.float32), x])


def log_mel_features(audio: np.ndarray) -> np.ndarray:
    """Smart Turn's input for ``audio`` (any length, 16 kHz): float32 [1, 80, 800]."""
    global _EXTRACTOR
    with _EXTRACTOR_LOCK:
        if _EXTRACTOR is None:
            try:
                from faster_whisper.feature_extractor import FeatureExtractor
            except ImportError:
                raise ModelError("Smart Turn features need faster-whisper: "
                                 "pip install faster-whisper") from None
            _EXTRACTOR = FeatureExtractor(feature_size=N_MELS, chunk_length=WINDOW_S)
        extractor = _EXTRACTOR
    x = last_window(audio)
    x = (x - x.mean()) / np.sqrt(x.var() + NORM_EPS)
    feats = extractor(x.astype(np.float32), padding=0)
    return np.ascontiguousarray(feats[np.newaxis], dtype=np.float32)


class SmartTurn:
    """``TurnDetector`` on the Smart Turn v3.2 ONNX model (one intra-op thread: the other
    core is busy with Whisper, Piper or the LLM at the moments it runs)."""

    name = "smart-turn-v3.2"

    def __init__(self, model_path: str | Path, *, threads: int = 1) -> None:
        path = Path(model_path)
        if not path.is_file():
            raise ModelError(f"Smart Turn model {path} not found: run `{INSTALL}`")
        try:
            import onnxruntime
        except ImportError:
            raise ModelError("Smart Turn needs onnxruntime: pip install onnxruntime") from None
        opts = onnxruntime.SessionOptions()
        opts.intra_op_num_threads = max(1, threads)
        opts.inter_op_num_threads = 1
        opts.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 4
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own exception types
            raise ModelError(f"cannot load Smart Turn model {path}: {err}") from None
        self.path = path
        self.last_inference_ms = 0.0

    def probability(self, audio: np.ndarray) -> float:
        """P(the turn is complete) given the utterance audio up to now (silence included)."""
        t0 = time.perf_counter()
        out = self.session.run(None, {"input_features": log_mel_features(audio)})
        self.last_inference_ms = (time.perf_counter() - t0) * 1000.0
        return float(np.asarray(out[0]).reshape(-1)[0])


# --------------------------------------------------------------------------------------
# Judges: how the endpointer gets a verdict without waiting for it
# --------------------------------------------------------------------------------------
class _FutureVerdict:
    def __init__(self, future: "concurrent.futures.Future[float]") -> None:
        self._future = future

    def ready(self, now_s: float) -> float | None:
        if not self._future.done():
            return None
        return self._future.result()   # re-raises the detector's error for the endpointer

    def cancel(self) -> None:
        self._future.cancel()


_POOL: concurrent.futures.ThreadPoolExecutor | None = None
_LOADED: dict[tuple[str, int], "concurrent.futures.Future[Any]"] = {}
_POOL_LOCK = threading.Lock()


def _pool() -> concurrent.futures.ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = concurrent.futures.ThreadPoolExecutor(max_workers=1,
                                                          thread_name_prefix="smart-turn")
        return _POOL


class ThreadJudge:
    """Runs the detector in one worker thread (the live loop: the frame loop never waits).

    ``load`` builds the detector; it runs first, in that same thread, so creating the ONNX
    session never blocks the event loop either (a request made before it is done queues
    behind it). One thread per process, shared by every judge, and one loaded model per
    ``key``: an engine per session (or per benchmark turn) costs no reload.
    """

    def __init__(self, load: "Callable[[], TurnDetector]", name: str = "smart-turn",
                 key: tuple[str, int] | None = None) -> None:
        self.name = name
        self._pool = _pool()
        with _POOL_LOCK:
            future = _LOADED.get(key) if key is not None else None
            if future is None or (future.done() and future.exception() is not None):
                future = self._pool.submit(load)
                if key is not None:
                    _LOADED[key] = future
        self._detector = future

    @property
    def detector(self) -> "TurnDetector":
        """The loaded detector (waits for the load: not for the event loop)."""
        return self._detector.result()

    def request(self, audio: np.ndarray, at_s: float) -> _FutureVerdict:
        return _FutureVerdict(self._pool.submit(
            lambda: self._detector.result().probability(audio)))

    def close(self) -> None:
        """Nothing to release: the thread and the model are shared by the process."""


class _TimedVerdict:
    def __init__(self, probability: float, ready_at_s: float) -> None:
        self.probability = probability
        self.ready_at_s = ready_at_s

    def ready(self, now_s: float) -> float | None:
        return self.probability if now_s >= self.ready_at_s else None

    def cancel(self) -> None:
        pass


class TimedJudge:
    """Runs the detector at once and releases the verdict after its *measured* wall time,
    in stream time. For offline replays faster than real time (``localvox bench endpoint``):
    the endpointer sees the verdict exactly as late as a live one would have arrived."""

    def __init__(self, detector: "TurnDetector", *, slowdown: float = 1.0) -> None:
        self.detector = detector
        self.name = detector.name
        self.slowdown = slowdown
        self.inference_ms: list[float] = []

    def request(self, audio: np.ndarray, at_s: float) -> _TimedVerdict:
        t0 = time.perf_counter()
        p = self.detector.probability(audio)
        dt = (time.perf_counter() - t0) * self.slowdown
        self.inference_ms.append(dt * 1000.0)
        return _TimedVerdict(p, at_s + dt)

    def close(self) -> None:
        pass


def create(config: "Config", **kw: Any) -> SmartTurn:
    """The Smart Turn detector from ``[endpoint] smart_turn_model`` (a manifest id or path)."""
    from localvox.modelpacks import resolve_model

    return SmartTurn(resolve_model(config.endpoint.smart_turn_model, config), **kw)
