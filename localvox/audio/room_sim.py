"""A simulated laptop: what its microphone hears while localvox talks through its speakers.

Why: echo cancellation has to be proven without hardware. The microphone signal is

    mic = user speech * user_rir  +  speaker(playback) * echo_rir, delayed (with drift)  +  noise

- ``echo_rir``: a synthetic room impulse response: a strong direct path (the speaker is a
  few cm from the mic, through the chassis), a few early reflections (desk, screen, walls)
  and an exponentially decaying diffuse tail with the room's RT60 (30-300 ms);
- the delay (device buffers, 20-200 ms) drifts slowly, as when the playback and capture
  clocks differ, and may jump once (a device re-opened, a buffer underrun);
- the small speaker is band-limited (no bass) and mildly non-linear (soft clipping);
- the echo is scaled to be *louder* than the user at the microphone;
- noise is seeded, so every run of the benchmark and the tests is the same.

Everything is 16 kHz mono float32 and deterministic for a given seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SR = 16000


@dataclass(frozen=True)
class Room:
    name: str
    rt60_s: float
    """Decay time of the diffuse tail (-60 dB)."""
    delay_ms: float
    """Speaker-to-mic delay at t = 0 (device buffers + acoustic path)."""
    drift_ppm: float = 0.0
    """Clock drift: the delay grows by this many microseconds per second."""
    echo_to_user_db: float = 6.0
    """Echo level at the mic relative to the user's speech (positive: echo is louder)."""
    snr_db: float = 35.0
    """User speech to background noise."""
    direct_to_reverb_db: float = 6.0
    nonlinear: float = 0.0
    """Loudspeaker soft-clipping drive (0 = linear)."""
    seed: int = 0


ROOMS: tuple[Room, ...] = (
    Room("desk_dry", rt60_s=0.05, delay_ms=30, drift_ppm=0, echo_to_user_db=6, seed=1),
    Room("office", rt60_s=0.15, delay_ms=80, drift_ppm=50, echo_to_user_db=8, seed=2),
    Room("living_room", rt60_s=0.30, delay_ms=140, drift_ppm=-80, echo_to_user_db=6,
         direct_to_reverb_db=3, seed=3),
    Room("kitchen_loud", rt60_s=0.22, delay_ms=200, drift_ppm=120, echo_to_user_db=12,
         snr_db=28, nonlinear=0.3, seed=4),
)


def room_impulse_response(room: Room, rng: np.random.Generator) -> np.ndarray:
    """Direct path + early reflections + exponentially decaying noise tail, peak-normalised."""
    n = int(max(room.rt60_s * 1.2, 0.02) * SR)
    h = np.zeros(n)
    h[0] = 1.0
    for _ in range(6):  # early reflections 1.5-15 ms, alternating sign, -6..-14 dB
        k = int(rng.uniform(0.0015, 0.015) * SR)
        if k < n:
            h[k] += rng.choice([-1.0, 1.0]) * 10 ** (rng.uniform(-14, -6) / 20)
    t = np.arange(n) / SR
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / room.rt60_s)
    tail[: int(0.004 * SR)] = 0.0  # diffuse field starts after the first reflections
    direct_e = float(np.sum(h**2))
    tail *= np.sqrt(direct_e / (np.sum(tail**2) + 1e-12)) * 10 ** (-room.direct_to_reverb_db / 20)
    return (h + tail).astype(np.float64)


def laptop_speaker(x: np.ndarray, drive: float) -> np.ndarray:
    """A small speaker: nothing below ~250 Hz, gentle top roll-off, optional soft clipping."""
    from scipy.signal import butter, sosfilt

    sos = np.concatenate([butter(2, 250, "highpass", fs=SR, output="sos"),
                          butter(2, 6500, "lowpass", fs=SR, output="sos")])
    y = sosfilt(sos, x)
    if drive > 0:
        peak = np.max(np.abs(y)) + 1e-12
        y = np.tanh(drive * 3 * y / peak) / np.tanh(drive * 3) * peak
    return y


def delayed(x: np.ndarray, delay_s: np.ndarray, taps: int = 32) -> np.ndarray:
    """``x`` delayed by a time-varying ``delay_s`` (per output sample).

    Band-limited (Hann-windowed sinc) interpolation, as a real clock mismatch resamples the
    signal; linear interpolation would add a time-varying low-pass that no real device has.
    """
    t = np.arange(len(delay_s)) - delay_s * SR
    base = np.floor(t).astype(np.int64)
    frac = t - base
    xp = np.concatenate([np.zeros(taps), x, np.zeros(taps)])
    out = np.zeros(len(t))
    half = taps // 2
    for k in range(-half + 1, half + 1):
        idx = np.clip(base + k + taps, 0, len(xp) - 1)
        arg = k - frac
        w = 0.5 + 0.5 * np.cos(np.pi * arg / half)
        out += xp[idx] * np.sinc(arg) * w
    return out


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def active_rms(x: np.ndarray, block: int = 320) -> float:
    """RMS over the louder blocks only (speech level, not diluted by pauses)."""
    n = len(x) // block
    if n == 0:
        return rms(x)
    e = np.mean(x[: n * block].reshape(n, block) ** 2, axis=1)
    top = e[e > 0.1 * e.max()] if e.max() > 0 else e
    return float(np.sqrt(np.mean(top)))


