"""Spoken numbers: "three hundred and twenty" -> 320, "two point five", "five and a half".

Why a module of its own: the number grammar (ones, teens, tens, scale words, "and" after
"hundred", decimals, halves and quarters, ordinals) belongs to no one slot, yet the slot
parsers (:mod:`localvox.agent.slots`), user-tool filling and the timer-label check all read
numbers through :func:`spoken_to_digits`. A transcript may carry "twelve" or "12" for the
same words; after this pass the readers only look for digits.
"""

from __future__ import annotations

import re

__all__ = ["spoken_to_digits", "fmt_number", "first_number", "ORDINALS"]

_ONES = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen".split())}
_ONES["oh"] = 0
_TENS = {w: 10 * (i + 2) for i, w in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split())}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
ORDINALS = {w: i + 1 for i, w in enumerate(
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
    "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth "
    "twentieth".split())}
ORDINALS.update({f"{tens} {w}": base + n for tens, base in (("twenty", 20), ("thirty", 30))
                  for w, n in ORDINALS.copy().items() if n < 10})
ORDINALS["thirtieth"] = 30
_PUNCT = ",.?!;:"


def _bare(word: str) -> str:
    return word.strip(_PUNCT).lower()


def _parse_number(words: list[str], i: int) -> tuple[float | None, int]:
    """Parse the longest number phrase starting at ``words[i]``; (value, next index)."""
    n = len(words)
    w = _bare(words[i])
    total, current, j = 0.0, 0.0, i
    seen = False
    last = ""  # "ones", "teens", "tens", "scale", "digits"
    if re.fullmatch(r"\d+(?:,\d{3})*(?:\.\d+)?", w):
        current = float(w.replace(",", ""))
        j, seen, last = i + 1, True, "digits"
    else:
        while j < n:
            w = _bare(words[j])
            if w in _ONES and last in ("", "tens"):
                current += _ONES[w]
                last = "teens" if _ONES[w] >= 10 else "ones"
            elif w in _TENS and last in ("",):
                current += _TENS[w]
                last = "tens"
            elif w in _SCALES and (seen or w == "hundred"):
                scale = _SCALES[w]
                if scale == 100:
                    current = (current or 1) * 100
                else:
                    total += (current or 1) * scale
                    current = 0
                last = "scale" if scale > 100 else ""
                if scale == 100:
                    last = ""
                    # "three hundred and twenty": "and" continues a number after a scale word
                    if j + 2 < n + 1 and j + 1 < n and _bare(words[j + 1]) == "and" \
                            and j + 2 < n and (_bare(words[j + 2]) in _ONES or
                                               _bare(words[j + 2]) in _TENS):
                        j += 1
            elif w in ("a", "an") and not seen and j + 1 < n and _bare(words[j + 1]) in _SCALES:
                current = 1
                j += 1
                continue
            else:
                break
            seen = True
            if words[j][-1:] in _PUNCT and words[j][-1:] != ".":
                j += 1
                break
            j += 1
        if not seen:
            return None, i
    value = total + current
    # decimals: "two point five"
    if j + 1 < n and _bare(words[j]) == "point" and (_bare(words[j + 1]) in _ONES or
                                                     _bare(words[j + 1]).isdigit()):
        digits = ""
        k = j + 1
        while k < n and (_bare(words[k]) in _ONES or _bare(words[k]).isdigit()):
            b = _bare(words[k])
            digits += str(_ONES[b]) if b in _ONES else b
            k += 1
        value = float(f"{int(value)}.{digits}")
        j = k
    # fractions: "five and a half", "two and a quarter"
    if j + 2 < n and _bare(words[j]) == "and" and _bare(words[j + 1]) in ("a", "one"):
        frac = {"half": 0.5, "quarter": 0.25}.get(_bare(words[j + 2]))
        if frac:
            value += frac
            j += 3
    return value, j


def fmt_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def spoken_to_digits(text: str) -> str:
    """``"what's twelve times seven"`` → ``"what's 12 times 7"`` (punctuation kept)."""
    words = text.split()
    out: list[str] = []
    i = 0
    while i < len(words):
        value, j = _parse_number(words, i)
        if value is not None and j > i:
            trail = words[j - 1][len(words[j - 1].rstrip(_PUNCT)):]
            out.append(fmt_number(value) + trail)
            i = j
        else:
            out.append(words[i])
            i += 1
    return " ".join(out)


def first_number(text: str) -> float | None:
    m = re.search(r"-?\d+(?:\.\d+)?", spoken_to_digits(text))
    return float(m.group()) if m else None
