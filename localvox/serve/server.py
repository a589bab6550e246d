"""``localvox serve``: the Pulse/Lightning WebSocket protocols on localvox's own models.

Why: apps written for Smallest AI's cloud API (including the official SDK) can run offline
against this server, and localvox's cloud clients are tested against a faithful peer.
One faster-whisper ``Transcriber`` and one Piper ``Synthesizer`` are loaded at start and
shared by every session; decoding runs in worker threads inside those backends, so the event
loop only moves frames. The handshake is checked before the upgrade (``auth.py``); each
socket is then an ``SttSession`` or a ``TtsSession``. Past ``[serve] max_sessions`` a new
socket is closed with 1008, as the service does at its concurrency limit.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from localvox.cloud.protocol import STT_LEGACY_PATH, STT_PATH, TTS_PATH, parse_stt_query, \
    parse_tts_query, split_path
from localvox.cloud.ws import redacted_logger
from localvox.errors import ConfigError
from localvox.serve.auth import SUPPORTED_ENCODINGS, make_process_request
from localvox.serve.stt import SttSession
from localvox.serve.tts import TtsSession

log = logging.getLogger("localvox.serve")


class SpeechServer:
    """The server. ``start()`` binds and returns the (host, port) it listens on."""

    def __init__(self, config: Any, *, api_keys: list[str] | None = None,
                 transcriber: Any = None, synthesizer: Any = None) -> None:
        self.config = config
        keys = list(api_keys if api_keys is not None else config.serve.api_keys)
        keys = [k for k in keys if k]
        if not keys:
            raise ConfigError("localvox serve needs at least one API key: pass --api-key KEY "
                              "or set [serve] api_keys")
        self.api_keys = keys
        self.transcriber = transcriber
        self.synthesizer = synthesizer
        self.sessions: set[Any] = set()
        self.max_sessions = int(config.serve.max_sessions)
        self.max_session_audio_s = float(config.serve.max_session_audio_s)
        self._server: Any = None
        self.address: tuple[str, int] | None = None

    async def load(self) -> None:
        """Load the models once (in threads: loading blocks for a second or two)."""
        from localvox.registry import create

        if self.transcriber is None:
            self.transcriber = await asyncio.to_thread(create, "asr", "whisper", self.config)
        if self.synthesizer is None:
            self.synthesizer = await asyncio.to_thread(create, "tts", "piper", self.config)

    async def start(self, host: str | None = None, port: int | None = None) -> tuple[str, int]:
        from websockets.asyncio.server import serve

        await self.load()
        host = host if host is not None else self.config.serve.host
        port = port if port is not None else self.config.serve.port
        try:
            self._server = await serve(
                self._handle, host, port,
                process_request=make_process_request(lambda: self.api_keys),
                logger=redacted_logger("localvox.serve.ws"), max_size=2**20,
                max_queue=32, ping_interval=20, ping_timeout=20)
        except OSError as err:
            raise ConfigError(f"cannot listen on {host}:{port}: {err.strerror or err}; "
                              "pick another --port") from None
        sock = self._server.sockets[0].getsockname()
        self.address = (str(sock[0]), int(sock[1]))
        log.info("localvox serve listening on ws://%s:%d", *self.address)
        return self.address

    async def _handle(self, ws: Any) -> None:
        if len(self.sessions) >= self.max_sessions:
            await ws.close(1008, "concurrency limit reached")
            return
        path, query = split_path(ws.request.path)
        session: Any
        if path == TTS_PATH:
            session = TtsSession(ws, self.synthesizer, timeout_s=parse_tts_query(query))
        elif path in (STT_PATH, STT_LEGACY_PATH):
            params = parse_stt_query(path, query, encodings=SUPPORTED_ENCODINGS)
            session = SttSession(ws, self.transcriber, params,
                                 max_segment_s=self.max_session_audio_s)
        else:  # process_request already answered 404; never reached
            await ws.close(1008, "no such endpoint")
            return
        self.sessions.add(session)
        try:
            await session.run()
        finally:
            self.sessions.discard(session)

    async def close(self) -> None:
        """Graceful shutdown: stop accepting, close every socket (1001), wait for sessions."""
        if self._server is None:
            return
        self._server.close(close_connections=True)
        await self._server.wait_closed()
        self._server = None

    async def serve_until(self, stop: asyncio.Event) -> None:
        await stop.wait()
        await self.close()
