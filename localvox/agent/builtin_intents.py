"""The built-in tools' intent tables: template slots -> tool arguments, and the cue fallback.

Why a module of its own: these are per-tool data (one filler and at most one cue per
built-in tool, beside the sentence templates in ``intent_data/builtin.toml``), while
:mod:`localvox.agent.intent` is the routing policy that tries the layers in order. A new
built-in intent is a template, a filler here and maybe a cue; the router does not change.

A filler returns None when its slot text does not parse, which is what rejects a template
match ("what is {expression}" with "the capital of France" is no calculation).
"""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from localvox.agent.slots import (normalize, parse_clock, parse_conversion, parse_duration,
                                  parse_expression, parse_free_text, parse_location,
                                  parse_ordinal_or_number, spoken_to_digits)

__all__ = ["BUILTIN_SLOT_FILLERS", "CUES", "DATA_DIR", "builtin_templates"]

DATA_DIR = Path(__file__).resolve().parent / "intent_data"

# --------------------------------------------------------------------------------------------
# Built-in intents: template slots → tool arguments
# --------------------------------------------------------------------------------------------

def _no_args(slots: dict[str, str], text: str) -> dict[str, Any] | None:
    return {}


def _time_args(slots: dict[str, str], text: str) -> dict[str, Any] | None:
    # "is it past {clock} yet": the slot must be a time ("is it christmas yet" is not)
    if "clock" in slots and parse_clock(slots["clock"]) is None:
        return None
    return {}


def _date_args(slots: dict[str, str], text: str) -> dict[str, Any] | None:
    # "is today the {nth}": a day of the month
    if "nth" in slots:
        n = parse_ordinal_or_number(slots["nth"])
        if n is None or not 1 <= n <= 31:
            return None
    return {}


def _clean_label(label: str | None) -> str | None:
    if not label:
        return None
    label = re.sub(r"^(?:the|my|a|an|our|some) ", "", label.strip())
    label = re.sub(r" (?:timer|countdown|please)$", "", label)
    # a label is a short name ("pasta", "the eggs"), never a clause or a number
    if len(label.split()) > 4 or re.search(r"\d", spoken_to_digits(label)):
        return None
    return label or None


def _timer_args(slots: dict[str, str], text: str) -> dict[str, Any] | None:
    seconds = parse_duration(slots.get("duration", ""))
    if seconds is None:
        return None
    args: dict[str, Any] = {"seconds": seconds}
    if slots.get("label"):
        label = _clean_label(parse_free_text(slots["label"]))
        if label is None:
            return None
        args["label"] = label
    return args


def _alarm_args(slots: dict[str, str], text: str) -> dict[str, Any] | None:
    clock = parse_clock(slots.get("clock", ""))
    return None if clock is None else {"time_of_day": clock}


def _calc_args(slots: dict[str, str], text: str) -> dict[str, Any] | None:
    # the slot carries its own verb ("add 38 and 47", "square root of 81"): parse_expression
    # understands verb-led arithmetic, so no template has to consume the verb
    raw = slots.get("expression", "")
    if re.search(r"\bsquare root of\b", text) and "root" not in raw:
        raw = "square root of " + raw
    expr = parse_expression(raw)
    return None if expr is None else {"expression": expr}


def _convert_args(slots: dict[str, str], text: str) -> dict[str, Any] | None:
    conv = parse_conversion(slots.get("conversion", ""))
    if conv is None:
        conv = parse_conversion(normalize(text))
    return conv


def _weather_args(slots: dict[str, str], text: str) -> dict[str, Any] | None:
    if "location" not in slots:
        return {}
    loc = parse_location(slots["location"])
    return None if loc is None else {"location": loc}


def _note_args(slots: dict[str, str], text: str) -> dict[str, Any] | None:
    # take the note text from the *original* words (case and spelling kept)
    raw = slots.get("text", "")
    idx = text.lower().rfind(raw.lower()) if raw else -1
    note = parse_free_text(text[idx:idx + len(raw)] if idx >= 0 else raw)
    return None if not note else {"text": note.rstrip(".?!")}


