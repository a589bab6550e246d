"""A real-terminal smoke test: `localvox --no-wake` in tmux with a WAV as microphone."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.models
ROOT = Path(__file__).resolve().parent.parent


def _capture(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                          text=True).stdout


@pytest.mark.skipif(shutil.which("tmux") is None,
                    reason="tmux is not installed (scripts/setup.sh installs it with apt-get)")
def test_tui_in_tmux_answers_a_recorded_question(tmp_path: Path) -> None:
    session = f"localvox-{uuid.uuid4().hex[:8]}"
    env = {"HF_HUB_OFFLINE": "1", "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "XDG_STATE_HOME": str(tmp_path / "state"), "XDG_DATA_HOME": str(tmp_path / "data"),
           "TERM": "xterm-256color"}
    exports = " ".join(f"{k}={v}" for k, v in env.items())
    command = (f"cd {ROOT} && env {exports} {sys.executable} -m localvox --no-wake "
               f"--input tests/fixtures/what_time.wav --output {tmp_path / 'reply.wav'}")
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "32", command],
                   check=True, env={**os.environ, **env})
    screen = ""
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            screen = _capture(session)
            if "what time is it" in screen.lower() and "voice→voice" in screen:
                break
            time.sleep(0.5)
        assert "what time is it" in screen.lower(), screen
        assert "voice→voice" in screen, screen
        assert "Stop speaking" in screen  # the footer shows the keys
        subprocess.run(["tmux", "send-keys", "-t", session, "C-q"], check=True)
        for _ in range(40):
            if subprocess.run(["tmux", "has-session", "-t", session],
                              capture_output=True).returncode != 0:
                break
            time.sleep(0.25)
        else:
            pytest.fail("localvox did not quit on Ctrl+Q")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
