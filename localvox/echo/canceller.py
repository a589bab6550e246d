"""EchoCanceller: removes the assistant's own playback from the microphone signal.

localvox knows, sample for sample, what it plays. The engine hands that audio to
:meth:`EchoCanceller.push_reference` as it hands it to the sink, and passes every
microphone frame through :meth:`EchoCanceller.clean`. Inside, per 16 ms block:

1. the reference is read from a timeline kept in microphone-clock samples, shifted by the
   speaker-to-mic delay that a GCC-PHAT tracker estimates (and re-estimates as it drifts);
2. a partitioned-block frequency-domain adaptive filter subtracts the linear echo
   (foreground/background filters and a leakage-driven step size protect it from
   diverging while the user talks over the assistant);
3. a spectral residual suppressor removes what the linear filter cannot.

With no playback anywhere near, the signal passes through unchanged (apart from the fixed
one-block latency of the suppressor's overlap-add), so the canceller can stay on all the time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from localvox.audio.base import SAMPLE_RATE, AudioFrame, resample
from localvox.echo.delay import DelayTracker
from localvox.echo.fdaf import PartitionedFDAF
from localvox.echo.suppressor import ResidualSuppressor

if TYPE_CHECKING:
    from localvox.config import Config


@dataclass(frozen=True)
class EchoState:
    """A snapshot for the TUI indicator and the latency trace."""

    active: bool
    """Playback is within reach of the microphone (reference energy in the echo window)."""
    delay_ms: float | None
    """Estimated speaker-to-microphone delay, None until first measured."""
    erle_db: float
    """Echo return loss enhancement of the linear filter, smoothed over ~0.5 s of playback."""
    converged: bool
    double_talk: bool
    """The microphone carries clearly more than the predicted echo: someone is talking."""
    suppression_db: float
    """Mean attenuation the residual suppressor applied on the last block."""


class _Timeline:
    """Reference samples indexed by microphone-clock sample number; zeros where nothing played."""

    def __init__(self) -> None:
        self.base = 0
        self.buf = np.zeros(0, dtype=np.float32)

    @property
    def end(self) -> int:
        return self.base + len(self.buf)

    def write(self, start: int, samples: np.ndarray) -> None:
        if start < self.base:
            cut = self.base - start
            if cut >= len(samples):
                return
            samples, start = samples[cut:], self.base
        stop = start + len(samples)
        if stop > self.end:
            self.buf = np.concatenate([self.buf, np.zeros(stop - self.end, np.float32)])
        i = start - self.base
        self.buf[i : i + len(samples)] = samples

    def read(self, start: int, n: int) -> np.ndarray:
        out = np.zeros(n, dtype=np.float64)
        lo, hi = max(start, self.base), min(start + n, self.end)
        if hi > lo:
            out[lo - start : hi - start] = self.buf[lo - self.base : hi - self.base]
        return out

    def truncate(self, at: int) -> None:
        if at < self.end:
            self.buf = self.buf[: max(0, at - self.base)]

    def trim(self, before: int) -> None:
        if before > self.base + 4 * SAMPLE_RATE:  # trim in big steps, not every block
            cut = min(before - self.base, len(self.buf))
            self.buf = self.buf[cut:]
            self.base += cut


class EchoCanceller:
    """Reference-based acoustic echo canceller for 16 kHz mono float32 audio.

    Thread-safety: call everything from one task (the engine's audio loop).
    """

    full_duplex = True
    """For the engine: cleaned audio is safe to run VAD/barge-in on while speaking."""

    def __init__(self, *, sample_rate: int = SAMPLE_RATE, filter_ms: float = 64.0,
                 max_delay_ms: float = 300.0, block: int = 256, margin_ms: float = 8.0,
                 suppress: bool = True, tail_ms: float = 100.0,
                 delay_update_ms: float = 256.0) -> None:
        if sample_rate != SAMPLE_RATE:
            raise ValueError("EchoCanceller runs at 16 kHz; resample at the edge")
        self.block = block
        partitions = max(1, int(round(filter_ms / 1000 * SAMPLE_RATE / block)))
        self.filter = PartitionedFDAF(block=block, partitions=partitions)
        self.suppressor = ResidualSuppressor(block=block, tail_ms=tail_ms) if suppress else None
        self.max_lag = int(max_delay_ms / 1000 * SAMPLE_RATE)
        self.margin = int(margin_ms / 1000 * SAMPLE_RATE)
        self.tracker = DelayTracker(self.max_lag)
        self.ref = _Timeline()
        self.mic_hist = _Timeline()  # recent mic samples, for delay estimation
        self.n_mic = 0  # absolute index of the next microphone sample
        self.offset = 0  # reference lag applied to the filter input: delay - margin
        self.delay: int | None = None
        self._in = np.zeros(0)
        self._out = np.zeros(0)
        self._pending_out = 0  # suppressor latency not yet paid out
        self._window = int(0.768 * SAMPLE_RATE)  # delay-estimation window
        self._update_every = max(1, int(delay_update_ms / 1000 * SAMPLE_RATE / block))
        self._blocks = 0
        self._d_energy = 0.0
        self._e_energy = 0.0
        self._double_talk = False
        self._active = False
        self._since_ref = 10**9
        self._learned_latch = False
        self._live_blocks = 0

    @classmethod
    def from_config(cls, config: "Config") -> "EchoCanceller":
        return cls(filter_ms=config.echo.filter_ms, max_delay_ms=config.echo.max_delay_ms)

    # --- playback side ------------------------------------------------------------------
    def push_reference(self, samples: np.ndarray, sample_rate: int = SAMPLE_RATE,
                       play_time_s: float | None = None) -> None:
        """Record audio handed to the speaker.

        ``play_time_s`` is when its first sample starts playing, on the microphone
        stream's clock (``AudioFrame.start_s``). Omit it to append right after the audio
        already queued, or at the current microphone position if playback was idle: that
        is the right call when every ``sink.play`` is mirrored here. The device's own
        latency need not be known; the delay tracker finds it (up to ``max_delay_ms``).
        """
        x = resample(np.asarray(samples, dtype=np.float32), sample_rate, SAMPLE_RATE)
        if play_time_s is None:
            start = max(self.ref.end, self.n_mic)
        else:
            start = int(round(play_time_s * SAMPLE_RATE))
        self.ref.write(start, x)

    def stop_reference(self, at_s: float | None = None) -> None:
        """Playback stopped (barge-in): forget reference queued beyond ``at_s`` (default: now).

        Call it right after ``sink.stop()``: audio that was queued but never played must not
        be "cancelled" out of the user's continuing speech.
        """
        at = self.n_mic if at_s is None else int(round(at_s * SAMPLE_RATE))
        self.ref.truncate(at)

    def reference(self, samples: np.ndarray, sample_rate: int) -> None:
        """The engine's ``MicCleaner``/``PlaybackReference`` hook: audio about to be played."""
        self.push_reference(samples, sample_rate)

    # --- microphone side ----------------------------------------------------------------
    def clean_frame(self, frame: AudioFrame) -> AudioFrame:
        return AudioFrame(samples=self.clean(frame.samples), start_s=frame.start_s)

    def clean(self, mic: np.ndarray, start_s: float | None = None) -> np.ndarray:
        """Return the echo-cancelled version of ``mic`` (same length, float32).

        Frames must be contiguous (``start_s`` is accepted for the engine's ``MicCleaner``
        protocol; the canceller keeps its own sample count). Output lags input by one
        block (16 ms) because of the suppressor's overlap-add; the first call pads with zeros.
        """
        mic = np.asarray(mic, dtype=np.float64)
        self._in = np.concatenate([self._in, mic]) if len(self._in) else mic
        outs = []
        N = self.block
        while len(self._in) >= N:
            d, self._in = self._in[:N], self._in[N:]
            outs.append(self._process_block(d))
        produced = np.concatenate(outs) if outs else np.zeros(0)
        self._out = np.concatenate([self._out, produced]) if len(self._out) else produced
        n = len(mic)
        if len(self._out) < n:  # start-up: pad at the front
            self._out = np.concatenate([np.zeros(n - len(self._out)), self._out])
        out, self._out = self._out[:n], self._out[n:]
        return out.astype(np.float32)

    def _process_block(self, d: np.ndarray) -> np.ndarray:
        N = self.block
        t0 = self.n_mic
        self.mic_hist.write(t0, d.astype(np.float32))
        self.n_mic += N
        self._blocks += 1
        # Is any reference within reach of this block (max delay + filter + tail)?
        span = self.max_lag + self.filter.P * N
        reach = self.ref.read(t0 + N - span, span)
        ref_live = bool(np.any(reach))
        self._since_ref = 0 if ref_live else self._since_ref + 1
        self._active = ref_live

        every = self._update_every if self.delay is not None else max(1, self._update_every // 2)
        if ref_live and self._blocks % every == 0:
            self._track_delay()

        x = self.ref.read(t0 - self.offset, N)
        self.filter.push_reference_block(x)
        if ref_live:
            adapt = self.delay is not None
            e = self.filter.process(d, adapt=adapt)
            y = self.filter.last_echo
        else:
            e, y = d, np.zeros(N)
        self._update_stats(d, e, y, ref_live)
        if self.suppressor is not None:
            learning = ref_live and not self._learned()
            out = self.suppressor.process(e, y, self.filter.leak, active=ref_live,
                                          learning=learning)
        else:
            out = e
        self.ref.trim(self.n_mic - self.max_lag - (self.filter.P + 2) * N - self._window)
        self.mic_hist.trim(self.n_mic - self._window - N)
        return out

    def _track_delay(self) -> None:
        W, L = self._window, self.max_lag
        end = self.n_mic
        mic = self.mic_hist.read(end - W, W)
        ref = self.ref.read(end - W - L, W + L)
        if float(ref @ ref) < 1e-6 * len(ref) or float(mic @ mic) < 1e-9 * W:
            return
        new = self.tracker.update(mic, ref)
        if new is None:
            return
        new_offset = max(0, new - self.margin)
        if self.delay is None:
            self.offset = new_offset
        else:
            # The echo path moved by (new - old) relative to the reference: keep the learned
            # response by shifting it, and rebuild the filter input at the new alignment.
            self.filter.shift_weights(-(new_offset - self.offset))
            self.offset = new_offset
        self.delay = new
        P, N = self.filter.P, self.block
        hist = self.ref.read(self.n_mic - N - self.offset - (P + 1) * N, (P + 1) * N)
        self.filter.load_reference_history(hist)

    def _learned(self) -> bool:
        """Has the filter learned the room well enough to tell the user from the echo?

        Latched: true once the linear filter shows ~15 dB ERLE after adapting, or after
        4 s of playback whatever happens (so a user talking from the very first word is
        not muted for long). Until then the output is muted while playback is on: the
        first second or so of the first reply is half-duplex.
        """
        if not self._learned_latch:
            good = self.delay is not None and self.filter.adapted and \
                self._e_energy * 30.0 < self._d_energy
            if good or self._live_blocks * self.block > 4 * SAMPLE_RATE:
                self._learned_latch = True
        return self._learned_latch

    def _update_stats(self, d: np.ndarray, e: np.ndarray, y: np.ndarray, live: bool) -> None:
        if not live:
            self._double_talk = False
            return
        self._live_blocks += 1
        Sd, Se, Sy = float(d @ d), float(e @ e), float(y @ y)
        a = 0.06  # ~0.27 s at 16 ms blocks
        self._d_energy = (1 - a) * self._d_energy + a * Sd
        self._e_energy = (1 - a) * self._e_energy + a * Se
        # Double talk: after convergence, the error is far above the residual echo the filter
        # expects and a sizeable part of what the mic hears (an indicator for the TUI/trace).
        self._double_talk = self.filter.adapted and Sy > 1e-3 * Sd \
            and Se > 10.0 * self.filter.leak * Sy \
            and Se > 0.1 * Sd

    # --- introspection ------------------------------------------------------------------
    @property
    def latency_samples(self) -> int:
        return self.block if self.suppressor is not None else 0

    def state(self) -> EchoState:
        erle = 10 * np.log10((self._d_energy + 1e-12) / (self._e_energy + 1e-12))
        supp = 0.0
        if self.suppressor is not None:
            supp = -20 * np.log10(max(self.suppressor.last_gain_mean, 1e-6))
        return EchoState(
            active=self._active,
            delay_ms=None if self.delay is None else self.delay * 1000 / SAMPLE_RATE,
            erle_db=float(erle),
            converged=self.filter.adapted,
            double_talk=self._double_talk,
            suppression_db=float(supp),
        )

    def reset(self) -> None:
        """Forget the learned echo path (a different output device was chosen)."""
        self.filter.reset()
        self.tracker.reset()
        self.delay = None
        self.offset = 0
        self._learned_latch = False
        self._live_blocks = 0
        if self.suppressor is not None:
            self.suppressor.reset()


def create(config: "Config") -> EchoCanceller | None:
    """The canceller the engine should use, or None when ``[echo] enabled = false``."""
    if not config.echo.enabled:
        return None
    return EchoCanceller.from_config(config)
