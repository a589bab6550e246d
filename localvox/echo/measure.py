"""Echo-path measurement with a chirp, for ``localvox doctor --echo``.

Play a short logarithmic sweep through the speaker while recording the microphone, then
deconvolve: the peak of the (whitened) cross-correlation is the speaker-to-microphone
delay, and the recorded level relative to the played level is the echo return loss (how
loud the assistant is in its own microphone). ``analyse_echo_path`` is pure numpy so it is
tested on the room simulator; ``measure_echo_path`` does the device part.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from localvox.config import Config

SR = 16000


@dataclass(frozen=True)
class EchoPath:
    delay_ms: float
    """Speaker-to-microphone delay (device buffers + acoustics)."""
    echo_gain_db: float
    """Recorded chirp level relative to the played one (0 dB: as loud as played)."""
    confidence: float
    """GCC-PHAT peak over its mean; below ~6 the chirp was not heard."""

    @property
    def heard(self) -> bool:
        return self.confidence >= 6.0

    def describe(self) -> str:
        if not self.heard:
            return "chirp not heard in the microphone (muted, headset, or very quiet speaker)"
        return (f"speaker-to-mic delay {self.delay_ms:.0f} ms, echo level "
                f"{self.echo_gain_db:+.1f} dB re playback")


def chirp(duration_s: float = 1.0, f0: float = 200.0, f1: float = 7000.0,
          level: float = 0.3) -> np.ndarray:
    """A logarithmic sweep with 20 ms fades, 16 kHz float32."""
    t = np.arange(int(duration_s * SR)) / SR
    k = np.log(f1 / f0)
    x = np.sin(2 * np.pi * f0 * duration_s / k * (np.exp(t / duration_s * k) - 1))
    fade = int(0.02 * SR)
    ramp = np.linspace(0, 1, fade)
    x[:fade] *= ramp
    x[-fade:] *= ramp[::-1]
    return (level * x).astype(np.float32)


def analyse_echo_path(played: np.ndarray, recorded: np.ndarray,
                      max_delay_ms: float = 500.0) -> EchoPath:
    """Delay and level of ``played`` inside ``recorded`` (both start at the same instant)."""
    L = int(max_delay_ms / 1000 * SR)
    rec = np.asarray(recorded, dtype=np.float64)
    ply = np.asarray(played, dtype=np.float64)
    need = len(ply) + L
    if len(rec) < need:
        rec = np.concatenate([rec, np.zeros(need - len(rec))])
    W = len(ply)
    # PHAT-weighted correlation of the recording against the chirp.
    n = 1 << int(np.ceil(np.log2(len(rec) + W)))
    S = np.fft.rfft(rec, n) * np.conj(np.fft.rfft(ply, n))
    cc = np.fft.irfft(S / (np.abs(S) + 1e-12 * np.abs(S).max()), n)[: L + 1]
    k = int(np.argmax(cc))
    conf = float(cc[k] / (np.mean(np.abs(cc)) + 1e-12))
    seg = rec[k : k + W]
    gain_db = 10 * np.log10((np.sum(seg**2) + 1e-20) / (np.sum(ply**2) + 1e-20))
    return EchoPath(delay_ms=k * 1000 / SR, echo_gain_db=float(gain_db), confidence=conf)


def measure_echo_path(config: "Config | Any" = None) -> str:
    """Play a chirp on the output device, record the input, return a one-line finding.

    Raises ``AudioDeviceError`` when there is no sound card (doctor reports it as a warning).
    """
    from localvox.errors import AudioDeviceError

    try:
        import sounddevice as sd
    except (ImportError, OSError) as err:
        raise AudioDeviceError(f"no sound card support ({err}); install libportaudio2") from None
    played = chirp()
    pad = np.zeros(int(0.6 * SR), np.float32)
    out = np.concatenate([played, pad])
    kwargs: dict[str, Any] = {}
    if config is not None:
        dev_in = config.audio.input_device or None
        dev_out = config.audio.output_device or None
        kwargs["device"] = (int(dev_in) if dev_in and dev_in.isdigit() else dev_in,
                            int(dev_out) if dev_out and dev_out.isdigit() else dev_out)
    try:
        rec = sd.playrec(out, samplerate=SR, channels=1, dtype="float32", **kwargs)
        sd.wait()
    except Exception as err:  # PortAudioError and friends
        raise AudioDeviceError(f"could not play and record at 16 kHz: {err}") from None
    return analyse_echo_path(played, rec.reshape(-1)).describe()
