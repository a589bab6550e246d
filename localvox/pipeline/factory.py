"""Build a ``TurnEngine`` from config: source, sink, wake, VAD, endpointer, ASR, TTS, agent.

Why here and not in the engine: the engine takes finished parts (so tests hand it fakes);
choosing and loading backends -- lazily, through ``localvox.registry`` -- is this module's
job. Every part that fails to load becomes a one-line ``Notice`` where the loop can go on
without it (no sound card -> text mode; no microphone -> typed turns), and a
``LocalvoxError`` where it cannot (no ASR model for a voice session).

Two ways to start: everything loaded before the engine is returned (``localvox run``, the
bench: they measure turns), or ``progressive=True`` (the TUI): the engine comes back as soon
as the agent can answer typed messages, and the speech models load behind it
(``localvox.pipeline.startup``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from localvox import registry
from localvox.errors import AudioDeviceError, LocalvoxError
from localvox.pipeline.events import Notice
from localvox.pipeline.startup import SpeechParts, load_parts, progressive_stages

__all__ = ["SpeechParts", "build_engine", "chunker_factory", "default_trace_path", "load_parts",
           "open_agent", "open_sink", "open_source"]

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
        from localvox.audio.null import NullSink

        notices.append(Notice("warning", str(err)))
        return NullSink()


async def build_engine(config: "Config", *, input_path: str | None = None,
                       output_path: str | None = None, realtime: bool = True,
                       trace_path: str | Path | None = None, parts: SpeechParts | None = None,
                       agent: "AgentPort | None" = None, source: "AudioSource | None" = None,
                       sink: "AudioSink | None" = None, use_source: bool = True,
                       progress: Callable[[str], Any] | None = None,
                       input_wav: str | None = None, output_wav: str | None = None,
                       progressive: bool = False) -> "TurnEngine":
    """Everything wired from config. Pass ``parts``/``agent``/``source``/``sink`` to reuse.

    Args:
        input_path / output_path (alias ``input_wav`` / ``output_wav``): WAV files instead
            of the microphone / speaker.
        realtime: pace file input and output like real devices (else as fast as possible).
        trace_path: JSONL trace file (default ``[pipeline] trace_path`` or the state dir).
        progress: called with a short status line while models load (the TUI's splash).
        progressive: return once the agent is ready and load the speech models in the
            background (``TurnEngine.load_speech``): typed turns are answered at once,
            spoken once the TTS is in, and voice input starts once VAD/ASR/wake are in.
            Ignored when ``parts`` is given.
    """
    from localvox.pipeline.engine import EngineOptions, TurnEngine
    from localvox.pipeline.trace import TraceWriter
    from localvox.vad import endpoint

    say = progress or (lambda _text: None)
    input_path = input_path or input_wav
    output_path = output_path if output_path is not None else output_wav
    notices: list[Notice] = []
    if parts is None and not progressive:
        say(f"loading speech models ({config.asr.model}, {config.tts.voice})")
        parts = await load_parts(config)
    if parts is not None:
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
    if parts is not None and options.mode == "wake" and parts.wake is None:
        raise LocalvoxError("wake mode needs the wake word model (or use --no-wake)")
    path = Path(trace_path) if trace_path else default_trace_path(config)
    now = parts or SpeechParts(vad=None, asr=None, tts=None)   # progressive: attached later
    segmenter = endpoint.create(config)
    if segmenter.notice:                    # no Smart Turn pack: silence-only end of turn
        notices.append(Notice("warning", segmenter.notice))
    engine = TurnEngine(
        source=source, sink=sink, vad=now.vad, segmenter=segmenter, asr=now.asr,
        tts=now.tts, agent=agent, chunker_factory=chunker_factory(config), wake=now.wake,
        options=options, trace=TraceWriter(path), cleaner=cleaner,
        labels={"llm": f"{config.llm.backend}:{config.llm.model}"})
    engine.startup_notices.extend(notices)
    if source is not None and config.pipeline.audio_worker:
        from localvox.pipeline.audio_worker import attach

        attach(engine)                      # per-frame DSP off the event loop
    if parts is None:
        # Without a microphone there is nothing to listen with: only the voice loads.
        engine.load_speech(progressive_stages(config, listen=source is not None))
        say("ready to type; speech models are loading")
    else:
        say("listening" if source is not None else "ready (text mode)")
    return engine
