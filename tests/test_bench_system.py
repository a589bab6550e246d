"""``localvox bench system``: the child process really starts the engine and measures; the
parent times the cold start. One short run (1 cold start, 3 s idle, no LLM) keeps CI fast;
the figures themselves are reported by the bench, not asserted."""

from __future__ import annotations

import json

import pytest

from conftest import model_marks
from localvox.cli import main

pytestmark = model_marks("whisper_tiny_en", "silero_vad", "piper_joe_medium", "hey_jarvis")


def test_system_bench_measures_in_a_child(tmp_path, capsys):
    rc = main(["bench", "system", "--runs", "1", "--idle-s", "3", "--no-llm",
               "--json", str(tmp_path / "s.json"), "--plot", str(tmp_path / "s.png")])
    out = capsys.readouterr().out
    data = json.loads((tmp_path / "s.json").read_text())
    [run] = data["runs"]
    assert run["state"] == "sleeping"                      # wake mode: listening for it
    assert 0 < run["imports_s"] < run["cold_start_s"]
    assert 50 < run["rss_all_models_mb"] < 8000
    assert run["idle_wall_s"] == pytest.approx(3, abs=1.0)
    assert run["wake_frames"] >= 60                        # ~94 frames of 32 ms in 3 s
    assert 0 <= run["idle_cpu_pct"] < 200
    checks = data["targets_met"]
    assert checks["rss"] == (data["rss_all_models_mb"] <= 2048)
    assert rc == (0 if all(checks.values()) else 1)
    assert "cold start to listening" in out and (tmp_path / "s.png").stat().st_size > 5000
