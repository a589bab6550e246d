"""The examples in voice mode: a recorded call goes through wake word, ASR, the example's
session and Piper, as `localvox example NAME --input call.wav --output reply.wav` runs it."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import needs_models  # type: ignore[import-not-found]

REPO = Path(__file__).resolve().parent.parent
VOICE_MODELS = ("whisper_tiny_en", "piper_joe_medium", "silero_vad", "smollm2_135m",
                "hey_jarvis", "oww_melspectrogram", "oww_embedding")


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]+", " ", text.lower()).split())


def _call_wav(path: Path, *sentences: str) -> None:
    """Piper speaks each sentence (raised pitch: a caller, not the assistant), with pauses."""
    from localvox.audio.room_sim import piper_speech
    from localvox.audio.wav import write_wav

    gap = np.zeros(int(0.6 * 16000), np.float32)
    parts: list[np.ndarray] = [gap]
    for clip in piper_speech(list(sentences), pitch=1.08):
        parts += [clip, gap]
    parts.append(np.zeros(int(2.5 * 16000), np.float32))  # room for the reply to finish
    write_wav(path, np.concatenate(parts))


def _run_example(tmp_path: Path, name: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_CONFIG_HOME=str(tmp_path / "config"), PYTHONUNBUFFERED="1")
    return subprocess.run(
        [sys.executable, "-m", "localvox", "example", name, "--input", str(tmp_path / "call.wav"),
         "--output", str(tmp_path / "reply.wav"), *extra],
        capture_output=True, text=True, timeout=300, cwd=REPO, env=env)


@pytest.mark.models
@needs_models(*VOICE_MODELS)
def test_bank_example_by_voice_asks_to_verify_and_audits_the_call(tmp_path: Path) -> None:
    from localvox.audio.wav import read_wav

    _call_wav(tmp_path / "call.wav", "Hey Jarvis.",
              "How much did I spend on Amazon since January 2024?")
    proc = _run_example(tmp_path, "bank", "--today", "2025-06-30",
                        "--bank-db", str(tmp_path / "bank.db"),
                        "--audit-db", str(tmp_path / "audit.db"),
                        "--llm-model", "smollm2_135m")  # the deterministic policy's wording
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert any("wake word: hey_jarvis" in line for line in lines), proc.stdout
    heard = [_norm(line[5:]) for line in lines if line.startswith("you: ")]
    assert len(heard) == 1 and {"amazon", "spend"} <= set(heard[0].split()), proc.stdout
    assert lines[0].startswith("[bank greets] Welcome to Localvox Bank"), proc.stdout
    replies = [line for line in lines if line.startswith("localvox: ")]
    # Banking needs a verified caller: the policy asks for the name before any figure.
    assert any("verify your identity" in r and "full name" in r for r in replies), proc.stdout
    assert not any(re.search(r"\brupees?\b", r) for r in replies), proc.stdout
    # The reply was spoken into the output file.
    audio = read_wav(tmp_path / "reply.wav")
    assert float(np.sqrt(np.mean(audio ** 2))) > 0.005 and len(audio) > 16000
    # The audit logger (a background node) recorded the caller's words in SQLite.
    con = sqlite3.connect(tmp_path / "audit.db")
    rows = con.execute("SELECT kind, payload FROM audit_log ORDER BY seq").fetchall()
    con.close()
    kinds = [kind for kind, _ in rows]
    assert kinds[0] == "CALL_START" and kinds[-1] == "CALL_END", kinds
    assert any(kind == "TRANSCRIPT" and "amazon" in payload.lower() for kind, payload in rows)
