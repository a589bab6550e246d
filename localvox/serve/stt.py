"""One Pulse-protocol STT session of ``localvox serve``, backed by the shared local Transcriber.

Why a reader and a worker: the reader keeps draining the socket (so ``finalize`` and
``close_stream`` are seen promptly and the client is never blocked on TCP) while the worker
feeds audio to the ``TranscriptStream`` and decodes partials; they share a small bounded
queue, so a client that sends faster than we decode is slowed by TCP back-pressure instead
of growing memory. A segment longer than ``max_segment_s`` is auto-finalized (as Pulse
does), which bounds what one session can hold.

Protocol (spec section 1): partial ``transcription`` frames whenever the backend has a fresh
one (about every 0.5 s of new audio); ``finalize`` -> one ``is_final`` + ``from_finalize``
final and the socket stays open; ``close_stream`` (or legacy ``end``) -> final with
``is_last`` and then the server closes. A malformed frame gets an error frame; the session
goes on.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from typing import Any

import numpy as np

from localvox.audio.base import resample
from localvox.cloud.protocol import (
    ProtocolError, SttParams, dumps, parse_stt_control, pcm16_to_float, stt_error_message,
    transcription_message,
)

log = logging.getLogger("localvox.serve")

QUEUE_FRAMES = 64
"""Audio frames buffered between reader and worker (~8 s of 4 KB frames at 16 kHz)."""
_PUNCT = re.compile(r"[.,!?;:\"]")


def shape_text(text: str, params: SttParams) -> str:
    """Apply the ``punctuate``/``capitalize`` switches to a Whisper transcript."""
    text = text.strip()
    if not params.punctuate:
        text = re.sub(r"\s+", " ", _PUNCT.sub("", text)).strip()
    if not params.capitalize:
        text = text.lower()
    return text


class SttSession:
    """Serve one socket until ``close_stream``, a client drop, or shutdown."""

    def __init__(self, ws: Any, transcriber: Any, params: SttParams, *,
                 max_segment_s: float = 120.0) -> None:
        self.ws = ws
        self.transcriber = transcriber
        self.params = params
        self.max_segment_s = max_segment_s
        self.session_id = uuid.uuid4().hex
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(QUEUE_FRAMES)
        self.tasks: list[asyncio.Task[Any]] = []
        self.bytes_in = 0
        self._carry = b""
        self._stream: Any = None
        self._segment_s = 0.0
        self._finals: list[str] = []

    async def run(self) -> None:
        from websockets.exceptions import ConnectionClosed

        worker = asyncio.create_task(self._work(), name=f"stt-worker-{self.session_id[:8]}")
        self.tasks.append(worker)
        closing = False
        try:
            closing = await self._read()
            if closing:
                await worker
        except ConnectionClosed:
            pass
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
            if self._stream is not None:
                stream, self._stream = self._stream, None
                try:
                    await stream.cancel()
                except Exception:  # the backend's cleanup failing must not hurt the server
                    log.exception("cancelling a transcript stream failed")

    async def _send(self, msg: dict[str, Any]) -> None:
        await self.ws.send(dumps(msg))

    async def _read(self) -> bool:
        """Pump frames into the queue; True when the client asked to close the stream."""
        async for raw in self.ws:
            if isinstance(raw, bytes):
                self.bytes_in += len(raw)
                samples = self._decode(raw)
                if samples is not None:
                    await self.queue.put(("audio", samples))
                continue
            try:
                control = parse_stt_control(raw)
            except ProtocolError as err:
                await self._send(stt_error_message(str(err)))
                continue
            await self.queue.put((control, None))
            if control == "close_stream":
                return True
        return False

    def _decode(self, raw: bytes) -> np.ndarray | None:
        data = self._carry + raw
        cut = len(data) - (len(data) % 2)  # a frame may split a sample: keep the odd byte
        self._carry = data[cut:]
        if cut == 0:
            return None
        samples = pcm16_to_float(data[:cut])
        if self.params.sample_rate != 16000:
            samples = resample(samples, self.params.sample_rate, 16000)
        return samples

    async def _work(self) -> None:
        try:
            while True:
                kind, samples = await self.queue.get()
                if kind == "audio":
                    await self._feed(samples)
                elif kind == "finalize":
                    await self._final(from_finalize=True)
                else:
                    await self._final(from_finalize=False, is_last=True)
                    await self.ws.close(1000, "close_stream")
                    return
        except asyncio.CancelledError:
            raise
        except Exception as err:
            from websockets.exceptions import ConnectionClosed

            if isinstance(err, ConnectionClosed):
                return
            log.exception("STT session %s failed", self.session_id[:8])
            try:
                await self._send(stt_error_message(f"internal error: {type(err).__name__}"))
                await self.ws.close(1011, "internal error")
            except Exception:  # the socket is already gone
                pass

    async def _feed(self, samples: np.ndarray) -> None:
        if self._stream is None:
            self._stream = self.transcriber.stream()
            self._segment_s = 0.0
        await self._stream.feed(samples)
        self._segment_s += len(samples) / 16000
        if self._segment_s >= self.max_segment_s:
            await self._final(from_finalize=False)  # bounded memory: auto-finalize
            return
        if not self.queue.empty():
            return  # behind real time: skip this partial, catch up on audio first
        part = await self._stream.partial()
        if part is None or not part.text.strip():
            return
        text = shape_text(part.text, self.params)
        if self.params.max_words and len(text.split()) >= self.params.max_words:
            await self._final(from_finalize=False)
            return
        await self._send(transcription_message(self.session_id, text, is_final=False))

    async def _final(self, *, from_finalize: bool, is_last: bool = False) -> None:
        stream, self._stream = self._stream, None
        text = ""
        if stream is not None:
            result = await stream.finish()
            text = shape_text(result.text, self.params)
        if not text and not from_finalize and not is_last:
            return  # an auto-final with nothing in it says nothing
        if text:
            self._finals.append(text)
        full = " ".join(self._finals) if self.params.full_transcript else None
        await self._send(transcription_message(
            self.session_id, text, is_final=True, is_last=is_last, from_finalize=from_finalize,
            language=self.params.language, full_transcript=full))
