"""Sentence grammars for user tools: hassil templates and Rhino-style YAML contexts.

A tool can say how people ask for it, ``@function_tool(sentences=[...])`` in hassil syntax
(Home Assistant's template language: ``(a|b)`` alternatives, ``[x]`` optional, ``{slot}``
a parameter), or carry a whole grammar in Picovoice Rhino's YAML layout::

    context:
      expressions:
        orderDrink:
          - "[can I get, I want] [a, an] $size:size $coffeeDrink:coffeeDrink"
      slots:
        size: ["small", "medium", "large"]

(Rhino syntax: ``[a, b]`` a choice, ``(x)`` optional, ``$type:name`` a slot.) Both become
one :class:`SentenceSpec`: hassil sentences, the values each slot allows, and the literal
carrier words. The intent router matches a spec exactly with hassil first and, when the
transcript is a near miss ("a light rose latte"), with :mod:`localvox.agent.fuzzy`.

Why one spec for both: the benchmark grammar (``coffee_maker.yaml``) and a hand-written
``sentences=[...]`` must route the same way, through the same gate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from localvox.errors import ConfigError

__all__ = ["RhinoGrammar", "SentenceSpec", "load_rhino", "rhino_to_hassil"]


@dataclass(frozen=True)
class SentenceSpec:
    """How one tool is spoken: hassil sentences and the value list of every ``{slot}``."""

    sentences: tuple[str, ...]
    slots: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Values per slot name; a slot without values here takes the tool's enum, if any."""
    slot_types: Mapping[str, str] = field(default_factory=dict)
    """Grammar slot name -> slot type (Rhino ``$type:name``), for the value lists."""

    def slot_names(self) -> list[str]:
        names: list[str] = []
        for s in self.sentences:
            for name in re.findall(r"\{(\w+)(?::\w+)?\}", s):
                if name not in names:
                    names.append(name)
        return names

    def carrier_words(self) -> set[str]:
        """The literal words of the sentences (not slot values), normalised."""
        from localvox.agent.fuzzy import normalize_spoken

        words: set[str] = set()
        for s in self.sentences:
            literal = re.sub(r"\{\w+(?::\w+)?\}", " ", s)
            words.update(normalize_spoken(re.sub(r"[()\[\]|]", " ", literal)).split())
        return words

    def required_slots(self) -> list[str]:
        """Slots present in every sentence (outside optional brackets): a match needs them."""
        sets = []
        for s in self.sentences:
            outside = _strip_optional(s)
            sets.append(set(re.findall(r"\{(\w+)(?::\w+)?\}", outside)))
        return sorted(set.intersection(*sets)) if sets else []


def _strip_optional(sentence: str) -> str:
    """The sentence without ``[...]`` parts (hassil optional)."""
    prev = None
    while prev != sentence:
        prev, sentence = sentence, re.sub(r"\[[^\[\]]*\]", " ", sentence)
    return sentence


def rhino_to_hassil(expression: str) -> str:
    """One Rhino expression in hassil syntax.

    ``[a, b]`` (choice) -> ``(a|b)``; ``(x)`` (optional) -> ``[x]``; ``$type:name`` -> ``{name}``.
    """
    out: list[str] = []
    i = 0
    while i < len(expression):
        ch = expression[i]
        if ch == "[":
            j = expression.index("]", i)
            options = [o.strip() for o in expression[i + 1:j].split(",")]
            out.append("(" + "|".join(options) + ")")
            i = j + 1
        elif ch == "(":
            j = expression.index(")", i)
            options = [o.strip() for o in expression[i + 1:j].split(",")]
            out.append("[" + "|".join(options) + "]" if len(options) > 1
                       else "[" + options[0] + "]")
            i = j + 1
        elif ch == "$":
            m = re.match(r"\$(\w+):(\w+)", expression[i:])
            if not m:
                raise ConfigError(f"bad Rhino slot in expression: {expression!r}")
            out.append("{" + m.group(2) + "}")
            i += m.end()
        else:
            out.append(ch)
            i += 1
    return re.sub(r"\s+", " ", "".join(out)).strip()


