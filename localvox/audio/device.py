"""Sound card I/O through sounddevice (PortAudio): ``MicSource`` and ``SpeakerSink``.

Why it looks like this:

* ``sounddevice`` is imported only inside functions (``portaudio``, which also lists,
  chooses and probes devices). Importing it raises ``OSError`` when libportaudio2 is
  missing; that, a PortAudio failure, or a machine with no devices all become one
  ``AudioDeviceError`` line ("no sound card found (...); running in text mode") that the
  CLI and TUI turn into text mode instead of a crash.
* The microphone opens at the device's own rate when 16 kHz is not supported, and
  ``StreamResampler`` (``resampler``) converts block by block without seams (a polyphase
  filter run on overlapping windows), so VAD and ASR always see 16 kHz mono.
* PortAudio calls back on its own thread; blocks cross to the event loop with
  ``loop.call_soon_threadsafe`` into an ``asyncio.Queue`` (no shared mutable state).
* The speaker pulls ``[audio] playback_block_ms`` blocks from a ``PlaybackBuffer`` in its
  callback, so ``stop()`` (which clears the buffer) silences it within one block plus the
  device latency, ~20-50 ms.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, AsyncIterator, Literal

import numpy as np

from localvox.audio.base import SAMPLE_RATE, AudioFrame, resample
from localvox.audio.clocked import PlaybackBuffer
from localvox.audio.portaudio import (find_device, first_line, import_sounddevice,
                                      list_devices, pick_rate)
from localvox.audio.resampler import StreamResampler
from localvox.errors import AudioDeviceError

if TYPE_CHECKING:
    from localvox.config import Config

# ``list_devices`` is re-exported: the TUI's settings screen imports it from here.
__all__ = ["MicSource", "SpeakerSink", "create", "create_sink", "create_source",
           "list_devices"]


# --------------------------------------------------------------------------------------
# Microphone
# --------------------------------------------------------------------------------------
class MicSource:
    """``AudioSource`` on a PortAudio input device: 16 kHz mono float32 frames.

    Args:
        device: "" (system default), an index ("3" or 3) or part of the device name.
        frame_ms: size of the frames yielded (``[audio] frame_ms``).
        max_queue: callback blocks buffered before the oldest are dropped (counted in
            ``overruns``): a stalled consumer must not grow memory without bound.

    The device is looked up on construction, so a machine without a microphone fails
    here with ``AudioDeviceError`` (-> text mode); the stream opens when ``frames()``
    starts. ``start_s`` of each frame counts samples, so it is continuous even when
    blocks are dropped.
    """

    def __init__(self, device: str | int = "", *, frame_ms: int = 32,
                 max_queue: int = 200) -> None:
        self.device_spec = device
        self.frame_len = SAMPLE_RATE * frame_ms // 1000
        self.max_queue = max_queue
        self.overruns = 0
        self.device = find_device(device, "input")
        self.name = f"mic:{self.device.name}"
        self.device_rate = 0
        self._stream: Any = None
        self._queue: asyncio.Queue[np.ndarray | None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def open(self) -> None:
        """Open the input stream (idempotent); called from ``frames()`` on the event loop."""
        if self._stream is not None:
            return
        sd = import_sounddevice()
        self.device_rate = pick_rate(sd, self.device, "input", 1)
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        try:
            self._stream = sd.InputStream(
                device=self.device.index, samplerate=self.device_rate, channels=1,
                dtype="float32", blocksize=self.device_rate * 20 // 1000,
                latency="low", callback=self._callback)
            self._stream.start()
        except Exception as err:
            self._stream = None
            raise AudioDeviceError(f"cannot open microphone {self.device.name!r}: "
                                   f"{first_line(err)}") from None

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        # PortAudio's thread: copy (indata is reused) and hand over to the event loop.
        block = np.array(indata[:, 0] if indata.ndim == 2 else indata, dtype=np.float32)
        loop = self._loop
        if loop is not None:
            try:
                loop.call_soon_threadsafe(self._enqueue, block)
            except RuntimeError:  # the loop closed while the device was still running
                pass

    def _enqueue(self, block: np.ndarray | None) -> None:
        q = self._queue
        if q is None:
            return
        if block is not None and q.qsize() >= self.max_queue:
            q.get_nowait()
            self.overruns += 1
        q.put_nowait(block)

    async def frames(self) -> AsyncIterator[AudioFrame]:
        self.open()
        assert self._queue is not None
        resampler = StreamResampler(self.device_rate, SAMPLE_RATE)
        pending = np.zeros(0, dtype=np.float32)
        pos = 0
        while not self._closed:
            block = await self._queue.get()
            if block is None:
                break
            x = resampler.process(block)
            pending = np.concatenate([pending, x]) if pending.size else x
            while pending.size >= self.frame_len:
                frame, pending = pending[:self.frame_len], pending[self.frame_len:]
                yield AudioFrame(frame, pos / SAMPLE_RATE)
                pos += self.frame_len

    async def close(self) -> None:
        self._closed = True
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:
                pass
        if self._queue is not None:
            self._enqueue(None)


# --------------------------------------------------------------------------------------
# Speaker
# --------------------------------------------------------------------------------------
class SpeakerSink:
    """``AudioSink`` on a PortAudio output device, stoppable within ~one block.

    Args:
        device: "" (system default), an index or part of the device name.
        block_ms: playback block (``[audio] playback_block_ms``); ``stop()`` takes effect
            at the next block.

    Attributes:
        samples_played: audio handed to the device, in 16 kHz samples (same unit as the
            other sinks), counted in the callback as it goes out.
        first_audio_at: ``time.monotonic()`` of the first block of the current playback.

    The device is looked up on construction (``AudioDeviceError`` if there is none);
    the stream opens on the first ``play``.
    """

    def __init__(self, device: str | int = "", *, block_ms: int = 20) -> None:
        self.device_spec = device
        self.block_ms = block_ms
        self.device = find_device(device, "output")
        self.name = f"speaker:{self.device.name}"
        self.samples_played = 0
        self.samples_dropped = 0
        self.stops = 0
        self.underflows = 0
        self.first_audio_at: float | None = None
        self.device_rate = int(self.device.default_samplerate) or SAMPLE_RATE
        self._frames_out = 0
        self._buffer = PlaybackBuffer()
        self._stream: Any = None
        self._channels = 1

    def open(self) -> None:
        """Open the output stream (idempotent); raises ``AudioDeviceError``."""
        if self._stream is not None:
            return
        sd = import_sounddevice()
        last: Exception | None = None
        for channels in (1, 2):
            try:
                self._channels = channels
                self._stream = sd.OutputStream(
                    device=self.device.index, samplerate=self.device_rate,
                    channels=channels, dtype="float32",
                    blocksize=max(1, self.device_rate * self.block_ms // 1000),
                    latency="low", callback=self._callback)
                self._stream.start()
                return
            except Exception as err:
                self._stream = None
                last = err
        raise AudioDeviceError(f"cannot open speaker {self.device.name!r}: "
                               f"{first_line(last) if last else 'unknown error'}")

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        block = self._buffer.pull(frames)
        n = block.size
        outdata[:n] = block[:, None]
        outdata[n:] = 0.0
        if n:
            if self.first_audio_at is None:
                self.first_audio_at = time.monotonic()
            self._frames_out += n
            self.samples_played = self._frames_out * SAMPLE_RATE // self.device_rate
        if status and getattr(status, "output_underflow", False):
            self.underflows += 1

    async def play(self, samples: np.ndarray, sample_rate: int) -> None:
        self.open()
        x = resample(np.asarray(samples, dtype=np.float32).reshape(-1), sample_rate,
                     self.device_rate)
        self._buffer.push(x)
        await asyncio.sleep(0)

    async def drain(self) -> None:
        period = self.block_ms / 1000
        while self._buffer.queued > 0 and self._stream is not None:
            await asyncio.sleep(period / 2)
        # The last block pulled is still in the device's buffer for about one period.
        await asyncio.sleep(period)

    async def stop(self) -> None:
        self.stops += 1
        dropped = self._buffer.clear()
        if self.device_rate:
            self.samples_dropped += dropped * SAMPLE_RATE // self.device_rate
        self.first_audio_at = None

    @property
    def playing(self) -> bool:
        return self._buffer.queued > 0

    async def close(self) -> None:
        self._buffer.clear()
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:
                pass


# --------------------------------------------------------------------------------------
# Factories
# --------------------------------------------------------------------------------------
def create_source(config: "Config", **kw: Any) -> MicSource:
    """The microphone from ``[audio] input_device`` (``AudioDeviceError`` if none)."""
    args: dict[str, Any] = {"frame_ms": config.audio.frame_ms}
    args.update(kw)
    return MicSource(config.audio.input_device, **args)


def create_sink(config: "Config", **kw: Any) -> SpeakerSink:
    """The speaker from ``[audio] output_device`` (``AudioDeviceError`` if none)."""
    args: dict[str, Any] = {"block_ms": config.audio.playback_block_ms}
    args.update(kw)
    return SpeakerSink(config.audio.output_device, **args)


def create(config: "Config", *, kind: Literal["source", "sink"] = "source",
           **kw: Any) -> MicSource | SpeakerSink:
    """``registry.create("audio", "device", config, kind=...)``: a microphone or a speaker."""
    return create_source(config, **kw) if kind == "source" else create_sink(config, **kw)
