"""Intent routing and slot filling: tool calls without asking a tiny LLM to pick tools.

Measured on 40 spoken requests, SmolLM2-135M's own function calling chose ``set_timer`` for
"what's the weather in Paris" and "tell me a joke"; the packaged models cannot route tools.
So, like Home Assistant's local voice assistant, localvox matches what the user said against
sentence templates (hassil syntax, ``intent_data/builtin.toml``) and fills the arguments
with deterministic slot parsers (spoken numbers, durations, clock times, units, places,
free text). Anything that matches no intent goes to the LLM as open conversation.

Three layers, first hit wins:

1. **Templates** for the built-in tools. A template matches only if its ``{slot}``
   wildcards parse (``"what is {expression}"`` with "the capital of France" does not).
2. **User tools** (``@function_tool`` functions the app added): trigger words come from
   the tool's name and docstring; arguments come from the schema's types (numbers, enums,
   booleans, and strings taken from the words after a cue).
3. **Cue fallback** for the built-ins: strong cue words plus a slot that parses
   ("... 12 times 7 ..." anywhere; "weather" anywhere), for phrasings no template covers.

``IntentRouter.route(text) -> ToolCall | None``; the router only ever proposes tools that
are registered, so an app that removes a built-in also removes its intent.

The slot parsers live in :mod:`localvox.agent.slots` (re-exported here).
"""

from __future__ import annotations

import json
import re
import tomllib
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

from localvox.agent import slots as slot_parsers
from localvox.agent.slots import (first_number, fmt_number, normalize, parse_clock,
                                  parse_conversion, parse_duration, parse_expression,
                                  parse_free_text, parse_location, parse_ordinal_or_number,
                                  spoken_to_digits)
from localvox.llm.base import ToolCall

__all__ = ["IntentRouter", "Route", "UserIntent", "BUILTIN_SLOT_FILLERS", "DATA_DIR",
           *slot_parsers.__all__]  # the slot parsers are re-exported

DATA_DIR = Path(__file__).resolve().parent / "intent_data"

# --------------------------------------------------------------------------------------------
# Built-in intents: template slots → tool arguments
# --------------------------------------------------------------------------------------------

def _no_args(slots: dict[str, str], text: str) -> dict[str, Any] | None:
    return {}


def _timer_args(slots: dict[str, str], text: str) -> dict[str, Any] | None:
    seconds = parse_duration(slots.get("duration", ""))
    if seconds is None:
        return None
    args: dict[str, Any] = {"seconds": seconds}
    label = parse_free_text(slots.get("label", "") or "")
    if label:
        args["label"] = re.sub(r"^(?:the|my) ", "", label)
    return args


def _alarm_args(slots: dict[str, str], text: str) -> dict[str, Any] | None:
    clock = parse_clock(slots.get("clock", ""))
    return None if clock is None else {"time_of_day": clock}


def _calc_args(slots: dict[str, str], text: str) -> dict[str, Any] | None:
    raw = slots.get("expression", "")
    if re.search(r"\bsquare root of\b", text.lower()) and "square root" not in raw:
        raw = "square root of " + raw
    # "add 5 and 7", "multiply 6 by 7": the verb was consumed by the template
    verb = re.match(r"^(add|sum|multiply|divide|subtract)\b", normalize(text))
    if verb and " and " not in raw and " by " not in raw and verb.group(1) in ("add", "sum"):
        return None
    if verb and verb.group(1) == "divide":
        raw = raw.replace(" by ", " divided by ")
    if verb and verb.group(1) == "subtract":
        m = re.match(r"(.+) from (.+)", raw)
        raw = f"{m.group(2)} minus {m.group(1)}" if m else raw
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
    n = parse_ordinal_or_number(slots.get("number", ""))
    return None if n is None else {"number": n}


BUILTIN_SLOT_FILLERS: dict[str, Callable[[dict[str, str], str], dict[str, Any] | None]] = {
    "get_time": _no_args, "get_date": _no_args, "list_timers": _no_args,
    "cancel_timers": _no_args, "list_notes": _no_args,
    "set_timer": _timer_args, "set_alarm": _alarm_args, "calculate": _calc_args,
    "convert_units": _convert_args, "get_weather": _weather_args, "add_note": _note_args,
    "delete_note": _delete_note_args,
}


