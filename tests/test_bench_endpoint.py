"""``localvox bench endpoint``'s replay: each named policy runs the real endpointer with
that policy's config (Smart Turn alone, "agree", another hysteresis), on scripted VAD
probabilities, a scripted partial transcript and a scripted Smart Turn."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from localvox.bench.endpoint import summarize
from localvox.bench.endpoint_data import SR, Utt
from localvox.bench.endpoint_replay import FRAME, ReplayCache, replay
from localvox.config import load_config

FRAME_MS = FRAME * 1000 / SR
SPEECH = [0.0] * 5 + [0.9] * 30


class Asr:
    def __init__(self, text: str) -> None:
        self.text = text

    def decode(self, audio: np.ndarray) -> SimpleNamespace:
        return SimpleNamespace(text=self.text, decode_s=0.0)


class Detector:
    name = "scripted"

    def __init__(self, p: float) -> None:
        self.p = p

    def probability(self, audio: np.ndarray) -> float:
        return self.p


def outcome(policy: str, partial: str, p: float = 0.9, probs: list[float] | None = None):
    probs = probs or SPEECH + [0.0] * 60
    utt = Utt("u", "complete", np.zeros(len(probs) * FRAME, np.float32),
              speech_end_s=len(SPEECH) * FRAME / SR)
    parts = SimpleNamespace(asr=Asr(partial))
    return replay(utt, probs, load_config(use_user_file=False), parts, ReplayCache(),
                  policy, Detector(p))


def test_smart_turn_alone_ends_at_its_ask_even_after_a_continuation_word() -> None:
    o = outcome("smart-turn@128", "Set a timer for")
    assert o.reason == "smart_turn" and not o.cut_off
    assert 128 <= o.wait_ms < 128 + 2 * FRAME_MS


def test_agree_lets_the_continuation_word_keep_the_turn_open() -> None:
    cfg = load_config(use_user_file=False).endpoint
    o = outcome("agree@128", "Set a timer for")
    assert o.reason == "silence" and o.wait_ms >= cfg.incomplete_silence_ms


def test_agree_ends_early_on_a_complete_partial() -> None:
    o = outcome("agree@128", "What time is it?")
    assert o.reason == "smart_turn" and o.wait_ms < 128 + 2 * FRAME_MS


def test_a_hysteresis_suffix_changes_where_the_vad_ends_speech() -> None:
    # A 0.4 tail: voiced at the default 0.15 hysteresis (release 0.35), silence at 0.05.
    probs = SPEECH + [0.4] * 10 + [0.0] * 60
    default = outcome("adaptive", "What time is it?", probs=probs)
    small = outcome("adaptive h0.05", "What time is it?", probs=probs)
    assert default.vad_end_ms == pytest.approx(10 * FRAME_MS)
    assert small.vad_end_ms == pytest.approx(0.0)
    s = summarize([default, small], ReplayCache())
    assert [r["policy"] for r in s["rows"]] == ["adaptive", "adaptive h0.05"]
    assert [r["words_clipped"] for r in s["rows"]] == [0, 0]


def test_words_clipped_counts_audio_that_stops_before_the_true_end() -> None:
    from localvox.bench.endpoint_replay import Outcome
    from localvox.vad.endpoint import TAIL_MS

    rows = [Outcome("a", "complete", "x", 300.0, False, False, vad_end_ms=-(TAIL_MS + 20)),
            Outcome("b", "complete", "x", 300.0, False, False, vad_end_ms=-(TAIL_MS - 20)),
            Outcome("c", "complete", "x", None, True, False, vad_end_ms=-2000.0)]
    assert summarize(rows, ReplayCache())["rows"][0]["words_clipped"] == 1


def test_the_replay_forces_the_partial_when_the_engine_does() -> None:
    from localvox.bench.endpoint_replay import FORCE_PARTIAL_MS
    from localvox.pipeline.options import EngineOptions

    assert EngineOptions().force_partial_after_ms == FORCE_PARTIAL_MS


def test_a_threshold_suffix_changes_the_smart_turn_threshold() -> None:
    assert outcome("agree@128", "What time is it?", p=0.85).reason == "smart_turn"  # 0.8
    o = outcome("agree@128 t0.9", "What time is it?", p=0.85)
    assert o.reason == "silence" and o.turn_probability == pytest.approx(0.85)


def test_a_reask_suffix_asks_a_not_finished_again() -> None:


    class Rising(Detector):
        def probability(self, audio: np.ndarray) -> float:   # surer with more silence
            return 0.2 if len(audio) < (len(SPEECH) + 6) * FRAME else 0.9

    probs = SPEECH + [0.0] * 60
    utt = Utt("u", "complete", np.zeros(len(probs) * FRAME, np.float32),
              speech_end_s=len(SPEECH) * FRAME / SR)
    parts = SimpleNamespace(asr=Asr("What is the weather like today?"))
    config = load_config(use_user_file=False)
    once = replay(utt, probs, config, parts, ReplayCache(), "agree@128", Rising(0))
    again = replay(utt, probs, config, parts, ReplayCache(), "agree@128 r256", Rising(0))
    assert once.reason == "silence" and once.wait_ms >= config.endpoint.unfinished_silence_ms
    assert again.reason == "smart_turn" and again.wait_ms < 256 + 2 * FRAME_MS
