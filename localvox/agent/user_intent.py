"""User tools as intents: trigger words from a tool's name and docstring, arguments by type.

Why a module of its own: the built-in tools have hand-written templates and fillers
(:mod:`localvox.agent.builtin_intents`); a tool an app adds with ``@function_tool`` has only
its JSON schema, so it is matched generically here: scored by the share of its name's
content words the request contains (plus a bonus for words of its description's first
sentence), and each parameter filled from the request's words by its schema type (numbers,
enums, booleans, or the words after a cue for strings). The router
(:class:`~localvox.agent.intent.IntentRouter`) scores every user tool with
:meth:`UserIntent.score` and fills the best-scored ones with :meth:`UserIntent.fill`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from localvox.agent.slots import normalize, spoken_to_digits

__all__ = ["UserIntent"]

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

