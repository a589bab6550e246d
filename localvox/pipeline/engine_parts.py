"""What the turn engine is built from: its stages, their late attachment, its event bus.

Why apart from ``engine``: this is plumbing -- which source, sink, VAD, ASR, TTS, wake
word and agent the session has, which are still loading (progressive start-up), the event
bus front ends subscribe to, the status-bar description and closing it all. The turn logic
(``TurnEngine``) builds on it and is the only part that changes state.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Callable

from localvox.audio.base import AudioSink, AudioSource
from localvox.errors import LocalvoxError
from localvox.pipeline.agent_port import AgentPort
from localvox.pipeline.bus import EventBus
from localvox.pipeline.clock import EngineClock
from localvox.pipeline.events import Notice, PipelineEvent
from localvox.pipeline.listener import Listener
from localvox.pipeline.options import EngineOptions, MicCleaner, Segmenter
from localvox.pipeline.speech_out import Chunker
from localvox.pipeline.startup import LoadStage, SpeechLoader
from localvox.pipeline.trace import TraceWriter


class EngineParts:
    """The parts of one speech loop (see ``TurnEngine`` for the arguments)."""

    def __init__(self, *, source: AudioSource | None, sink: AudioSink, vad: Any,
                 segmenter: Segmenter, asr: Any, tts: Any, agent: AgentPort,
                 chunker_factory: Callable[[], Chunker], wake: Any = None,
                 options: EngineOptions | None = None, clock: EngineClock | None = None,
                 trace: TraceWriter | None = None, cleaner: MicCleaner | None = None,
                 labels: dict[str, Any] | None = None) -> None:
        self.opts = options or EngineOptions()
        if self.opts.mode == "wake" and wake is None and vad is not None and asr is not None:
            raise LocalvoxError("wake mode needs a wake word detector (or use --no-wake)")
        self.source, self.sink, self.asr, self.tts = source, sink, asr, tts
        self.agent = agent
        self.chunker_factory = chunker_factory
        self.clock = clock or EngineClock()
        self.trace = trace
        self.cleaner = cleaner
        self.labels = dict(labels or {})
        self.startup_notices: list[Notice] = []
        """Published when ``run()`` starts (e.g. "no microphone: text mode")."""

        self.bus = EventBus()
        self._emit, self._notice = self.bus.emit, self.bus.notice
        self.listener = Listener(vad=vad, wake=wake, segmenter=segmenter, options=self.opts,
                                 notice=self._notice)
        self._loader: SpeechLoader | None = None
        self._running = False
        self._init_state()

    def _init_state(self) -> None:
        """Where ``EngineState`` builds its turn state from these parts. A hook, so the
        constructor's long signature (which ``TurnEngine`` shows its callers) is written
        once, here."""

    # --- the listening stages live in the listener; these keep the constructor's names ----

    vad = property(lambda self: self.listener.vad,
                   lambda self, v: setattr(self.listener, "vad", v))
    wake = property(lambda self: self.listener.wake,
                    lambda self, v: setattr(self.listener, "wake", v))
    segmenter = property(lambda self: self.listener.segmenter,
                         lambda self, v: setattr(self.listener, "segmenter", v))

    def subscribe(self) -> "asyncio.Queue[PipelineEvent]":
        """A queue receiving every event published from now on (unbounded: drain it)."""
        return self.bus.subscribe()

    def unsubscribe(self, q: "asyncio.Queue[PipelineEvent]") -> None:
        self.bus.unsubscribe(q)

    def events(self) -> AsyncIterator[PipelineEvent]:
        """Every event from now until ``SessionEnded`` (inclusive)."""
        return self.bus.events()

    @property
    def voice_ready(self) -> bool:
        """VAD, endpointer, ASR (and the wake word in wake mode) are all there."""
        return self.vad is not None and self.asr is not None and self.segmenter is not None \
            and (self.opts.mode != "wake" or self.wake is not None)

    def load_speech(self, stages: list[LoadStage]) -> None:
        """Load speech parts in the background and attach them as each stage finishes.

        Progress and failures are ``Notice``s; ``run()`` starts reading the source once
        voice input is ready, and typed turns are answered meanwhile.
        """
        self._loader = SpeechLoader(stages, attach=self.attach_speech, announce=self._announce)

    def attach_speech(self, *, vad: Any = None, asr: Any = None, tts: Any = None,
                      wake: Any = None) -> None:
        """Plug in speech parts loaded after the engine was built (any subset)."""
        for name, part in (("vad", vad), ("asr", asr), ("tts", tts), ("wake", wake)):
            if part is not None:
                setattr(self, name, part)
        if self.opts.mode == "wake" and self.wake is None and self.asr is not None \
                and self.vad is not None:
            raise LocalvoxError("wake mode needs the wake word model (or use --no-wake)")
        self._parts_changed()

    def _parts_changed(self) -> None:
        """Hook: a speech part was attached (the engine may start voice input)."""

    async def close(self) -> None:
        """Release what the engine was built with: sink (writes a WAV sink's file), source,
        agent. Call after ``run()`` has returned; safe to call twice."""
        for part in (self.sink, self.source, self.agent):
            close = getattr(part, "close", None)
            if close is not None:
                try:
                    await close()
                except Exception as err:  # a failing close must not hide the others
                    self._notice(err, "warning")

    def describe(self) -> dict[str, Any]:
        """Status-bar labels: wake_word, asr, llm, tts, audio_input, echo, mode (a part
        still loading shows the configured name)."""
        def name(key: str, part: Any) -> str:
            if part is not None:
                return getattr(part, "name", "")
            return self._loader.labels.get(key, "") if self._loader is not None else ""

        info = {"wake_word": name("wake_word", self.wake) if self.opts.mode == "wake" else "",
                "asr": name("asr", self.asr), "tts": name("tts", self.tts),
                "audio_input": getattr(self.source, "name", "none"),
                "audio_output": getattr(self.sink, "name", ""),
                "echo": "on" if self.cleaner is not None else "off (half-duplex)",
                "mode": self.opts.mode}
        info.update(self.labels)
        return info

    @property
    def speech_loading(self) -> bool:
        return self._loader is not None and self._loader.loading

    def _announce(self, notice: Notice) -> None:
        """Publish now, or when ``run()`` starts if nobody can be listening yet."""
        if self._running:
            self._emit(notice)
        else:
            self.startup_notices.append(notice)

    def _full_duplex(self) -> bool:
        return self.cleaner is not None and getattr(self.cleaner, "full_duplex", False)
