"""WAV files: read any common format into 16 kHz mono, write, and use as source or sink.

Reading accepts 8/16/24/32-bit PCM and 32-bit float WAV at any rate and channel count
(the stdlib ``wave`` module handles only PCM, so the header is parsed here). Anything
else (empty, truncated, not RIFF, compressed) is an ``AudioFileError`` with one line.
"""

from __future__ import annotations

import asyncio
import struct
import time
import wave
from pathlib import Path
from typing import AsyncIterator

import numpy as np

from localvox.audio.base import SAMPLE_RATE, AudioFrame, resample, to_int16
from localvox.errors import AudioFileError


def _parse_riff(data: bytes, name: str) -> tuple[int, int, int, int, bytes]:
    """Return (format_tag, channels, rate, bits, pcm_bytes) from a RIFF/WAVE blob."""
    if len(data) == 0:
        raise AudioFileError(f"{name}: file is empty")
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioFileError(f"{name}: not a WAV file (no RIFF/WAVE header)")
    pos, fmt, pcm = 12, None, None
    while pos + 8 <= len(data):
        chunk_id, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if chunk_id == b"fmt ":
            if len(body) < 16:
                raise AudioFileError(f"{name}: truncated WAV format chunk")
            tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            if tag == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: real tag in the GUID
                tag = struct.unpack("<H", body[24:26])[0]
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            pcm = body  # a truncated file just has fewer samples than it claims
            break
        pos += 8 + size + (size & 1)
    if fmt is None:
        raise AudioFileError(f"{name}: WAV has no format chunk (truncated or corrupt)")
    if pcm is None:
        raise AudioFileError(f"{name}: WAV has no audio data (truncated or corrupt)")
    return (*fmt, pcm)


def decode_wav_bytes(data: bytes, name: str = "audio") -> tuple[np.ndarray, int]:
    """Decode WAV bytes to (float32 array shaped [frames, channels], sample_rate)."""
    tag, channels, rate, bits, pcm = _parse_riff(data, name)
    if channels < 1 or rate < 1000 or rate > 384000:
        raise AudioFileError(f"{name}: implausible WAV header ({channels} channels, {rate} Hz)")
    width = bits // 8
    if tag == 1 and bits in (8, 16, 24, 32):
        usable = len(pcm) - len(pcm) % (width * channels)
        raw = pcm[:usable]
        if bits == 8:
            x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
        elif bits == 16:
            x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
        elif bits == 24:
            b = np.frombuffer(raw, np.uint8).reshape(-1, 3)
            ints = (b[:, 0].astype(np.int32) | (b[:, 1].astype(np.int32) << 8)
                    | (b[:, 2].astype(np.int32) << 16))
            ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
            x = ints.astype(np.float32) / float(1 << 23)
        else:
            x = np.frombuffer(raw, "<i4").astype(np.float32) / float(1 << 31)
    elif tag == 3 and bits in (32, 64):
        usable = len(pcm) - len(pcm) % (width * channels)
        x = np.frombuffer(pcm[:usable], "<f4" if bits == 32 else "<f8").astype(np.float32)
        x = np.nan_to_num(np.clip(x, -1.0, 1.0))
    else:
        raise AudioFileError(f"{name}: unsupported WAV encoding (format {tag}, {bits}-bit); "
                             "convert it to PCM, e.g. `sox in.wav -b 16 out.wav`")
    return x.reshape(-1, channels), rate


def to_mono_16k(x: np.ndarray, rate: int) -> np.ndarray:
    mono = x.mean(axis=1) if x.ndim == 2 else x
    return resample(mono.astype(np.float32), rate, SAMPLE_RATE)


def read_wav(path: str | Path) -> np.ndarray:
    """Read a WAV file as 16 kHz mono float32."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise AudioFileError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise AudioFileError(f"{p}: is a directory, not a WAV file") from None
    except OSError as err:
        raise AudioFileError(f"{p}: cannot read ({err.strerror})") from None
    x, rate = decode_wav_bytes(data, str(p))
    return to_mono_16k(x, rate)


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write mono float32 samples as 16-bit PCM."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(p), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(to_int16(np.asarray(samples, dtype=np.float32)).tobytes())


class WavSource:
    """Frames from a WAV file: paced like a microphone (``realtime``) or as fast as possible.

    ``tail_silence_s`` of silence is appended so the endpointer sees the end of the last
    utterance, as it would with a live microphone.
    """

    def __init__(self, path: str | Path | None = None, *, samples: np.ndarray | None = None,
                 frame_ms: int = 32, realtime: bool = False, tail_silence_s: float = 1.5,
                 speed: float = 1.0) -> None:
        if samples is None:
            if path is None:
                raise ValueError("WavSource needs a path or samples")
            samples = read_wav(path)
        self.name = f"wav:{path}" if path else "wav:<memory>"
        tail = np.zeros(int(tail_silence_s * SAMPLE_RATE), dtype=np.float32)
        self.samples = np.concatenate([samples.astype(np.float32), tail])
        self.frame_len = SAMPLE_RATE * frame_ms // 1000
        self.realtime = realtime
        self.speed = speed
        self._closed = False

    async def frames(self) -> AsyncIterator[AudioFrame]:
        t0 = time.monotonic()
        for i in range(0, len(self.samples), self.frame_len):
            if self._closed:
                return
            chunk = self.samples[i:i + self.frame_len]
            if len(chunk) < self.frame_len:
                chunk = np.pad(chunk, (0, self.frame_len - len(chunk)))
            start = i / SAMPLE_RATE
            if self.realtime:
                delay = t0 + start / self.speed - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)
            yield AudioFrame(chunk, start)

    async def close(self) -> None:
        self._closed = True


class WavSink:
    """Collects everything played and writes it to a WAV file on close (16 kHz mono)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else None
        self.name = f"wav:{path}" if path else "memory"
        self.chunks: list[np.ndarray] = []
        self.samples_played = 0
        self.stops = 0

    async def play(self, samples: np.ndarray, sample_rate: int) -> None:
        x = resample(np.asarray(samples, dtype=np.float32), sample_rate, SAMPLE_RATE)
        self.chunks.append(x)
        self.samples_played += len(x)
        await asyncio.sleep(0)

    async def drain(self) -> None:
        await asyncio.sleep(0)

    async def stop(self) -> None:
        self.stops += 1

    def audio(self) -> np.ndarray:
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.float32)

    async def close(self) -> None:
        if self.path is not None:
            write_wav(self.path, self.audio())
