"""Echo cancellation on simulated laptop rooms, with real speech and the real detectors.

Piper (the packaged voice) speaks the assistant's reply and the user's "stop"; the room
simulator puts the reply through a laptop speaker and a reverberant room, louder than the
user. Barge-in is judged by Silero VAD with the engine's rule on the *cleaned* signal.
Each test also checks the raw microphone, so it fails if the canceller does nothing.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import load_fixture, model_marks
from localvox.audio import room_sim as rs
from localvox.echo import EchoCanceller
from localvox.echo.bargein import barge_ins
from localvox.echo.evaluate import erle_db, run_canceller, speech_onset, vad_probs

pytestmark = model_marks("piper_joe_medium", "silero_vad")

SR = rs.SR
# Barge-in rules: the engine's half-duplex default, and the full-duplex one (the [vad]
# threshold) that echo cancellation makes possible.
RULES = [(0.85, 160), (0.5, 160)]
ROOMS = [rs.ROOMS[1], rs.ROOMS[3]]  # office (drift) and kitchen_loud (loud, non-linear)


@pytest.fixture(scope="module")
def speech() -> dict[str, np.ndarray]:
    a = rs.piper_speech(rs.ASSISTANT_LINES[:2])
    u = rs.piper_speech(["Wait, stop talking."], pitch=1.12)
    gap = np.zeros(SR // 4, np.float32)
    return {"reply": np.concatenate([a[0], gap, a[1]]) * 0.5, "stop": u[0]}


# Openings of the long reply (rotation in s) that leak a false barge-in in the living room
# under the plain full-duplex rule (found by ``localvox bench echo``'s opening sweep).
OPENINGS = [4.85, 7.76, 13.58]


@pytest.fixture(scope="module")
def long_reply() -> np.ndarray:
    """The benchmark's ~20 s reply: every assistant line, 0.25 s apart."""
    gap = np.zeros(SR // 4, np.float32)
    return np.concatenate([np.concatenate([a, gap])
                           for a in rs.piper_speech(rs.ASSISTANT_LINES)]) * 0.5


@pytest.fixture(scope="module")
def vad():
    from localvox.config import load_config
    from localvox.registry import create

    return create("vad", "silero", load_config(use_user_file=False))


@pytest.mark.parametrize("room", ROOMS, ids=lambda r: r.name)
def test_own_reply_never_triggers_barge_in(room, speech, vad) -> None:
    scene = rs.simulate(room, speech["reply"])
    cleaned = run_canceller(scene, EchoCanceller()).out
    for thr, min_ms in RULES:
        raw = barge_ins(vad_probs(vad, scene.mic), 0.032, thr, min_ms)
        assert raw, "the raw microphone should trigger barge-in (else the test proves nothing)"
        assert barge_ins(vad_probs(vad, cleaned), 0.032, thr, min_ms) == []


@pytest.mark.parametrize("room", ROOMS, ids=lambda r: r.name)
def test_user_stop_over_the_reply_triggers_barge_in(room, speech, vad) -> None:
    start = 4.0
    scene = rs.simulate(room, speech["reply"], [(start, speech["stop"])])
    cleaned = run_canceller(scene, EchoCanceller()).out
    onset = speech_onset(speech["stop"], start)
    fires = barge_ins(vad_probs(vad, cleaned), 0.032, 0.5, 160)
    assert [f for f in fires if f.at_s < onset] == []  # nothing before the user spoke
    hits = [f for f in fires if onset <= f.at_s <= start + len(speech["stop"]) / SR + 0.3]
    assert hits, "the user's 'stop' was not detected on the cleaned signal"
    assert hits[0].at_s < start + len(speech["stop"]) / SR  # while the user still speaks


def test_filter_reconverges_after_a_delay_jump(speech) -> None:
    room = rs.Room("jump", rt60_s=0.15, delay_ms=60, echo_to_user_db=6, seed=11)
    reply = np.concatenate([speech["reply"], speech["reply"]])
    jump = 6.0
    scene = rs.simulate(room, reply, jump_at_s=jump, jump_ms=45.0)
    ec = EchoCanceller(suppress=False)  # the linear filter alone: what has to re-learn
    cl = run_canceller(scene, ec)
    before = erle_db(scene.mic, cl.out, scene.echo, 0, start_s=jump - 2.5, end_s=jump)
    just_after = erle_db(scene.mic, cl.out, scene.echo, 0, start_s=jump, end_s=jump + 0.3)
    after = erle_db(scene.mic, cl.out, scene.echo, 0, start_s=jump + 2.5, end_s=jump + 5.0)
    assert before > 12.0
    assert just_after < before - 6.0  # the jump really broke the alignment
    assert after > before - 3.0  # and the tracker + filter recovered
    assert abs(cl.delay_ms - (room.delay_ms + 45.0)) < 2.0


def test_reply_saying_the_wake_word_does_not_wake_the_assistant(speech) -> None:
    pytest.importorskip("localvox.wake.openwakeword")
    from conftest import missing_models

    if missing_models("hey_jarvis", "oww_melspectrogram", "oww_embedding"):
        pytest.skip("wake word model packs missing")
    from localvox.config import load_config
    from localvox.registry import create

    config = load_config(use_user_file=False)
    wake_clip = load_fixture("hey_jarvis").astype(np.float32)
    wake_clip = 0.5 * wake_clip / (np.max(np.abs(wake_clip)) + 1e-9)
    gap = np.zeros(SR // 4, np.float32)
    reply = np.concatenate([speech["reply"][: 4 * SR], gap, wake_clip, gap,
                            speech["reply"][4 * SR : 6 * SR]])
    scene = rs.simulate(rs.ROOMS[1], reply)
    cleaned = run_canceller(scene, EchoCanceller()).out

    def detections(x: np.ndarray) -> int:
        det = create("wake", "openwakeword", config)
        hits = 0
        for i in range(0, len(x) - 1279, 1280):
            if det.process(x[i : i + 1280], (i + 1280) / SR) is not None:
                hits += 1
        return hits

    assert detections(scene.mic) >= 1, "raw mic should wake (else the test proves nothing)"
    assert detections(cleaned) == 0


def test_canceller_claims_full_duplex_only_after_proving_itself(speech) -> None:
    """The engine applies the normal barge-in threshold only once ``full_duplex`` is True."""
    scene = rs.simulate(rs.ROOMS[1], speech["reply"])
    cl = run_canceller(scene, EchoCanceller())
    flags = cl.full_duplex
    assert not flags[: int(EchoCanceller.proven_after_s / 0.032)].any()
    assert flags[-1], "after a whole reply the canceller should have proven itself"
    first = int(np.argmax(flags))
    assert flags[first:].all()  # once proven it stays proven (same room, same device)


@pytest.mark.parametrize("rotation_s", OPENINGS, ids=lambda s: f"at_{s:g}s")
def test_reply_openings_do_not_trigger_barge_in_under_the_engine_rule(rotation_s, long_reply,
                                                                      vad) -> None:
    """The first seconds of a first reply, when the canceller is still learning the room.

    These openings leak a false barge-in under the normal (full-duplex) threshold; the
    engine's rule -- the half-duplex threshold until the canceller claims full duplex --
    must not fire on any of them.
    """
    from localvox.config import load_config

    half = load_config(use_user_file=False).pipeline.barge_in_threshold
    opening = np.roll(long_reply, -int(rotation_s * SR))[: 4 * SR]
    scene = rs.simulate(rs.ROOMS[2], opening)
    cl = run_canceller(scene, EchoCanceller())
    probs = vad_probs(vad, cl.out)
    assert barge_ins(probs, 0.032, 0.5, 160), "ungated rule should fire (else this proves nothing)"
    assert barge_ins(probs, 0.032, 0.5, 160, half_duplex_threshold=half,
                     full_duplex=cl.full_duplex) == []


# First-reply openings (room, rotation in s) that leaked a false barge-in under the engine's
# rule until the suppressor modelled the reverberation past the filter (``echo.reverb``).
TAIL_LEAKS = [(rs.ROOMS[2], 16 * 0.97), (rs.ROOMS[3], 12 * 0.97)]


@pytest.mark.parametrize("room,rotation_s", TAIL_LEAKS, ids=lambda v: getattr(v, "name", ""))
def test_reverb_tail_model_closes_opening_leaks(room, rotation_s, long_reply, vad,
                                               monkeypatch) -> None:
    """The room rings past the 128 ms filter; without a model of that tail these leak."""
    from localvox.config import load_config
    from localvox.echo.reverb import ReverbTail

    half = load_config(use_user_file=False).pipeline.barge_in_threshold
    scene = rs.simulate(room, np.roll(long_reply, -int(rotation_s * SR))[: 4 * SR])

    def engine_rule_fires() -> bool:
        cl = run_canceller(scene, EchoCanceller())
        return bool(barge_ins(vad_probs(vad, cl.out), 0.032, 0.5, 160,
                              half_duplex_threshold=half, full_duplex=cl.full_duplex))

    assert not engine_rule_fires()
    monkeypatch.setattr(ReverbTail, "update", lambda self, W, X: np.zeros(W.shape[1]))
    assert engine_rule_fires(), "without the tail model this opening should leak"
