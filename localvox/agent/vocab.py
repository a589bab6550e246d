"""What a session's tools can take, as ASR vocabulary (``localvox.asr.bias.Bias``).

The recogniser is told what to expect from the tools themselves, so an app author never
writes a prompt: ``Literal``/enum values, ``Annotated`` examples (``examples=[...]`` in the
schema), examples in the docstring (``e.g. "New Delhi"``), entity lists a tool registers
(``ToolRegistry.add_entities``), the values of a tool's sentence grammar, the built-in
tools' words and the wake word. Priority, highest first:

1. the **focus**: the values of the parameter the agent just asked about ("Which size?"
   -> the sizes), when there is one;
2. enum/grammar values of the user's tools (a closed set: these are the words a command
   hinges on);
3. examples and registered entity lists (open sets: hints);
4. the built-in tools' vocabulary;
5. the wake word.

(The order within the prompt and the cut at ``bias_max_tokens`` are
:func:`localvox.asr.bias.build_prompt`'s.) A session whose tools offer nothing but the
built-in words and the wake word gets no prompt at all: on open dictation that prompt
cost WER (figures in ``tool_vocabulary``).

Tools that say how they are spoken (``@function_tool(sentences=...)``, a Rhino grammar)
also give the vocabulary a ``judge`` (``grammar_judge``): the same sentence layer the
intent router runs first, so the recogniser can pick, among its n-best hypotheses for a
final, one the tools accept (:meth:`localvox.asr.whisper.WhisperTranscriber.rescue`).
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping, Sequence

from localvox.asr.bias import Bias, Judge

__all__ = ["BUILTIN_VOCABULARY", "focus_for", "grammar_judge", "tool_vocabulary"]

BUILTIN_VOCABULARY: dict[str, tuple[str, ...]] = {
    "set_timer": ("timer", "minutes", "seconds"),
    "set_alarm": ("alarm", "a.m.", "p.m."),
    "get_weather": ("weather", "forecast"),
    "convert_units": ("Celsius", "Fahrenheit", "kilometers", "miles"),
    "add_note": ("note",),
}
"""A few words per built-in tool that Whisper tends to spell wrongly or not at all."""

_EXAMPLE = re.compile(r"(?:e\.g\.|for example|such as|like)\s*[,:]?\s*((?:\"[^\"]+\"[,\s]*(?:or|and)?\s*)+)",
                      re.IGNORECASE)


def _examples_in(description: str) -> list[str]:
    """Quoted examples in a docstring line: 'The city, e.g. "Paris" or "New Delhi".'"""
    out: list[str] = []
    for m in _EXAMPLE.finditer(description or ""):
        out.extend(re.findall(r"\"([^\"]+)\"", m.group(1)))
    return out


def _values(prop: Mapping[str, Any]) -> list[str]:
    vals = [str(v) for v in prop.get("enum") or [] if isinstance(v, (str, int, float))
            and not isinstance(v, bool)]
    for arm in prop.get("anyOf") or []:
        vals.extend(_values(arm))
    if prop.get("type") == "array" and isinstance(prop.get("items"), dict):
        vals.extend(_values(prop["items"]))
    return vals


def _params(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    fn = schema.get("function", schema)
    return (fn.get("parameters") or {}).get("properties") or {}


def tool_vocabulary(schemas: Iterable[Mapping[str, Any]], *,
                    sentences: Mapping[str, Any] | None = None,
                    entities: Mapping[str, Sequence[str]] | None = None,
                    wake_word: str = "", focus: Sequence[str] = ()) -> Bias:
    """The priority-ordered vocabulary of these tools (see the module docstring)."""
    schemas = list(schemas)
    closed: list[str] = []
    hints: list[str] = []
    builtin: list[str] = []
    for schema in schemas:
        fn = schema.get("function", schema)
        name = str(fn.get("name", ""))
        if name in BUILTIN_VOCABULARY:
            builtin.extend(BUILTIN_VOCABULARY[name])
            continue
        for prop in _params(schema).values():
            closed.extend(_values(prop))
            hints.extend(str(x) for x in prop.get("examples") or [])
            hints.extend(_examples_in(str(prop.get("description", ""))))
        spec = (sentences or {}).get(name)
        for values in getattr(spec, "slots", {}).values():
            closed.extend(values)
    for values in (entities or {}).values():
        hints.extend(values)
    if not closed and not focus and not hints:
        # Only built-in words and the wake word: open conversation, no prompt. Measured
        # with them as the prompt (34 tokens), tiny.en's streaming WER on LJSpeech + ARCTIC
        # rose from 7.70% to 8.51% (`localvox bench asr ../shared/speech/asr --bias
        # assistant`); what a prompt is for is a tool's closed set of values.
        return Bias()
    wake = [wake_word.replace("_", " ").strip()] if wake_word.strip() else []
    return Bias.of(focus, closed, hints, builtin, wake,
                   judge=grammar_judge(schemas, sentences or {}))


def grammar_judge(schemas: Iterable[Mapping[str, Any]],
                  sentences: Mapping[str, Any]) -> Judge | None:
    """A ``Judge``: for a call of one of these tools by its own sentences, 1.0 plus the
    share of the words their values and sentence words explain (2.0: all of them), else
    that share below 1; None when no user tool has sentences (open conversation: nothing
    to judge by). The share of an accepted command is what lets the recogniser prefer
    "a small latte with soy milk" to "a small latte with saueno", which the sentence layer
    also accepts (with no milk).

    Acceptance is the intent router's first layer, with the router's own statement gate,
    so the recogniser's choice and the agent's routing agree.
    """
    spoken = [s for s in schemas
              if str(s.get("function", s).get("name", "")) in sentences
              and str(s.get("function", s).get("name", "")) not in BUILTIN_VOCABULARY]
    if not spoken:
        return None
    from localvox.agent.fuzzy import explained_fraction, match_slots
    from localvox.agent.intent import IntentRouter

    names = {str(s.get("function", s)["name"]) for s in spoken}
    router = IntentRouter([dict(s) for s in spoken],
                          sentences={n: sentences[n] for n in names})

    def judge(text: str) -> float:
        route = router.route(text)
        near = 0.0
        for intent in router.spoken:
            if intent.values:
                found = match_slots(text, intent.values, carrier=intent.carrier)
                near = max(near, explained_fraction(text, found, intent.carrier))
        if route is not None and route.layer == "sentences":
            return 1.0 + near  # accepted; 2.0 when every word is accounted for
        return min(near, 0.99)

    return judge


def focus_for(question: str, schemas: Iterable[Mapping[str, Any]],
              sentences: Mapping[str, Any] | None = None) -> list[str]:
    """The allowed values of the parameter a question asks for, or [].

    "Which size would you like?" names the ``size`` parameter: its values become the next
    turn's first vocabulary group. A question names a parameter by its name's words
    (``coffee_drink`` -> "coffee", "drink") or by its description's first noun-like words.
    Only the question sentences (ending in "?") count; a reply without one keeps the
    default order.
    """
    asked = [s for s in re.findall(r"[^.?!]*\?", question.lower()) if s.strip()]
    if not asked:
        return []
    words = set(re.findall(r"[a-z]+", " ".join(asked)))
    best: tuple[int, list[str]] = (0, [])
    for schema in schemas:
        for pname, prop in _params(schema).items():
            values = _values(prop)
            if not values:
                continue
            keys = {w for w in re.split(r"[_\W]+", pname.lower()) if len(w) > 2}
            hit = len(keys & words) + len({w.rstrip("s") for w in keys} & words)
            if hit > best[0]:
                best = (hit, values)
    return best[1]
