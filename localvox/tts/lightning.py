"""Smallest AI Lightning streaming TTS as a ``Synthesizer`` (also talks to ``localvox serve``).

Why this shape (spec: smallest-protocols.md section 2):
- One socket, reused across turns (the server keeps it open after ``complete``). It is
  opened lazily and re-opened when it died in between (idle timeout frame, network drop);
  a request whose text was sent on a dead socket is re-sent whole as long as no audio of
  it has arrived yet, so an idle-timed-out socket never costs a reply.
- ``request()`` is the streaming-text API for an LLM: ``send(piece)`` per text piece with
  ``continue: true``, then ``flush()`` (``{"text": "", "flush": true}``); iterate it for
  ``SpeechChunk``s decoded from the base64 pcm_s16le frames as they arrive, until
  ``complete``. ``synthesize(text)`` is the one-shot ``Synthesizer`` form.
- Barge-in (``cancel()``): the socket is closed if the request has not completed. Lightning
  has no cancel message, and a server that keeps synthesising the old request would queue
  the next reply behind it, so dropping the socket is what stops it; the next request opens
  a new one. Every request also carries a client ``request_id`` and frames echoing another id
  are ignored, so no stale audio can leak into a later turn.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable

from localvox.cloud.lightning_protocol import TtsFrame, parse_tts_frame, tts_request_message
from localvox.cloud.protocol import (
    TTS_PATH, TTS_SAMPLE_RATES, ProtocolError, build_query, dumps, pcm16_to_float,
)
from localvox.cloud.ws import (CloudUnavailable, close_quietly, is_closed_error,
                               missing_key_error, open_socket)
from localvox.errors import CloudError
from localvox.tts.base import SpeechChunk

if TYPE_CHECKING:
    from localvox.config import Config

log = logging.getLogger("localvox.tts.lightning")

_CLOSED = object()


@dataclass(eq=False)
class _Conn:
    ws: Any
    reader: asyncio.Task[None] | None = None
    dead: bool = False
    error: str = ""


class LightningRequest:
    """One utterance: text pieces in, audio chunks out; cancel for barge-in."""

    def __init__(self, owner: "LightningSynthesizer", request_id: str) -> None:
        self._t = owner
        self.request_id = request_id
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._messages: list[dict[str, Any]] = []
        self._conn: _Conn | None = None
        self._got_audio = False
        self._flushed = False
        self.complete = False
        self.cancelled = False
        self.text = ""

    async def send(self, text: str) -> None:
        """Queue one piece of text (``continue: true``): the server buffers until ``flush``."""
        if not text:
            return
        self.text += text
        await self._send(self._t._message(text, self.request_id, continue_=True))

    async def flush(self) -> None:
        """No more text: synthesise what is buffered, then ``complete``."""
        if self._flushed:
            return
        self._flushed = True
        await self._send(self._t._message("", self.request_id, flush=True))

    async def say(self, text: str) -> None:
        """The whole text in one frame, without ``continue`` (one-shot)."""
        self.text += text
        self._flushed = True
        await self._send(self._t._message(text, self.request_id, continue_=False))

    async def _send(self, msg: dict[str, Any]) -> None:
        if self.cancelled or self.complete:
            raise CloudError("this Lightning request is already finished")
        self._messages.append(msg)
        for attempt in range(2):
            conn = await self._t._ensure(self)
            if self._conn is not conn:  # a fresh socket: it knows nothing of this request
                if self._got_audio:
                    raise CloudUnavailable("Lightning dropped the connection mid-utterance")
                self._conn = conn
                pending = list(self._messages)
            else:
                pending = [msg]
            try:
                for m in pending:
                    await conn.ws.send(dumps(m))
                return
            except Exception as err:
                if not is_closed_error(err) or attempt:
                    raise CloudUnavailable("Lightning connection lost while sending text") \
                        from None
                self._t._lost(conn)

    def __aiter__(self) -> AsyncIterator[SpeechChunk]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[SpeechChunk]:
        while not self.complete and not self.cancelled:
            try:
                item = await asyncio.wait_for(self._queue.get(), self._t.chunk_timeout_s)
            except asyncio.TimeoutError:
                raise CloudError(f"Lightning sent nothing for {self._t.chunk_timeout_s:g} s") \
                    from None
            if item is _CLOSED:
                raise CloudUnavailable("Lightning closed the stream before completion")
            frame: TtsFrame = item
            if frame.status == "error":
                raise CloudError(f"Lightning error: {frame.message}")
            if frame.status == "complete":
                self.complete = True
                self._t._done(self)
                return
            if frame.status == "chunk" and frame.audio:
                self._got_audio = True
                yield SpeechChunk(samples=pcm16_to_float(frame.audio),
                                  sample_rate=self._t.sample_rate, text=self.text)

    async def cancel(self) -> None:
        """Barge-in: stop now and drop the rest (closes the socket if audio is still coming)."""
        if self.cancelled or self.complete:
            return
        self.cancelled = True
        conn = self._conn
        self._t._done(self)
        if conn is not None and not conn.dead:
            self._t._lost(conn)

    async def __aenter__(self) -> "LightningRequest":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if not self.complete:
            await self.cancel()

    # called by the reader
    def _deliver(self, item: Any) -> None:
        self._queue.put_nowait(item)


class LightningSynthesizer:
    """``Synthesizer`` over Lightning, plus ``request()`` for streamed LLM text."""

    name = "lightning"

    def __init__(self, *, api_key: str, base_url: str = "wss://api.smallest.ai",
                 voice_id: str = "magnus", model: str = "lightning_v3.1",
                 sample_rate: int = 24000, speed: float | None = None,
                 language: str | None = None, key_env: str = "SMALLEST_API_KEY",
                 idle_timeout_s: float | None = None, chunk_timeout_s: float = 20.0) -> None:
        if not api_key:
            raise missing_key_error(key_env, "Lightning speech synthesis", '[tts] backend = "piper"')
        if sample_rate not in TTS_SAMPLE_RATES:
            raise CloudError(f"[cloud] tts_sample_rate must be one of "
                             f"{', '.join(map(str, TTS_SAMPLE_RATES))}, got {sample_rate}")
        from localvox.asr.pulse import ws_base

        self._key = api_key
        self.key_env = key_env
        query = build_query({"timeout": idle_timeout_s})
        self.url = f"{ws_base(base_url)}{TTS_PATH}" + (f"?{query}" if query else "")
        self.voice_id = voice_id
        self.model = model
        self.sample_rate = sample_rate
        self.speed = speed
        self.language = language
        self.chunk_timeout_s = chunk_timeout_s
        self._conn: _Conn | None = None
        self._active: LightningRequest | None = None
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()
        self.connects = 0

    def __repr__(self) -> str:  # never show the key
        return f"LightningSynthesizer(url={self.url!r}, voice={self.voice_id!r})"

    def _message(self, text: str, request_id: str, **flags: Any) -> dict[str, Any]:
        return tts_request_message(self.voice_id, text, model=self.model,
                                   sample_rate=self.sample_rate, speed=self.speed,
                                   language=self.language, request_id=request_id, **flags)

    def request(self) -> LightningRequest:
        """Start an utterance; a previous unfinished one is cancelled (its audio is dropped)."""
        old = self._active
        if old is not None and not old.complete and not old.cancelled:
            old.cancelled = True
            if old._conn is not None and not old._conn.dead:
                self._lost(old._conn)
        req = LightningRequest(self, f"lv-{next(self._ids)}")
        self._active = req
        return req

    async def synthesize(self, text: str) -> AsyncIterator[SpeechChunk]:
        """Speak one piece of text; closing the iterator early is a barge-in."""
        if not text.strip():
            return
        req = self.request()
        try:
            await req.say(text)
            async for chunk in req:
                yield chunk
        finally:
            if not req.complete:
                await req.cancel()

    def _done(self, req: LightningRequest) -> None:
        if self._active is req:
            self._active = None

    async def _ensure(self, req: LightningRequest) -> _Conn:
        async with self._lock:
            conn = self._conn
            if conn is None or conn.dead:
                ws = await open_socket(self.url, self._key, service="Lightning",
                                       key_env=self.key_env)
                self.connects += 1
                conn = _Conn(ws=ws)
                conn.reader = asyncio.create_task(self._read(conn), name="lightning-reader")
                self._conn = conn
            return conn

    def _lost(self, conn: _Conn) -> None:
        conn.dead = True
        if self._conn is conn:
            self._conn = None
        asyncio.ensure_future(close_quietly(conn.ws))

    async def _read(self, conn: _Conn) -> None:
        try:
            async for raw in conn.ws:
                if isinstance(raw, bytes):
                    continue
                try:
                    frame = parse_tts_frame(raw)
                except ProtocolError as err:
                    log.warning("ignoring a malformed Lightning frame: %s", err)
                    continue
                req = self._active
                if frame.status == "error":
                    conn.error = frame.message
                    if "timed out" in frame.message or "inactivity" in frame.message:
                        conn.dead = True  # idle timeout: the next request reconnects
                        log.info("Lightning socket idle-timed out; will reconnect when needed")
                    if req is not None and req._conn is conn:
                        req._deliver(frame)
                    continue
                ext = frame.external_request_id
                if req is None or req._conn is not conn or (ext and ext != req.request_id):
                    continue  # audio of a cancelled or finished request
                req._deliver(frame)
        except Exception as err:
            if not is_closed_error(err):
                log.exception("Lightning reader failed")
        finally:
            conn.dead = True
            if self._conn is conn:
                self._conn = None
            req = self._active
            if req is not None and req._conn is conn:
                req._deliver(_CLOSED)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.dead = True
            await close_quietly(conn.ws)
            if conn.reader is not None:
                conn.reader.cancel()
                await asyncio.gather(conn.reader, return_exceptions=True)


def from_config(config: "Config", **kwargs: Any) -> LightningSynthesizer:
    """A raw Lightning client from ``[cloud]`` (no fallback); ``CloudError`` if the key is missing."""
    cloud = config.cloud
    return LightningSynthesizer(api_key=kwargs.pop("api_key", None) or cloud.api_key(),
                                base_url=cloud.base_url, voice_id=cloud.tts_voice,
                                model=cloud.tts_model, sample_rate=cloud.tts_sample_rate,
                                key_env=cloud.api_key_env, **kwargs)


def create(config: "Config", notify: Callable[[str], None] | None = None, **kwargs: Any) -> Any:
    """The ``[tts] backend = "lightning"`` factory, with local Piper behind it when
    ``[cloud] fallback_local`` is on (``notify`` is told when it switches)."""
    from localvox.cloud.fallback import FallbackSynthesizer, with_local_fallback

    return with_local_fallback(config, "tts", "piper",
                               lambda: from_config(config, **kwargs), FallbackSynthesizer, notify)
