"""Guards on a Whisper decode: token log-probabilities, segments past the audio, loops.

Split out of :mod:`localvox.asr.whisper` (which explains when each guard applies and the
measurements behind them); these are pure functions over tokens and text.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

import numpy as np

__all__ = ["cut_repeat", "without_loops"]


def _token_logprobs(step_logits: list[Any], tokens: list[int]) -> np.ndarray:
    """Log-probability of each generated token, from CTranslate2's per-step logits."""
    if not tokens:
        return np.zeros(0, np.float32)
    logits = np.stack([np.asarray(v, dtype=np.float32).reshape(-1)
                       for v in step_logits[:len(tokens)]])
    top = logits.max(axis=1, keepdims=True)
    lse = np.log(np.exp(logits - top).sum(axis=1)) + top[:, 0]
    return logits[np.arange(len(tokens)), tokens] - lse


def _kept_positions(tokens: list[int], timestamp_begin: int, precision: float,
                    audio_s: float) -> list[int]:
    """Indices of the tokens in segments that start before the audio ends.

    With a short window Whisper sometimes opens another segment after the last word and
    repeats the sentence; that segment's start timestamp gives it away, so it is dropped.
    """
    kept: list[int] = []
    seg: list[int] = []
    start: float | None = None
    for i, t in enumerate(tokens):
        if t < timestamp_begin:
            seg.append(i)
            continue
        ts = (t - timestamp_begin) * precision
        if start is None:
            if ts >= audio_s - 0.1:
                return kept
            start = ts
            seg.append(i)
        else:
            kept.extend(seg + [i])
            seg, start = [], None
    return kept + seg  # an unclosed last segment (the token cap): keep what it said


def _word_key(token: str) -> str:
    return re.sub(r"[^\w']", "", token.lower())


def cut_repeat(text: str, min_words: int = 3, min_chars: int = 8) -> str:
    """``text`` up to where its tail starts copying an earlier run of its own words.

    The tail from word ``p`` is a copy when it equals the words from some ``q < p`` (the
    runs may overlap: a loop "a b a b a b"), its last word possibly cut short by the token
    cap ("light-ro" for "light-roost"), and it is at least ``min_words`` words and
    ``min_chars`` characters long. "I'd like a latte. I'd like a la" -> "I'd like a latte.".
    A text that is nothing but one phrase of two or more words said again and again
    collapses to one ("Make it. Make it." -> "Make it."); "bye bye" is left alone.
    Legitimate speech seldom ends by repeating three of its own words verbatim; a loop
    always does.
    """
    toks = text.split()
    words = [_word_key(t) for t in toks]
    n = len(words)
    if n < 4:
        return text
    for p in range(1, n):
        length = n - p
        if length < 2:
            break
        tail = words[p:]
        if length < min_words or sum(len(w) for w in tail) < min_chars:
            # short: only a whole-text loop of one phrase of 2+ words counts
            if p >= 2 and n % p == 0 and all(words[i] == words[i % p] for i in range(n)):
                return " ".join(toks[:p])
            continue
        for q in range(0, p):
            if q + length > n:
                break
            if all(words[q + i] == tail[i] for i in range(length - 1)) and \
                    tail[-1] and words[q + length - 1].startswith(tail[-1]):
                return " ".join(toks[:p])
    return text


def _is_repeated(text: str) -> bool:
    """Whether ``text`` is one phrase said twice or more ("Hello there. Hello there.").

    The typical short-window hallucination when the repeat carries no timestamp of its
    own. Genuine repeats ("bye bye") just cost a plain decode, which settles them.
    """
    w = re.sub(r"[^\w' ]", " ", text.lower()).split()
    n = len(w)
    for period in range(1, n // 2 + 1):
        if all(w[i] == w[i % period] for i in range(n)) and n >= 2 * period:
            return True
    return False


def _compression_ratio(text: str) -> float:
    if not text:
        return 0.0
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data))


def without_loops(segments: Any, max_gap_s: float = 1.0) -> list[str]:
    """Segment texts with the decoder's loops removed (faster-whisper's plain path).

    Each segment's text is cut where it starts copying itself; a segment that only copies
    the end of the one before it (the whole of it, or a cut-off start of it) and begins
    within ``max_gap_s`` of it is dropped. Measured on a real order in 6 dB kitchen noise:
    "Make me a secret." + "Make me a secret." back to back. A sentence said again after a
    pause (two questions 29 s apart) keeps both segments.
    """
    out: list[str] = []
    prev_text, prev_end = "", None
    for seg in segments:
        text = cut_repeat(str(seg.text).strip())
        if not text:
            continue
        start, end = float(seg.start), float(seg.end)
        if prev_text and prev_end is not None and start - prev_end <= max_gap_s \
                and cut_repeat(f"{prev_text} {text}") == prev_text:
            continue
        out.append(text)
        prev_text, prev_end = text, end
    return out
