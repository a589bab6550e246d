"""Only the caller's own words verify the caller.

A model that drives ``verify_customer`` itself fills every argument it is offered. Measured
with the default Qwen2.5-Coder-1.5B: told "I'm Priya Sharma, date of birth 1988-04-12, the
last four digits of my account are 8949", it passed those three *and* ``city="New York"``,
the same invented city on each retry, so three calls failed and locked verification for a
caller who had given three correct details. A prompt rule ("pass only what the caller
said") did not stop it; this check does, in code, like the other guard rails.

A detail counts only if the caller said it during this call: every word of a name or city
among the caller's words, the four digits in the digits the caller spoke ("eight nine four
nine" counts), a date of birth among the dates in the caller's sentences. A detail the
caller did not say is dropped before the attempt (and is not a failed attempt); the tool's
reply names it, so the model asks for it instead.
"""

from __future__ import annotations

import re
from typing import Iterable

from localvox.examples.bank.verification import (normalize_city, normalize_name, parse_date,
                                                 spoken_digits)


def caller_said(factor: str, value: str, caller_lines: Iterable[str]) -> bool:
    """Whether ``value`` for ``factor`` (a Verifier factor name) is in the caller's words."""
    lines = [line for line in caller_lines if line]
    if not value.strip():
        return True  # nothing given, nothing to check
    if factor in ("name", "city"):
        words = set(normalize_name(" ".join(lines)).split())
        given = (normalize_name(value) if factor == "name" else normalize_city(value)).split()
        # the alias table maps "bombay" to "mumbai": accept either spelling the caller used
        raw = normalize_name(value).split()
        return bool(given) and (set(given) <= words or set(raw) <= words)
    if factor in ("account_last4", "debit_last4"):
        digits = spoken_digits(value)[-4:]
        return len(digits) == 4 and any(digits in spoken_digits(line) for line in lines)
    if factor == "dob":
        wanted = parse_date(value)
        pieces = [p for line in lines for p in [line, *re.split(r"[.!?;]\s+|\band\b", line)]]
        return wanted is not None and any(parse_date(p) == wanted for p in pieces)
    return False


def ground(given: dict[str, str], caller_lines: list[str]) -> tuple[dict[str, str], list[str]]:
    """``given`` with every detail the caller did not say removed, and the removed names."""
    kept: dict[str, str] = {}
    dropped: list[str] = []
    for factor, value in given.items():
        if not value or not value.strip():
            continue
        if caller_said(factor, value, caller_lines):
            kept[factor] = value
        else:
            dropped.append(factor)
    return kept, dropped
