"""WAV reading: any common rate/width/channels to 16 kHz mono; bad files are one-line errors."""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np
import pytest

from localvox.audio.wav import WavSink, WavSource, read_wav, write_wav
from localvox.errors import AudioFileError


def _tone(rate: int, seconds: float = 0.5, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _write_pcm(path: Path, x: np.ndarray, rate: int, width: int, channels: int) -> None:
    frames = np.repeat(x[:, None], channels, axis=1).reshape(-1)
    if width == 1:
        raw = (frames * 127 + 128).astype(np.uint8).tobytes()
    elif width == 2:
        raw = (frames * 32767).astype("<i2").tobytes()
    elif width == 3:
        ints = (frames * (2**23 - 1)).astype(np.int32)
        raw = b"".join(struct.pack("<i", v)[:3] for v in ints)
    else:
        raw = (frames * (2**31 - 1)).astype("<i4").tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(raw)


def _dominant_freq(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x))
    return float(np.argmax(spectrum) * 16000 / len(x))


@pytest.mark.parametrize("rate, width, channels", [
    (16000, 2, 1), (8000, 1, 1), (44100, 2, 2), (48000, 3, 1), (96000, 4, 2), (22050, 2, 1),
])
def test_common_formats_convert_to_16k_mono(tmp_path: Path, rate: int, width: int,
                                            channels: int) -> None:
    p = tmp_path / "in.wav"
    _write_pcm(p, _tone(rate), rate, width, channels)
    x = read_wav(p)
    assert x.dtype == np.float32
    assert abs(len(x) - 8000) <= 2  # 0.5 s at 16 kHz
    assert abs(_dominant_freq(x) - 440.0) < 5.0
    assert 0.3 < np.max(np.abs(x)) < 0.6


def test_float32_wav(tmp_path: Path) -> None:
    x = _tone(32000)
    data = x.astype("<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, 32000, 32000 * 4, 4, 32)
    blob = (b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data)) + b"WAVE"
            + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data)
    p = tmp_path / "f.wav"
    p.write_bytes(blob)
    assert abs(_dominant_freq(read_wav(p)) - 440.0) < 5.0


@pytest.mark.parametrize("content, fragment", [
    (b"", "empty"),
    (b"hello, this is not audio at all", "not a WAV"),
    (b"RIFF\x10\x00\x00\x00WAVEfmt ", "no format chunk"),
])
def test_bad_files_are_one_line_errors(tmp_path: Path, content: bytes, fragment: str) -> None:
    p = tmp_path / "bad.wav"
    p.write_bytes(content)
    with pytest.raises(AudioFileError) as err:
        read_wav(p)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_truncated_file_reads_what_is_there(tmp_path: Path) -> None:
    p = tmp_path / "t.wav"
    _write_pcm(p, _tone(16000, 1.0), 16000, 2, 1)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2 + 1])  # cut mid-sample
    x = read_wav(p)
    assert 7000 < len(x) < 8100


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(AudioFileError, match="no such file"):
        read_wav(tmp_path / "nope.wav")
    with pytest.raises(AudioFileError, match="directory"):
        read_wav(tmp_path)


def test_unsupported_encoding(tmp_path: Path) -> None:
    fmt = struct.pack("<HHIIHH", 6, 1, 8000, 8000, 1, 8)  # A-law
    blob = (b"RIFF" + struct.pack("<I", 36 + 4) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
            + b"data" + struct.pack("<I", 4) + b"\x00" * 4)
    p = tmp_path / "alaw.wav"
    p.write_bytes(blob)
    with pytest.raises(AudioFileError, match="unsupported WAV encoding"):
        read_wav(p)


def test_write_then_read_round_trip(tmp_path: Path) -> None:
    x = _tone(16000)
    write_wav(tmp_path / "o.wav", x)
    y = read_wav(tmp_path / "o.wav")
    assert np.max(np.abs(x - y)) < 1e-3


async def test_wav_source_frames_and_tail(tmp_path: Path) -> None:
    x = _tone(16000, 1.0)
    src = WavSource(samples=x, frame_ms=32, tail_silence_s=0.5)
    frames = [f async for f in src.frames()]
    assert all(len(f.samples) == 512 for f in frames)
    assert frames[1].start_s == pytest.approx(0.032)
    assert sum(len(f.samples) for f in frames) >= 24000
    assert frames[-1].rms() == 0.0  # the tail is silence


async def test_wav_sink_collects_and_writes(tmp_path: Path) -> None:
    sink = WavSink(tmp_path / "out.wav")
    await sink.play(_tone(22050), 22050)
    await sink.close()
    y = read_wav(tmp_path / "out.wav")
    assert abs(len(y) - 8000) < 5 and abs(_dominant_freq(y) - 440) < 5
