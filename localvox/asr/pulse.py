"""Smallest AI Pulse streaming STT as a ``Transcriber`` (also talks to ``localvox serve``).

Why this shape (spec: smallest-protocols.md section 1):
- One WebSocket per session, opened on the first audio and kept across turns. Each turn
  streams 16 kHz linear16 in 4096-byte binary frames while the user speaks; at the endpoint
  ``finish()`` sends ``{"type":"finalize"}`` and the ``from_finalize`` final is the turn's
  transcript (auto-finals the service emits mid-turn are joined in front of it).
- The turn's audio is kept until its final arrives, so a dropped socket costs nothing: the
  client reconnects with backoff, re-sends the turn's audio and, if it was waiting, the
  ``finalize``. Old connections' frames are ignored.
- ``close()`` sends ``close_stream`` exactly once and waits for ``is_last`` before closing.
- The key travels only in the ``Authorization: Bearer`` header; it is never logged or put in
  an error message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from localvox.asr.base import Transcript
from localvox.cloud.protocol import (
    FRAME_BYTES, STT_PATH, ProtocolError, build_query, dumps, float_to_pcm16, parse_stt_event,
)
from localvox.cloud.ws import (BACKOFF_S, CloudUnavailable, close_quietly, is_closed_error,
                               missing_key_error, open_socket)
from localvox.errors import CloudError

if TYPE_CHECKING:
    from localvox.config import Config

log = logging.getLogger("localvox.asr.pulse")

SAMPLE_RATE = 16000
BYTES_PER_S = SAMPLE_RATE * 2


def ws_base(url: str) -> str:
    """``https://host`` -> ``wss://host`` (as the SDK's CLI does); no trailing slash."""
    url = url.rstrip("/")
    if url.startswith("https://"):
        return "wss://" + url[len("https://"):]
    if url.startswith("http://"):
        return "ws://" + url[len("http://"):]
    return url


@dataclass(eq=False)
class _Conn:
    """One socket and what its reader has seen; a new one replaces it after a drop."""

    ws: Any
    gen: int
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    last: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.Task[None] | None = None
    discard_finals: int = 0
    """``from_finalize`` finals still owed to cancelled turns: dropped on arrival."""
    error: str = ""


class PulseStream:
    """One turn on the shared socket: ``feed`` audio, poll ``partial``, ``finish`` at the endpoint."""

    def __init__(self, owner: "PulseTranscriber") -> None:
        self._t = owner
        self._audio = bytearray()
        """The turn's audio (int16 bytes) not yet covered by a final: re-sent after a drop."""
        self._dropped_bytes = 0
        self._sent = 0
        self._conn: _Conn | None = None
        self._finals: list[str] = []
        self._partial: str | None = None
        self._final: asyncio.Future[str] | None = None
        self._done = False
        self._total_bytes = 0

    @property
    def audio_s(self) -> float:
        return self._total_bytes / BYTES_PER_S

    async def feed(self, samples: np.ndarray) -> None:
        if self._done:
            raise CloudError("this Pulse turn is already finished")
        pcm = float_to_pcm16(np.asarray(samples, dtype=np.float32).reshape(-1))
        self._audio += pcm
        self._total_bytes += len(pcm)
        cap = int(self._t.max_buffer_s * BYTES_PER_S)
        if len(self._audio) > cap:  # bounded memory: keep the newest audio for a re-send
            cut = len(self._audio) - cap
            cut -= cut % FRAME_BYTES
            if cut > 0 and cut <= self._sent:
                del self._audio[:cut]
                self._sent -= cut
                self._dropped_bytes += cut
        await self._pump(flush=False)

    async def _pump(self, *, flush: bool) -> _Conn:
        """Send whole 4096-byte frames (and the tail when ``flush``); reconnect as needed."""
        while True:
            conn = await self._t._ensure(self)
            try:
                while (len(self._audio) - self._sent >= FRAME_BYTES
                       or (flush and self._sent < len(self._audio))):
                    frame = bytes(self._audio[self._sent:self._sent + FRAME_BYTES])
                    await conn.ws.send(frame)
                    self._sent += len(frame)
                return conn
            except Exception as err:  # ConnectionClosed and friends: the socket is gone
                if not is_closed_error(err):
                    raise
                self._t._lost(conn)

    def _attach(self, conn: _Conn) -> None:
        """A fresh socket: the service has none of this turn, so everything is re-sent."""
        if self._conn is not None and self._conn is not conn:
            if self._dropped_bytes:
                log.warning("Pulse reconnected; the first %.1f s of this long turn were not kept",
                            self._dropped_bytes / BYTES_PER_S)
            self._finals.clear()
        self._conn = conn
        self._sent = 0

    async def partial(self) -> Transcript | None:
        text, self._partial = self._partial, None
        if text is None:
            return None
        return Transcript(text=" ".join([*self._finals, text]).strip(), is_final=False,
                          audio_s=self.audio_s)

    async def finish(self) -> Transcript:
        if self._done:
            raise CloudError("this Pulse turn is already finished")
        t0 = time.monotonic()
        try:
            if self._total_bytes == 0:
                return Transcript(text="", is_final=True, audio_s=0.0)
            text = await self._finalize()
            return Transcript(text=text, is_final=True, audio_s=self.audio_s,
                              decode_s=time.monotonic() - t0)
        finally:
            self._done = True
            self._t._release(self)

    async def _finalize(self) -> str:
        deadline = time.monotonic() + self._t.final_timeout_s
        while True:
            conn = await self._pump(flush=True)
            loop = asyncio.get_running_loop()
            self._final = loop.create_future()
            try:
                await conn.ws.send(dumps({"type": "finalize"}))
            except Exception as err:
                if not is_closed_error(err):
                    raise
                self._t._lost(conn)
                continue
            closed = asyncio.ensure_future(conn.closed.wait())
            try:
                remaining = deadline - time.monotonic()
                done, _ = await asyncio.wait({self._final, closed}, timeout=max(0.0, remaining),
                                             return_when=asyncio.FIRST_COMPLETED)
            finally:
                closed.cancel()
            if self._final.done():
                return " ".join(t for t in [*self._finals, self._final.result()] if t).strip()
            if not done:
                raise CloudError(f"Pulse gave no final transcript within "
                                 f"{self._t.final_timeout_s:g} s of finalize")
            self._t._lost(conn)  # dropped while waiting: reconnect, re-send, finalize again

    async def cancel(self) -> None:
        """Abandon the turn; its ``finalize`` result (if any) is dropped when it arrives."""
        if self._done:
            return
        self._done = True
        conn = self._conn
        if conn is not None and conn is self._t._conn and self._sent and not conn.closed.is_set():
            try:
                await conn.ws.send(dumps({"type": "finalize"}))
                conn.discard_finals += 1
            except Exception as err:
                if not is_closed_error(err):
                    raise
                self._t._lost(conn)
        self._t._release(self)

    # called by the reader
    def _on_event(self, kind: str, text: str, from_finalize: bool) -> None:
        if kind == "partial":
            self._partial = text
        elif from_finalize:
            if self._final is not None and not self._final.done():
                self._final.set_result(text)
        elif text:
            self._finals.append(text)


