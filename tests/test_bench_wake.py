"""``localvox bench wake``: the committed synthetic subset, and a small set laid out like
../shared/speech (real "alexa" clips, real coffee orders and read speech, real noise)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import FIXTURES_DIR, model_marks, needs_speech
from localvox.bench.wake import accepted, at_fa_rate, fires
from localvox.bench.wake_set import speech_root
from localvox.cli import main
from localvox.wake.base import Verdict
from localvox.wake.two_stage import Check

pytestmark = model_marks("hey_jarvis", "alexa", "oww_melspectrogram", "oww_embedding",
                         "whisper_tiny_en")
SPEECH = speech_root(None)


def bench(args, out):
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["bench", "wake", *args, "--json", str(out / "w.json"),
                   "--plot", str(out / "w.png")])
    return rc, buf.getvalue(), json.loads((out / "w.json").read_text())


def test_synthetic_subset(tmp_path):
    rc, text, data = bench([str(FIXTURES_DIR / "eval")], tmp_path)
    assert rc == 0
    manifest = json.loads((FIXTURES_DIR / "eval" / "wake" / "manifest.json").read_text())
    assert data["positives"] == len(manifest["positive"]) == 2
    # The Piper positive is the packaged voice saying "Hey Jarvis": both stages find it.
    piper = next(r for r in data["positive_rows"] if "piper" in r["clip"])
    assert piper["detected"] and any("jarvis" in h.lower() for h in piper["heard"])
    assert data["negative_hours"] == pytest.approx(8.0 / 3600, rel=0.01)
    two = data["operating"]["two stages"]
    assert two["all"]["n"] == 2 and 0.0 <= two["delay_p50_s"] < 1.0
    for name in ("stage one alone", "two stages", "Porcupine (Picovoice, published)"):
        assert name in text
    assert "miss rate at a fixed false-accept rate" in text
    assert (tmp_path / "w.png").stat().st_size > 10_000


@needs_speech(SPEECH is not None)
def test_real_layout_positives_clean_and_noisy_negatives_per_condition(tmp_path):
    from localvox.audio.wav import read_wav, write_wav

    root = tmp_path / "speech"
    for rel in ("wake/alexa/0.wav", "wake/alexa/10.wav",
                "intent/coffee/0075d273-51bb-47cb-b323-4437bd0de029.wav",
                "asr/ljspeech/LJ001-0002.wav"):
        write_wav(root / rel, read_wav(SPEECH / rel))
    for stem in ("kitchen", "doing_the_dishes", "exercise_bike"):
        write_wav(root / "noise" / f"{stem}.wav", read_wav(SPEECH / "noise" / f"{stem}.wav")[:80000])
    rc, text, data = bench([str(root), "--model", "alexa"], tmp_path)
    assert rc == 0
    # Each real clip clean and with kitchen noise at 10 dB; halves alternate.
    rows = data["positive_rows"]
    assert [(r["clip"], r["condition"], r["half"]) for r in rows] == [
        ("alexa/0.wav", "clean", "A"), ("alexa/0.wav", "kitchen 10 dB", "A"),
        ("alexa/10.wav", "clean", "B"), ("alexa/10.wav", "kitchen 10 dB", "B")]
    assert all(r["detected"] for r in rows)
    assert data["operating"]["two stages"]["false_accepts"] == 0
    # Negatives: the two speech clips (6.8 s + 1.9 s) played in 4 conditions with gaps,
    # plus the three 5 s noise files alone.
    speech_s = 6.8 + 1.9
    assert data["distinct_negative_minutes"] == pytest.approx(speech_s / 60, rel=0.01)
    assert 4 * speech_s + 15 < 3600 * data["negative_hours"] < 4 * (speech_s + 2.4) + 15
    assert "played 4 times" in data["set"] and "half A" in text


def test_fires_applies_threshold_and_refractory():
    scores = [(0.08 * i, s) for i, s in enumerate([0.1, 0.6, 0.7, 0.2, 0.1] + [0.0] * 30
                                                   + [0.9])]
    assert fires(scores, 0.5, 2.0) == [0.08, 0.08 * 35]
    assert fires(scores, 0.95, 2.0) == []


def test_two_stage_sweep_counts_accepted_checks_at_their_stage_one_score():
    yes, no = Verdict(True, 1.0, "Alexa", 0.1), Verdict(False, 0.2, "a latte", 0.1)
    checks = [Check(1.0, 0.05, no), Check(1.24, 0.3, yes), Check(2.0, 0.9, yes),
              Check(5.0, 0.04, yes)]
    assert [c.at_s for c in accepted(checks, 0.02, 2.0)] == [1.24, 5.0]
    assert [c.at_s for c in accepted(checks, 0.5, 2.0)] == [2.0]


def test_fixed_fa_rate_is_honest_about_the_hours():
    pts = [{"threshold": t, "miss_rate": m, "false_accepts": fa}
           for t, m, fa in ((0.1, 0.01, 3), (0.3, 0.02, 1), (0.6, 0.05, 0))]
    one = at_fa_rate(pts, 1.0, 1.5)           # 1 per hour on 1.5 h: one false accept allowed
    assert one["allowed"] == 1 and one["measurable"] and one["point"]["threshold"] == 0.3
    tenth = at_fa_rate(pts, 0.1, 1.5)         # 1 per 10 h cannot be seen on 1.5 h
    assert tenth["allowed"] == 0 and not tenth["measurable"]
    assert tenth["point"]["threshold"] == 0.6
    assert tenth["upper_bound_per_hour"] == pytest.approx(3.0 / 1.5)
    assert np.isfinite(tenth["upper_bound_per_hour"])
