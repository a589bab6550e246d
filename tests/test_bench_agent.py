"""``localvox bench agent``: a user's agent file against the built-in assistant, end to end.

It measures nothing here (speed belongs in the bench's own output); it checks the bench runs
both agents on the same spoken clip and prints the side-by-side ratio. It broke once when a
helper it imported from ``bench.latency`` moved, with no test to say so.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import model_marks

pytestmark = model_marks("whisper_tiny_en", "piper_joe_medium", "silero_vad",
                         "qwen2_5_coder_1_5b")

REPO = Path(__file__).resolve().parent.parent


def test_bench_agent_runs_the_user_file_beside_the_builtin(tmp_path: Path) -> None:
    env = dict(os.environ, HF_HUB_OFFLINE="1", XDG_DATA_HOME=str(tmp_path),
               XDG_CONFIG_HOME=str(tmp_path), XDG_STATE_HOME=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "localvox", "bench", "agent", "--turns", "1",
                           "--json", str(tmp_path / "agent.json")],
                          capture_output=True, text=True, timeout=600, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "built-in assistant (anchor)" in proc.stdout, proc.stdout
    assert "minimal_agent.py" in proc.stdout and "agent / built-in p50 =" in proc.stdout
    assert (tmp_path / "agent.json").is_file()
