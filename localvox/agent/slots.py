"""Slot parsers: the words a user spoke -> a typed tool argument, or None.

Deterministic and model-free, so a 135M-parameter LLM never has to turn "five and a half
minutes" into 330: spoken numbers ("three hundred and twenty" -> 320), durations, clock
times, spoken arithmetic, unit conversions, places, free text and ordinals. Each parser
returns None when the text is not that kind of thing, which is how a template whose
``{slot}`` does not parse is rejected (see :mod:`localvox.agent.intent`).

``normalize`` is shared by the parsers and the router: lower case, straight quotes and no
polite openers ("hey jarvis, could you ...") or closers ("... please").
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

__all__ = [
    "spoken_to_digits", "fmt_number", "first_number", "normalize", "parse_duration",
    "parse_clock", "parse_expression", "parse_conversion", "parse_location", "parse_free_text",
    "parse_ordinal_or_number",
]

# --------------------------------------------------------------------------------------------
# Spoken numbers
# --------------------------------------------------------------------------------------------

_ONES = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen".split())}
_ONES["oh"] = 0
_TENS = {w: 10 * (i + 2) for i, w in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split())}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_ORDINALS = {w: i + 1 for i, w in enumerate(
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
    "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth "
    "twentieth".split())}
_ORDINALS.update({f"{tens} {w}": base + n for tens, base in (("twenty", 20), ("thirty", 30))
                  for w, n in _ORDINALS.copy().items() if n < 10})
_ORDINALS["thirtieth"] = 30
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


# --------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------

_OPENERS = re.compile(
    r"^(?:(?:hey|hi|ok|okay) (?:jarvis|localvox|mycroft|nabu|alexa)|jarvis|localvox|alexa|hey|"
    r"okay|ok|so|um+|uh+|er|well|please|and|could you|can you|would you|will you|"
    r"(?:i'd like|i want|i need) (?:you )?to(?! remember\b)|go ahead and|quickly|just|"
    r"(?:tell me|let me know)(?! (?:in|when|after|at)\b)|do me a favou?r and|right|alright|"
    r"all right|oh|now|actually|"
    r"excuse me|sorry|quick question|one more thing|also|then)\b[ ,]*")
# indirect questions: "remind me which day it is", "do you know if it's going to rain" ->
# the question itself (only when a question follows, so "remind me in 5 minutes" stays)
_INDIRECT = re.compile(
    r"^(?:remind me|do you know|do you happen to know|can you tell me|could you tell me|"
    r"any idea|i wonder|i was wondering|i'd like to know|i want to know|i need to know|"
    r"i'd love to know|tell me|let me know|quick question|know)[ ,]+"
    r"(?=(?:what|what's|which|how|how's|when|if|whether|is|are|will|do|does|the)\b)")
_CLOSERS = re.compile(r"[ ,]*\b(?:please|thanks|thank you|for me|real quick|quickly|"
                      r"if you can|if you could|if you don't mind|mate|buddy|jarvis|"
                      r"right now please|okay|ok)$")
# spoken fillers anywhere, not only at the start ("what's um the time")
_FILLERS = re.compile(r"\b(?:um+|uh+|uhm+|erm+|er+|hmm+|ah+|eh)\b[ ,]*")
# contractions typed or transcribed without the apostrophe
_CONTRACTIONS = {
    "whats": "what's", "hows": "how's", "wheres": "where's", "whens": "when's",
    "thats": "that's", "todays": "today's", "tomorrows": "tomorrow's", "dont": "don't",
    "doesnt": "doesn't", "didnt": "didn't", "im": "i'm", "ive": "i've", "cant": "can't",
    "isnt": "isn't", "arent": "aren't", "theres": "there's", "whos": "who's",
    "its": "it's", "id": "i'd", "ill": "i'll", "wont": "won't", "whatre": "what're",
    "gonna": "going to", "wanna": "want to", "gotta": "got to", "whats's": "what's",
}
_GERUNDS = {
    (v + v[-1] + "ing" if v in ("set", "put", "get", "stop", "jot") else
     v[:-1] + "ing" if v.endswith("e") else v + "ing"): v
    for v in ("set start make tell check turn add take write read convert calculate cancel "
              "delete remove wake remind give put get stop save note jot list show work "
              "figure clear count time create").split()}
_GERUNDS["cancelling"] = "cancel"
_CONTRACTION_RE = re.compile(r"\b(" + "|".join(_CONTRACTIONS) + r")\b")


def normalize(text: str) -> str:
    """Lower-case, straight quotes, no fillers, outer punctuation or polite openers/closers.

    Written for speech: ASR gives lower case without punctuation and with "um"s, people
    type "whats" for "what's", and a request is often wrapped in "do you know ..." or
    "remind me ..." — all of which is removed so the templates see the request itself.
    """
    t = text.lower().replace("’", "'").replace("‘", "'").replace("“", "").replace("”", "")
    # Undecodable bytes (U+FFFD), emoji and stray symbols carry no words: drop them so a
    # garbled prefix cannot hide "what time is it" from the anchored request patterns.
    t = re.sub(r"[^\w\s'.,?!:;%$£€+\-*/^=()]", " ", t)
    t = re.sub(r"^(?:[\s\-.,;:!?)]|\(\s)+", "", t)
    t = re.sub(r"\s+", " ", t).strip().strip(" .?!,")
    t = t.replace(",", " ").replace(";", " ").replace("  ", " ")
    t = _FILLERS.sub("", t)
    t = _CONTRACTION_RE.sub(lambda m: _CONTRACTIONS[m.group(1)], t)
    t = re.sub(r"\s+", " ", t).strip(" .?!,")
    for _ in range(5):
        new = _CLOSERS.sub("", _INDIRECT.sub("", _OPENERS.sub("", t))).strip(" .?!,:")
        # "would you mind setting a timer" -> "set a timer"
        new = re.sub(r"^(?:(?:would|do|could) you )?mind (\w+ing)\b",
                     lambda m: _GERUNDS.get(m.group(1), m.group(1)), new)
        # "(if|whether) it's going to rain" -> "is it going to rain"
        new = re.sub(r"^(?:if|whether) (it|there)(?: is|'s) ", r"is \1 ", new)
        new = re.sub(r"^(?:if|whether) (it|there) will ", r"will \1 ", new)
        new = re.sub(r"^(?:if|whether) (i|we) (need|should)\b", r"do \1 \2", new)
        new = re.sub(r"^(what|which) (time|day|date|hour) it is\b", r"\1 \2 is it", new)
        if new == t:
            break
        t = new
    return t


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
    if t in _ORDINALS:
        return _ORDINALS[t]
    t = re.sub(r" (?:one|note|item)$", "", t)
    if t in ("last", "latest", "newest", "most recent", "recent", "final", "previous",
             "last one", "very last", "new"):
        return -1
    if t in ("oldest", "earliest", "very first"):
        return 1
    m = re.fullmatch(r"(\d+)(?:st|nd|rd|th)?", spoken_to_digits(t))
    return int(m.group(1)) if m else None

