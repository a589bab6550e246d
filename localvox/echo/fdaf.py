"""Partitioned-block frequency-domain adaptive filter (MDF) for the linear echo path.

Why this design: the echo path of a laptop (speaker -> chassis/room -> microphone) is a
long impulse response (tens to hundreds of ms). A time-domain NLMS filter of that length
costs ~1000 multiply-adds per sample and converges slowly on speech; a partitioned FDAF
does the same work with a handful of FFTs per block and normalises the step per frequency
bin, which is what makes it converge on coloured signals like speech (Soo & Pang 1990,
the "MDF" of Speex).

Two filters run side by side (Speex's foreground/background scheme): the *background*
filter adapts every block, the *foreground* filter produces the output and only takes the
background's weights when they have proven better over recent blocks. When the user talks
over the assistant (double talk) the background filter may be pulled off course, but the
output keeps using the last good weights, and a clearly diverged background is reset from
the foreground. The step size itself follows Valin's rule (IEEE TASLP 2007): per bin,
step = residual echo / error power, where the residual echo is estimated from the
leakage between the error and the echo estimate. Near-end speech inflates the error but
not the residual echo, so adaptation slows down by itself during double talk.
"""

from __future__ import annotations

import numpy as np


class PartitionedFDAF:
    """Overlap-save partitioned-block NLMS in the frequency domain, with fg/bg filters.

    ``block`` samples in, ``block`` samples of error out per call to :meth:`process`.
    ``partitions`` * ``block`` is the filter length in samples.
    """

    def __init__(self, block: int = 256, partitions: int = 4, mu_max: float = 0.5) -> None:
        self.N = block
        self.P = max(1, partitions)
        self.K = block + 1
        self.mu_max = mu_max
        self.window = np.zeros(2 * block, dtype=np.float64)  # last 2N aligned reference samples
        self.X = np.zeros((self.P, self.K), dtype=np.complex128)  # newest partition first
        self.Wb = np.zeros((self.P, self.K), dtype=np.complex128)
        self.Wf = np.zeros((self.P, self.K), dtype=np.complex128)
        self.power = np.zeros(self.K)  # smoothed |X|^2 per bin
        self.Eh = np.zeros(self.K)  # slow averages of error / echo spectra (leak regression)
        self.Yh = np.zeros(self.K)
        self.Pey = 1.0
        self.Phh = 1.0
        self.leak = 0.0
        self.adapted = False
        self.sum_adapt = 0.0
        self.Eb_avg = 0.0  # smoothed energies of the bg and fg errors
        self.Ef_avg = 0.0
        self.bg_worse = 0
        self.last_echo = np.zeros(block)  # fg echo estimate for the last block (time domain)
        self.last_Yf = np.zeros(self.K)  # its power spectrum
        self._ss = 0.35 / self.P

    # --- reference handling -------------------------------------------------------------
    def push_reference_block(self, x: np.ndarray) -> None:
        """Feed the next ``block`` aligned reference samples (call before :meth:`process`)."""
        self.window[: self.N] = self.window[self.N :]
        self.window[self.N :] = x
        self.X[1:] = self.X[:-1]
        self.X[0] = np.fft.rfft(self.window)

    def load_reference_history(self, history: np.ndarray) -> None:
        """Rebuild the partition history from ``(P + 1) * block`` aligned samples (oldest first).

        Used after a delay change: the filter's input must be the reference as it would have
        been had the new alignment been in place all along.
        """
        N, P = self.N, self.P
        for p in range(P):
            end = len(history) - p * N
            self.X[p] = np.fft.rfft(history[end - 2 * N : end])
        self.window[:] = history[-2 * N :]

    def shift_weights(self, samples: int) -> None:
        """Move both filters' impulse responses ``samples`` later (negative: earlier).

        A delay re-estimate that moves the reference by d samples moves the echo path by -d
        within the filter; shifting the taps keeps the converged response instead of
        relearning it.
        """
        if samples == 0:
            return
        for W in (self.Wb, self.Wf):
            taps = np.fft.irfft(W, n=2 * self.N, axis=1)[:, : self.N].reshape(-1)
            moved = np.zeros_like(taps)
            if samples > 0:
                if samples < len(taps):
                    moved[samples:] = taps[: len(taps) - samples]
            else:
                s = -samples
                if s < len(taps):
                    moved[: len(taps) - s] = taps[s:]
            padded = np.zeros((self.P, 2 * self.N))
            padded[:, : self.N] = moved.reshape(self.P, self.N)
            W[:] = np.fft.rfft(padded, axis=1)

    def taps(self) -> np.ndarray:
        """The foreground filter's impulse response, ``P * block`` samples (lag 0 first)."""
        return np.fft.irfft(self.Wf, n=2 * self.N, axis=1)[:, : self.N].reshape(-1)

    def load_taps(self, h: np.ndarray) -> None:
        """Replace both filters with impulse response ``h`` (e.g. a least-squares estimate)."""
        taps = np.zeros(self.P * self.N)
        taps[: min(len(h), len(taps))] = h[: len(taps)]
        padded = np.zeros((self.P, 2 * self.N))
        padded[:, : self.N] = taps.reshape(self.P, self.N)
        self.Wf[:] = np.fft.rfft(padded, axis=1)
        self.Wb[:] = self.Wf
        self.Eb_avg = self.Ef_avg
        self.bg_worse = 0

    def assume_converged(self, leak: float) -> None:
        """After :meth:`load_taps` with a good estimate: adapt as a converged filter would.

        Seeds the leakage estimate (residual echo / echo) with the measured value, so the
        step-size rule starts small instead of treating the whole error as echo.
        """
        self.adapted = True
        self.leak = float(min(max(leak, 0.005), 0.5))
        self.Pey = self.leak * self.Phh

    def reset(self) -> None:
        self.Wb[:] = 0
        self.Wf[:] = 0
        self.adapted = False
        self.sum_adapt = 0.0
        self.Pey = self.Phh = 1.0
        self.leak = 0.0

    # --- one block ----------------------------------------------------------------------
    def process(self, d: np.ndarray, adapt: bool = True) -> np.ndarray:
        """Cancel the echo in mic block ``d``; return the foreground error (cleaned block)."""
        N = self.N
        Yb_full = np.einsum("pk,pk->k", self.Wb, self.X)
        Yf_full = np.einsum("pk,pk->k", self.Wf, self.X)
        yy = np.fft.irfft(np.stack([Yb_full, Yf_full]), axis=1)[:, N:]
        yb, yf = yy[0], yy[1]
        eb = d - yb
        ef = d - yf
        self.last_echo = yf

        # Foreground/background arbitration on smoothed error energies.
        Sb = float(eb @ eb)
        Sf = float(ef @ ef)
        self.Eb_avg = 0.6 * self.Eb_avg + 0.4 * Sb
        self.Ef_avg = 0.6 * self.Ef_avg + 0.4 * Sf
        Sdd = float(d @ d)
        if self.Eb_avg < 0.85 * self.Ef_avg and Sb <= Sdd:
            self.Wf[:] = self.Wb
            ef = eb
            yf = yb
            self.Ef_avg = self.Eb_avg
            self.bg_worse = 0
        elif self.Eb_avg > 4.0 * self.Ef_avg + 1e-12:
            self.bg_worse += 1
            if self.bg_worse >= 3:  # clearly diverged (double talk): start again from fg
                self.Wb[:] = self.Wf
                self.Eb_avg = self.Ef_avg
                self.bg_worse = 0
        else:
            self.bg_worse = 0

        pad = np.zeros((3, 2 * N))
        pad[0, N:] = eb
        pad[1, N:] = yb
        pad[2, N:] = yf
        spec = np.fft.rfft(pad, axis=1)
        E, Yb, Yfs = spec[0], spec[1], spec[2]
        self.last_Yf = (Yfs.real**2 + Yfs.imag**2)
        if adapt:
            self._adapt(E, Yb, eb, yb)
        return ef

    def _adapt(self, E: np.ndarray, Y: np.ndarray, e: np.ndarray, y: np.ndarray) -> None:
        N = self.N
        Rf = E.real**2 + E.imag**2
        Yf = Y.real**2 + Y.imag**2
        Xf = self.X[0].real ** 2 + self.X[0].imag ** 2
        self.power = (1 - self._ss) * self.power + self._ss * Xf
        See = float(e @ e) + 1e-9
        Syy = float(y @ y)
        Sxx = float(self.window[N:] @ self.window[N:])
        if Sxx < 1e-7 * N:  # no playback: nothing to learn from
            return

        # Leakage: regression of error-spectrum changes on echo-spectrum changes.
        dE = Rf - self.Eh
        dY = Yf - self.Yh
        self.Eh = 0.65 * self.Eh + 0.35 * Rf
        self.Yh = 0.65 * self.Yh + 0.35 * Yf
        Pey = float(dE @ dY)
        Phh = float(dY @ dY)
        beta0 = 2.0 * N / 16000.0
        beta_max = 0.5 * N / 16000.0
        alpha = min(beta0 * Syy, beta_max * See) / See
        self.Pey = (1 - alpha) * self.Pey + alpha * Pey
        self.Phh = (1 - alpha) * self.Phh + alpha * Phh
        self.Phh = max(self.Phh, 1e-12)
        self.Pey = min(max(self.Pey, 0.005 * self.Phh), self.Phh)
        leak = self.Pey / self.Phh
        self.leak = 1.0 if leak > 0.5 else leak

        if not self.adapted and self.sum_adapt > self.P and self.leak * Syy > 0.03 * Syy:
            self.adapted = True
        if self.adapted:
            RER = min(0.5, (1e-4 * Sxx + 3.0 * self.leak * Syy) / See)
            r = np.minimum(self.leak * Yf, 0.5 * (Rf + 1e-12))
            r = 0.7 * r + 0.3 * RER * (Rf + 1e-12)
            step = r / ((Rf + 1e-12) * (self.power + 1e-6))
        else:
            rate = min(0.25 * Sxx, 0.25 * See) / See
            step = rate / (self.power + 1e-6)
            self.sum_adapt += rate
        # Normalised by sqrt(P): the partitions share one error, so the summed update is
        # larger than a single-block NLMS step; 1/P is stable but slow, 1 diverges for P >= 8.
        step = np.minimum(step, self.mu_max / (self.power + 1e-6)) / self.P ** 0.5

        G = np.conj(self.X) * (step * E)[None, :]
        g = np.fft.irfft(G, axis=1)
        g[:, N:] = 0.0  # gradient constraint: keep each partition causal and N long
        self.Wb += np.fft.rfft(g, axis=1)