@dataclass(frozen=True)
class RhinoGrammar:
    """A Rhino context: intents with expressions, and the values of each slot type."""

    expressions: Mapping[str, tuple[str, ...]]
    slot_values: Mapping[str, tuple[str, ...]]

    @property
    def intents(self) -> list[str]:
        return list(self.expressions)

    def spec(self, intent: str) -> SentenceSpec:
        """One intent as a :class:`SentenceSpec` (slots named as in the grammar)."""
        if intent not in self.expressions:
            raise ConfigError(f"the grammar has no intent {intent!r} "
                              f"(it has {', '.join(self.expressions)})")
        types: dict[str, str] = {}
        for e in self.expressions[intent]:
            for kind, name in re.findall(r"\$(\w+):(\w+)", e):
                types[name] = kind
        return SentenceSpec(
            sentences=tuple(rhino_to_hassil(e) for e in self.expressions[intent]),
            slots={name: self.slot_values.get(kind, ()) for name, kind in types.items()},
            slot_types=types)


def load_rhino(path: str | Path) -> RhinoGrammar:
    """Read a Rhino context YAML (``context: {expressions: ..., slots: ...}``).

    A missing file or a malformed grammar is one ``ConfigError`` line naming the file.
    """
    import yaml

    p = Path(path)
    try:
        data: Any = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"cannot read grammar {p}: {err.strerror or err}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{p} is not valid YAML: {str(err).splitlines()[0]}") from None
    ctx = data.get("context") if isinstance(data, dict) else None
    if not isinstance(ctx, dict) or not isinstance(ctx.get("expressions"), dict):
        raise ConfigError(f"{p}: expected a Rhino context (context: expressions: ...)")
    expressions = {str(k): tuple(str(e) for e in (v or []))
                   for k, v in ctx["expressions"].items()}
    slots = {str(k): tuple(str(x).strip() for x in (v or []))
             for k, v in (ctx.get("slots") or {}).items()}
    return RhinoGrammar(expressions, slots)


def bind_slots(spec: SentenceSpec, params: Mapping[str, Any]) -> dict[str, str]:
    """Grammar slot name -> tool parameter name.

    Same name first (``coffeeDrink`` ~ ``coffee_drink``), else the parameter whose enum has
    the same values as the slot (``numberOfShots`` -> ``shots: Literal["single shot", ...]``).
    """
    def key(name: str) -> str:
        return re.sub(r"[^a-z0-9]", "", name.lower())

    by_key = {key(p): p for p in params}
    out: dict[str, str] = {}
    for slot in spec.slot_names():
        if slot in params:
            out[slot] = slot
        elif key(slot) in by_key:
            out[slot] = by_key[key(slot)]
        else:
            values = {v.lower() for v in spec.slots.get(slot, ())}
            for pname, prop in params.items():
                enum = {str(x).lower() for x in (prop.get("enum") or [])}
                if values and enum == values and pname not in out.values():
                    out[slot] = pname
                    break
    return out


def spec_values(spec: SentenceSpec, params: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Allowed values per *parameter*: the grammar's list, else the parameter's enum."""
    binding = bind_slots(spec, params)
    out: dict[str, tuple[str, ...]] = {}
    for slot, pname in binding.items():
        enum = tuple(str(x) for x in (params[pname].get("enum") or ()))
        out[pname] = enum or tuple(spec.slots.get(slot, ()))
    return out


def as_sequence(sentences: Sequence[str] | SentenceSpec | None) -> SentenceSpec | None:
    """What ``@function_tool(sentences=...)`` accepts, as a spec (None for none)."""
    if sentences is None:
        return None
    if isinstance(sentences, SentenceSpec):
        return sentences
    if isinstance(sentences, str):
        sentences = [sentences]
    items = tuple(str(s) for s in sentences)
    return SentenceSpec(items) if items else None
