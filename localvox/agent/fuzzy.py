"""Fuzzy and phonetic slot filling: the words Whisper wrote -> the values a tool allows.

Why: on real speech Whisper mishears the very words a command hinges on. Measured on the
crowd-sourced coffee orders of Picovoice's speech-to-intent benchmark (tiny.en): "light
rose" (light roast), "ice mocha" (iced mocha), "media mocha" (medium mocha), "8-dounds"
(eight ounce). An exact-word slot filler rejects all of them. Here every allowed value is
compared with every span of the transcript, on the spelling and on a crude sound key, and
the best *set* of non-overlapping values is chosen, one per slot.

Scoring, and why it is not a plain similarity ratio: a span earns the characters it shares
with the value and loses one for every character either side leaves unmatched. So the
longest value that is really there wins ("a lot of whole milk" over "whole milk"), a
longer value is not stretched over words that were not said ("mocha" stays mocha, it
does not become "iced mocha"), and the carrier words around a slot ("with", "and") count
against the span that swallows them. A value is a candidate only if its similarity
(2 * matched / total characters, Ratcliff-Obershelp as in ``difflib``) on spelling or on
the sound key reaches ``min_ratio`` (0.75 by default: "light rose"/"light roast" is 0.86,
"large"/"latte" is 0.6).

Everything here is pure Python and deterministic; no model, no dependency.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Iterable, Mapping, Sequence

__all__ = ["SlotMatch", "best_value", "match_slots", "normalize_spoken", "similarity",
           "sound_key"]

_SMALL = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
          "fourteen fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_ABBREV = {"oz": "ounce", "ozs": "ounce", "ounces": "ounce", "%": " percent", "&": " and ",
           "w/": "with "}


def number_words(n: int) -> str:
    """0..999 as spoken words ("12" -> "twelve", "250" -> "two hundred fifty")."""
    if n < 20:
        return _SMALL[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens - 2] + (f" {_SMALL[ones]}" if ones else "")
    hundreds, rest = divmod(n, 100)
    return f"{_SMALL[hundreds]} hundred" + (f" {number_words(rest)}" if rest else "")


def normalize_spoken(text: str) -> str:
    """Lower case, digits spelled out, hyphens and punctuation to spaces, "oz" -> "ounce".

    Whisper writes numbers as digits ("a 12-ounce latte", "16oz") while grammars spell
    them; both sides are compared in words.
    """
    t = text.lower().replace("’", "'")
    t = re.sub(r"(\d)([a-z])", r"\1 \2", t)
    for short, long in _ABBREV.items():
        t = re.sub(rf"(?<![a-z]){re.escape(short)}(?![a-z])", long, t)
    t = re.sub(r"\d+", lambda m: number_words(int(m.group())) if len(m.group()) <= 3
               else m.group(), t)
    t = re.sub(r"[^a-z0-9' ]+", " ", t)
    return " ".join(w.strip("'") for w in t.split() if w.strip("'"))


_SOUND_RULES = [(r"ph", "f"), (r"(?<=.)gh", ""), (r"gh", "g"), (r"ck", "k"),
                (r"cc(?=[eiy])", "k"), (r"t?ch", "k"), (r"qu", "kw"), (r"q", "k"),
                (r"x", "ks"), (r"c(?=[eiy])", "s"), (r"c", "k"), (r"z", "s"), (r"dg", "j"),
                (r"wh", "w"), (r"^kn", "n"), (r"^wr", "r"), (r"mb$", "m"),
                (r"([a-zX])\1", r"\1")]


@lru_cache(maxsize=8192)
def sound_key(text: str) -> str:
    """A crude English sound key: spelling rules folded, vowels of a word reduced to one.

    "roast"/"rose" -> "rast"/"ras", "mocha"/"moco" -> "maka"/"maka": words that
    sound alike end up spelled alike, so the same similarity measure applies.
    """
    out = []
    for word in text.split():
        w = word
        for pattern, repl in _SOUND_RULES:
            w = re.sub(pattern, repl, w)
        w = re.sub(r"(?<=[^aeiouy])h", "", w)
        w = re.sub(r"[aeiouy]+", "a", w)
        out.append(w)
    return " ".join(out)


@lru_cache(maxsize=65536)
def _score(span: str, value: str) -> tuple[float, float]:
    """(ratio, points) of a transcript span against an allowed value.

    points = matched characters - unmatched characters on either side, on the better of
    spelling and sound key (see the module docstring).
    """
    ratios, points = [], []
    for a, b in ((span, value), (sound_key(span), sound_key(value))):
        if not a or not b:
            ratios.append(0.0)
            points.append(-float(len(value)))
            continue
        m = SequenceMatcher(None, a, b, autojunk=False)
        if m.real_quick_ratio() < 0.6 or m.quick_ratio() < 0.6:
            ratios.append(0.0)  # cheap upper bounds: far below any threshold used here
            points.append(-float(len(value)))
            continue
        matched = sum(block.size for block in m.get_matching_blocks())
        ratios.append(2.0 * matched / (len(a) + len(b)))
        # points are in units of the value's spelling, so both keys compare alike
        points.append(len(value) / len(b) * (matched - (len(a) - matched) - (len(b) - matched)))
    # Admission on the better of spelling and sound ("moco" sounds like "mocha"); points
    # from both, so a span only the crude sound key likes ("in milk" ~ "soy milk") does not
    # outbid the value that is spelled out beside it ("milk").
    return max(ratios), (points[0] + points[1]) / 2


def similarity(a: str, b: str) -> float:
    """0..1 similarity of two phrases on spelling or sound, after ``normalize_spoken``."""
    return _score(normalize_spoken(a), normalize_spoken(b))[0]


@dataclass(frozen=True)
class SlotMatch:
    slot: str
    value: str
    """The allowed value, exactly as the tool or grammar spells it."""
    start: int
    end: int
    """Word span ``[start, end)`` of the normalized transcript it was heard in."""
    heard: str
    ratio: float
    points: float


def _candidates(words: list[str], slots: Mapping[str, Sequence[str]],
                min_ratio: float, carrier: frozenset[str]) -> list[SlotMatch]:
    found: list[SlotMatch] = []
    n = len(words)
    for slot, values in slots.items():
        for value in values:
            v = normalize_spoken(str(value))
            if not v:
                continue
            vwords = v.split()
            own = set(vwords)
            m = len(vwords)
            # word-level prefilter (cheap, cached): which transcript words resemble a
            # word of the value; a span must resemble at least half of the value's words
            near = [[_score(w, u)[0] >= 0.6 for w in words] for u in vwords]
            for length in range(max(1, m - 1), m + 2):
                for i in range(0, n - length + 1):
                    if any(w in carrier and w not in own and len(w) > 2
                           for w in words[i:i + length]):
                        continue  # a value never swallows the sentence's own words ("with");
                        # short ones ("a", "i") are often a misheard piece of a value
                        # ("sing a shot")
                    hits = sum(any(row[i:i + length]) for row in near)
                    if 2 * hits < m:
                        continue
                    span = " ".join(words[i:i + length])
                    ratio, points = _score(span, v)
                    # a short value must be heard almost exactly ("milk" vs "mill")
                    need = min_ratio if len(v) >= 6 else max(min_ratio, 0.85)
                    if ratio >= need and points > 0:
                        found.append(SlotMatch(slot, str(value), i, i + length, span, ratio,
                                               points))
    return found


def match_slots(text: str, slots: Mapping[str, Sequence[str]], *, min_ratio: float = 0.75,
                carrier: Iterable[str] = ()) -> list[SlotMatch]:
    """The best non-overlapping assignment of allowed values to spans, one per slot.

    ``slots`` maps a slot name to its allowed values; ``carrier`` are the sentence's own
    literal words ("with", "and"), which a value's span may not take unless the value has
    them. Returns the matches in spoken order. A dynamic programme over (word position,
    slots used) maximises the total points.
    """
    words = normalize_spoken(text).split()
    if not words or not slots:
        return []
    names = list(slots)
    bit = {name: 1 << i for i, name in enumerate(names)}
    starting: dict[int, list[SlotMatch]] = {}
    for c in _candidates(words, slots, min_ratio, frozenset(carrier)):
        starting.setdefault(c.start, []).append(c)
    n = len(words)
    # best[i][mask]: best points for words[i:] with the slots in mask already used
    memo: dict[tuple[int, int], tuple[float, tuple[SlotMatch, ...]]] = {}

    def solve(i: int, mask: int) -> tuple[float, tuple[SlotMatch, ...]]:
        if i >= n:
            return 0.0, ()
        key = (i, mask)
        if key in memo:
            return memo[key]
        best = solve(i + 1, mask)  # word i belongs to no slot
        for c in starting.get(i, ()):
            if mask & bit[c.slot]:
                continue
            rest_points, rest = solve(c.end, mask | bit[c.slot])
            total = c.points + rest_points
            if total > best[0]:
                best = (total, (c, *rest))
        memo[key] = best
        return best

    return list(solve(0, 0)[1])


def best_value(text: str, values: Iterable[str], *, min_ratio: float = 0.75) -> str | None:
    """The one allowed value heard in ``text`` (fuzzily), or None."""
    got = match_slots(text, {"_": list(values)}, min_ratio=min_ratio)
    return got[0].value if got else None


def explained_fraction(text: str, matches: Sequence[SlotMatch], carrier: set[str]) -> float:
    """Share of the transcript's words that a slot value or a carrier word accounts for.

    The confidence gate of a grammar intent: "tell me a joke" is mostly unexplained words.
    A carrier word counts when it is spelled like one of the grammar's literal words.
    """
    words = normalize_spoken(text).split()
    if not words:
        return 0.0
    covered = [False] * len(words)
    for m in matches:
        for i in range(m.start, m.end):
            covered[i] = True
    for i, w in enumerate(words):
        if not covered[i] and (w in carrier or any(
                _score(w, c)[0] >= 0.8 for c in carrier if abs(len(c) - len(w)) <= 2)):
            covered[i] = True
    return sum(covered) / len(words)