@dataclass
class Scene:
    """One simulated recording and everything needed to score a canceller on it."""

    room: Room
    mic: np.ndarray
    """What the microphone records (user + echo + noise)."""
    playback: np.ndarray
    """What localvox played, on the microphone's clock (the canceller's reference)."""
    echo: np.ndarray
    """The echo component alone at the mic."""
    near: np.ndarray
    """The user's speech component alone at the mic (room-filtered)."""
    noise: np.ndarray
    delay_s: np.ndarray
    """True speaker-to-mic delay per sample."""
    user_spans: list[tuple[float, float]] = field(default_factory=list)
    """(start_s, end_s) of each user utterance inside ``mic``."""

    @property
    def mic_without_echo(self) -> np.ndarray:
        return (self.near + self.noise).astype(np.float32)


def simulate(room: Room, playback: np.ndarray, user: list[tuple[float, np.ndarray]] | None = None,
             *, duration_s: float | None = None, jump_at_s: float | None = None,
             jump_ms: float = 0.0, user_level: float = 0.1) -> Scene:
    """Render a scene: ``playback`` starts at t=0; each ``(start_s, speech)`` of ``user`` is added.

    ``user_level`` is the user's active speech RMS at the mic; the echo is set
    ``room.echo_to_user_db`` above it and the noise ``room.snr_db`` below it.
    ``jump_at_s``/``jump_ms`` add a sudden delay change (a re-opened device).
    """
    rng = np.random.default_rng(room.seed)
    user = user or []
    n = len(playback)
    for start, speech in user:
        n = max(n, int(start * SR) + len(speech))
    if duration_s is not None:
        n = max(n, int(duration_s * SR))
    n += int(0.3 * SR)
    play = np.zeros(n)
    play[: len(playback)] = playback

    t = np.arange(n) / SR
    delay = room.delay_ms / 1000 + room.drift_ppm * 1e-6 * t
    if jump_at_s is not None:
        delay = delay + np.where(t >= jump_at_s, jump_ms / 1000, 0.0)
    h = room_impulse_response(room, rng)
    from scipy.signal import fftconvolve

    acoustic = fftconvolve(laptop_speaker(play, room.nonlinear), h)[:n]
    echo = delayed(acoustic, delay)

    near = np.zeros(n)
    spans = []
    h_user = room_impulse_response(Room("user", rt60_s=room.rt60_s, delay_ms=0,
                                        direct_to_reverb_db=room.direct_to_reverb_db + 3), rng)
    for start, speech in user:
        i = int(start * SR)
        s = fftconvolve(np.asarray(speech, dtype=np.float64), h_user)[: len(speech)]
        s *= user_level / (active_rms(s) + 1e-12)
        near[i : i + len(s)] += s
        spans.append((start, start + len(speech) / SR))
    echo_level = user_level * 10 ** (room.echo_to_user_db / 20)
    echo *= echo_level / (active_rms(echo) + 1e-12)
    noise = _pink(rng, n) * user_level * 10 ** (-room.snr_db / 20)
    mic = near + echo + noise
    peak = np.max(np.abs(mic))
    if peak > 0.99:  # keep it in range like a real ADC with sensible gain
        g = 0.99 / peak
        mic, near, echo, noise = mic * g, near * g, echo * g, noise * g
    return Scene(room=room, mic=mic.astype(np.float32), playback=play.astype(np.float32),
                 echo=echo.astype(np.float32), near=near.astype(np.float32),
                 noise=noise.astype(np.float32), delay_s=delay, user_spans=spans)


def _pink(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unit-RMS pink-ish noise (1/f spectrum), like a fan or room tone."""
    white = rng.standard_normal(n)
    spec = np.fft.rfft(white)
    f = np.arange(len(spec))
    spec[1:] /= np.sqrt(f[1:])
    spec[0] = 0
    x = np.fft.irfft(spec, n)
    return x / (rms(x) + 1e-12)


ASSISTANT_LINES = (
    "Sure. Tomorrow will be mostly sunny with a high of twenty two degrees and a light breeze.",
    "I have added milk, eggs and bread to your shopping list, and set a reminder for six.",
    "The meeting with Anna is at three thirty in the small conference room on the second floor.",
    "Here is a short story. Once upon a time, a lighthouse keeper found a bottle on the beach.",
)
USER_LINES = (
    "Stop.",
    "Wait, stop talking.",
    "No, cancel that please.",
    "What time is it in Tokyo?",
    "Turn the volume down.",
)


def piper_speech(texts: tuple[str, ...] | list[str], *, length_scale: float = 1.0,
                 pitch: float = 1.0, config=None) -> list[np.ndarray]:
    """Speak each text with the packaged Piper voice; 16 kHz float32, deterministic.

    Piper's sampling noise is turned off so the same text gives the same samples every
    run. ``pitch`` > 1 raises the voice (and speeds it) by resampling, so "the user" does
    not sound exactly like the assistant.
    """
    from piper import SynthesisConfig

    from localvox.audio.base import resample
    from localvox.modelpacks import resolve_model
    from localvox.tts.piper import load_voice

    voice = load_voice(resolve_model("piper_joe_medium", config))
    rate = int(voice.config.sample_rate)
    cfg = SynthesisConfig(length_scale=length_scale, noise_scale=0.0, noise_w_scale=0.0)
    out = []
    for text in texts:
        chunks = voice.synthesize(text, syn_config=cfg)
        audio = np.concatenate([c.audio_float_array for c in chunks])
        src = int(round(rate * pitch))
        out.append(resample(audio.astype(np.float32), src, SR))
    return out