@lru_cache(maxsize=4)
def _builtin_intents(path: str) -> Any:
    from hassil import Intents

    with open(path, "rb") as f:
        data = tomllib.load(f)
    slots = sorted({s for spec in data["intents"].values() for t in spec["sentences"]
                    for s in re.findall(r"\{(\w+)\}", t)})
    return Intents.from_dict({
        "language": "en",
        "intents": {name: {"data": [{"sentences": spec["sentences"]}]}
                    for name, spec in data["intents"].items()},
        "lists": {s: {"wildcard": True} for s in slots},
    })


# Cue fallback: (tool, cue regex on normalized text, slot builder on the whole text)
def _cue_calc(t: str) -> dict[str, Any] | None:
    m = re.search(r"(?:what's|what is|whats|how much is|calculate|compute) (.+)$", t)
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


_CUES: list[tuple[str, re.Pattern[str], Callable[[str], dict[str, Any] | None]]] = [
    ("set_timer", re.compile(r"\b(timer|remind me in|countdown|wake me in)\b"), _cue_timer),
    ("get_weather", re.compile(r"\b(weather|forecast|umbrella|raining|snowing|sunny)\b"),
     _cue_weather),
    ("convert_units", re.compile(r"\b(convert|how many|in|to)\b"),
     lambda t: parse_conversion(re.sub(r"^.*?\b(?=convert|how many|\d)", "", t))),
    ("calculate", re.compile(r"\d"), _cue_calc),
    ("get_time", re.compile(r"\b(what time is it|time is it|the time now|current time)\b"),
     lambda t: {}),
    ("get_date", re.compile(r"\b(today's date|what day is it|the date today|what's the date)\b"),
     lambda t: {}),
]


# --------------------------------------------------------------------------------------------
# User tools: trigger words from the name and docstring
# --------------------------------------------------------------------------------------------

_STOP = set("""a an the of to for in on at by with from and or is are be this that it its
my your me you i we our please can could would will should do does what whats what's how
get set make run check fetch tool function use using given current return returns value
some any tell show give find look up about which who when where there here if""".split())


