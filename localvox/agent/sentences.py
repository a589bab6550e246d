"""Routing a user tool by its sentences: exact hassil match first, then a fuzzy one.

``SentenceIntent.match(text)`` is the first layer of
:class:`~localvox.agent.intent.IntentRouter`: a tool that says how it is asked for
(``@function_tool(sentences=[...])`` or a Rhino grammar, :mod:`localvox.agent.grammar`)
is tried before the built-in templates and long before the LLM.

1. **Exact**, for sentences with free-text ``{slot}`` s (no value list): hassil recognises
   the normalised transcript against the sentences.
2. **Values** (for tools whose slots have value lists): every allowed value is spotted
   in the transcript on spelling and sound (:func:`localvox.agent.fuzzy.match_slots`). The
   call is made only when the confidence gate passes: every required slot was heard, and
   at least ``min_explained`` of the words are slot values or the sentences' own carrier
   words. "tell me a joke" has no drink in it; "i love coffee" is a statement (the
   router's request guard drops it before this layer).

Why the fuzzy layer: on the real coffee orders tiny.en writes "light rose", "ice mocha",
"8-dounds"; exact templates reject every one of those orders. Why not hassil for the value
slots too: the coffee grammar's 80 expressions take hassil about 1 s per utterance to
reject (measured here, two loaded cores), while spotting values takes 10-100 ms, and a
transcript the values explain completely at similarity 1.0 *is* an exact match.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from localvox.agent.fuzzy import SlotMatch, explained_fraction, match_slots, normalize_spoken
from localvox.agent.grammar import SentenceSpec, bind_slots, spec_values

__all__ = ["SentenceIntent", "SentenceMatch"]

MIN_EXPLAINED = 0.6
"""Share of the transcript a fuzzy match must account for (slot values + carrier words)."""
STRICT_MIN_VALUES = 2
STRICT_MIN_EXPLAINED = 0.7
"""The gate for text the request guard reads as a statement ("and i'm going to ...")."""


@dataclass(frozen=True)
class SentenceMatch:
    tool: str
    arguments: dict[str, Any]
    exact: bool
    confidence: float
    """1.0 for an exact template match; the explained share of the words for a fuzzy one."""
    slots: tuple[SlotMatch, ...] = ()


@dataclass
class SentenceIntent:
    """One tool with sentences: its schema, its spec and the hassil grammar built from it."""

    name: str
    schema: dict[str, Any]
    spec: SentenceSpec
    min_explained: float = MIN_EXPLAINED
    binding: dict[str, str] = field(init=False)
    values: dict[str, tuple[str, ...]] = field(init=False)
    required: set[str] = field(init=False)
    carrier: set[str] = field(init=False)
    _intents: Any = field(init=False, default=None)

    def __post_init__(self) -> None:
        params: Mapping[str, Any] = (self.schema.get("parameters") or {}).get("properties") or {}
        self.binding = bind_slots(self.spec, params)
        self.values = spec_values(self.spec, params)
        needed = set((self.schema.get("parameters") or {}).get("required") or [])
        self.required = needed | {self.binding[s] for s in self.spec.required_slots()
                                  if s in self.binding}
        self.carrier = self.spec.carrier_words()

    def _hassil(self) -> Any:
        if self._intents is None:
            from hassil import Intents

            lists: dict[str, Any] = {}
            for slot in self.spec.slot_names():
                values = self._slot_values(slot)
                lists[slot] = ({"values": [{"in": normalize_spoken(v), "out": v}
                                           for v in values]}
                               if values else {"wildcard": True})
            self._intents = Intents.from_dict({
                "language": "en",
                "intents": {self.name: {"data": [{"sentences": [
                    normalize_spoken_template(s) for s in self.spec.sentences]}]}},
                "lists": lists})
        return self._intents

    def _slot_values(self, slot: str) -> tuple[str, ...]:
        """A grammar slot's values: its parameter's, else the grammar's own list."""
        pname = self.binding.get(slot)
        return self.values.get(pname, ()) if pname else tuple(self.spec.slots.get(slot, ()))

    def exact(self, text: str) -> SentenceMatch | None:
        from hassil import recognize

        if all(self._slot_values(s) for s in self.spec.slot_names()):
            return None  # every slot has values: the value layer decides, exactly or not

        t = normalize_spoken(text)
        if not t:
            return None
        result = recognize(t, self._hassil())
        if result is None:
            return None
        args: dict[str, Any] = {}
        for slot, entity in result.entities.items():
            pname = self.binding.get(slot)
            if pname is not None:
                args[pname] = entity.value if not isinstance(entity.value, str) \
                    else entity.value.strip()
        if not self.required <= set(args):
            return None
        return SentenceMatch(self.name, args, True, 1.0)

    def fuzzy(self, text: str, strict: bool = False) -> SentenceMatch | None:
        """Spot the allowed values; ``strict`` (the text reads as a statement) asks for two
        values or more and a higher explained share."""
        if not self.values:
            return None  # sentences without value lists: exact matches only
        found = match_slots(text, self.values, carrier=self.carrier)
        args = {m.slot: m.value for m in found}
        if not args or not self.required <= set(args):
            return None
        if strict and len(args) < STRICT_MIN_VALUES:
            return None
        share = explained_fraction(text, found, self.carrier)
        if share < (STRICT_MIN_EXPLAINED if strict else self.min_explained):
            return None
        exact = share == 1.0 and all(m.ratio == 1.0 for m in found)
        return SentenceMatch(self.name, args, exact, share, tuple(found))

    def match(self, text: str, strict: bool = False) -> SentenceMatch | None:
        return (None if strict else self.exact(text)) or self.fuzzy(text, strict)


def normalize_spoken_template(sentence: str) -> str:
    """A hassil template with its literal words normalised like transcripts are.

    The syntax characters (``()[]|{}``) are kept; words go through the same digit spelling
    and lower-casing as :func:`normalize_spoken`, so "12 ounce" in a template matches.
    """
    import re

    parts = re.split(r"(\{\w+(?::\w+)?\}|[()\[\]|])", sentence)
    out = []
    for p in parts:
        if not p or re.fullmatch(r"\{\w+(?::\w+)?\}|[()\[\]|]", p):
            out.append(p)
        else:
            lead = " " if p[:1].isspace() else ""
            tail = " " if p[-1:].isspace() else ""
            out.append(lead + normalize_spoken(p) + tail)
    return re.sub(r"\s+", " ", "".join(out)).strip()
