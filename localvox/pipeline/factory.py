"""Build a ``TurnEngine`` from config: source, sink, wake, VAD, endpointer, ASR, TTS, agent.

Why here and not in the engine: the engine takes finished parts (so tests hand it fakes);
choosing and loading backends -- lazily, through ``localvox.registry`` -- is this module's
job. Every part that fails to load becomes a one-line ``Notice`` where the loop can go on
without it (no sound card -> text mode; no microphone -> typed turns), and a
``LocalvoxError`` where it cannot (no ASR model for a voice session).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from localvox import registry
from localvox.errors import AudioDeviceError, LocalvoxError
from localvox.pipeline.events import Notice

if TYPE_CHECKING:
    from localvox.audio.base import AudioSink, AudioSource
    from localvox.config import Config
    from localvox.pipeline.agent_port import AgentPort
    from localvox.pipeline.engine import TurnEngine


def default_trace_path(config: "Config") -> Path:
    """``[pipeline] trace_path``, or ``$XDG_STATE_HOME/localvox/turns.jsonl``."""
    from localvox.config import xdg_dir

    if config.pipeline.trace_path:
        return Path(config.pipeline.trace_path).expanduser()
    return xdg_dir("state") / "turns.jsonl"


@dataclass
class SpeechParts:
    """The loaded models; shared by several engines (the bench builds one engine per run)."""

    vad: Any
    asr: Any
    tts: Any
    wake: Any = None
    notices: list[Notice] = field(default_factory=list)


async def load_parts(config: "Config", *, need_wake: bool | None = None,
                     warm_up: bool = True) -> SpeechParts:
    """Load VAD, ASR, TTS and (in wake mode) the wake word model, in a worker thread.

    ``warm_up`` runs one tiny ASR decode and one TTS sentence: the first inference of a
    CTranslate2 or ONNX model is several times slower than the next, and that cost belongs
    to start-up, not to the user's first question.
    """

    def load() -> SpeechParts:
        vad = registry.create("vad", config.vad.backend, config)
        asr = registry.create("asr", config.asr.backend, config)
        tts = registry.create("tts", config.tts.backend, config)
        wake = None
        if need_wake if need_wake is not None else config.wake.mode == "wake":
            wake = registry.create("wake", "openwakeword", config)
        return SpeechParts(vad=vad, asr=asr, tts=tts, wake=wake)

    parts = await asyncio.to_thread(load)
    if warm_up:
        await _warm_up(parts)
    return parts


async def _warm_up(parts: SpeechParts) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    noise = (rng.standard_normal(16000) * 0.01).astype(np.float32)
    try:
        await parts.asr.transcribe(noise)
        async for _ in parts.tts.synthesize("Hello there."):
            pass
    except Exception as err:  # noqa: BLE001 -- a warm-up failure shows up on first use
        parts.notices.append(Notice("warning", f"model warm-up failed: {err}"))


async def open_agent(config: "Config", llm: Any = None) -> "AgentPort":
    """The default assistant (``localvox.agent.assistant``) behind the engine's port."""
    from localvox.agent.assistant import create_app
    from localvox.pipeline.agent_port import SessionAgent

    app = create_app(config, llm=llm)
    session = await app.open_session()
    return SessionAgent(session)


def chunker_factory(config: "Config") -> Any:
    """A fresh sentence chunker per reply, from ``[tts]``."""
    from localvox.tts.chunker import SentenceChunker

    return lambda: SentenceChunker.from_config(config)


def open_source(config: "Config", *, input_path: str | None = None, realtime: bool = True,
                notices: list[Notice]) -> "AudioSource | None":
    """A WAV file (paced or fast) or the microphone; ``None`` (text mode) without one."""
    if input_path:
        from localvox.audio.wav import WavSource

        return WavSource(input_path, frame_ms=config.audio.frame_ms, realtime=realtime)
    try:
        return registry.create("audio", "device", config, kind="source")
    except AudioDeviceError as err:
        notices.append(Notice("warning", str(err)))
        return None


def open_sink(config: "Config", *, output_path: str | None = None, realtime: bool = True,
              notices: list[Notice]) -> "AudioSink":
    """A WAV file (played on a clock when real time), the speaker, or a silent sink."""
    if output_path is not None:
        if realtime:
            return registry.create("audio", "clocked", config, path=output_path)
        from localvox.audio.wav import WavSink

        return WavSink(output_path)
    try:
        return registry.create("audio", "device", config, kind="sink")
    except AudioDeviceError as err:
        from localvox.audio.wav import WavSink

        notices.append(Notice("warning", str(err)))
        return WavSink(None)


async def build_engine(config: "Config", *, input_path: str | None = None,
                       output_path: str | None = None, realtime: bool = True,
                       trace_path: str | Path | None = None, parts: SpeechParts | None = None,
                       agent: "AgentPort | None" = None, source: "AudioSource | None" = None,
                       sink: "AudioSink | None" = None, use_source: bool = True,
                       progress: Callable[[str], Any] | None = None,
                       input_wav: str | None = None, output_wav: str | None = None,
                       ) -> "TurnEngine":
    """Everything wired from config. Pass ``parts``/``agent``/``source``/``sink`` to reuse.

    Args:
        input_path / output_path (alias ``input_wav`` / ``output_wav``): WAV files instead
            of the microphone / speaker.
        realtime: pace file input and output like real devices (else as fast as possible).
        trace_path: JSONL trace file (default ``[pipeline] trace_path`` or the state dir).
        progress: called with a short status line while models load (the TUI's splash).
    """
    from localvox.pipeline.engine import EngineOptions, TurnEngine
    from localvox.pipeline.trace import TraceWriter
    from localvox.vad import endpoint

    say = progress or (lambda _text: None)
    input_path = input_path or input_wav
    output_path = output_path if output_path is not None else output_wav
    notices: list[Notice] = []
    if parts is None:
        say(f"loading speech models ({config.asr.model}, {config.tts.voice})")
        parts = await load_parts(config)
    notices.extend(parts.notices)
    if source is None and use_source:
        source = open_source(config, input_path=input_path, realtime=realtime, notices=notices)
    if sink is None:
        sink = open_sink(config, output_path=output_path, realtime=realtime, notices=notices)
    if agent is None:
        say(f"loading the assistant ({config.llm.backend}: {config.llm.model})")
        agent = await open_agent(config)
    cleaner = None
    if config.echo.enabled:
        from localvox.echo.canceller import create as create_canceller

        cleaner = create_canceller(config)
    options = EngineOptions.from_config(config)
    if options.mode == "wake" and parts.wake is None:
        raise LocalvoxError("wake mode needs the wake word model (or use --no-wake)")
    path = Path(trace_path) if trace_path else default_trace_path(config)
    engine = TurnEngine(
        source=source, sink=sink, vad=parts.vad, segmenter=endpoint.create(config),
        asr=parts.asr, tts=parts.tts, agent=agent, chunker_factory=chunker_factory(config),
        wake=parts.wake, options=options, trace=TraceWriter(path), cleaner=cleaner,
        labels={"llm": f"{config.llm.backend}:{config.llm.model}"})
    say("listening" if source is not None else "ready (text mode)")
    engine.startup_notices.extend(notices)
    return engine