def _stem(word: str) -> str:
    for suffix in ("ing", "es", "s", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _content_words(text: str) -> list[str]:
    words = re.findall(r"[a-z][a-z']+", text.lower().replace("_", " "))
    return [_stem(w) for w in words if w not in _STOP and len(w) > 2]


@dataclass
class UserIntent:
    """A user tool, matched by the content words of its name (and docstring)."""

    schema: dict[str, Any]
    name_words: list[str] = field(default_factory=list)
    desc_words: set[str] = field(default_factory=set)

    @classmethod
    def from_schema(cls, schema: dict[str, Any]) -> "UserIntent":
        fn = schema.get("function", schema)
        name_words = list(dict.fromkeys(_content_words(fn["name"])))
        desc = (fn.get("description") or "").split(".")[0]
        return cls(fn, name_words, set(_content_words(desc)) - set(name_words))

    def score(self, text: str) -> float:
        words = set(_content_words(text))
        if not self.name_words:
            return 0.0
        hit = sum(1 for w in self.name_words if w in words)
        if hit == 0:
            return 0.0
        bonus = 0.25 * min(2, len(self.desc_words & words))
        return hit / len(self.name_words) + bonus

    def fill(self, text: str) -> dict[str, Any] | None:
        """Arguments from the words of the request, typed by the schema; None if a required
        argument cannot be found."""
        params = self.schema.get("parameters") or {}
        props: dict[str, Any] = params.get("properties") or {}
        required = set(params.get("required") or [])
        t = normalize(text)
        digits = spoken_to_digits(t)
        numbers = [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", digits)]
        args: dict[str, Any] = {}
        for name, prop in props.items():
            kind = prop.get("type")
            value: Any = None
            if "enum" in prop:
                for option in prop["enum"]:
                    if re.search(rf"\b{re.escape(str(option).lower())}\b", t):
                        value = option
                        break
            elif kind in ("integer", "number") and numbers:
                num = numbers.pop(0)
                value = int(num) if kind == "integer" else num
            elif kind == "boolean":
                if re.search(r"\b(on|yes|enable|true|start)\b", t):
                    value = True
                elif re.search(r"\b(off|no|disable|false|stop)\b", t):
                    value = False
            elif kind in ("string", None):
                value = self._string_slot(name, prop, text)
            if value is not None:
                args[name] = value
            elif name in required:
                return None
        return args

    def _string_slot(self, name: str, prop: dict[str, Any], text: str) -> str | None:
        t = normalize(text)
        cues = [_stem(w) for w in _content_words(name + " " + prop.get("description", ""))]
        words = t.split()
        # the words after the last trigger/cue word and a preposition: "price of apple"
        anchors = set(self.name_words) | set(cues)
        last = -1
        for i, w in enumerate(words):
            if _stem(w.strip("?.,!")) in anchors:
                last = i
        tail = words[last + 1:] if last >= 0 else words
        while tail and tail[0] in ("of", "for", "in", "to", "about", "called", "named", "on",
                                    "at", "is", "the", "a", "an", "my", "with"):
            tail = tail[1:]
        value = " ".join(tail).strip(" ?.,!")
        return value or None


# --------------------------------------------------------------------------------------------
# The router
# --------------------------------------------------------------------------------------------

@dataclass
class Route:
    tool: str
    arguments: dict[str, Any]
    layer: str
    """"template", "user" or "cue": which layer matched (for benches and debugging)."""

    def to_tool_call(self) -> ToolCall:
        return ToolCall(id=f"intent_{uuid.uuid4().hex[:12]}", name=self.tool,
                        arguments=json.dumps(self.arguments))


class IntentRouter:
    """Map an utterance to one tool call, or None for open conversation."""

    def __init__(self, tools: Iterable[dict[str, Any]] = (), *,
                 templates: Path | None = None, user_threshold: float = 0.99) -> None:
        self.templates = templates or DATA_DIR / "builtin.toml"
        self.user_threshold = user_threshold
        self.builtin: set[str] = set()
        self.user: list[UserIntent] = []
        self.set_tools(tools)

    def set_tools(self, tools: Iterable[dict[str, Any]]) -> None:
        """Registered tool schemas: built-ins by name use templates, others are user tools."""
        self.builtin, self.user = set(), []
        for schema in tools:
            fn = schema.get("function", schema)
            if fn["name"] in BUILTIN_SLOT_FILLERS:
                self.builtin.add(fn["name"])
            else:
                self.user.append(UserIntent.from_schema(fn))

    def route(self, text: str) -> Route | None:
        t = normalize(text)
        if not t:
            return None
        return self._templates(t, text) or self._user(text) or self._cues(t)

    def tool_call(self, text: str) -> ToolCall | None:
        route = self.route(text)
        return route.to_tool_call() if route else None

    def _templates(self, t: str, original: str) -> Route | None:
        if not self.builtin:
            return None
        from hassil import recognize_all

        intents = _builtin_intents(str(self.templates))
        best: tuple[int, Route] | None = None
        for result in recognize_all(t, intents):
            name = result.intent.name
            if name not in self.builtin:
                continue
            slots = {k: str(v.value) for k, v in result.entities.items()}
            args = BUILTIN_SLOT_FILLERS[name](slots, original if name == "add_note" else t)
            if args is None:
                continue
            # prefer the template with the most literal words matched (least wildcard text)
            literal = len(t) - sum(len(v) for v in slots.values())
            if best is None or literal > best[0]:
                best = (literal, Route(name, args, "template"))
        return best[1] if best else None

    def _user(self, text: str) -> Route | None:
        scored = sorted(((u.score(text), u) for u in self.user), key=lambda p: -p[0])
        for score, intent in scored:
            if score < self.user_threshold:
                break
            args = intent.fill(text)
            if args is not None:
                return Route(intent.schema["name"], args, "user")
        return None

    def _cues(self, t: str) -> Route | None:
        for name, cue, build in _CUES:
            if name in self.builtin and cue.search(t):
                args = build(t)
                if args is not None:
                    return Route(name, args, "cue")
        return None
