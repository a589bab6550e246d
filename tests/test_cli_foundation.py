"""The CLI surface: --help stays light, --version, models, doctor, config errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from localvox import __version__

HEAVY = ("ctranslate2", "faster_whisper", "onnxruntime", "llama_cpp", "piper", "sounddevice",
         "textual", "websockets", "httpx")


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "localvox", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


def test_help_imports_no_heavy_library() -> None:
    code = ("import sys\nfrom localvox.cli import build_parser\nbuild_parser()[0].format_help()\n"
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_help_lists_commands() -> None:
    out = _cli("--help")
    assert out.returncode == 0
    for command in ("models", "doctor", "bench"):
        assert command in out.stdout


def test_version() -> None:
    out = _cli("--version")
    assert out.stdout.strip() == f"localvox {__version__}"


def test_bad_config_is_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[wake]\nthreshhold = 0.3\n")
    out = _cli("models", "--config", str(bad))
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0
    assert "wake.threshhold" in out.stderr and "Traceback" not in out.stderr


def test_set_flag_is_validated() -> None:
    out = _cli("models", "--set", "wake.threshold=loud")
    assert out.returncode == 2 and "wake.threshold" in out.stderr


@pytest.mark.models
def test_models_table_shows_every_default_ok(tmp_path: Path) -> None:
    out = _cli("models", env={"XDG_CACHE_HOME": str(tmp_path)})
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[:5] == ["id", "kind", "source", "size", "status"]
    rows = {line.split()[0]: line for line in lines[1:] if line.strip()}
    for model_id in ("whisper_tiny_en", "whisper_base", "piper_joe_medium", "hey_jarvis",
                     "silero_vad", "smollm2_135m", "gemma3_270m"):
        assert rows[model_id].rstrip().endswith("ok"), rows[model_id]
    # The split model was joined into this cache; deleting it makes `models` join it again.
    joined = tmp_path / "localvox" / "models" / "whisper_base" / "model.bin"
    assert joined.is_file()
    joined.unlink()
    again = _cli("models", env={"XDG_CACHE_HOME": str(tmp_path)})
    assert again.returncode == 0 and joined.is_file()


def test_models_reports_missing_pack_with_install_hint(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[models]\nsmollm2_135m = "{tmp_path / "gone.gguf"}"\n')
    out = _cli("models", "--config", str(cfg), env={"XDG_CACHE_HOME": str(tmp_path)})
    assert out.returncode == 1
    row = next(line for line in out.stdout.splitlines() if line.startswith("smollm2_135m"))
    assert "missing" in row and "does not exist" in row


@pytest.mark.models
def test_doctor_without_sound_card_is_a_warning(tmp_path: Path) -> None:
    out = _cli("doctor", env={"XDG_CACHE_HOME": str(tmp_path)})
    assert "[FAIL] model" not in out.stdout
    assert "audio" in out.stdout
    assert "Traceback" not in out.stderr
    assert "model wake verifier" in out.stdout and "model end of turn" in out.stdout


def test_doctor_names_a_missing_verifier_or_end_of_turn_model(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[models]\nwhisper_tiny_en = "{tmp_path / "gone"}"\n'
                   f'smart_turn_v3_2 = "{tmp_path / "gone.onnx"}"\n')
    out = _cli("doctor", "--config", str(cfg), env={"XDG_CACHE_HOME": str(tmp_path)})
    lines = out.stdout.splitlines()
    assert any("model wake verifier" in line and "FAIL" in line for line in lines), out.stdout
    assert any("model end of turn" in line and "FAIL" in line for line in lines), out.stdout
    assert "Traceback" not in out.stderr
