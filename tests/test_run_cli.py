"""``localvox run`` end to end with the real models on Piper-made recordings."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from localvox.cli import main
from localvox.pipeline.trace import VOICE_MARKS

from conftest import fixture_layout, needs_models  # type: ignore[import-not-found]

SPEECH_MODELS = ("whisper_tiny_en", "piper_joe_medium", "silero_vad", "smollm2_135m")


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]+", " ", text.lower()).split())


def test_missing_input_is_one_line_error(tmp_path, capsys):
    code = main(["run", "--input", str(tmp_path / "nope.wav"), "--no-wake"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0 and "nope.wav" in err and "no such file" in err


@pytest.mark.models
@needs_models(*SPEECH_MODELS, "hey_jarvis", "oww_melspectrogram", "oww_embedding")
def test_wake_then_question_transcript_spoken_reply_and_full_trace(tmp_path, capsys):
    from localvox.audio.wav import read_wav

    out, trace = tmp_path / "reply.wav", tmp_path / "turns.jsonl"
    code = main(["run", "--input", "tests/fixtures/wake_then_question.wav",
                 "--output", str(out), "--trace", str(trace)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "wake word hey_jarvis" in printed
    you = [line[5:] for line in printed.splitlines() if line.startswith("you: ")]
    assert [_norm(t) for t in you] == ["what time is it"]
    replies = [line for line in printed.splitlines() if line.startswith("localvox: ")]
    assert len(replies) == 1 and re.search(r"\d", replies[0])     # "It's 9:41 PM."
    # The reply was spoken: reply.wav holds speech that Whisper reads back as the answer.
    audio = read_wav(out)
    assert len(audio) > 0.5 * 16000 and float(np.sqrt(np.mean(audio ** 2))) > 0.01
    from localvox import registry
    from localvox.config import load_config

    asr = registry.create("asr", "whisper", load_config(use_user_file=False))
    import asyncio

    heard = asyncio.run(asr.transcribe(audio)).text
    spoken = _norm(replies[0][len("localvox: "):])
    assert set(_norm(heard).split()) & set(spoken.split()), (heard, spoken)
    # One trace line with every milestone of a spoken turn, in causal order.
    (line,) = [json.loads(x) for x in trace.read_text().splitlines()]
    marks = line["marks"]
    assert set(VOICE_MARKS) <= set(marks), sorted(marks)
    assert marks["speech_start"] < marks["speech_end"] < marks["endpoint"] \
        <= marks["final_transcript"] <= marks["first_audio_out"] < marks["playback_end"]
    assert _norm(line["text"]) == "what time is it" and not line["interrupted"]
    assert line["latency_ms"]["voice_to_voice"] > 0
    # speech_end is the end of "What time is it?" in the recording (within a few frames).
    layout = fixture_layout("wake_then_question")
    true_end = layout["segments"][1]["end"] / 16000
    start = layout["segments"][1]["start"] / 16000
    assert marks["speech_end"] - marks["speech_start"] == pytest.approx(true_end - start,
                                                                          abs=0.25)


@pytest.mark.models
@needs_models(*SPEECH_MODELS)
def test_two_questions_separated_by_silence_are_both_answered(tmp_path, capsys):
    """1.5 s between the questions: the second starts while the first is answered. As in
    real time, it barges in (or, when the first final transcript comes late on a loaded
    machine, continues the same turn); both are heard, in order, and no two replies play
    at once."""
    trace = tmp_path / "turns.jsonl"
    code = main(["run", "--input", "tests/fixtures/two_questions.wav", "--no-wake",
                 "--output", str(tmp_path / "r.wav"), "--trace", str(trace)])
    printed = capsys.readouterr().out
    assert code == 0
    you = " ".join(_norm(line[5:]) for line in printed.splitlines()
                   if line.startswith("you: "))
    assert you == "what time is it what is the weather like today"
    lines = [json.loads(x) for x in trace.read_text().splitlines()]
    for a, b in zip(lines, lines[1:]):
        ended = a["marks"].get("playback_end", a["marks"].get("interrupt"))
        assert ended is not None and ended <= b["marks"]["first_audio_out"]


WAKE_MODELS = ("hey_jarvis", "oww_melspectrogram", "oww_embedding")


@pytest.mark.models
@needs_models(*SPEECH_MODELS, *WAKE_MODELS)
@pytest.mark.parametrize("mode", ["--fast", "--realtime"])
def test_follow_up_without_wake_word_is_heard_in_both_modes(tmp_path, capsys, mode):
    """Issue #15 part 1: "Hey Jarvis. What is 12 times 7?", the reply, then "And what is
    that plus one?" 4.25 s after the reply's last sample (``follow_up_s`` = 5). Fast mode
    used to give one turn (it held the input through the reply, then re-based the clock:
    the follow-up fell outside the window); real time gave two, with the follow-up's
    speech_end read early by the reply's length (endpoint wait 3.4 s)."""
    trace = tmp_path / "turns.jsonl"
    code = main(["run", mode, "--input", "tests/fixtures/follow_up.wav", "--trace", str(trace)])
    printed = capsys.readouterr().out
    assert code == 0
    you = [_norm(line[5:]) for line in printed.splitlines() if line.startswith("you: ")]
    assert len(you) == 2 and you[0] == "what is 12 times 7", printed
    assert you[1].startswith("and what is that plus"), printed
    first, follow = [json.loads(x) for x in trace.read_text().splitlines()]
    # Both speech ends sit where the recording has them, on one clock: nothing was
    # compressed (fast mode) and the endpointer did not lag after the reply (real time).
    seg = fixture_layout("follow_up")["segments"]
    gap = (seg[2]["end"] - seg[1]["end"]) / 16000
    assert follow["marks"]["speech_end"] - first["marks"]["speech_end"] == \
        pytest.approx(gap, abs=0.15)
    # The follow-up began inside the window opened by the end of playback. (On a machine
    # so loaded that the first reply takes over 4.9 s, the recording's follow-up comes
    # while it still plays: it barges in instead, still a second turn.)
    if not first["interrupted"]:
        after_reply = follow["marks"]["speech_start"] - first["marks"]["playback_end"]
        assert 0.0 < after_reply < 5.0, after_reply


@pytest.mark.models
@needs_models(*SPEECH_MODELS)
@pytest.mark.parametrize("mode", ["--fast", "--realtime"])
def test_timer_set_by_voice_rings_during_the_run(tmp_path, capsys, mode):
    """Issue #15 part 2: "Set a timer for 1 second." then 10 s of the recording: the timer
    rings (spoken, printed) in both modes. Fast mode reads the input in real time while a
    timer is pending, so it rings where it would live."""
    code = main(["run", mode, "--no-wake", "--input", "tests/fixtures/timer_request.wav",
                 "--trace", str(tmp_path / "t.jsonl")])
    printed = capsys.readouterr().out.splitlines()
    assert code == 0
    assert "localvox: Timer set for 1 second." in printed, printed
    assert "localvox: Your 1 second timer is done." in printed, printed
    records = [json.loads(x) for x in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert [r["source"] for r in records] == ["voice", "agent"]
    assert records[1]["marks"]["first_audio_out"] > records[0]["marks"]["playback_end"]
