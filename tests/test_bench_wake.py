"""``localvox bench wake`` on the tiny committed wake subset: positives with known phrase
ends, a negative clip; miss rate, false accepts per hour, delay, the threshold sweep."""

from __future__ import annotations

import json

import pytest

from conftest import FIXTURES_DIR, model_marks
from localvox.bench.wake import fires
from localvox.cli import main

pytestmark = model_marks("hey_jarvis", "oww_melspectrogram", "oww_embedding")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    import contextlib
    import io

    out = tmp_path_factory.mktemp("wake")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["bench", "wake", str(FIXTURES_DIR / "eval"), "--json",
                   str(out / "w.json"), "--plot", str(out / "w.png")])
    return rc, buf.getvalue(), json.loads((out / "w.json").read_text()), out


def test_figures(report):
    rc, text, data, out = report
    assert rc == 0
    manifest = json.loads((FIXTURES_DIR / "eval" / "wake" / "manifest.json").read_text())
    assert data["positives"] == len(manifest["positive"]) == 2
    # The Piper positive is the packaged voice saying "Hey Jarvis": it must be found,
    # shortly after the phrase ends.
    piper = next(r for r in data["positive_rows"] if "piper" in r["file"])
    assert piper["detected"] and 0.0 <= piper["delay_s"] < 1.0
    assert data["miss_rate"] == sum(not r["detected"] for r in data["positive_rows"]) / 2
    assert data["negative_hours"] == pytest.approx(8.0 / 3600, rel=0.01)
    assert data["false_accepts_per_hour"] == data["false_accepts"] / data["negative_hours"]
    assert "false accepts / hour" in text and "threshold sweep" in text
    assert (out / "w.png").stat().st_size > 10_000


def test_fires_applies_threshold_and_refractory():
    scores = [(0.08 * i, s) for i, s in enumerate([0.1, 0.6, 0.7, 0.2, 0.1] + [0.0] * 30
                                                   + [0.9])]
    assert fires(scores, 0.5, 2.0) == [0.08, 0.08 * 35]
    assert fires(scores, 0.95, 2.0) == []
