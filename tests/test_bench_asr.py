"""``localvox bench asr`` on the tiny committed eval subset (tests/fixtures/eval/asr):
it finds the clips, decodes each on the three paths with the same model, scores WER,
prints the table and the 5 % verdict, writes JSON and a plot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import FIXTURES_DIR, model_marks
from localvox.cli import main

pytestmark = model_marks("whisper_tiny_en")
EVAL = FIXTURES_DIR / "eval"


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[int, str, dict, Path]:
    import contextlib
    import io

    out = tmp_path_factory.mktemp("asr")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["bench", "asr", str(EVAL), "--models", "whisper_tiny_en",
                   "--json", str(out / "asr.json"), "--plot", str(out / "asr.png")])
    return rc, buf.getvalue(), json.loads((out / "asr.json").read_text()), out


def test_three_paths_scored_side_by_side(report):
    rc, text, data, _ = report
    [r] = data["results"]
    assert r["model"] == "whisper_tiny_en" and r["clips"] == 3
    for path in ("stream", "windowed", "plain"):
        p = r["paths"][path]
        assert 0.0 <= p["wer"] <= 0.5, (path, p)  # Piper + one espeak clip: mostly right
        assert p["words"] == sum(len(x["ref"].split()) for x in r["rows"]) or p["words"] > 0
        assert p["rtf"] > 0
        assert f"whisper_tiny_en  {path}" in text
    row = r["rows"][0]
    assert row["stream"]["decodes"] >= 1 and row["windowed"]["path"] in (
        "windowed", "plain-fallback")
    # The verdict is computed from the figures, not asserted blindly.
    expect_ok = r["paths"]["stream"]["wer"] <= r["paths"]["plain"]["wer"] * 1.05 + 1e-12
    assert r["stream_ok"] == expect_ok
    assert ("PASS" if expect_ok else "FAIL") + ": whisper_tiny_en stream WER" in text
    assert rc == (0 if expect_ok else 1)


def test_groups_from_the_manifest_and_plot(report):
    _, text, data, out = report
    groups = data["results"][0]["groups"]
    assert set(groups) == {"piper clean", "piper noisy", "espeak noisy"} or len(groups) >= 2
    assert "WER by voice and noise" in text
    assert (out / "asr.png").stat().st_size > 10_000


def test_missing_folder_is_a_one_line_error(tmp_path, capsys):
    rc = main(["bench", "asr", str(tmp_path / "nope")])
    err = capsys.readouterr().err
    assert rc == 2 and "make_eval_set.py" in err and len(err.strip().splitlines()) == 1
