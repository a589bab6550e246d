"""Money and counts as an Indian English speaker says them.

Amounts are integer paise everywhere; this module turns them into words in the Indian
numbering system (thousand, lakh, crore) so a TTS voice says "three lakh seventy-six
thousand rupees" instead of reading digits or "three hundred seventy-six thousand".
"""

from __future__ import annotations

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
         "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
         "seventeen", "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def _below_hundred(n: int) -> str:
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")


def _below_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    parts = []
    if hundreds:
        parts.append(f"{_ONES[hundreds]} hundred")
    if rest:
        parts.append(_below_hundred(rest))
    return " ".join(parts)


def number_in_words(n: int) -> str:
    """Spell a whole number in the Indian system: 376000 -> 'three lakh seventy-six thousand'.

    Crores above 99 are themselves spelled in the Indian system ("one thousand crore").
    """
    if n < 0:
        return "minus " + number_in_words(-n)
    if n == 0:
        return "zero"
    crore, rest = divmod(n, 10_000_000)
    lakh, rest = divmod(rest, 100_000)
    thousand, rest = divmod(rest, 1000)
    parts = []
    if crore:
        parts.append(f"{number_in_words(crore)} crore")
    if lakh:
        parts.append(f"{_below_hundred(lakh)} lakh")
    if thousand:
        parts.append(f"{_below_hundred(thousand)} thousand")
    if rest:
        parts.append(_below_thousand(rest))
    return " ".join(parts)


def rupees_in_words(paise: int) -> str:
    """The exact amount in words: 37621450 -> '... two hundred fourteen rupees and fifty paise'."""
    if not isinstance(paise, int):
        raise TypeError("amounts are integer paise")
    sign = "minus " if paise < 0 else ""
    rupees, p = divmod(abs(paise), 100)
    if rupees and p:
        text = f"{_rupee_phrase(rupees)} and {_below_hundred(p)} paise"
    elif p:
        text = f"{_below_hundred(p)} paise"
    else:
        text = _rupee_phrase(rupees)
    return sign + text


def _rupee_phrase(rupees: int) -> str:
    return "one rupee" if rupees == 1 else f"{number_in_words(rupees)} rupees"


def format_inr(paise: int) -> str:
    """Indian digit grouping for display: 37621450 -> '₹3,76,214.50'."""
    sign = "-" if paise < 0 else ""
    rupees, p = divmod(abs(paise), 100)
    digits = str(rupees)
    head, tail = digits[:-3], digits[-3:]
    groups = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    if head:
        groups.insert(0, head)
    grouped = ",".join(groups + [tail]) if groups else tail
    return f"{sign}₹{grouped}.{p:02d}"


def count_phrase(n: int, noun: str) -> str:
    """'one transaction', '13 transactions' (digits read well by TTS above ten)."""
    if n == 1:
        return f"one {noun}"
    word = _ONES[n] if 0 <= n <= 10 else str(n)
    return f"{word} {noun}s"


def spoken_date(iso: str) -> str:
    """'2024-01-01' -> '1 January 2024'."""
    import datetime as _dt

    d = _dt.date.fromisoformat(iso)
    return f"{d.day} {d.strftime('%B')} {d.year}"
