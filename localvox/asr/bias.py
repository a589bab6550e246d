"""Vocabulary biasing: the phrases a session expects, as a bounded Whisper prompt.

Why a prompt: Whisper conditions on the text after ``<|startofprev|>`` as if it had just
been said, so names and terms that appear there are transcribed the way they are spelled
there. On the crowd-sourced coffee orders (tiny.en) every labelled slot value was in the
transcript for 57 % of the clean clips without a prompt and 92.5 % with the grammar's
vocabulary as one (issue #17's hand-written ``initial_prompt`` measurement).

Why bounded and ordered: Whisper keeps at most 223 prompt tokens, each token costs decode
time, and a long list of words dilutes the ones that matter. Phrases come in priority
groups (the turn's expected slot first, then the tools' values, examples, entity lists,
the built-in vocabulary, the wake word); the prompt is filled group by group and cut at
``max_tokens``. What does not fit is dropped with a notice, never an error. The highest
priority phrases are written *last*, nearest to the speech, where Whisper weighs context
most.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

__all__ = ["Bias", "BiasPrompt", "Judge", "build_prompt", "condense", "pick_hypothesis"]

Judge = Callable[[str], float]
"""How well a transcript fits the session's tools (their grammar or value lists): for a
command they accept, 1.0 plus the share of its words the tools' values and sentence words
explain (2.0: every word), else that share, in [0, 1). It goes with the prompt so a recogniser can
prefer, among its own hypotheses for a final, one the tools can act on
(``WhisperTranscriber.rescue``). Called from a worker thread; open dictation has none."""

WHISPER_PROMPT_LIMIT = 223
"""Whisper's decoder keeps ``n_text_ctx // 2 - 1`` previous-text tokens."""


@dataclass(frozen=True)
class Bias:
    """Phrases to expect, in priority groups (first group = most important)."""

    groups: tuple[tuple[str, ...], ...] = ()
    judge: Judge | None = field(default=None, compare=False)
    """The tools' grammar (``Judge``), when they have a closed one."""

    @classmethod
    def of(cls, *groups: Iterable[str], judge: Judge | None = None) -> "Bias":
        return cls(tuple(tuple(g) for g in groups if g), judge)

    def with_focus(self, focus: Sequence[str]) -> "Bias":
        """This bias with ``focus`` (the turn's expected values) as the first group."""
        return Bias(((tuple(focus),) if focus else ()) + self.groups, self.judge)

    @property
    def empty(self) -> bool:
        return not any(self.groups)


@dataclass(frozen=True)
class BiasPrompt:
    text: str
    tokens: tuple[int, ...]
    phrases: int
    dropped: int
    """Phrases that did not fit in ``max_tokens`` (reported once as a notice)."""
    judge: Judge | None = field(default=None, compare=False)
    """The bias's grammar judge, carried with the prompt a stream decodes with."""

    @property
    def notice(self) -> str | None:
        if not self.dropped:
            return None
        return (f"ASR vocabulary: {self.dropped} lower-priority phrase(s) left out of the "
                f"Whisper prompt ({len(self.tokens)} tokens kept)")


def condense(values: Iterable[str]) -> list[str]:
    """The phrases of a value list that add a new word, shortest first.

    "milk", "skim milk", "a lot of milk", "a lot of skim milk": the last adds no word
    the others have not already put in the prompt, so it is left out. A 36-value milk
    list becomes 8 phrases without losing a word.
    """
    seen: set[str] = set()
    out: list[str] = []
    for v in sorted(dict.fromkeys(v.strip() for v in values if v and v.strip()),
                    key=lambda s: (len(s.split()), len(s))):
        words = set(re.findall(r"[\w']+", v.lower()))
        if words - seen:
            out.append(v)
            seen |= words
    return out


def build_prompt(bias: Bias, encode: Callable[[str], list[int]],
                 max_tokens: int = 128) -> BiasPrompt:
    """Fill a prompt group by group (each group condensed) up to ``max_tokens``.

    ``encode`` is the model's tokenizer. Phrases are joined by commas; the first group ends
    up nearest the audio.
    """
    max_tokens = max(0, min(max_tokens, WHISPER_PROMPT_LIMIT))
    kept: list[str] = []
    seen: set[str] = set()
    dropped = 0
    used = 0
    for group in bias.groups:
        for phrase in condense(group):
            key = phrase.lower()
            if key in seen:
                continue
            seen.add(key)
            cost = len(encode(" " + phrase + ","))
            if used + cost > max_tokens:
                dropped += 1
                continue
            kept.append(phrase)
            used += cost
    if not kept:
        return BiasPrompt("", (), 0, dropped, bias.judge)
    text = ", ".join(reversed(kept)) + "."
    tokens = tuple(encode(" " + text))[-max_tokens:]
    return BiasPrompt(text, tokens, len(kept), dropped, bias.judge)


def echoes_prompt(text: str, prompt: str, min_phrases: int = 3) -> bool:
    """True when a transcript is the prompt read back (a list of its phrases, nothing else).

    A biased decoder on silence or noise may "hear" the prompt; such a transcript is
    dropped like Whisper's own no-speech output.
    """
    if not text or not prompt:
        return False
    phrases = {p.strip().lower() for p in prompt.rstrip(".").split(",") if p.strip()}
    parts = [p.strip().lower() for p in re.split(r"[,.]", text) if p.strip()]
    return len(parts) >= min_phrases and all(p in phrases for p in parts)


def pick_hypothesis(hypotheses: Iterable[str], verdict: Callable[[str], float],
                    beat: float) -> tuple[str, float] | None:
    """The hypothesis (best-scored first) the grammar accepts (verdict >= 1) with the
    highest verdict above ``beat``, and that verdict; the first among equals; None if none.

    ``beat`` is the greedy final's verdict: a rejected final (< 1) takes any accepted
    hypothesis, an accepted one only a hypothesis that explains more of its words.
    """
    best, best_verdict = "", max(beat, math.nextafter(1.0, 0.0))
    seen: set[str] = set()
    for text in hypotheses:
        if not text or text in seen:
            continue
        seen.add(text)
        v = verdict(text)
        if v > best_verdict:
            best, best_verdict = text, v
    return (best, best_verdict) if best else None
