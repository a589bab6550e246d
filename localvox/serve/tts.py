"""One Lightning-protocol TTS session of ``localvox serve``, backed by the shared Synthesizer.

Why a reader and a worker: text keeps arriving (``continue: true`` pieces from an LLM)
while earlier sentences are being synthesised. The reader validates each frame (a bad one
gets an error frame; the socket stays open), buffers text per request and hands complete
sentences to the worker as soon as they exist, so the first audio does not wait for
``flush``. The worker synthesises, resamples Piper's native rate to the requested
``sample_rate`` and sends base64 pcm_s16le ``chunk`` frames, then ``complete`` when the
request's last piece is done. The socket stays open for the next request.

Idle timeout (spec 2.1): the ``timeout`` query parameter, default 60 s, restarted by every
client message and paused while a request is still being synthesised; when it fires the
documented error frame is sent and the socket closed. If the client goes away, the worker
is cancelled at once: the sentence in Piper's thread finishes, nothing after it runs.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any

from localvox.audio.base import resample
from localvox.cloud.lightning_protocol import (
    TtsRequest, idle_timeout_message, parse_tts_request, tts_chunk_frame, tts_complete_frame,
    tts_error_frame,
)
from localvox.cloud.protocol import ProtocolError, dumps, float_to_pcm16

log = logging.getLogger("localvox.serve")

CHUNK_S = 0.2
"""Audio per ``chunk`` frame."""
MAX_BUFFER_CHARS = 20000
"""Text one request may buffer before it must be flushed (bounded memory)."""
_SENTENCE_END = re.compile(r"^(.*[.!?;:])\s+", re.S)


@dataclass
class _Request:
    id: str
    first: TtsRequest
    buffer: str = ""


@dataclass(frozen=True)
class _Work:
    req: _Request
    text: str
    end: bool = False


def split_ready(buffer: str) -> tuple[str, str]:
    """(complete sentences ready to speak, the unfinished rest) of streamed text."""
    m = _SENTENCE_END.match(buffer)
    if not m:
        return "", buffer
    return m.group(1), buffer[m.end():]


class TtsSession:
    """Serve one socket until the client leaves, the idle timeout fires, or shutdown."""

    def __init__(self, ws: Any, synthesizer: Any, *, timeout_s: float = 60.0) -> None:
        self.ws = ws
        self.synthesizer = synthesizer
        self.timeout_s = timeout_s
        self.session_id = "ws_" + uuid.uuid4().hex
        self.queue: asyncio.Queue[_Work] = asyncio.Queue()
        self.tasks: list[asyncio.Task[Any]] = []
        self._req: _Request | None = None
        self._busy = 0
        self.requests_done = 0

    async def run(self) -> None:
        worker = asyncio.create_task(self._work(), name=f"tts-worker-{self.session_id[3:11]}")
        self.tasks.append(worker)
        try:
            await self._read()
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)

    async def _send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(dumps(frame))

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        while True:
            try:
                raw = await asyncio.wait_for(self.ws.recv(), self.timeout_s)
            except asyncio.TimeoutError:
                if self._busy:
                    continue  # still speaking the last request: not idle
                try:
                    await self._send(tts_error_frame(idle_timeout_message(self.timeout_s)))
                    await self.ws.close(1000, "idle timeout")
                except ConnectionClosed:
                    pass
                return
            except ConnectionClosed:
                return
            try:
                await self._handle(raw)
            except ConnectionClosed:
                return

    async def _handle(self, raw: str | bytes) -> None:
        if isinstance(raw, bytes):
            await self._send(tts_error_frame("send JSON text frames; binary frames are not "
                                             "accepted on /waves/v1/tts/live"))
            return
        try:
            msg = parse_tts_request(raw)
        except ProtocolError as err:
            await self._send(tts_error_frame(str(err)))
            return
        req = self._req
        if req is None:
            req = self._req = _Request(id="task_" + uuid.uuid4().hex, first=msg)
        if len(req.buffer) + len(msg.text) > MAX_BUFFER_CHARS:
            await self._send(tts_error_frame(f"too much text buffered (over {MAX_BUFFER_CHARS} "
                                             "characters): send flush"))
            return
        req.buffer += msg.text
        if not msg.ends_request:
            ready, req.buffer = split_ready(req.buffer)
            if ready.strip():
                self._put(_Work(req, ready))
            return
        self._req = None
        self._put(_Work(req, req.buffer))
        self._put(_Work(req, "", end=True))
        req.buffer = ""

    def _put(self, work: _Work) -> None:
        self._busy += 1
        self.queue.put_nowait(work)

    async def _work(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                work = await self.queue.get()
                try:
                    if work.end:
                        first = work.req.first
                        await self._send(tts_complete_frame(
                            self.session_id, work.req.id, ext_session=first.session_id,
                            ext_request=first.request_id))
                        self.requests_done += 1
                    elif work.text.strip():
                        await self._speak(work)
                finally:
                    self._busy -= 1
        except ConnectionClosed:
            return
        except asyncio.CancelledError:
            raise
        except Exception as err:
            log.exception("TTS session %s failed", self.session_id)
            try:
                await self._send(tts_error_frame(f"synthesis failed: {type(err).__name__}"))
                await self.ws.close(1011, "internal error")
            except ConnectionClosed:
                pass

    async def _speak(self, work: _Work) -> None:
        first = work.req.first
        rate = first.sample_rate
        step = int(rate * CHUNK_S)
        gen = self.synthesizer.synthesize(work.text)
        try:
            async for chunk in gen:
                audio = resample(chunk.samples, chunk.sample_rate, rate)
                for i in range(0, len(audio), step):
                    pcm = float_to_pcm16(audio[i:i + step])
                    await self._send(tts_chunk_frame(self.session_id, work.req.id, pcm,
                                                     ext_session=first.session_id,
                                                     ext_request=first.request_id))
        finally:
            aclose = getattr(gen, "aclose", None)
            if aclose is not None:
                await aclose()
