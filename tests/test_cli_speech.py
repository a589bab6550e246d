"""`localvox say` and `localvox transcribe` through the installed command, offline."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import needs_models

ROOT = Path(__file__).resolve().parent.parent
LOCALVOX = ROOT / ".venv" / "bin" / "localvox"


def localvox(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    exe = [str(LOCALVOX)] if LOCALVOX.exists() else [sys.executable, "-m", "localvox"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", XDG_CONFIG_HOME=str(cwd or ROOT / "tests"))
    return subprocess.run([*exe, *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]", " ", text.lower()).split()


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("localvox: ")
    assert "Traceback" not in proc.stderr
    return lines[0]


@pytest.mark.parametrize("content,message", [
    (b"", "file is empty"),
    (b"this is just some text, not audio\n", "not a WAV file"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt ", "no format chunk"),
])
def test_transcribe_bad_file_is_one_line_error(tmp_path: Path, content: bytes,
                                               message: str) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(content)
    assert message in one_line_error(localvox("transcribe", str(bad), cwd=tmp_path))


def test_transcribe_missing_file(tmp_path: Path) -> None:
    assert "no such file" in one_line_error(
        localvox("transcribe", str(tmp_path / "nope.wav"), cwd=tmp_path))


def test_say_needs_text(tmp_path: Path) -> None:
    assert "nothing to say" in one_line_error(
        localvox("say", "  ", "-o", str(tmp_path / "x.wav"), cwd=tmp_path))


speech_models = needs_models("whisper_tiny_en", "piper_joe_medium")


@pytest.fixture(scope="module")
def hello_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("say") / "h.wav"
    proc = localvox("say", "Hello there", "-o", str(out), cwd=out.parent)
    assert proc.returncode == 0, proc.stderr
    return out


@speech_models
def test_say_then_transcribe_round_trip(hello_wav: Path) -> None:
    import wave

    with wave.open(str(hello_wav)) as w:
        assert w.getframerate() == 22050 and w.getnchannels() == 1
        assert 0.4 < w.getnframes() / 22050 < 2.0
    proc = localvox("transcribe", str(hello_wav), cwd=hello_wav.parent)
    assert proc.returncode == 0, proc.stderr
    assert words(proc.stdout) == ["hello", "there"]
    assert proc.stdout.strip() == "Hello there."


@speech_models
def test_transcribe_plain_and_verbose(hello_wav: Path) -> None:
    windowed = localvox("transcribe", "-v", str(hello_wav), cwd=hello_wav.parent)
    plain = localvox("transcribe", "--plain", "-v", str(hello_wav), cwd=hello_wav.parent)
    assert windowed.returncode == plain.returncode == 0
    assert words(windowed.stdout) == words(plain.stdout) == ["hello", "there"]
    assert "(windowed, 4 s window" in windowed.stderr
    assert "(plain, 30 s window" in plain.stderr


@speech_models
def test_transcribe_converts_any_wav_format(tmp_path: Path, hello_wav: Path) -> None:
    """A 44.1 kHz stereo 24-bit copy of the clip transcribes the same."""
    import numpy as np

    from localvox.audio.base import resample
    from localvox.audio.wav import decode_wav_bytes

    x, rate = decode_wav_bytes(hello_wav.read_bytes())
    y = resample(x[:, 0], rate, 44100)
    ints = (np.clip(y, -1, 1) * (2 ** 23 - 1)).astype("<i4")
    stereo = np.repeat(ints, 2)
    raw = b"".join(int(v).to_bytes(4, "little", signed=True)[:3] for v in stereo)
    import struct

    fmt = struct.pack("<HHIIHH", 1, 2, 44100, 44100 * 6, 6, 24)
    data = (b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(raw)) + b"WAVE"
            + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data"
            + struct.pack("<I", len(raw)) + raw)
    path = tmp_path / "hello_44k_stereo_24.wav"
    path.write_bytes(data)
    proc = localvox("transcribe", str(path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert words(proc.stdout) == ["hello", "there"]


@needs_models("piper_joe_medium")
def test_say_without_output_explains_when_there_is_no_speaker(tmp_path: Path) -> None:
    from localvox.audio.portaudio import probe
    from localvox.config import load_config

    ok, _ = probe(load_config(use_user_file=False))
    if ok:
        pytest.skip("a sound card is present: `say` would play")
    line = one_line_error(localvox("say", "Hello", cwd=tmp_path))
    assert "-o FILE.wav" in line