def _delete_note_args(slots: dict[str, str], text: str) -> dict[str, Any] | None:
    if "number" not in slots:  # "delete the last thing i noted"
        m = re.search(r"\b(last|latest|newest|most recent|first|oldest)\b", text)
        n = parse_ordinal_or_number(m.group(1)) if m else None
    else:
        n = parse_ordinal_or_number(slots["number"])
    return None if n is None or n == 0 else {"number": n}


BUILTIN_SLOT_FILLERS: dict[str, Callable[[dict[str, str], str], dict[str, Any] | None]] = {
    "get_time": _time_args, "get_date": _date_args, "list_timers": _no_args,
    "cancel_timers": _no_args, "list_notes": _no_args,
    "set_timer": _timer_args, "set_alarm": _alarm_args, "calculate": _calc_args,
    "convert_units": _convert_args, "get_weather": _weather_args, "add_note": _note_args,
    "delete_note": _delete_note_args,
}


@lru_cache(maxsize=4)
def builtin_templates(path: str) -> Any:
    """The templates file as hassil ``Intents``, every ``{slot}`` a wildcard list.

    Cached per path: the TOML is read and expanded once, not for every utterance; hassil
    is imported here so that importing the router stays light.
    """
    from hassil import Intents

    with open(path, "rb") as f:
        data = tomllib.load(f)
    slots = sorted({s for spec in data["intents"].values() for t in spec["sentences"]
                    for s in re.findall(r"\{(\w+)\}", t)})
    return Intents.from_dict({
        "language": "en",
        "expansion_rules": data.get("expansion_rules", {}),
        "intents": {name: {"data": [{"sentences": spec["sentences"]}]}
                    for name, spec in data["intents"].items()},
        "lists": {s: {"wildcard": True} for s in slots},
    })


# --------------------------------------------------------------------------------------------
# Cue fallback: (tool, cue regex on normalized text, slot builder on the whole text)
# --------------------------------------------------------------------------------------------
# Tried in this order; the first registered tool whose cue matches and whose builder parses
# wins (``IntentRouter._cues``).

def _cue_calc(t: str) -> dict[str, Any] | None:
    m = re.search(r"(?:what's|what is|how much is|calculate|compute) (.+)$", t)
    expr = parse_expression(m.group(1) if m else t)
    return None if expr is None else {"expression": expr}


def _cue_timer(t: str) -> dict[str, Any] | None:
    m = re.search(r"\b(?:in|for) (.+?)(?: (?:to|that|about) .*)?$", t)
    seconds = parse_duration(m.group(1)) if m else None
    return None if seconds is None else {"seconds": seconds}


def _cue_weather(t: str) -> dict[str, Any] | None:
    m = re.search(r"\b(?:in|for|at) ([a-z][a-z .'-]+)$", t)
    loc = parse_location(m.group(1)) if m else None
    return {"location": loc} if loc else {}


_NUMBER_WORD = (r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                r"thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|"
                r"forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand)\b")

CUES: list[tuple[str, re.Pattern[str], Callable[[str], dict[str, Any] | None]]] = [
    ("set_timer", re.compile(r"\b(timer|remind me in|countdown|wake me in)\b"), _cue_timer),
    ("get_weather", re.compile(r"\b(weather|forecast|umbrella|raining|snowing|sunny)\b"),
     _cue_weather),
    ("convert_units", re.compile(r"\b(convert|how many|in|to)\b"),
     lambda t: parse_conversion(re.sub(r"^.*?\b(?=convert|how many|\d)", "", t))),
    ("calculate", re.compile(_NUMBER_WORD), _cue_calc),
    ("get_time", re.compile(r"\b(what time is it|time is it|the time now|current time)\b"),
     lambda t: {}),
    ("get_date", re.compile(r"\b(today's date|what day is it|the date today|what's the date)\b"),
     lambda t: {}),
]
