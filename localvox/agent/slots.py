"""Slot parsers: the words a user spoke -> a typed tool argument, or None.

Deterministic and model-free, so a 135M-parameter LLM never has to turn "five and a half
minutes" into 330: durations, clock times, spoken arithmetic, unit conversions, places,
free text and ordinals. Each parser returns None when the text is not that kind of thing,
which is how a template whose ``{slot}`` does not parse is rejected (see
:mod:`localvox.agent.intent`).

The parsers read text through :func:`localvox.agent.normalize.normalize` (lower case, no
fillers, no polite openers or closers) and :mod:`localvox.agent.spoken_numbers` (number
words -> digits); both are re-exported here, the import path callers use.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from localvox.agent.normalize import normalize
from localvox.agent.spoken_numbers import ORDINALS, first_number, fmt_number, spoken_to_digits

__all__ = [
    "spoken_to_digits", "fmt_number", "first_number", "normalize", "parse_duration",
    "parse_clock", "parse_expression", "parse_conversion", "parse_location", "parse_free_text",
    "parse_ordinal_or_number",
]

# --------------------------------------------------------------------------------------------
# Slot parsers: text → typed value, or None when the text is not that kind of thing
# --------------------------------------------------------------------------------------------

_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1}
_DUR_UNIT = r"(hours?|hrs?|minutes?|mins?|seconds?|secs?)"


def _unit_key(word: str) -> str:
    return "h" if word.startswith("h") else "m" if word.startswith("m") else "s"


def parse_duration(text: str) -> int | None:
    """Seconds in "five and a half minutes", "an hour and a half", "2 hours 15 minutes"."""
    t = normalize(text)
    t = re.sub(r"\ba couple (?:of )?", "2 ", t)
    t = re.sub(r"(?<=[a-z])-(?=(?:hours?|minutes?|seconds?|mins?|secs?|hrs?)\b)", " ", t)
    t = spoken_to_digits(t)
    t = re.sub(r"\b(?:a )?quarter (?:of )?an? hour\b", "15 minutes", t)
    t = re.sub(r"\bthree quarters? of an? hour\b", "45 minutes", t)
    t = re.sub(r"\bhalf (?:an?|1) " + _DUR_UNIT, lambda m: f"0.5 {m.group(1)}", t)
    t = re.sub(r"\b(?:an?|1) " + _DUR_UNIT + r" and a half\b", lambda m: f"1.5 {m.group(1)}", t)
    t = re.sub(r"\b(\d+(?:\.\d+)?) " + _DUR_UNIT + r" and a half\b",
               lambda m: f"{float(m.group(1)) + 0.5:g} {m.group(2)}", t)
    t = re.sub(r"\b(?:an?) " + _DUR_UNIT, lambda m: f"1 {m.group(1)}", t)
    t = re.sub(r"(\d)-(?=" + _DUR_UNIT + ")", r"\1 ", t)  # "10-minute"
    found = re.findall(r"(\d+(?:\.\d+)?) ?" + _DUR_UNIT + r"\b", t)
    if not found:
        return None
    # the duration must be most of the slot text ("5 minutes", not "remind me 5 minutes...")
    rest = re.sub(r"(\d+(?:\.\d+)?) ?" + _DUR_UNIT + r"\b", "", t)
    rest = re.sub(r"\b(and|a|an|of|for|in|the|long|timer|countdown|from now|just|only|"
                  r"about|exactly|another)\b", "", rest)
    if len(rest.split()) > 1:
        return None
    seconds = sum(float(v) * _UNIT_SECONDS[_unit_key(u)] for v, u in found)
    return int(round(seconds)) if seconds > 0 else None


def parse_clock(text: str) -> str | None:
    """"7 am" → "07:00"; "six thirty" → "06:30"; "9:45 pm" → "21:45"; "half past seven"."""
    t = normalize(text)
    t = re.sub(r"\b(tomorrow(?: morning)?|tonight|today|(?:in the|this|tomorrow) "
               r"(?:morning|evening|afternoon|night)|at night)\b",
               lambda m: "pm" if re.search(r"evening|afternoon|night", m.group(1)) else "", t)
    t = re.sub(r"\s+", " ", t).strip()
    t = re.sub(r"^(?:at|for|by|to|on) ", "", t)
    t = re.sub(r"^(?:at|for|by|to|on) ", "", t)  # "for tomorrow at 7" -> "7"
    t = t.replace("a.m.", "am").replace("p.m.", "pm").replace("o'clock", "")
    t = re.sub(r"\b([ap])\.? ?m\b\.?", r"\1m", t).strip()
    t = re.sub(r"^(?:12 )?(noon|midday|midnight)$", r"\1", t)
    if t in ("noon", "midday"):
        return "12:00"
    if t == "midnight":
        return "00:00"
    t = spoken_to_digits(t)
    t = re.sub(r"^(\d{1,2}) 0 (\d)\b", r"\1:0\2", t)  # "six oh five"
    t = re.sub(r"^half (\d{1,2})\b", r"\1:30", t)  # British "half six"
    m4 = re.fullmatch(r"([01]\d|2[0-3])([0-5]\d)(?: hours)?", t)  # "1930", "0700 hours"
    if m4:
        return _clock(int(m4.group(1)), int(m4.group(2)), None)
    m = re.fullmatch(r"(half|quarter|\d+(?: minutes?)?) (past|to|after|before|of) (\d{1,2})"
                     r"(?: ?(am|pm))?", t)
    if m:
        mins = {"half": 30, "quarter": 15}.get(m.group(1)) or int(m.group(1).split()[0])
        hour = int(m.group(3))
        if m.group(2) in ("to", "before", "of"):
            hour, mins = (hour - 1) % 24, 60 - mins
        return _clock(hour, mins, m.group(4))
    m = re.fullmatch(r"(\d{1,2})(?:[:. ](\d{2}))?(?: ?(am|pm))?", t)
    if m:
        return _clock(int(m.group(1)), int(m.group(2) or 0), m.group(3))
    return None


def _clock(hour: int, minute: int, ampm: str | None) -> str | None:
    if ampm == "pm" and hour < 12:
        hour += 12
    if ampm == "am" and hour == 12:
        hour = 0
    if not (0 <= hour < 24 and 0 <= minute < 60):
        return None
    return f"{hour:02d}:{minute:02d}"


# "what do you get if you ...", "if i have ...", "can you work out ..." before the arithmetic
_CALC_PREAMBLE = re.compile(
    r"^(?:(?:what|how much|how many) (?:do|would|will|should|did) (?:you|i|we) "
    r"(?:get|have|end up with) (?:if|when) (?:you |i |we )?|"
    r"what happens (?:if|when) (?:you |i |we )?|"
    r"(?:if|suppose|say|let's say|assuming) (?:you |i |we )?"
    r"(?:have |had |get |got |buy |bought )?|"
    r"(?:i|we) (?:have|had|got|bought|need) |"
    r"(?:calculate|compute|evaluate|work out|figure out|solve|tell me|quick maths?|math) |"
    r"(?:what's|what is|what are|how much is|how much are) )")
_CALC_TAIL = re.compile(
    r"(?: (?:how many|how much|what)(?: [a-z]+)? (?:is that|is it|would that be|would i have|"
    r"do i have|"
    r"do we have|does that make|is that altogether|in total|altogether|total|all together|"
    r"have i got|do i get|would i get|does that come to|are there)"
    r"| (?:how much |how many )?(?:each|per person|apiece|for each|does each (?:person |one )?get)"
    r"| (?:in total|altogether|all together|total|combined|together|then|exactly|roughly))+$")

_MATH_WORDS = [
    (r"\bsquare root of\b", " sqrt "), (r"\bsqrt of\b", " sqrt "), (r"\broot of\b", " sqrt "),
    (r"\bcube root of\b", " cbrt "),
    (r"\bmultiplied by\b|\btimes\b|\bx\b|×", " * "),
    (r"\bdivided by\b|\bover\b|÷", " / "),
    (r"\bplus\b|\badded to\b", " + "),
    (r"\bminus\b|\btake away\b|\bless\b|\bsubtract\b", " - "),
    (r"\bto the power of\b|\braised to(?: the power of)?\b|\bto the\b", " ** "),
    (r"\bsquared\b", " ** 2 "), (r"\bcubed\b", " ** 3 "),
    (r"\^", " ** "),
]


def parse_expression(text: str) -> str | None:
    """Spoken arithmetic → a Python-syntax expression, or None if it is not arithmetic.

    Only digits, + - * / ** ( ) and sqrt/cbrt may remain, and there must be at least one
    operator: "what is the capital of France" is not an expression; "12 times 7" is.
    """
    t = spoken_to_digits(normalize(text))
    t = re.sub(r"(\d)(?:th|st|nd|rd)\b", r"\1", t)  # "to the 10th"
    t = re.sub(r"(\d)x(\d)", r"\1 x \2", t)  # "7x8"
    t = re.sub(r"^an? (?=\d)", "", t)  # "a 20 percent tip on 50"
    t = re.sub(r"\$(\d)", r"\1", t)
    t = re.sub(r"(\d) (?:dollars?|euros?|pounds?|bucks|quid)\b", r"\1", t)
    # "add up 10 20 and 30", "the sum of 4, 5 and 6": several terms
    m = re.match(r"^(?:add(?: up)?|sum(?: up)?|total(?: up)?|(?:the )?(?:sum|total) of) "
                 r"((?:-?[\d.]+ (?:and |plus )?){2,}-?[\d.]+)$", t)
    if m:
        t = " + ".join(re.findall(r"-?[\d.]+", m.group(1)))
    for _ in range(3):  # "what do you get if you ...", "... how many is that"
        t = _CALC_PREAMBLE.sub("", t).strip()
        t = _CALC_TAIL.sub("", t).strip()
    t = re.sub(r"^(?:the )?(?:answer|result|total|value) (?:to|of|for) ", "", t)
    t = re.sub(r"\b(?:equal|equals|make|makes|come to|comes to|give|gives|be|is|=)$", "", t).strip()
    # verb-led and "the X of A and B" forms, one operation each
    a, b = r"(-?[\d.]+)", r"(-?[\d.]+)"
    for pattern, fmt in (
        (rf"^(?:add|sum|plus|total) {a} (?:and|to|plus|with) {b}$", "{0} + {1}"),
        (rf"^(?:add|sum|total) (?:up )?{a} {b}$", "{0} + {1}"),
        (rf"^{a} and {b} (?:added|added together|together|summed|combined)$", "{0} + {1}"),
        (rf"^(?:multiply|times) {a} (?:by|and|times|with) {b}$", "{0} * {1}"),
        (rf"^{a} and {b} multiplied(?: together)?$", "{0} * {1}"),
        (rf"^divide {a} (?:by|into|over) {b}$", "{0} / {1}"),
        (rf"^split {a} (?:between|among|amongst|by|into) {b}(?: (?:people|ways|persons))?$",
         "{0} / {1}"),
        (rf"^split {a} {b} ways$", "{0} / {1}"),
        (rf"^(?:subtract|take|take away|minus|deduct) {a} (?:away )?(?:from|off) {b}$",
         "{1} - {0}"),
        (rf"^{b} (?:take away|take|subtract|minus|less|without) {a}$", "{0} - {1}"),
        (rf"^(?:the )?(?:sum|total) of {a} and {b}$", "{0} + {1}"),
        (rf"^(?:the )?product of {a} and {b}$", "{0} * {1}"),
        (rf"^(?:the )?difference between {a} and {b}$", "{0} - {1}"),
        (rf"^(?:the )?quotient of {a} and {b}$", "{0} / {1}"),
        (rf"^(?:the )?(?:square|sqr) of {a}$", "{0} ** 2"),
        (rf"^(?:the )?cube of {a}$", "{0} ** 3"),
        (rf"^(?:square|what's the square of) {a}$", "{0} ** 2"),
        (rf"^(?:double|twice) {a}$", "{0} * 2"),
        (rf"^(?:triple|treble|three times) {a}$", "{0} * 3"),
        (rf"^(?:halve|half of|a half of|half) {a}$", "{0} / 2"),
        (rf"^(?:a|one) third of {a}$", "{0} / 3"),
        (rf"^(?:a|one) quarter of {a}$", "{0} / 4"),
        (rf"^two thirds of {a}$", "{0} * 2 / 3"),
        (rf"^three quarters of {a}$", "{0} * 3 / 4"),
        (rf"^{a} dozen$", "{0} * 12"),
        (rf"^{a} (?:[a-z]+ )?(?:boxes|packs|packets|bags|lots|sets|groups|crates|cases|rows|"
         rf"stacks|bundles|cartons|trays|batches|teams|boxes|boxes full|dozens|times) "
         rf"(?:of|with) {b}(?: [a-z]+)?(?: (?:each|in each|apiece|every one))?$", "{0} * {1}"),
        (rf"^{a} [a-z]+ (?:at|for) {b} (?:each|apiece)$", "{0} * {1}"),
        (rf"^{a} [a-z]+ and {b} (?:more|others|extra)(?: [a-z]+)?$", "{0} + {1}"),
        (rf"^{a} [a-z]+ and (?:give|gave|lose|lost|eat|ate|use|used|sell|sold|spend|spent|"
         rf"take away|took away|remove|removed) {b}(?: [a-z]+)?$", "{0} - {1}"),
    ):
        m = re.match(pattern, t)
        if m:
            t = fmt.format(*m.groups())
            break
    t = re.sub(r"^(\S+) and (\S+)$", r"\1 + \2", t)  # "add 5 and 7" (verb stripped)
    t = re.sub(r"^(\S+) by (\S+)$", r"\1 * \2", t)   # "multiply 6 by 7"
    t = re.sub(r"\b(?:power|th power)$", "", t).strip()  # "2 to the 10th power"
    t = re.sub(r"\bto the power\b", "to the power of", t)
    # "15 percent of 80", "18 percent tip on 45 dollars"
    t = re.sub(r"(\d+(?:\.\d+)?) ?(?:%|percent|per cent)(?: tip)? (?:of|on) (?:\$)?",
               r"(\1 / 100) * ", t)
    t = re.sub(r"(\d+(?:\.\d+)?) ?(?:%|percent|per cent)", r"(\1 / 100)", t)
    t = re.sub(r"\$(\d)", r"\1", t)
    t = re.sub(r"\b(dollars?|euros?|pounds?|bucks|cents?)\b", "", t)
    for pattern, repl in _MATH_WORDS:
        t = re.sub(pattern, repl, t)
    t = re.sub(r"\s+", " ", t)
    t = re.sub(r"\b(sqrt|cbrt) (?:of )?(\d+(?:\.\d+)?)", r"\1(\2)", t)
    t = re.sub(r"\b(?:the|of|what|is)\b", " ", t)
    expr = re.sub(r"\s+", " ", t).strip()
    if not expr or not re.fullmatch(r"[\d\s.+\-*/()]*(?:(?:sqrt|cbrt)\([\d.]+\)[\d\s.+\-*/()]*)*",
                                    expr):
        return None
    if not re.search(r"\d", expr) or not re.search(r"[+\-*/]|sqrt|cbrt", expr):
        return None
    compact = expr.replace(" ", "")
    return compact


def _unit_aliases() -> dict[str, str]:
    from localvox.agent.builtin.units import unit_aliases  # lazy: the tools import us

    return unit_aliases()


@lru_cache(maxsize=1)
def _unit_regex() -> re.Pattern[str]:
    names = sorted(_unit_aliases(), key=len, reverse=True)
    return re.compile(r"(?:" + "|".join(re.escape(n) for n in names) + r")(?![a-z])")


def _unit_at(text: str) -> tuple[str, str] | None:
    """The unit at the start of ``text`` (canonical name, rest of text)."""
    t = re.sub(r"^(?:degrees? |deg )", "", text.strip())
    m = _unit_regex().match(t)
    if not m:
        return None
    return _unit_aliases()[m.group()], t[m.end():].strip()


def parse_conversion(text: str) -> dict[str, Any] | None:
    """"10 miles to kilometers" / "how many grams are in 3 pounds" → value, from, to."""
    t = spoken_to_digits(normalize(text))
    t = re.sub(r"^(?:how many|how much) ", "", t)
    t = re.sub(r"\b(?:an?|one) (?=[a-z])", "1 ", t) if re.search(r"\b(?:in|is) (?:an?|one) ", t) \
        else t
    # "<value> <unit> (in|to|into|as) <unit>"
    m = re.match(r"^(?:convert |change |turn )?(-?\d+(?:\.\d+)?) ?(.+?) (?:in|to|into|as|in to)"
                 r" (.+)$", t)
    if m:
        src, dst = _unit_at(m.group(2)), _unit_at(m.group(3))
        if src and dst and not src[1] and dst[1] in ("", "please"):
            return {"value": float(m.group(1)), "from_unit": src[0], "to_unit": dst[0]}
    # "<unit> (are )?(in|is) <value> <unit>"
    m = re.match(r"^(.+?) (?:are |is |are there )?(?:in|is|make|makes|equals?) (?:an? )?"
                 r"(-?\d+(?:\.\d+)?)? ?(.+)$", t)
    if m:
        dst, src = _unit_at(m.group(1)), _unit_at(m.group(3))
        if src and dst and not dst[1] and not src[1]:
            value = float(m.group(2)) if m.group(2) else 1.0
            return {"value": value, "from_unit": src[0], "to_unit": dst[0]}
    return None


_LOCATION_TAIL = re.compile(
    r"\b(?:today|tonight|tomorrow(?: morning| afternoon| evening)?|right now|now|this "
    r"(?:week|weekend|morning|afternoon|evening)|later|outside|like|forecast|at the moment)$")


def parse_location(text: str) -> str | None:
    t = normalize(text)
    for _ in range(3):
        t = _LOCATION_TAIL.sub("", t).strip()
    t = re.sub(r"^(?:in|for|at|around|near|over) ", "", t).strip()
    t = re.sub(r"^(?:the city of|the town of|downtown) ", "", t).strip()
    if not t or len(t.split()) > 4 or re.search(r"\d", t):
        return None
    if t in ("it", "here", "there", "me", "my area", "the city", "outside", "the", "town",
             "my town", "my city", "this area", "the area", "home", "out", "today", "like",
             "this", "that", "you", "now"):
        return None
    # a place, not a clause: "it like to live in paris", "a weather man" are not places
    if re.search(r"\b(?:i|you|we|is|are|was|were|be|to|like|my|your|it|it's|do|does|will|"
                 r"would|should|going|and|or|but|because|if|when|always|never|man|girl|"
                 r"app|channel|report|forecast)\b", t):
        return None
    return t


def parse_free_text(text: str) -> str | None:
    t = text.strip().strip(" .,:;")
    t = re.sub(r"^(?:that|to|saying|:)\s+", "", t)
    return t or None


def parse_ordinal_or_number(text: str) -> int | None:
    t = normalize(text)
    t = re.sub(r"^(?:number|no\.?|#) ?", "", t)
    t = re.sub(r"^the ", "", t)
    if t in ORDINALS:
        return ORDINALS[t]
    t = re.sub(r" (?:one|note|item)$", "", t)
    if t in ("last", "latest", "newest", "most recent", "recent", "final", "previous",
             "last one", "very last", "new"):
        return -1
    if t in ("oldest", "earliest", "very first"):
        return 1
    m = re.fullmatch(r"(\d+)(?:st|nd|rd|th)?", spoken_to_digits(t))
    return int(m.group(1)) if m else None

