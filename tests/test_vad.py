"""Voice activity detection: streaming Silero (ONNX) and WebRTC on the speech fixtures."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fixture_layout, load_fixture, needs_models

from localvox import registry
from localvox.config import load_config
from localvox.errors import ConfigError

W = 512


def frame_probs(vad, audio: np.ndarray, block: int = W) -> np.ndarray:
    vad.reset()
    return np.array([vad.probability(audio[i:i + block])
                     for i in range(0, len(audio) - block + 1, block)])


def speech_mask(name: str, n_frames: int, block: int = W) -> tuple[np.ndarray, np.ndarray]:
    """Frames fully inside a phrase, and frames at least 100 ms away from any phrase."""
    segs = fixture_layout(name)["segments"]
    starts = np.arange(n_frames) * block
    inside = np.zeros(n_frames, bool)
    near = np.zeros(n_frames, bool)
    for s in segs:
        inside |= (starts >= s["start"]) & (starts + block <= s["end"])
        near |= (starts + block > s["start"] - 1600) & (starts < s["end"] + 1600)
    return inside, ~near


@pytest.fixture(scope="module")
def silero():
    return registry.create("vad", "silero", load_config(use_user_file=False))


@needs_models("silero_vad")
def test_silero_high_on_speech_low_on_silence(silero) -> None:
    for name in ("what_time", "two_questions", "espeak_question"):
        audio = load_fixture(name)
        probs = frame_probs(silero, audio)
        inside, quiet = speech_mask(name, len(probs))
        assert probs[inside].mean() > 0.7, name
        assert np.mean(probs[inside] > 0.5) > 0.75, name
        assert probs[quiet].max() < 0.15, name


@needs_models("silero_vad")
def test_silero_low_on_noise_and_tones(silero) -> None:
    rng = np.random.default_rng(7)
    t = np.arange(3 * 16000) / 16000
    signals = {
        "white noise": rng.normal(0, 0.05, len(t)).astype(np.float32),
        "digital silence": np.zeros(len(t), np.float32),
        "hum": (0.2 * np.sin(2 * np.pi * 50 * t)).astype(np.float32),
        "beep": (0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32),
    }
    for label, x in signals.items():
        assert frame_probs(silero, x).max() < 0.3, label


@needs_models("silero_vad")
def test_silero_streaming_state_matches_one_batch(silero) -> None:
    audio = load_fixture("what_time")[: 50 * W]
    streamed = frame_probs(silero, audio)
    silero.reset()
    batched = silero.probabilities(audio)
    assert np.allclose(streamed, batched, atol=1e-5)
    # Odd block sizes buffer the remainder: the per-window scores are unchanged.
    silero.reset()
    odd = np.concatenate([silero.probabilities(audio[i:i + 300])
                          for i in range(0, len(audio), 300)])
    assert np.allclose(odd, batched, atol=1e-5)
    # The state is what carries speech across windows: scoring each window from a fresh
    # state gives different answers.
    fresh = []
    for i in range(0, len(audio), W):
        silero.reset()
        fresh.append(silero.probability(audio[i:i + W]))
    assert not np.allclose(fresh, batched, atol=1e-2)


@needs_models("silero_vad")
def test_silero_sessions_are_shared() -> None:
    config = load_config(use_user_file=False)
    a = registry.create("vad", "silero", config)
    b = registry.create("vad", "silero", config)
    assert a.session is b.session
    assert a.frame_samples == 512


def test_webrtc_detects_speech() -> None:
    vad = registry.create("vad", "webrtc", load_config(use_user_file=False))
    audio = load_fixture("two_questions")
    probs = frame_probs(vad, audio, vad.frame_samples)
    inside, quiet = speech_mask("two_questions", len(probs), vad.frame_samples)
    assert probs[inside].mean() > 0.6
    # WebRTC adapts its noise model over the first few hundred ms; judge it after that.
    settled = quiet & (np.arange(len(probs)) * vad.frame_samples > 8000)
    assert probs[settled].mean() < 0.2
    assert frame_probs(vad, np.zeros(16000, np.float32)).max() == 0.0


def test_webrtc_rejects_bad_mode() -> None:
    from localvox.vad.webrtc import WebRtcVAD

    with pytest.raises(ConfigError, match="0..3"):
        WebRtcVAD(mode=5)


@needs_models("silero_vad")
def test_silero_stays_quick_after_long_room_tone() -> None:
    """Carried over 12 s of room tone, Silero's state goes numb (the same words score far
    lower); the refresh between speech keeps the barge-in rule as quick as after 1 s."""
    from localvox.audio import room_sim as rs
    from localvox.echo.evaluate import score_barge_in, speech_onset, vad_probs
    from localvox.modelpacks import resolve_model
    from localvox.vad.silero import SileroVAD

    config = load_config(use_user_file=False)
    path = resolve_model(config.vad.model, config)
    words = load_fixture("what_time").astype(np.float32)

    def delay_ms(vad: SileroVAD, quiet_s: float) -> float:
        scene = rs.simulate(rs.ROOMS[3], np.zeros(16000, np.float32), [(quiet_s, words)])
        onset = speech_onset(words, quiet_s)
        fired = score_barge_in(vad_probs(vad, scene.mic_without_echo), onset, onset + 2.0,
                               0.5, 160).delay_ms
        assert fired is not None
        return fired

    numb = SileroVAD(path, refresh_after_s=None)
    assert delay_ms(numb, 12.0) > delay_ms(numb, 1.0) + 150  # the effect is real
    fresh = SileroVAD(path)
    assert delay_ms(fresh, 12.0) < delay_ms(fresh, 1.0) + 40


@needs_models("silero_vad")
def test_silero_refresh_lands_on_the_same_window_streamed_or_batched(silero) -> None:
    rng = np.random.default_rng(3)
    audio = np.concatenate([rng.normal(0, 0.003, 8 * 16000).astype(np.float32),
                            load_fixture("what_time")[: 40 * W]])
    silero.reset()
    batched = silero.probabilities(audio)
    streamed = frame_probs(silero, audio)
    assert np.allclose(streamed, batched[: len(streamed)], atol=1e-5)
