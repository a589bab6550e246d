"""``localvox bench endpoint``: both sides of the end-of-turn trade, on real speech.

Two policies, side by side, over the same Silero probabilities and the same transcripts:

* ``adaptive``: today's transcript-based silence (``[endpoint]`` complete / incomplete /
  default silences chosen from the latest partial);
* ``smart-turn``: a ``smart_turn_silence_ms`` VAD silence, then Smart Turn v3.2 decides;
  the adaptive silence stays as the fallback until its verdict is in.

Two sets of utterances:

* ``complete``: whole utterances from ``../shared/speech`` (``asr/`` read speech with
  1.5 s of room tone appended -- the LJSpeech clips are trimmed -- and the first
  ``--coffee`` spoken coffee orders, which keep their original trailing silence). Scored:
  the end-of-turn wait, from the true end of speech to the endpoint, p50/p95.
* ``paused``: utterances with a mid-sentence pause -- the ``asr/`` clips with a 300-900 ms
  pause of their own room tone spliced in at a phrase boundary (a word gap before
  "and", "of", "the", ... or after a comma, found with Whisper's word timestamps), and
  Piper utterances that stop after "um", "and", "the weather in ...". An endpoint
  decided before the true end of speech is a false cut-off.

Timing is replayed in stream time, never assumed: the replay feeds 32 ms frames as fast
as it can, but every piece of background work -- the partial transcript the engine forces
at 64 ms of silence, and each Smart Turn verdict -- is computed when the live loop would
start it and handed to the endpointer only after its *measured* wall time has passed in
stream time. The engine's periodic partials (every 500 ms of speech) are not replayed: at
the silence that matters they are superseded by the forced one. True end of speech is an
energy rule (last 10 ms frame within 40 dB of the clip's peak and 12 dB above its floor),
independent of the VAD being measured. Figures measured under load inflate both the
Whisper and the Smart Turn delays.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

NAME = "endpoint"
HELP = "end-of-turn wait and false cut-offs on real speech: adaptive silence vs Smart Turn"

SR = 16000
FRAME = 512
LEAD_S = 0.5
TAIL_S = 1.5
FORCE_PARTIAL_MS = 64          # EngineOptions.force_partial_after_ms
PAUSES_MS = (300, 500, 700, 900)
PIPER_PHRASES = (
    ("What's the weather in", "Paris tomorrow?"),
    ("Set a timer for, um,", "ten minutes."),
    ("Remind me to buy milk and", "call my sister tonight."),
    ("Um, what time", "is it in Tokyo?"),
    ("Add eggs and", "bread to my shopping list."),
    ("Can you tell me the", "capital of Australia?"),
    ("Turn the volume up to, uh,", "seven."),
    ("How many minutes are in", "three and a half hours?"),
)
_BOUNDARY_WORDS = {"and", "but", "or", "of", "the", "a", "to", "in", "with", "for", "which",
                   "that", "when", "who", "as", "from", "on", "at", "by", "into"}
ANCHORS = ("published: Pipecat runs Smart Turn after a 200 ms VAD stop (its default "
           "stop_secs fallback is 3 s); issue #20 measured 76 ms per Smart Turn inference "
           "on one thread and a 447 ms p50 end-of-turn wait in `bench latency` with the "
           "adaptive silence")


def speech_root() -> Path:
    """``../shared/speech`` next to the repository (``$LOCALVOX_SPEECH_DIR`` overrides)."""
    from localvox.config import REPO_ROOT

    env = os.environ.get("LOCALVOX_SPEECH_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "speech"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--speech", default=None, help="the real-speech folder (../shared/speech)")
    p.add_argument("--coffee", type=int, default=20,
                   help="spoken coffee orders in the complete set (default 20)")
    p.add_argument("--limit", type=int, default=0, help="at most this many asr clips (0: all)")
    p.add_argument("--no-piper", action="store_true", help="no Piper utterances")
    p.add_argument("--ask-ms", default="",
                   help="Smart Turn silences to compare, e.g. 200,100 (default: "
                        "[endpoint] smart_turn_silence_ms)")


@dataclass
class Utt:
    name: str
    kind: str                      # "complete" | "paused"
    samples: "np.ndarray"
    speech_end_s: float            # true end of speech (stream time of samples)
    pause: tuple[float, float] | None = None   # the spliced pause, if any


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
# Data
# --------------------------------------------------------------------------------------
def speech_bounds(x: "np.ndarray") -> tuple[float, float]:
    """(start_s, end_s) of speech by energy: 10 ms frames within 40 dB of the peak and
    12 dB above the floor (10th percentile)."""
    import numpy as np

    n = len(x) // 160
    if n == 0:
        return 0.0, 0.0
    rms = np.sqrt(np.mean(x[: n * 160].reshape(n, 160).astype(np.float64) ** 2, axis=1))
    db = 20 * np.log10(rms + 1e-9)
    thr = max(db.max() - 40.0, np.percentile(db, 10) + 12.0)
    loud = np.flatnonzero(db >= thr)
    return float(loud[0] * 0.01), float((loud[-1] + 1) * 0.01)


def room_tone(x: "np.ndarray", n: int, rng: Any) -> "np.ndarray":
    """``n`` samples of the clip's own quietest 100 ms, tiled with random offsets."""
    import numpy as np

    w = 1600
    k = max(1, len(x) // w)
    frames = x[: k * w].reshape(k, w)
    quiet = frames[int(np.argmin(np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1))))]
    if not np.any(quiet):
        quiet = rng.normal(0, 10 ** (-70 / 20), w).astype(np.float32)
    reps = [np.roll(quiet, int(rng.integers(w))) for _ in range(n // w + 1)]
    return np.concatenate(reps)[:n].astype(np.float32)


def _pad(x: "np.ndarray", rng: Any, lead_s: float = LEAD_S, tail_s: float = TAIL_S
         ) -> "np.ndarray":
    import numpy as np

    return np.concatenate([room_tone(x, int(lead_s * SR), rng), x,
                           room_tone(x, int(tail_s * SR), rng)]).astype(np.float32)


def phrase_boundary(model: Any, x: "np.ndarray") -> float | None:
    """A word gap in the middle 25-75 % of the speech at a phrase boundary (after a comma
    or before a function word), from Whisper's word timestamps; the quietest 10 ms in it."""
    import numpy as np

    segments, _ = model.transcribe(x, language="en", beam_size=1, word_timestamps=True,
                                   condition_on_previous_text=False, vad_filter=False)
    words = [w for s in segments for w in (s.words or [])]
    if len(words) < 4:
        return None
    t0, t1 = words[0].start, words[-1].end
    best = None
    for a, b in zip(words, words[1:]):
        mid = (a.end + b.start) / 2
        if not (t0 + 0.25 * (t1 - t0) <= mid <= t0 + 0.75 * (t1 - t0)):
            continue
        nxt = re.sub(r"[^a-z']", "", b.word.lower())
        if a.word.strip().endswith(",") or nxt in _BOUNDARY_WORDS:
            gap = b.start - a.end
            if best is None or gap > best[0]:
                best = (gap, a.end, b.start)
    if best is None:
        return None
    lo, hi = int(best[1] * SR), max(int(best[2] * SR), int(best[1] * SR) + 160)
    seg = x[lo:hi + 160]
    k = max(1, len(seg) // 160)
    e = (seg[: k * 160].reshape(k, 160).astype(np.float64) ** 2).mean(axis=1)
    return (lo + int(np.argmin(e)) * 160 + 80) / SR


def load_sets(args: argparse.Namespace, parts: Any) -> list[Utt]:
    import numpy as np

    from localvox.audio.base import resample
    from localvox.audio.wav import read_wav
    from localvox.errors import LocalvoxError

    root = Path(args.speech) if args.speech else speech_root()
    asr = sorted((root / "asr").glob("*/*.wav"))
    if not asr:
        raise LocalvoxError(f"no real speech under {root}/asr: pass --speech DIR "
                            "(the shared speech folder)")
    if args.limit:
        asr = asr[: args.limit]
    rng = np.random.default_rng(20)
    utts: list[Utt] = []
    model = parts.asr.model
    for i, path in enumerate(asr):
        x = read_wav(path)
        _, end = speech_bounds(x)
        utts.append(Utt(path.stem, "complete", _pad(x, rng), LEAD_S + end))
        cut = phrase_boundary(model, x)
        if cut is None:
            continue
        pause = PAUSES_MS[i % len(PAUSES_MS)] / 1000
        a, b = x[: int(cut * SR)], x[int(cut * SR):]
        y = np.concatenate([a, room_tone(x, int(pause * SR), rng), b])
        utts.append(Utt(f"{path.stem}+{int(pause * 1000)}ms", "paused", _pad(y, rng),
                        LEAD_S + end + pause, (LEAD_S + cut, LEAD_S + cut + pause)))
    for path in sorted((root / "intent" / "coffee").glob("*.wav"))[: args.coffee]:
        x = read_wav(path)
        _, end = speech_bounds(x)
        utts.append(Utt(path.stem, "complete", _pad(x, rng, tail_s=0.0), LEAD_S + end))
    if not args.no_piper and parts.tts is not None:
        tts = parts.tts
        for j, (first, second) in enumerate(PIPER_PHRASES):
            a = resample(np.concatenate(tts.synthesize_blocking(first)), tts.sample_rate, SR)
            b = resample(np.concatenate(tts.synthesize_blocking(second)), tts.sample_rate, SR)
            _, a_end = speech_bounds(a)
            b_start, b_end = speech_bounds(b)
            a, b = a[: int((a_end + 0.02) * SR)], b[max(0, int((b_start - 0.02) * SR)):]
            noise = rng.normal(0, 10 ** (-60 / 20), SR).astype(np.float32)
            for pause_ms in (PAUSES_MS[j % 4], PAUSES_MS[(j + 2) % 4]):
                gap = np.resize(noise, int(pause_ms * SR / 1000))
                y = np.concatenate([a, gap, b])
                _, end = speech_bounds(y)
                cut = len(a) / SR
                utts.append(Utt(f"piper:{first} ... {second}+{pause_ms}ms", "paused",
                                _pad(y + np.resize(noise, len(y)), rng), LEAD_S + end,
                                (LEAD_S + cut, LEAD_S + cut + pause_ms / 1000)))
    return utts


# --------------------------------------------------------------------------------------
# Replay
# --------------------------------------------------------------------------------------
@dataclass
class _Cache:
    """Background work computed once per (clip, audio length), shared by both policies."""

    decodes: dict[tuple[str, int], tuple[str, float]] = field(default_factory=dict)
    verdicts: dict[tuple[str, int], tuple[float, float]] = field(default_factory=dict)
    turn_ms: list[float] = field(default_factory=list)
    decode_ms: list[float] = field(default_factory=list)


class _CachedJudge:
    """A ``TurnJudge`` that runs Smart Turn at once and releases the verdict after its
    measured wall time (in stream time); repeats of the same question reuse the answer."""

    def __init__(self, detector: Any, cache: _Cache, clip: str) -> None:
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


def replay(utt: Utt, probs: list[float], config: Any, parts: Any, cache: _Cache,
           policy: str, detector: Any) -> Outcome:
    """One utterance through one policy: ``adaptive`` or ``smart-turn@MS`` (asked at MS)."""
    import dataclasses

    from localvox.vad.endpoint import Endpointer
    from localvox.vad.endpoint_events import SpeechEnded

    v = config.vad
    cfg = config.endpoint
    judge = None
    if policy.startswith("smart-turn"):
        judge = _CachedJudge(detector, cache, utt.name)
        cfg = dataclasses.replace(cfg, smart_turn_silence_ms=int(policy.split("@")[1]))
    ep = Endpointer(cfg, threshold=v.threshold, pre_roll_ms=v.pre_roll_ms,
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
        elif (end_s - last_voiced) * 1000 >= FORCE_PARTIAL_MS and forced_for != last_voiced:
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


# --------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------
def summarize(outcomes: list[Outcome], cache: _Cache) -> dict[str, Any]:
    from localvox.bench.common import percentile

    rows = []
    for policy in dict.fromkeys(o.policy for o in outcomes):
        for kind in ("complete", "paused"):
            sel = [o for o in outcomes if o.policy == policy and o.kind == kind]
            if not sel:
                continue
            waits = [o.wait_ms for o in sel if o.wait_ms is not None]
            lags = [o.vad_end_ms for o in sel if o.vad_end_ms is not None and not o.cut_off]
            rows.append({"policy": policy, "set": kind, "utterances": len(sel),
                         "wait_p50_ms": percentile(waits, 50), "wait_p95_ms": percentile(waits, 95),
                         "vad_lag_p50_ms": percentile(lags, 50),
                         "cut_offs": sum(o.cut_off for o in sel),
                         "cut_in_pause": sum(o.in_pause for o in sel),
                         "by_smart_turn": sum(o.reason == "smart_turn" for o in sel)})
    return {"rows": rows, "outcomes": [asdict(o) for o in outcomes],
            "smart_turn_ms": {"p50": percentile(cache.turn_ms, 50),
                              "p95": percentile(cache.turn_ms, 95), "n": len(cache.turn_ms)},
            "partial_decode_ms": {"p50": percentile(cache.decode_ms, 50),
                                  "p95": percentile(cache.decode_ms, 95),
                                  "n": len(cache.decode_ms)},
            "anchors": ANCHORS}


def print_summary(s: dict[str, Any]) -> None:
    from localvox.bench.common import table

    print(table(("policy", "set", "utterances", "wait p50 ms", "wait p95 ms", "VAD lag p50",
                 "cut-offs", "in the pause", "ended by Smart Turn"),
                [(r["policy"], r["set"], r["utterances"], r["wait_p50_ms"], r["wait_p95_ms"],
                  r["vad_lag_p50_ms"], r["cut_offs"], r["cut_in_pause"], r["by_smart_turn"])
                 for r in s["rows"]],
                title="\nend of turn: true end of speech -> endpoint (cut-off: endpoint "
                      "before the true end)"))
    st, pd = s["smart_turn_ms"], s["partial_decode_ms"]
    print(f"Smart Turn inference: p50 {st['p50']:.0f} ms, p95 {st['p95']:.0f} ms "
          f"({st['n']} runs); forced partial decode: p50 {pd['p50']:.0f} ms, "
          f"p95 {pd['p95']:.0f} ms ({pd['n']} runs)")
    print(s["anchors"])


def plot(s: dict[str, Any], path: str) -> None:
    from localvox.bench.common import figure, save_figure

    fig, axes = figure(size=(8, 4))
    ax = axes[0][0]
    for policy in dict.fromkeys(o["policy"] for o in s["outcomes"]):
        waits = [o["wait_ms"] for o in s["outcomes"]
                 if o["policy"] == policy and o["kind"] == "complete" and o["wait_ms"] is not None]
        ax.hist(waits, bins=30, alpha=0.6, label=policy)
    ax.set_xlabel("end-of-turn wait on complete utterances (ms)")
    ax.set_ylabel("utterances")
    ax.legend()
    save_figure(fig, path)


def run(args: argparse.Namespace, config: Any) -> int:
    import asyncio

    from localvox.bench.common import write_json
    from localvox.pipeline.factory import load_parts
    from localvox.vad import smart_turn

    print(f"loading models ({config.asr.model}, {config.tts.voice}, Silero, Smart Turn) ...",
          flush=True)
    parts = asyncio.run(load_parts(config, need_wake=False))
    detector = smart_turn.create(config)
    t0 = time.perf_counter()
    utts = load_sets(args, parts)
    print(f"{sum(u.kind == 'complete' for u in utts)} complete and "
          f"{sum(u.kind == 'paused' for u in utts)} paused utterances "
          f"({time.perf_counter() - t0:.0f} s to prepare)", flush=True)
    detector.probability(utts[0].samples)          # warm-up, not counted
    cache = _Cache()
    outcomes: list[Outcome] = []
    asks = [int(a) for a in args.ask_ms.split(",") if a.strip()] if args.ask_ms \
        else [config.endpoint.smart_turn_silence_ms]
    policies = ["adaptive"] + [f"smart-turn@{a}" for a in asks]
    for utt in utts:
        probs = vad_probs(parts.vad, utt.samples)
        for policy in policies:
            outcomes.append(replay(utt, probs, config, parts, cache, policy, detector))
    summary = summarize(outcomes, cache)
    print_summary(summary)
    write_json(getattr(args, "json", None), summary)
    if getattr(args, "plot", None):
        plot(summary, args.plot)
    return 0
