"""A short soak in CI (scripts/soak.py --turns 30): spoken and typed turns (and an LLM
chit-chat turn) through the real engine with the default models. Asserted here: every turn
is answered, one trace per turn, no error notices, no leaked file descriptors or open
files. Resident memory and thread counts need the full run to get past warm-up; they are
judged by ``scripts/soak.py`` (500 turns, exit status) and reported, not by this test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import model_marks

ROOT = Path(__file__).resolve().parent.parent
pytestmark = model_marks("whisper_tiny_en", "silero_vad", "piper_joe_medium", "smollm2_135m")


def test_short_soak(tmp_path):
    out = tmp_path / "soak.json"
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "soak.py"), "--turns", "30",
                        "--json", str(out)], capture_output=True, text=True, cwd=ROOT,
                       timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1",
                                         "XDG_STATE_HOME": str(tmp_path)})
    assert out.is_file(), p.stdout[-2000:] + p.stderr[-2000:]
    data = json.loads(out.read_text())
    assert data["turns"] == 30 and data["counts"]["spoken"] >= 10 and data["counts"]["chat"] >= 1
    assert data["traces"] == 30
    problems = [f for f in data["failures"]
                if not f.startswith(("RSS grew", "threads "))]
    assert not problems, problems
    assert data["end"]["fds"] <= data["after_warm_up"]["fds"]
    assert data["end"]["open_files"] <= data["after_warm_up"]["open_files"]
    assert len(data["rss_curve_mb"]) == 30 and "RSS (MB)" in p.stdout
