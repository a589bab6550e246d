"""Loading the speech models: all at once, or in stages behind a running engine.

Why stages: loading Whisper, Piper, Silero and openWakeWord and warming them up takes
seconds on a laptop CPU, and a person who opened the app to type a question should not
wait for the microphone's models. Progressive start-up builds the engine with the agent
only, then loads speech *output* first (so typed replies start being spoken soonest), then
speech *input* (VAD, ASR, wake word); each stage is attached to the engine as it finishes
(``TurnEngine.attach_speech``). A stage that fails becomes a notice saying what still works.

The headless runner and the bench load everything first (``load_parts``): they measure turns
and must not start on a half-loaded loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from localvox import registry
from localvox.errors import LocalvoxError
from localvox.pipeline.events import Notice

if TYPE_CHECKING:
    from localvox.config import Config


@dataclass
class SpeechParts:
    """The loaded models; shared by several engines (the bench builds one engine per run)."""

    vad: Any
    asr: Any
    tts: Any
    wake: Any = None
    notices: list[Notice] = field(default_factory=list)


@dataclass(frozen=True)
class LoadStage:
    """One background step of progressive start-up.

    ``load(notices)`` returns keyword arguments for ``TurnEngine.attach_speech`` and may
    append warnings (a failed warm-up) to ``notices``.
    """

    name: str                                   # "speech output", "voice input"
    load: Callable[[list[Notice]], Awaitable[dict[str, Any]]]
    ready: str                                  # said when attached
    fallback: str                               # said when it failed: what still works
    labels: dict[str, str] = field(default_factory=dict)
    """Status-bar labels of the parts it brings (shown before they are loaded)."""


def _needs_wake(config: "Config", need_wake: bool | None) -> bool:
    return need_wake if need_wake is not None else config.wake.mode == "wake"


async def load_output(config: "Config", notices: list[Notice], *,
                      warm_up: bool = True) -> dict[str, Any]:
    """The synthesiser, warmed up with one sentence."""
    tts = await asyncio.to_thread(registry.create, "tts", config.tts.backend, config)
    if warm_up:
        await _warm(notices, _synthesize_once(tts))
    return {"tts": tts}


async def load_input(config: "Config", notices: list[Notice], *, need_wake: bool | None = None,
                     warm_up: bool = True) -> dict[str, Any]:
    """VAD, ASR and (in wake mode) the wake word model; the ASR warmed up with one decode."""

    def create() -> dict[str, Any]:
        vad = registry.create("vad", config.vad.backend, config)
        asr = registry.create("asr", config.asr.backend, config)
        wake = registry.create("wake", config.wake.backend, config) \
            if _needs_wake(config, need_wake) else None
        return {"vad": vad, "asr": asr, "wake": wake}

    parts = await asyncio.to_thread(create)
    if warm_up:
        import numpy as np

        noise = (np.random.default_rng(0).standard_normal(16000) * 0.01).astype(np.float32)
        await _warm(notices, parts["asr"].transcribe(noise))
    return parts


async def load_parts(config: "Config", *, need_wake: bool | None = None,
                     warm_up: bool = True) -> SpeechParts:
    """Load VAD, ASR, TTS and (in wake mode) the wake word model, in worker threads.

    ``warm_up`` runs one tiny ASR decode and one TTS sentence: the first inference of a
    CTranslate2 or ONNX model is several times slower than the next, and that cost belongs
    to start-up, not to the user's first question.
    """
    notices: list[Notice] = []
    listening = await load_input(config, notices, need_wake=need_wake, warm_up=warm_up)
    speaking = await load_output(config, notices, warm_up=warm_up)
    return SpeechParts(notices=notices, **listening, **speaking)


def progressive_stages(config: "Config", *, listen: bool = True) -> list[LoadStage]:
    """Speech output first (typed replies get spoken soonest), then voice input (unless
    there is nothing to ``listen`` with)."""
    wake = config.wake.mode == "wake"
    stages = [
        LoadStage("speech output", lambda notices: load_output(config, notices),
                  ready="speech output ready: replies are spoken",
                  fallback="replies are shown as text only",
                  labels={"tts": config.tts.voice}),
    ]
    if listen:
        cue = f"say “{config.wake.model.replace('_', ' ')}”" if wake else "speak when ready"
        stages.append(LoadStage(
            "voice input", lambda notices: load_input(config, notices),
            ready=f"voice input ready: {cue}", fallback="typed messages still work",
            labels={"asr": config.asr.model, "wake_word": config.wake.model if wake else ""}))
    return stages


async def run_stages(stages: list[LoadStage], *, attach: Callable[..., None],
                     announce: Callable[[Notice], None]) -> None:
    """Load each stage in turn and ``attach`` its parts; report progress with notices."""
    names = " and ".join(s.name for s in stages)
    announce(Notice("info", f"loading {names} in the background; you can type meanwhile"))
    for stage in stages:
        notices: list[Notice] = []
        try:
            attach(**await stage.load(notices))
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 -- a missing model must not end the session
            why = str(err) if isinstance(err, LocalvoxError) else f"{type(err).__name__}: {err}"
            announce(Notice("error", f"{stage.name} unavailable ({why}); {stage.fallback}"))
            continue
        for notice in notices:
            announce(notice)
        announce(Notice("info", stage.ready))


async def _synthesize_once(tts: Any) -> None:
    async for _ in tts.synthesize("Hello there."):
        pass


async def _warm(notices: list[Notice], work: Awaitable[Any]) -> None:
    try:
        await work
    except Exception as err:  # noqa: BLE001 -- a warm-up failure shows up on first use
        notices.append(Notice("warning", f"model warm-up failed: {err}"))


class SpeechLoader:
    """An engine's background loading: the task, and what it will bring.

    Notices go through ``announce`` (the engine holds them until ``run()`` starts, so none
    is lost before the caller subscribes).
    """

    def __init__(self, stages: list[LoadStage], *, attach: Callable[..., None],
                 announce: Callable[[Notice], None]) -> None:
        self.labels: dict[str, str] = {}
        for stage in stages:
            self.labels.update(stage.labels)
        self.task = asyncio.ensure_future(run_stages(stages, attach=attach, announce=announce))

    @property
    def loading(self) -> bool:
        return not self.task.done()

    async def wait_until(self, ready: Callable[[], bool], stopping: Callable[[], bool]) -> bool:
        """True once ``ready()``; False if loading ended without it, or on ``stopping()``."""
        while not ready():
            if stopping() or not self.loading:
                return False
            await asyncio.sleep(0.05)
        return True

    async def cancel(self) -> None:
        if self.loading:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
