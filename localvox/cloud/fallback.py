"""Local fallback while the cloud is unreachable: keep talking, and say so.

Why wrappers rather than logic in the loop: the pipeline only knows ``Transcriber`` and
``Synthesizer``. ``FallbackTranscriber`` keeps each turn's audio, so a turn the cloud drops
(after the client's own reconnects) is replayed into the local backend and not lost.
``FallbackSynthesizer`` speaks a sentence locally when the cloud fails before its first
audio. An unreachable cloud is retried after ``retry_after_s``; a refused key or parameter
(``CloudRejected``) is not retried. ``notify`` gets one line each time the backend changes.
"""

from __future__ import annotations

import logging
import time
from typing import Any, AsyncIterator, Callable, Union

import numpy as np

from localvox.asr.base import Transcript
from localvox.cloud.ws import CloudRejected
from localvox.errors import CloudError
from localvox.tts.base import SpeechChunk

log = logging.getLogger("localvox.cloud")

Notify = Callable[[str], None]


def default_notify(message: str) -> None:
    log.warning("%s", message)


class _Switch:
    """Which side is in use, and when the cloud may be tried again."""

    def __init__(self, primary: Any, fallback: Union[Any, Callable[[], Any]], notify: Notify,
                 retry_after_s: float, local_name: str) -> None:
        self.primary = primary
        self._fallback = fallback
        self._fallback_obj: Any = None if callable(fallback) and not hasattr(fallback, "name") \
            else fallback
        self.notify = notify
        self.retry_after_s = retry_after_s
        self.down_until = 0.0
        self.rejected = False
        self.local_name = local_name

    @property
    def fallback(self) -> Any:
        if self._fallback_obj is None:
            self._fallback_obj = self._fallback()
        return self._fallback_obj

    def use_primary(self) -> bool:
        if self.rejected:
            return False
        if self.down_until and time.monotonic() >= self.down_until:
            self.down_until = 0.0
            self.notify(f"trying {self.primary.name} again")
        return self.down_until == 0.0

    def failed(self, err: CloudError) -> None:
        if isinstance(err, CloudRejected):
            self.rejected = True
            self.notify(f"{err}; using local {self.local_name} from now on")
        else:
            self.down_until = time.monotonic() + self.retry_after_s
            self.notify(f"{err}; using local {self.local_name} for now")


class _FallbackStream:
    def __init__(self, owner: "FallbackTranscriber") -> None:
        self._o = owner
        self._audio: list[np.ndarray] = []
        self._inner: Any = None
        self._local = not owner._sw.use_primary()
        self._inner = (owner._sw.fallback if self._local else owner._sw.primary).stream()

    async def _switch(self, err: CloudError) -> None:
        self._o._sw.failed(err)
        try:
            await self._inner.cancel()
        except Exception:  # the cloud side is already broken; nothing to salvage
            pass
        self._local = True
        self._inner = self._o._sw.fallback.stream()
        for block in self._audio:  # replay the turn so far: nothing the user said is lost
            await self._inner.feed(block)

    async def feed(self, samples: np.ndarray) -> None:
        self._audio.append(np.asarray(samples, dtype=np.float32).copy())
        try:
            await self._inner.feed(samples)
        except CloudError as err:
            if self._local:
                raise
            await self._switch(err)

    async def partial(self) -> Transcript | None:
        try:
            return await self._inner.partial()
        except CloudError as err:
            if self._local:
                raise
            await self._switch(err)
            return None

    async def finish(self) -> Transcript:
        try:
            return await self._inner.finish()
        except CloudError as err:
            if self._local:
                raise
            await self._switch(err)
            return await self._inner.finish()

    async def cancel(self) -> None:
        await self._inner.cancel()


class FallbackTranscriber:
    """A cloud ``Transcriber`` with a local one behind it (``fallback`` may be a factory)."""

    def __init__(self, primary: Any, fallback: Union[Any, Callable[[], Any]],
                 notify: Notify | None = None, *, retry_after_s: float = 30.0) -> None:
        self._sw = _Switch(primary, fallback, notify or default_notify, retry_after_s, "whisper")

    @property
    def name(self) -> str:
        return self._sw.primary.name if self._sw.use_primary() else f"{self._sw.local_name} " \
            f"(fallback for {self._sw.primary.name})"

    def stream(self) -> _FallbackStream:
        return _FallbackStream(self)

    async def transcribe(self, samples: np.ndarray) -> Transcript:
        s = self.stream()
        await s.feed(samples)
        return await s.finish()

    async def close(self) -> None:
        close = getattr(self._sw.primary, "close", None)
        if close is not None:
            await close()


class FallbackSynthesizer:
    """A cloud ``Synthesizer`` with a local one behind it.

    A sentence whose cloud synthesis fails before any audio is spoken locally instead; one
    that fails midway stops there (re-speaking its start would repeat words the user heard).
    """

    def __init__(self, primary: Any, fallback: Union[Any, Callable[[], Any]],
                 notify: Notify | None = None, *, retry_after_s: float = 30.0) -> None:
        self._sw = _Switch(primary, fallback, notify or default_notify, retry_after_s, "piper")

    @property
    def name(self) -> str:
        return self._sw.primary.name if self._sw.use_primary() else f"{self._sw.local_name} " \
            f"(fallback for {self._sw.primary.name})"

    @property
    def sample_rate(self) -> int:
        side = self._sw.primary if self._sw.use_primary() else self._sw.fallback
        return int(side.sample_rate)

    async def synthesize(self, text: str) -> AsyncIterator[SpeechChunk]:
        if self._sw.use_primary():
            started = False
            gen = self._sw.primary.synthesize(text)
            try:
                async for chunk in gen:
                    started = True
                    yield chunk
                return
            except CloudError as err:
                self._sw.failed(err)
                if started:
                    return
            finally:
                await gen.aclose()
        local = self._sw.fallback.synthesize(text)
        try:
            async for chunk in local:
                yield chunk
        finally:
            await local.aclose()

    async def close(self) -> None:
        await self._sw.primary.close()
        if self._sw._fallback_obj is not None:
            await self._sw._fallback_obj.close()


def with_local_fallback(config: Any, stage: str, local_backend: str,
                        build_primary: Callable[[], Any], wrapper: type,
                        notify: Callable[[str], None] | None = None) -> Any:
    """The cloud backend, wrapped so local ``local_backend`` takes over when the cloud fails.

    A missing key (or other set-up error) falls back at once when ``[cloud] fallback_local``
    is on, and is raised when it is off.
    """
    from localvox.errors import CloudError
    from localvox.registry import create as create_backend

    notify = notify or default_notify

    def local() -> Any:
        return create_backend(stage, local_backend, config)

    try:
        primary = build_primary()
    except CloudError as err:
        if not config.cloud.fallback_local:
            raise
        notify(f"{err}; using local {local_backend}")
        return local()
    if not config.cloud.fallback_local:
        return primary
    return wrapper(primary, local, notify)
