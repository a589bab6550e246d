"""The replay of ``localvox bench endpoint``: one utterance through one end-of-turn policy.

Why apart from the bench: this is the timing model the figures rest on -- 32 ms frames
fed as fast as they go, but the forced partial transcript (at 64 ms of silence, as the
engine does) and each Smart Turn verdict released to the endpointer only after their
*measured* wall time has passed in stream time, each computed once per (clip, audio
length) and shared by both policies.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from localvox.bench.endpoint_data import SR, Utt

if TYPE_CHECKING:
    import numpy as np

FRAME = 512
FORCE_PARTIAL_MS = 64          # EngineOptions.force_partial_after_ms


@dataclass
class Outcome:
    name: str
    kind: str
    policy: str
    wait_ms: float | None          # first endpoint after the true end (None: cut off)
    cut_off: bool
    in_pause: bool
    reason: str = ""
    turn_probability: float | None = None
    partial: str | None = None
    vad_end_ms: float | None = None
    """Where the VAD put the end of speech, relative to the true end (its lag)."""


# --------------------------------------------------------------------------------------
# Replay
# --------------------------------------------------------------------------------------
@dataclass
class ReplayCache:
    """Background work computed once per (clip, audio length), shared by both policies."""

    decodes: dict[tuple[str, int], tuple[str, float]] = field(default_factory=dict)
    verdicts: dict[tuple[str, int], tuple[float, float]] = field(default_factory=dict)
    turn_ms: list[float] = field(default_factory=list)
    decode_ms: list[float] = field(default_factory=list)


class _CachedJudge:
    """A ``TurnJudge`` that runs Smart Turn at once and releases the verdict after its
    measured wall time (in stream time); repeats of the same question reuse the answer."""

    def __init__(self, detector: Any, cache: ReplayCache, clip: str) -> None:
        self.detector, self.cache, self.clip, self.name = detector, cache, clip, detector.name

    def request(self, audio: "np.ndarray", at_s: float) -> Any:
        from localvox.vad.smart_turn import _TimedVerdict

        key = (self.clip, len(audio))
        if key not in self.cache.verdicts:
            t0 = time.perf_counter()
            p = self.detector.probability(audio)
            dt = time.perf_counter() - t0
            self.cache.verdicts[key] = (p, dt)
            self.cache.turn_ms.append(dt * 1000)
        p, dt = self.cache.verdicts[key]
        return _TimedVerdict(p, at_s + dt)

    def close(self) -> None:
        pass


def vad_probs(vad: Any, x: "np.ndarray") -> list[float]:
    vad.reset()
    return [float(vad.probability(x[i:i + FRAME])) for i in range(0, len(x) - FRAME + 1, FRAME)]


def replay(utt: Utt, probs: list[float], config: Any, parts: Any, cache: ReplayCache,
           policy: str, detector: Any, force_partial_ms: int = FORCE_PARTIAL_MS) -> Outcome:
    """One utterance through one policy: ``adaptive``, ``smart-turn@MS`` (Smart Turn
    alone, asked at MS) or ``agree@MS`` (asked at MS, ends early only when the partial
    transcript looks complete too: ``[endpoint] smart_turn_agree``); a suffix `` hH``
    replaces ``[vad] hysteresis`` with H, `` tT`` ``[endpoint] smart_turn_threshold``,
    `` rMS`` ``smart_turn_reask_ms`` (0 without it). ``force_partial_ms``: the silence at which the
    engine forces a partial decode (``EngineOptions.force_partial_after_ms``)."""
    import dataclasses

    from localvox.vad.endpoint import Endpointer
    from localvox.vad.endpoint_events import SpeechEnded

    v = config.vad
    cfg = config.endpoint
    judge = None
    name, *mods = policy.split(" ")
    opts = {m[0]: float(m[1:]) for m in mods}   # t0.7: threshold, h0.05: hysteresis, r256: re-ask
    if name != "adaptive":
        judge = _CachedJudge(detector, cache, utt.name)
        kind, ask = name.split("@")
        cfg = dataclasses.replace(cfg, smart_turn_silence_ms=int(ask),
                                  smart_turn_agree=kind == "agree",
                                  smart_turn_threshold=opts.get("t", cfg.smart_turn_threshold),
                                  smart_turn_reask_ms=int(opts.get("r", 0)))
    ep = Endpointer(cfg, threshold=v.threshold, hysteresis=opts.get("h", v.hysteresis),
                    pre_roll_ms=v.pre_roll_ms,
                    min_speech_ms=v.min_speech_ms, max_utterance_s=v.max_utterance_s,
                    judge=judge)
    pending: tuple[float, str] | None = None     # (ready_at_s, text) of the forced partial
    forced_for = -1.0
    last_voiced = 0.0
    for i, p in enumerate(probs):
        frame = utt.samples[i * FRAME:(i + 1) * FRAME]
        end_s = (i + 1) * FRAME / SR
        if pending is not None and end_s >= pending[0]:
            ep.set_partial(pending[1])
            pending = None
        decisions = ep.feed(frame, p)
        for d in decisions:
            if isinstance(d, SpeechEnded):
                cut = d.decided_s < utt.speech_end_s
                in_pause = bool(utt.pause and utt.pause[0] <= d.decided_s
                                < utt.pause[1] + 0.1)
                wait = None if cut else round((d.decided_s - utt.speech_end_s) * 1000, 1)
                return Outcome(utt.name, utt.kind, policy, wait, cut, in_pause, d.reason,
                               d.turn_probability, d.partial,
                               round((d.speech_end_s - utt.speech_end_s) * 1000, 1))
        if not ep.in_speech:
            continue
        if p >= config.vad.threshold:
            last_voiced = end_s
        elif (end_s - last_voiced) * 1000 >= force_partial_ms and forced_for != last_voiced:
            forced_for = last_voiced
            audio = ep.utterance_audio()
            key = (utt.name, len(audio))
            if key not in cache.decodes:
                d = parts.asr.decode(audio)
                cache.decodes[key] = (d.text, d.decode_s)
                cache.decode_ms.append(d.decode_s * 1000)
            text, dt = cache.decodes[key]
            pending = (end_s + dt, text)
    return Outcome(utt.name, utt.kind, policy, None, False, False, "none")
