"""``localvox bench echo`` end to end on one room, one trial and two reply openings.

The full run takes minutes; this checks the report's figures are measured and consistent
(the opening sweep counts with and without the full-duplex gate, the engine's rule is the
one applied), not their values.
"""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from conftest import model_marks
from localvox.cli import main

pytestmark = model_marks("piper_joe_medium", "silero_vad")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("echo") / "e.json"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["bench", "echo", "--rooms", "office", "--trials", "1", "--openings", "2",
                   "--no-asr", "--json", str(out)])
    return rc, buf.getvalue(), json.loads(out.read_text())


def test_report_has_measured_figures(report) -> None:
    rc, text, data = report
    assert rc == 0
    (room,) = data["rooms"]
    assert room["room"] == "office"
    assert room["openings"]["seconds"] == 8.0
    assert room["openings"]["gated"] <= room["openings"]["ungated"] <= 2
    assert room["false_barge_ins_raw"] > 0  # the echo is there to be removed
    assert room["erle_db"] > 20.0
    s = data["summary"]
    assert s["openings"] == 2 and s["trials"] == 1
    assert 0.0 <= s["barge_in_detected"] <= 1.0
    assert abs(room["estimated_delay_ms"] - room["delay_ms"]) < 3.0
    assert "reply openings" in text and "later reply" in text


def test_unknown_room_is_one_clear_error(capsys) -> None:
    rc = main(["bench", "echo", "--rooms", "attic"])
    assert rc != 0
    assert "unknown room(s) attic" in capsys.readouterr().err
