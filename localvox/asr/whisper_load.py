"""Loading a CTranslate2 Whisper model once per process, with one-line failures.

Why a module of its own: the loaded model is shared state, not part of one transcriber.
The ASR (:class:`~localvox.asr.whisper.WhisperTranscriber`, every stream it opens) and the
wake word's Whisper verifier (:mod:`localvox.wake.verifier`) get the same model object when
the folder, compute type and thread count match, so a second user costs no second load.
A folder that is not a model, or faster-whisper missing, is one ``ModelError`` line naming
the fix; a folder path never reaches the Hugging Face hub.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from localvox.errors import ModelError

__all__ = ["load_model"]

_MODELS: dict[tuple[str, str, int], Any] = {}
_MODELS_LOCK = threading.Lock()


def load_model(path: str | Path, compute_type: str = "int8", threads: int = 2) -> Any:
    """Load a CTranslate2 Whisper model folder once per process (shared by all streams)."""
    key = (str(path), compute_type, threads)
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is not None:
            return model
        p = Path(path)
        if not (p.is_dir() and (p / "model.bin").is_file()):
            raise ModelError(f"{p} is not a CTranslate2 Whisper model folder (no model.bin)")
        try:
            from faster_whisper import WhisperModel
        except ImportError:
            raise ModelError("faster-whisper is not installed: pip install faster-whisper") from None
        try:
            # A folder path never touches the hub; local_files_only makes sure of it.
            model = WhisperModel(str(p), device="cpu", compute_type=compute_type,
                                 cpu_threads=threads, local_files_only=True)
        except (RuntimeError, ValueError, OSError) as err:
            raise ModelError(f"cannot load Whisper model {p}: {err}") from None
        _MODELS[key] = model
        return model
