"""Endpointing: the adaptive end-of-turn rule, the state machine, and real speech.

The synthetic tests drive ``Endpointer`` with hand-written probabilities so every
boundary is exact; the model tests run Silero over the Piper fixtures and check sample
positions against ``layout.json`` (no transcription needed).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fixture_layout, load_fixture, needs_models

from localvox.audio.base import SAMPLE_RATE
from localvox.config import EndpointConfig, load_config
from localvox.vad.endpoint import Endpointer, create
from localvox.vad.endpoint_events import SpeechBegan, SpeechDiscarded, SpeechEnded
from localvox.vad.endpoint_rule import endpoint_silence_ms, partial_completeness

FRAME = 512  # 32 ms, the default frame
FRAME_MS = FRAME * 1000 / SAMPLE_RATE


@pytest.fixture
def cfg() -> EndpointConfig:
    return load_config(use_user_file=False).endpoint


# -- the rule ------------------------------------------------------------------------------
@pytest.mark.parametrize("text, verdict", [
    ("What time is it?", "complete"),
    ("Thanks.", "complete"),
    ("Turn off the lights!", "complete"),
    ("set a timer for five minutes and", "incomplete"),
    ("Set a timer for five minutes and.", "incomplete"),   # Whisper punctuates fillers too
    ("um", "incomplete"),
    ("Um.", "incomplete"),
    ("What’s", "incomplete"),                              # curly apostrophe
    ("I was wondering if...", "incomplete"),
    ("So I was thinking…", "incomplete"),
    ("Remind me to call mom,", "incomplete"),
    ("My shopping list has eggs -", "incomplete"),
    ("turn on the lights", "unknown"),                     # no punctuation: no evidence
    ("", "unknown"),
    ("   ", "unknown"),
    (None, "unknown"),
    ("...", "unknown"),                                    # nothing heard yet
    ("?!", "unknown"),
])
def test_partial_completeness(text: str | None, verdict: str, cfg: EndpointConfig) -> None:
    assert partial_completeness(text, cfg.continuation_words) == verdict


def test_endpoint_silence_ms_maps_verdicts_to_config(cfg: EndpointConfig) -> None:
    assert endpoint_silence_ms("What time is it?", cfg) == cfg.complete_silence_ms == 400
    assert endpoint_silence_ms("set a timer for five minutes and", cfg) == \
        cfg.incomplete_silence_ms == 1200
    assert endpoint_silence_ms("um", cfg) == cfg.incomplete_silence_ms
    assert endpoint_silence_ms(None, cfg) == cfg.default_silence_ms == 700
    assert endpoint_silence_ms("turn on the lights", cfg) == cfg.default_silence_ms


def test_continuation_words_come_from_config(cfg: EndpointConfig) -> None:
    custom = EndpointConfig(complete_silence_ms=300, incomplete_silence_ms=2000,
                            default_silence_ms=900, continuation_words=["please"])
    assert endpoint_silence_ms("Turn it up please", custom) == 2000
    assert endpoint_silence_ms("Coffee and", custom) == 900   # "and" no longer listed
    assert endpoint_silence_ms("Coffee and", cfg) == 1200


# -- the state machine on synthetic probabilities -----------------------------------------
def run(ep: Endpointer, probs: list[float], audio: np.ndarray | None = None,
        on_frame=None) -> list:
    """Feed one 32 ms frame per probability; the audio is a ramp so positions are checkable."""
    if audio is None:
        audio = np.arange(len(probs) * FRAME, dtype=np.float32)
    out = []
    for i, p in enumerate(probs):
        if on_frame:
            on_frame(i, ep)
        out += ep.feed(audio[i * FRAME:(i + 1) * FRAME], p)
    return out


def frames(ms: float) -> int:
    return int(round(ms / FRAME_MS))


def test_pre_roll_and_onset_are_sample_exact(cfg: EndpointConfig) -> None:
    ep = Endpointer(cfg, pre_roll_ms=320, min_speech_ms=192)   # 10 frames, 6 frames
    probs = [0.0] * 30 + [0.9] * 20 + [0.0] * 40
    events = run(ep, probs)
    began = [e for e in events if isinstance(e, SpeechBegan)]
    ended = [e for e in events if isinstance(e, SpeechEnded)]
    assert len(began) == 1 and len(ended) == 1
    onset = 30 * FRAME
    assert began[0].at_s == pytest.approx(onset / SAMPLE_RATE)
    assert began[0].audio_start_s == pytest.approx((onset - 320 * 16) / SAMPLE_RATE)
    # The audio handed over at the start is the pre-roll plus the voiced frames so far.
    assert began[0].audio[0] == onset - 320 * 16
    assert len(began[0].audio) == 320 * 16 + 6 * FRAME
    # The utterance is pre-roll + speech + TAIL_MS, contiguous samples of the stream.
    u = ended[0]
    assert u.audio[0] == onset - 320 * 16
    assert np.array_equal(np.diff(u.audio), np.ones(len(u.audio) - 1, np.float32))
    assert u.speech_end_s == pytest.approx(50 * FRAME / SAMPLE_RATE)
    assert u.audio[-1] + 1 == 50 * FRAME + 150 * 16
    assert u.reason == "silence" and u.silence_ms == cfg.default_silence_ms


def test_pre_roll_never_reaches_before_stream_start(cfg: EndpointConfig) -> None:
    ep = Endpointer(cfg, pre_roll_ms=300)
    events = run(ep, [0.0] * 3 + [0.9] * 10 + [0.0] * 30)
    began = next(e for e in events if isinstance(e, SpeechBegan))
    assert began.audio_start_s == 0.0 and began.audio[0] == 0


def test_silence_needed_follows_the_partial(cfg: EndpointConfig) -> None:
    speech = [0.9] * 30

    def end_after(partial: str | None) -> float:
        ep = Endpointer(cfg)
        events = run(ep, [0.0] * 5 + speech + [0.0] * 60,
                     on_frame=lambda i, e: e.set_partial(partial) if i == 20 else None)
        ended = [e for e in events if isinstance(e, SpeechEnded)]
        assert len(ended) == 1
        assert ended[0].partial == partial
        return (ended[0].decided_s - ended[0].speech_end_s) * 1000

    complete, unknown, incomplete = (end_after("What time is it?"), end_after(None),
                                     end_after("set a timer for five minutes and"))
    for got, want in ((complete, 400), (unknown, 700), (incomplete, 1200)):
        assert want <= got < want + FRAME_MS
    assert complete < unknown < incomplete


def test_a_late_complete_partial_ends_the_turn_at_once(cfg: EndpointConfig) -> None:
    # 600 ms of silence have passed with no partial (default 700 ms: still waiting); then
    # the transcriber says "What time is it?" (needs 400): the very next frame ends it.
    ep = Endpointer(cfg)
    run(ep, [0.0] * 5 + [0.9] * 20 + [0.0] * frames(600))
    assert ep.in_speech
    ep.set_partial("What time is it?")
    events = ep.feed(np.zeros(FRAME, np.float32), 0.0)
    assert len(events) == 1 and isinstance(events[0], SpeechEnded)
    assert events[0].silence_ms == 400


def test_short_burst_is_discarded(cfg: EndpointConfig) -> None:
    ep = Endpointer(cfg, min_speech_ms=200)
    events = run(ep, [0.0] * 10 + [0.9] * 3 + [0.0] * 40)   # 96 ms: a click
    assert [type(e) for e in events] == [SpeechDiscarded]
    assert events[0].voiced_ms == pytest.approx(3 * FRAME_MS)
    assert not ep.in_speech


def test_hysteresis_keeps_soft_endings_voiced(cfg: EndpointConfig) -> None:
    # 0.4 is below the 0.5 onset threshold but above the 0.35 release threshold.
    ep = Endpointer(cfg, threshold=0.5)
    events = run(ep, [0.0] * 5 + [0.9] * 10 + [0.4] * 30 + [0.0] * 40)
    ended = [e for e in events if isinstance(e, SpeechEnded)]
    assert len(ended) == 1
    assert ended[0].speech_end_s == pytest.approx(45 * FRAME / SAMPLE_RATE)


def test_a_smaller_hysteresis_from_config_ends_a_soft_ending_sooner() -> None:
    # [vad] hysteresis 0.05: voiced while speaking down to 0.45, so the 0.4 tail is silence.
    config = load_config(use_user_file=False)
    config.vad.hysteresis = 0.05
    ep = create(config, judge=None)
    assert ep.neg_threshold == pytest.approx(0.45)
    events = run(ep, [0.0] * 5 + [0.9] * 10 + [0.4] * 30 + [0.0] * 40)
    ended = [e for e in events if isinstance(e, SpeechEnded)]
    assert ended[0].speech_end_s == pytest.approx(15 * FRAME / SAMPLE_RATE)


def test_max_utterance_length_cuts(cfg: EndpointConfig) -> None:
    ep = Endpointer(cfg, max_utterance_s=2.0, pre_roll_ms=0)
    events = run(ep, [0.9] * frames(5000))
    ended = [e for e in events if isinstance(e, SpeechEnded)]
    assert len(ended) >= 2
    assert ended[0].reason == "max_length"
    assert 2.0 <= ended[0].decided_s < 2.0 + FRAME_MS / 1000
    assert len(ended[0].audio) == pytest.approx(2.0 * SAMPLE_RATE, abs=FRAME)


def test_flush_closes_an_open_utterance(cfg: EndpointConfig) -> None:
    ep = Endpointer(cfg)
    run(ep, [0.0] * 5 + [0.9] * 20)
    assert ep.in_speech and len(ep.utterance_audio()) > 0
    out = ep.flush()
    assert len(out) == 1 and isinstance(out[0], SpeechEnded)
    assert out[0].reason == "input_ended"
    assert ep.flush() == []


def test_create_reads_vad_and_endpoint_config() -> None:
    config = load_config(use_user_file=False)
    config.vad.pre_roll_ms = 500
    config.vad.min_speech_ms = 96
    ep = create(config)
    assert ep.pre_roll == 8000 and ep.min_speech == 1536
    assert ep.required_silence_ms == config.endpoint.default_silence_ms


# -- real speech through Silero ------------------------------------------------------------
@pytest.fixture(scope="module")
def silero():
    from localvox.vad.silero import create as create_vad

    return create_vad(load_config(use_user_file=False))


def endpoint_clip(vad, ep: Endpointer, audio: np.ndarray, on_frame=None) -> list:
    vad.reset()
    ep.reset()
    events = []
    for i in range(0, len(audio) - FRAME + 1, FRAME):
        block = audio[i:i + FRAME]
        if on_frame:
            on_frame(i, ep)
        events += ep.feed(block, vad.probability(block))
    return events + ep.flush()


@needs_models("silero_vad")
def test_two_questions_become_two_utterances_without_cutting_the_first_word(silero) -> None:
    config = load_config(use_user_file=False)
    ep = create(config)
    audio = load_fixture("two_questions")
    segments = fixture_layout("two_questions")["segments"]
    events = endpoint_clip(silero, ep, audio)
    ended = [e for e in events if isinstance(e, SpeechEnded)]
    assert len([e for e in events if isinstance(e, SpeechBegan)]) == 2
    assert len(ended) == 2
    pre_roll = config.vad.pre_roll_ms * SAMPLE_RATE // 1000
    for utt, seg in zip(ended, segments):
        start = round(utt.audio_start_s * SAMPLE_RATE)
        end = start + len(utt.audio)
        # The utterance audio is exactly the stream between its bounds...
        assert np.array_equal(utt.audio, audio[start:end])
        # ...begins before the first syllable by about the pre-roll (the onset is found
        # in the frame holding it, or at most a couple of frames late)...
        lead = seg["start"] - start
        assert pre_roll - 2 * FRAME <= lead <= pre_roll + FRAME, (seg["text"], lead)
        # ...and that lead is background, not speech: nothing was cut.
        assert np.sqrt(np.mean(audio[start:seg["start"]] ** 2)) < 0.005
        # It ends after the last syllable, and the end of speech is found within 100 ms.
        assert end >= seg["end"]
        assert abs(utt.speech_end_s * SAMPLE_RATE - seg["end"]) < 0.1 * SAMPLE_RATE
        assert utt.reason == "silence"
    # The second utterance contains none of the first question.
    assert round(ended[1].audio_start_s * SAMPLE_RATE) > segments[0]["end"]


@needs_models("silero_vad")
def test_partial_transcript_shortens_the_real_endpoint(silero) -> None:
    # Same clip, once with no transcript and once with a transcriber that has said
    # "What time is it?" mid-utterance: the second ends 300 ms sooner after real speech.
    audio = np.concatenate([load_fixture("what_time"), np.zeros(SAMPLE_RATE, np.float32)])
    seg = fixture_layout("what_time")["segments"][0]

    def silence_after(partial: str | None) -> float:
        ep = create(load_config(use_user_file=False))
        events = endpoint_clip(silero, ep, audio, on_frame=lambda i, e:
                               e.set_partial(partial) if e.in_speech else None)
        ended = [e for e in events if isinstance(e, SpeechEnded)]
        assert len(ended) == 1 and ended[0].reason == "silence"
        return ended[0].decided_s - seg["end"] / SAMPLE_RATE

    assert silence_after("What time is it?") < silence_after(None) - 0.25
