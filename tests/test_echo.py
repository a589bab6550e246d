"""Echo canceller building blocks on synthetic signals (numpy only, no models)."""

from __future__ import annotations

import numpy as np
import pytest

from localvox.audio import room_sim as rs
from localvox.echo import EchoCanceller
from localvox.echo.bargein import barge_ins
from localvox.echo.delay import gcc_phat
from localvox.echo.evaluate import erle_db, run_canceller
from localvox.echo.fdaf import PartitionedFDAF
from localvox.echo.measure import analyse_echo_path, chirp

SR = 16000


def speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    """Coloured noise with a syllable-rate envelope: a cheap stand-in for speech."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    x = np.cumsum(rng.standard_normal(n)) * 0.02
    x -= np.convolve(x, np.ones(64) / 64, mode="same")  # keep it zero-mean, tilt the spectrum
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * np.arange(n) / SR) ** 2
    x = x * env
    return (0.2 * x / (np.std(x) + 1e-12)).astype(np.float32)


def test_fdaf_learns_a_fixed_echo_path() -> None:
    rng = np.random.default_rng(0)
    n = SR * 4
    x = rng.standard_normal(n) * 0.1
    h = np.zeros(800)
    h[[10, 50, 300, 700]] = [1.0, -0.5, 0.3, 0.2]
    d = np.convolve(x, h)[:n]
    f = PartitionedFDAF(block=256, partitions=4)
    out = []
    for i in range(0, n - 255, 256):
        f.push_reference_block(x[i : i + 256])
        out.append(f.process(d[i : i + 256]))
    e = np.concatenate(out)
    tail = slice(2 * SR, len(e))
    erle = 10 * np.log10(np.sum(d[tail] ** 2) / np.sum(e[tail] ** 2))
    assert erle > 30.0


def test_gcc_phat_finds_the_delay_of_a_reverberant_echo() -> None:
    room = rs.Room("t", rt60_s=0.2, delay_ms=0, direct_to_reverb_db=3, seed=5)
    h = rs.room_impulse_response(room, np.random.default_rng(1))
    x = speechlike(2.0).astype(np.float64)
    true = 1733  # 108.3 ms
    y = np.concatenate([np.zeros(true), np.convolve(x, h)[: len(x) - true]])
    W, L = 12000, 4800
    est, _ = gcc_phat(y[-W:], x[-W - L :], L)
    assert est.samples == true


def test_no_playback_means_the_microphone_passes_through() -> None:
    ec = EchoCanceller()
    mic = speechlike(2.0, seed=3)
    out = np.concatenate([ec.clean(mic[i : i + 512]) for i in range(0, len(mic), 512)])
    lat = ec.latency_samples
    np.testing.assert_allclose(out[lat:], mic[: len(mic) - lat], atol=1e-5)
    assert not ec.state().active


def test_echo_of_known_playback_is_removed() -> None:
    room = rs.ROOMS[1]
    scene = rs.simulate(room, speechlike(8.0, seed=4))
    cl = run_canceller(scene, EchoCanceller())
    assert erle_db(scene.mic, cl.out, scene.echo, cl.latency, start_s=3.0, end_s=8.0) > 20.0
    assert abs(cl.delay_ms - room.delay_ms) < 2.0


def test_stopped_playback_no_longer_suppresses_the_user() -> None:
    """After barge-in the unplayed rest of the reply must not be 'cancelled' from the user."""
    play = speechlike(8.0, seed=6)
    user = speechlike(2.0, seed=7)
    scene_full = rs.simulate(rs.ROOMS[0], play[: 4 * SR], [(4.5, user)], duration_s=8.0)

    def user_energy(stop: bool) -> float:
        ec = EchoCanceller()
        ec.push_reference(play, SR, play_time_s=0.0)  # 8 s queued, only 4 s get played
        outs = []
        for i in range(0, len(scene_full.mic) - 511, 512):
            if stop and i == 4 * SR:
                ec.stop_reference()
            outs.append(ec.clean(scene_full.mic[i : i + 512]))
        out = np.concatenate(outs)[ec.latency_samples :]
        seg = slice(int(4.6 * SR), int(6.4 * SR))
        return float(np.sum(out[seg] ** 2) / np.sum(scene_full.near[seg] ** 2))

    kept_stopped = user_energy(stop=True)
    kept_not_stopped = user_energy(stop=False)
    assert kept_stopped > 0.9
    assert kept_stopped > kept_not_stopped + 0.1


def test_reference_follows_queued_audio_when_no_time_is_given() -> None:
    ec = EchoCanceller()
    ec.clean(np.zeros(1024, np.float32))
    ec.reference(np.ones(1600, np.float32), SR)  # the engine's hook: starts "now"
    ec.reference(np.full(800, 0.5, np.float32), 8000)  # 8 kHz: resampled, appended
    assert ec.ref.read(1024, 1)[0] == pytest.approx(1.0)
    assert ec.ref.end == 1024 + 1600 + 1600
    ec.stop_reference()
    assert ec.ref.end == 1024


def test_barge_in_rule_needs_a_run_of_frames() -> None:
    p = np.array([0.9, 0.9, 0.9, 0.9, 0.2, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9])
    fires = barge_ins(p, 0.032, threshold=0.85, min_ms=160)
    assert len(fires) == 1
    assert fires[0].onset_s == pytest.approx(5 * 0.032)
    assert fires[0].at_s == pytest.approx(10 * 0.032)


def test_chirp_measurement_finds_delay_and_level_in_a_simulated_room() -> None:
    played = chirp()
    room = rs.Room("doctor", rt60_s=0.2, delay_ms=95, echo_to_user_db=0, seed=9)
    scene = rs.simulate(room, played, duration_s=2.0, user_level=0.05)
    found = analyse_echo_path(played, scene.mic)
    assert found.heard
    assert abs(found.delay_ms - 95) <= 1.0
    expected = 10 * np.log10(np.sum(scene.echo**2) / np.sum(played.astype(np.float64) ** 2))
    assert abs(found.echo_gain_db - expected) < 3.0
    silent = analyse_echo_path(played, np.random.default_rng(0).standard_normal(3 * SR) * 1e-3)
    assert not silent.heard


def test_barge_in_rule_rides_over_a_short_dip_but_not_a_drop() -> None:
    # A dip to 0.4 (>= 0.5 - 0.15) keeps the run going: "what ... time" is one utterance.
    dip = np.array([0.9, 0.9, 0.4, 0.9, 0.9, 0.1])
    fires = barge_ins(dip, 0.032, threshold=0.5, min_ms=160)
    assert [f.onset_s for f in fires] == [0.0]
    # A real drop (0.2) starts the run over, so two short bursts are not one barge-in.
    drop = np.array([0.9, 0.9, 0.2, 0.9, 0.9, 0.1])
    assert barge_ins(drop, 0.032, threshold=0.5, min_ms=160) == []


def test_gcc_phat_resolves_a_fraction_of_a_sample() -> None:
    x = speechlike(1.2, seed=3).astype(np.float64)
    L = 400
    found = []
    for delay in (120.0, 120.25, 120.5):
        t = np.full(len(x), delay / SR)
        y = rs.delayed(x, t)
        W = 12000
        est, _ = gcc_phat(y[-W:], x[-W - L :], L)
        found.append(est.fine)
    steps = np.diff(found)
    assert found[0] == pytest.approx(120.0, abs=0.1)
    assert steps == pytest.approx([0.25, 0.25], abs=0.05)


def test_least_squares_start_recovers_an_echo_path() -> None:
    from localvox.echo.wiener import least_squares_path, residual_energy

    rng = np.random.default_rng(5)
    taps = 256
    h = rng.standard_normal(taps) * np.exp(-np.arange(taps) / 40.0)
    x = speechlike(1.0, seed=6).astype(np.float64)
    d = np.convolve(x, h)[taps - 1 : len(x)]
    est = least_squares_path(x, d, taps)
    assert est is not None
    assert residual_energy(x, d, est) < 1e-3 * float(d @ d)  # > 30 dB on its own window
    assert least_squares_path(np.zeros_like(x), d, taps) is None  # nothing played


def test_canceller_measures_and_follows_clock_drift() -> None:
    room = rs.Room("drift", rt60_s=0.1, delay_ms=70, drift_ppm=90, echo_to_user_db=6, seed=7)
    scene = rs.simulate(room, speechlike(9.0, seed=8))
    ec = EchoCanceller(suppress=False)
    cl = run_canceller(scene, ec)
    assert ec.align.rate * 1e6 == pytest.approx(90, abs=12)
    # And cancels as well as with no drift at all, once it has.
    still = rs.simulate(rs.Room("still", rt60_s=0.1, delay_ms=70, echo_to_user_db=6, seed=7),
                        speechlike(9.0, seed=8))
    ref = run_canceller(still, EchoCanceller(suppress=False))
    drifting = erle_db(scene.mic, cl.out, scene.echo, 0, start_s=6.0)
    fixed = erle_db(still.mic, ref.out, still.echo, 0, start_s=6.0)
    assert drifting > fixed - 4.0


def test_reverb_tail_reads_the_decay_from_the_filter_and_rings_on() -> None:
    """The tail continues the filter's last partition at the rate its partitions decay."""
    from localvox.echo.reverb import ReverbTail

    P, K = 8, 257
    rng = np.random.default_rng(2)
    true_decay = 0.5                                    # per 16 ms block: RT60 ~ 0.16 s
    shape = rng.uniform(0.5, 1.5, K)
    W = np.sqrt(shape[None, :] * true_decay ** np.arange(P)[:, None]).astype(np.complex128)
    X = np.ones((P, K), np.complex128)
    tail = ReverbTail()
    first = tail.update(W, X)
    assert tail.decay == pytest.approx(true_decay, rel=0.01)
    assert np.allclose(first, 0.5 * true_decay * np.abs(W[-1]) ** 2)
    silent = np.zeros_like(X)                           # the assistant stops: the room rings on
    ringing = [tail.update(W, silent).sum() for _ in range(4)]
    assert ringing == pytest.approx([first.sum() * true_decay ** (i + 1) for i in range(4)])
    # A dry room: only the first partition carries the echo, the tail is nothing.
    dry = np.zeros((P, K), np.complex128)
    dry[0] = 1.0
    dry[1:] = 1e-6
    assert ReverbTail().update(dry, X).max() < 1e-10
