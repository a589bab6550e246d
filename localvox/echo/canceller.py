"""EchoCanceller: removes the assistant's own playback from the microphone signal.

localvox knows, sample for sample, what it plays. The engine hands that audio to
:meth:`EchoCanceller.push_reference` as it hands it to the sink, and passes every
microphone frame through :meth:`EchoCanceller.clean`. Inside, per 16 ms block:

1. the reference is read from a timeline kept in microphone-clock samples, shifted by the
   speaker-to-mic delay that a GCC-PHAT tracker estimates to a fraction of a sample; the
   alignment then moves at the clock-drift rate measured from the filter (``align``) and
   reads the reference between samples, so the echo path the filter sees stays fixed;
2. a partitioned-block frequency-domain adaptive filter subtracts the linear echo
   (foreground/background filters and a leakage-driven step size protect it from
   diverging while the user talks over the assistant); until it has proven itself, a
   least-squares solve on the last second (``wiener``) gives it a warm start;
3. a spectral residual suppressor removes what the linear filter cannot, including the
   room's reverberation past the filter's length (``reverb``).

The reference and the microphone history are kept on the microphone's clock by
``timeline.Timeline``.

With no playback anywhere near, the signal passes through unchanged (apart from the fixed
one-block latency of the suppressor's overlap-add), so the canceller can stay on all the time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from localvox.audio.base import SAMPLE_RATE, AudioFrame, resample
from localvox.echo.align import DriftingAlignment, PathDriftMeter
from localvox.echo.delay import DelayTracker
from localvox.echo.fdaf import PartitionedFDAF
from localvox.echo.reverb import ReverbTail
from localvox.echo.suppressor import ResidualSuppressor
from localvox.echo.timeline import Timeline
from localvox.echo.wiener import least_squares_path, residual_energy

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


class EchoCanceller:
    """Reference-based acoustic echo canceller for 16 kHz mono float32 audio.

    Thread-safety: call everything from one task (the engine's audio loop).
    """

    proven_after_s = 2.5
    """Playback heard before the canceller may claim full duplex (see ``full_duplex``)."""

    def __init__(self, *, sample_rate: int = SAMPLE_RATE, filter_ms: float = 128.0,
                 max_delay_ms: float = 300.0, block: int = 256, margin_ms: float = 8.0,
                 suppress: bool = True, tail_ms: float = 100.0,
                 delay_update_ms: float = 256.0) -> None:
        if sample_rate != SAMPLE_RATE:
            raise ValueError("EchoCanceller runs at 16 kHz; resample at the edge")
        self.block = block
        partitions = max(1, int(round(filter_ms / 1000 * SAMPLE_RATE / block)))
        self.filter = PartitionedFDAF(block=block, partitions=partitions)
        self.suppressor = ResidualSuppressor(block=block, tail_ms=tail_ms) if suppress else None
        self.reverb = ReverbTail()
        self.max_lag = int(max_delay_ms / 1000 * SAMPLE_RATE)
        self.margin = int(margin_ms / 1000 * SAMPLE_RATE)
        self.tracker = DelayTracker(self.max_lag)
        self.align = DriftingAlignment(self.margin)
        self.drift = PathDriftMeter(self.filter.P * block)
        self.ref = Timeline()
        self.mic_hist = Timeline()  # recent mic samples, for delay estimation
        self.n_mic = 0  # absolute index of the next microphone sample
        self.delay: int | None = None  # rounded current delay, for display and tests
        self._in = np.zeros(0)
        self._out = np.zeros(0)
        self._pending_out = 0  # suppressor latency not yet paid out
        self._window = int(0.768 * SAMPLE_RATE)  # delay-estimation window
        self._fit_window = int(1.0 * SAMPLE_RATE)  # least-squares warm-start window
        self._update_every = max(1, int(delay_update_ms / 1000 * SAMPLE_RATE / block))
        self._blocks = 0
        self._d_energy = 0.0
        self._e_energy = 0.0
        self._double_talk = False
        self._active = False
        self._since_ref = 10**9
        self._learned_latch = False
        self._live_blocks = 0
        self._refit_until = 0
        self._since_load = (0.0, 0.0, 0)  # mic, error energy and blocks since the last refit
        self._adapted_blocks = 0

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
            if self.filter.adapted and self.align.locked:
                residual = self.drift.update(self.n_mic, self.filter.taps())
                if residual is not None:
                    self.align.correct_rate(0.7 * residual)

            if self.delay is not None and (not self._learned_latch
                                           or self._live_blocks < self._refit_until):
                self._refit()

        self.align.advance(t0)
        x = self._aligned_reference(t0, N)
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
            tail = None
            if ref_live and self.filter.adapted:
                tail = self.reverb.update(self.filter.Wf, self.filter.X)
            else:
                self.reverb.reset()
            out = self.suppressor.process(e, y, self.filter.leak, active=ref_live,
                                          learning=learning,
                                          measure=ref_live and self.filter.adapted, tail=tail)
        else:
            out = e
        self.ref.trim(self.n_mic - self.max_lag - (self.filter.P + 2) * N - self._window)
        self.mic_hist.trim(self.n_mic - max(self._window, self._fit_window) - N)
        return out

    def _aligned_reference(self, t: int, n: int) -> np.ndarray:
        """The reference that lines up with microphone samples ``t .. t + n``."""
        if not self.align.locked:
            return self.ref.read(t, n)
        return self.ref.read_between(t - self.align.lag_at(t), n, 1.0 - self.align.rate)

    def _track_delay(self) -> None:
        W, L = self._window, self.max_lag
        end = self.n_mic
        mic = self.mic_hist.read(end - W, W)
        ref = self.ref.read(end - W - L, W + L)
        if float(ref @ ref) < 1e-6 * len(ref) or float(mic @ mic) < 1e-9 * W:
            return
        confirmed = self.tracker.update(mic, ref)
        estimate = self.tracker.last
        measured_at = end - W // 2
        if not self.align.locked:
            if confirmed is None or estimate is None:
                return  # the first lock waits for two agreeing estimates
            self.align.measure(measured_at, estimate.fine)
        elif estimate is None or not self.align.measure(measured_at, estimate.fine):
            self.delay = int(round(self.align.lag_at(end) + self.margin))
            return
        else:
            # The echo jumped (a device re-opened). Whether the learned response still fits
            # at the new alignment depends on how far the filter already followed: the
            # least-squares refits over the next seconds settle it.
            self._refit_until = self._live_blocks + self._update_every * 8
        self.delay = int(round(self.align.lag_at(end) + self.margin))
        P, N = self.filter.P, self.block
        t0 = end - N  # the block being processed; the history ends just before it
        self.filter.load_reference_history(self._aligned_reference(t0 - (P + 1) * N, (P + 1) * N))

    def _refit(self) -> None:
        """While still learning, try a least-squares echo path on the last second.

        Kept only if it beats the current filter on that same window (see ``wiener``).
        """
        T = self.filter.P * self.block
        end = self.n_mic
        W = min(self._fit_window, self._live_blocks * self.block)
        if W < self._window // 2:
            return
        d = self.mic_hist.read(end - W, W)
        lag = self.align.lag_at(end - W - (T - 1))
        x = self.ref.read_between(end - W - (T - 1) - lag, W + T - 1, 1.0 - self.align.rate)
        h = least_squares_path(x, d, T)
        if h is None:
            return
        mine = residual_energy(x, d, h)
        current = residual_energy(x, d, self.filter.taps())
        energy = float(d @ d)
        if mine < 0.8 * current:
            self.filter.load_taps(h)
            self._since_load = (0.0, 0.0, 0)
            if mine * 4.0 < energy:  # >= 6 dB: treat as converged for the step rule
                self.filter.assume_converged(leak=mine / max(energy - mine, 1e-12))

    def _learned(self) -> bool:
        """Has the filter learned the room well enough to tell the user from the echo?

        Until then the output is muted while playback is on (the first ~0.8 s of the first
        reply is half duplex). It is learned once the filter has adapted (the least-squares
        start, ~0.5 s into playback) and then run for 0.3 s more: long enough for the
        suppressor's residual estimates, which are measured, to hold real values. Latched
        separately, once ~15 dB of ERLE is shown on new audio, it also ends the refits.
        """
        if not self._learned_latch:
            d, e, blocks = self._since_load
            if self.delay is not None and self.filter.adapted and blocks >= 20 and e * 30 < d:
                self._learned_latch = True
        return self._learned_latch or self._adapted_blocks * self.block >= 0.3 * SAMPLE_RATE \
            or self._live_blocks * self.block > 4 * SAMPLE_RATE

    def _update_stats(self, d: np.ndarray, e: np.ndarray, y: np.ndarray, live: bool) -> None:
        if not live:
            self._double_talk = False
            return
        self._live_blocks += 1
        Sd, Se, Sy = float(d @ d), float(e @ e), float(y @ y)
        a = 0.06  # ~0.27 s at 16 ms blocks
        if self.filter.adapted:
            self._adapted_blocks += 1
            d, e, blocks = self._since_load
            self._since_load = (d + Sd, e + Se, blocks + 1)
        self._d_energy = (1 - a) * self._d_energy + a * Sd
        self._e_energy = (1 - a) * self._e_energy + a * Se
        # Double talk: after convergence, the error is far above the residual echo the filter
        # expects and a sizeable part of what the mic hears (an indicator for the TUI/trace).
        self._double_talk = self.filter.adapted and Sy > 1e-3 * Sd \
            and Se > 10.0 * self.filter.leak * Sy \
            and Se > 0.1 * Sd

    # --- introspection ------------------------------------------------------------------
    @property
    def full_duplex(self) -> bool:
        """For the engine: is the cleaned audio safe for the normal barge-in rule?

        Not until the canceller has proven itself on this room: the filter has shown
        ~15 dB of cancellation on audio it was not fitted to (the latch in ``_learned``)
        and ``proven_after_s`` of playback has gone by. Until then the engine applies the
        raised half-duplex barge-in threshold to the cleaned signal. Why: in the first
        seconds of the first reply the filter has heard too little of the playback to
        cancel the parts it has not heard yet, and the suppressor's measured estimates are
        young; on the simulated rooms 8 of 80 reply openings leaked a false barge-in in
        the first 4 s under the normal rule, none with this gate (`localvox bench echo`).
        """
        return self._learned_latch and self._live_blocks * self.block >= \
            self.proven_after_s * SAMPLE_RATE

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
        self.reverb.reset()
        self.tracker.reset()
        self.delay = None
        self.align.reset()
        self._refit_until = 0
        self._learned_latch = False
        self._live_blocks = 0
        self._adapted_blocks = 0
        if self.suppressor is not None:
            self.suppressor.reset()


def create(config: "Config") -> EchoCanceller | None:
    """The canceller the engine should use, or None when ``[echo] enabled = false``."""
    if not config.echo.enabled:
        return None
    return EchoCanceller.from_config(config)
