"""Piper TTS backend (piper-tts 1.3+, ONNX on onnxruntime).

Why this shape: Piper synthesises one sentence at a time and takes ~0.1 s for a short
clause on this CPU, so each call runs in a worker thread (the event loop keeps feeding
audio and VAD meanwhile) and every sentence Piper produces is yielded as soon as it is
ready. Audio stays at the voice's native rate (22050 Hz for joe-medium); sinks resample.
Cancel by closing the async iterator: the sentence being synthesised finishes in its
thread, nothing after it is produced.
"""

from __future__ import annotations

import json

import asyncio
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator

import numpy as np

from localvox.errors import ModelError
from localvox.tts.base import SpeechChunk

if TYPE_CHECKING:
    from localvox.config import Config

_VOICES: dict[str, Any] = {}
_VOICES_LOCK = threading.Lock()


def _quiet_session(model_path: Path, threads: int = 1) -> Any:
    """``threads`` intra-op threads (``[tts] threads``) that sleep when idle.

    Piper's own loader uses onnxruntime's defaults: a thread per core that spin-waits.
    In the voice loop synthesis overlaps the LLM and the Whisper decode on 2 cores, and the
    spinning threads starve them; measured under load, one non-spinning thread halved the
    time to the first audio chunk (0.59 s to 0.31 s for one sentence).
    """
    import onnxruntime

    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = max(1, threads)
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(model_path), sess_options=opts,
                                        providers=["CPUExecutionProvider"])


def load_voice(model_path: Path, threads: int = 1) -> Any:
    """Load (once per process and thread count) a ``piper.PiperVoice`` for an .onnx file."""
    key = f"{model_path}|{threads}"
    with _VOICES_LOCK:
        voice = _VOICES.get(key)
        if voice is not None:
            return voice
        try:
            from piper import PiperVoice
            from piper.config import PiperConfig
        except ImportError:
            raise ModelError("Piper is not installed: pip install piper-tts") from None
        config_path = Path(f"{model_path}.json")
        if not config_path.is_file():
            raise ModelError(f"Piper voice {model_path} has no {config_path.name} beside it")
        try:
            voice = PiperVoice(config=PiperConfig.from_dict(json.loads(config_path.read_text())),
                               session=_quiet_session(model_path, threads))
        except Exception as err:  # onnxruntime raises its own exception types
            raise ModelError(f"cannot load Piper voice {model_path}: {err}") from None
        _VOICES[key] = voice
        return voice


class PiperSynthesizer:
    """``Synthesizer`` on a Piper voice.

    ``length_scale`` < 1 speaks faster, > 1 slower. The voice loads on construction so the
    first reply does not pay for it.
    """

    def __init__(self, model_path: str | Path, *, length_scale: float = 1.0,
                 threads: int = 1) -> None:
        self.model_path = Path(model_path)
        self.voice = load_voice(self.model_path, threads)
        self.sample_rate: int = int(self.voice.config.sample_rate)
        self.length_scale = length_scale
        self.name = f"piper:{self.model_path.stem}"

    def _syn_config(self) -> Any:
        from piper import SynthesisConfig

        return SynthesisConfig(length_scale=self.length_scale)

    def synthesize_blocking(self, text: str) -> list[np.ndarray]:
        """Synthesise all of ``text`` in the calling thread: one float32 array per sentence."""
        cfg = self._syn_config()
        return [c.audio_float_array.astype(np.float32, copy=False)
                for c in self.voice.synthesize(text, syn_config=cfg)]

    async def synthesize(self, text: str) -> AsyncIterator[SpeechChunk]:
        """Yield one ``SpeechChunk`` per sentence Piper produces, each made in a worker thread."""
        if not any(ch.isalnum() for ch in text):
            return  # bare punctuation or emoji left over from chunking: nothing to say
        cfg = self._syn_config()
        it = iter(self.voice.synthesize(text, syn_config=cfg))
        done = object()

        def next_chunk() -> Any:
            return next(it, done)

        while True:
            chunk = await asyncio.to_thread(next_chunk)
            if chunk is done:
                return
            audio = chunk.audio_float_array.astype(np.float32, copy=False)
            yield SpeechChunk(samples=audio, sample_rate=self.sample_rate, text=text)

    async def synthesize_all(self, text: str) -> np.ndarray:
        """The whole of ``text`` as one array at ``sample_rate`` (CLI ``say``, fixtures)."""
        parts = [c.samples async for c in self.synthesize(text)]
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    async def close(self) -> None:
        """Nothing to release per synthesiser: the voice is shared by the process."""


def create(config: "Config", **kwargs: Any) -> PiperSynthesizer:
    from localvox.modelpacks import resolve_model

    path = resolve_model(config.tts.voice, config)
    if path.is_dir():
        onnx = sorted(path.glob("*.onnx"))
        if not onnx:
            raise ModelError(f"no .onnx Piper voice in {path}")
        path = onnx[0]
    return PiperSynthesizer(path, length_scale=kwargs.get("length_scale", config.tts.length_scale),
                            threads=config.tts.threads)
