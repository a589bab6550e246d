"""`localvox --text`: the line-based mode on the real engine, through the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.models


def _run(args: list[str], stdin: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "XDG_STATE_HOME": str(tmp_path / "state"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    return subprocess.run([sys.executable, "-m", "localvox", *args], input=stdin,
                          capture_output=True, text=True, timeout=600, env=env)


def test_piped_question_is_answered_in_text_mode(tmp_path: Path) -> None:
    out = _run(["--text", "--no-wake"], "What is 12 times 7?\nthanks\n", tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "you: What is 12 times 7?" in lines
    reply = next(line for line in lines if line.startswith("localvox:"))
    assert "84" in reply
    assert sum(line.startswith("localvox:") for line in lines) == 2  # one reply per line
    assert "Traceback" not in out.stderr


def test_text_mode_with_wav_input_answers_the_recording(tmp_path: Path) -> None:
    fixture = Path(__file__).parent / "fixtures" / "wake_then_question.wav"
    out = _run(["--text", "--input", str(fixture), "--output", str(tmp_path / "r.wav")], "",
               tmp_path)
    assert out.returncode == 0, out.stderr
    assert "you:" in out.stdout and "localvox:" in out.stdout
    assert (tmp_path / "r.wav").stat().st_size > 10_000


def test_timer_rings_in_text_mode(tmp_path: Path) -> None:
    """`localvox --text` without a sound card: the timer's announcement is printed when it
    rings, 2 s after it was set, while the session is open (issue #15: nothing came)."""
    import select
    import time

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "XDG_STATE_HOME": str(tmp_path / "state"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    proc = subprocess.Popen([sys.executable, "-m", "localvox", "--text", "--no-wake",
                             "--set", f'agent.notes_db="{tmp_path / "n.db"}"'],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("set a timer for 2 seconds\n")
    proc.stdin.flush()
    lines: list[str] = []
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and not any("timer is done" in x for x in lines):
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if ready:
                line = proc.stdout.readline()
                if not line:
                    break
                lines.append(line.rstrip("\n"))
    finally:
        proc.stdin.close()
        proc.wait(timeout=120)
    assert "localvox: Timer set for 2 seconds." in lines, lines
    assert "localvox: Your 2 second timer is done." in lines, lines
    assert proc.returncode == 0