class PulseTranscriber:
    """``Transcriber`` over Pulse; one socket per session, one ``PulseStream`` per turn."""

    name = "pulse"

    def __init__(self, *, api_key: str, base_url: str = "wss://api.smallest.ai",
                 language: str = "en", model: str = "pulse", path: str = STT_PATH,
                 key_env: str = "SMALLEST_API_KEY", final_timeout_s: float = 20.0,
                 backoff_s: tuple[float, ...] = BACKOFF_S, max_buffer_s: float = 120.0,
                 query: dict[str, Any] | None = None) -> None:
        if not api_key:
            raise missing_key_error(key_env, "Pulse speech recognition", '[asr] backend = "whisper"')
        self._key = api_key
        self.key_env = key_env
        params: dict[str, Any] = {"model": model if path == STT_PATH else None,
                                  "language": language, "sample_rate": SAMPLE_RATE,
                                  "encoding": "linear16", "punctuate": True, "capitalize": True}
        params.update(query or {})
        self.url = f"{ws_base(base_url)}{path}?{build_query(params)}"
        self.final_timeout_s = final_timeout_s
        self.backoff_s = backoff_s
        self.max_buffer_s = max_buffer_s
        self._conn: _Conn | None = None
        self._gen = 0
        self._active: PulseStream | None = None
        self._orphan = False
        self._lock = asyncio.Lock()
        self._closed = False
        self.connects = 0
        """How many sockets this session opened (1 unless it had to reconnect)."""

    def __repr__(self) -> str:  # never show the key
        return f"PulseTranscriber(url={self.url!r})"

    def set_bias(self, bias: object) -> str | None:
        """The Pulse protocol has no vocabulary field localvox can fill: ignored."""
        return None

    def stream(self) -> PulseStream:
        if self._closed:
            raise CloudError("the Pulse session is closed")
        old = self._active
        if old is not None and not old._done:
            # Abandoned without finish/cancel: its final will be discarded before new audio.
            old._done = True
            if old._sent and old._conn is self._conn:
                self._orphan = True
        s = PulseStream(self)
        self._active = s
        return s

    async def transcribe(self, samples: np.ndarray) -> Transcript:
        s = self.stream()
        await s.feed(samples)
        return await s.finish()

    def _release(self, stream: PulseStream) -> None:
        if self._active is stream:
            self._active = None

    # ---------------------------------------------------------------- connection

    async def _ensure(self, stream: PulseStream) -> _Conn:
        """The live connection for ``stream``; (re)connects with backoff, re-attaching the turn."""
        async with self._lock:
            if self._closed:
                raise CloudError("the Pulse session is closed")
            conn = self._conn
            if conn is None or conn.closed.is_set():
                conn = await self._connect()
            if self._orphan:
                self._orphan = False
                await conn.ws.send(dumps({"type": "finalize"}))
                conn.discard_finals += 1
            if stream._conn is not conn:
                stream._attach(conn)
            return conn

    async def _connect(self) -> _Conn:
        last: CloudError | None = None
        delays = (0.0, *self.backoff_s) if self._gen == 0 else self.backoff_s
        for delay in delays:
            if delay:
                await asyncio.sleep(delay)
            try:
                ws = await open_socket(self.url, self._key, service="Pulse",
                                       key_env=self.key_env)
            except CloudUnavailable as err:
                last = err
                log.info("Pulse connect failed (%s); retrying", err)
                continue
            self._gen += 1
            self.connects += 1
            conn = _Conn(ws=ws, gen=self._gen)
            conn.reader = asyncio.create_task(self._read(conn), name=f"pulse-reader-{conn.gen}")
            self._conn = conn
            self._orphan = False
            return conn
        assert last is not None
        raise last

    def _lost(self, conn: _Conn) -> None:
        conn.closed.set()
        if self._conn is conn:
            self._conn = None
        if conn.reader is not None and not conn.reader.done():
            conn.reader.cancel()
        asyncio.ensure_future(close_quietly(conn.ws))

    async def _read(self, conn: _Conn) -> None:
        try:
            async for raw in conn.ws:
                if isinstance(raw, bytes):
                    continue
                try:
                    ev = parse_stt_event(raw)
                except ProtocolError as err:
                    log.warning("ignoring a malformed Pulse frame: %s", err)
                    continue
                self._dispatch(conn, ev)
        except Exception as err:
            if not is_closed_error(err):
                log.exception("Pulse reader failed")
        finally:
            conn.closed.set()
            if self._conn is conn:
                self._conn = None

    def _dispatch(self, conn: _Conn, ev: Any) -> None:
        if conn is not self._conn:
            return
        if ev.type == "error":
            conn.error = ev.message
            log.warning("Pulse error: %s", ev.message)
            return
        if ev.type != "transcription":
            return  # speech_started / speech_ended and future types
        if ev.is_last:
            conn.last.set()
            return
        if ev.is_final and ev.from_finalize and conn.discard_finals > 0:
            conn.discard_finals -= 1
            return
        s = self._active
        if s is None or s._conn is not conn:
            return
        s._on_event("final" if ev.is_final else "partial", ev.transcript, ev.from_finalize)

    async def close(self, timeout_s: float = 5.0) -> None:
        """End the session: ``close_stream`` once, wait for ``is_last``, then close the socket."""
        if self._closed:
            return
        self._closed = True
        conn, self._conn = self._conn, None
        if conn is None or conn.closed.is_set():
            return
        try:
            await conn.ws.send(dumps({"type": "close_stream"}))
            last = asyncio.ensure_future(conn.last.wait())
            closed = asyncio.ensure_future(conn.closed.wait())
            await asyncio.wait({last, closed}, timeout=timeout_s,
                               return_when=asyncio.FIRST_COMPLETED)
            last.cancel()
            closed.cancel()
        except Exception as err:
            if not is_closed_error(err):
                raise
        finally:
            await close_quietly(conn.ws)
            if conn.reader is not None:
                conn.reader.cancel()
                await asyncio.gather(conn.reader, return_exceptions=True)


def from_config(config: "Config", **kwargs: Any) -> PulseTranscriber:
    """A raw Pulse client from ``[cloud]`` (no fallback); ``CloudError`` if the key is missing."""
    cloud = config.cloud
    return PulseTranscriber(api_key=kwargs.pop("api_key", None) or cloud.api_key(),
                            base_url=cloud.base_url, language=cloud.stt_language,
                            model=cloud.stt_model, key_env=cloud.api_key_env, **kwargs)


def create(config: "Config", notify: Callable[[str], None] | None = None, **kwargs: Any) -> Any:
    """The ``[asr] backend = "pulse"`` factory.

    With ``[cloud] fallback_local`` (default) the Pulse client is wrapped so a turn the cloud
    cannot take is transcribed by local Whisper instead, and ``notify`` is told why.
    """
    from localvox.cloud.fallback import FallbackTranscriber, with_local_fallback

    return with_local_fallback(config, "asr", "whisper",
                               lambda: from_config(config, **kwargs), FallbackTranscriber, notify)
