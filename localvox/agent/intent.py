"""Intent routing and slot filling: tool calls without asking a tiny LLM to pick tools.

Measured on 40 spoken requests, SmolLM2-135M's own function calling chose ``set_timer`` for
"what's the weather in Paris" and "tell me a joke"; the packaged models cannot route tools.
So, like Home Assistant's local voice assistant, localvox matches what the user said against
sentence templates (hassil syntax, ``intent_data/builtin.toml``) and fills the arguments
with deterministic slot parsers (spoken numbers, durations, clock times, units, places,
free text). Anything that matches no intent goes to the LLM as open conversation.

A **request guard** runs first: statements and opinions that merely mention a tool word
("i love weather like this", "the weather man is always wrong", "my timer app is broken")
are conversation, not requests, and never reach the layers below.

Four layers, first hit wins:

0. **Tool sentences**: a user tool that declares how it is spoken
   (``@function_tool(sentences=[...])`` or a Rhino grammar) is matched exactly, then
   fuzzily against its allowed values (:mod:`localvox.agent.sentences`).
1. **Templates** for the built-in tools. A template matches only if its ``{slot}``
   wildcards parse (``"what is {expression}"`` with "the capital of France" does not).
2. **User tools** (``@function_tool`` functions the app added): trigger words come from
   the tool's name and docstring; arguments come from the schema's types (numbers, enums,
   booleans, and strings taken from the words after a cue).
3. **Cue fallback** for the built-ins: strong cue words plus a slot that parses
   ("... 12 times 7 ..." anywhere; "weather" in a question), for phrasings no template
   covers. Only utterances in a request form (a question, an imperative, a short
   fragment) get this far.

``IntentRouter.route(text) -> Route | None`` (``tool_call(text) -> ToolCall | None``); the
router only ever proposes tools that are registered, so an app that removes a built-in
also removes its intent.

Where the parts live: the request guard in :mod:`localvox.agent.request_guard`, the
built-in tools' slot fillers and cues in :mod:`localvox.agent.builtin_intents`, user-tool
matching in :mod:`localvox.agent.user_intent`, a tool's own sentences in
:mod:`localvox.agent.sentences`, and the slot parsers in :mod:`localvox.agent.slots`. This
module is the router that tries the layers in order; the public names of the guard, the
fillers, user intents and the slot parsers are re-exported from it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from localvox.agent import slots as slot_parsers
from localvox.agent.builtin_intents import BUILTIN_SLOT_FILLERS, CUES, DATA_DIR, builtin_templates
from localvox.agent.request_guard import is_request_form, is_statement
from localvox.agent.slots import (first_number, fmt_number, normalize, parse_clock,  # re-exported
                                  parse_conversion, parse_duration, parse_expression,
                                  parse_free_text, parse_location, parse_ordinal_or_number,
                                  spoken_to_digits)
from localvox.agent.user_intent import UserIntent
from localvox.llm.base import ToolCall

__all__ = ["IntentRouter", "Route", "UserIntent", "BUILTIN_SLOT_FILLERS", "DATA_DIR",
           "is_statement", "is_request_form",
           *slot_parsers.__all__]  # the slot parsers are re-exported


@dataclass
class Route:
    """One routed tool call and the layer that found it (the LLM is never asked)."""

    tool: str
    arguments: dict[str, Any]
    layer: str
    """"sentences", "template", "user" or "cue": which layer matched (for benches and debugging)."""

    def to_tool_call(self) -> ToolCall:
        return ToolCall(id=f"intent_{uuid.uuid4().hex[:12]}", name=self.tool,
                        arguments=json.dumps(self.arguments))


class IntentRouter:
    """Map an utterance to one tool call, or None for open conversation."""

    def __init__(self, tools: Iterable[dict[str, Any]] = (), *,
                 templates: Path | None = None, user_threshold: float = 0.99,
                 sentences: dict[str, Any] | None = None) -> None:
        self.templates = templates or DATA_DIR / "builtin.toml"
        self.user_threshold = user_threshold
        self.builtin: set[str] = set()
        self.user: list[UserIntent] = []
        self.spoken: list[Any] = []
        self.set_tools(tools, sentences)

    def set_tools(self, tools: Iterable[dict[str, Any]],
                  sentences: dict[str, Any] | None = None) -> None:
        """Registered tool schemas: built-ins by name use templates, others are user tools.

        ``sentences`` (``ToolRegistry.get_sentences()``) maps a tool name to its
        ``SentenceSpec``; those tools are tried first.
        """
        from localvox.agent.sentences import SentenceIntent

        self.builtin, self.user, self.spoken = set(), [], []
        self._params: dict[str, set[str]] = {}
        for schema in tools:
            fn = schema.get("function", schema)
            if fn["name"] in BUILTIN_SLOT_FILLERS:
                self.builtin.add(fn["name"])
                props = (fn.get("parameters") or {}).get("properties") or {}
                self._params[fn["name"]] = set(props)
            else:
                self.user.append(UserIntent.from_schema(fn))
                spec = (sentences or {}).get(fn["name"])
                if spec is not None:
                    self.spoken.append(SentenceIntent(fn["name"], fn, spec))

    def _fit(self, name: str, args: dict[str, Any]) -> dict[str, Any] | None:
        """The built-in filler's arguments under the registered tool's own parameter names.

        Why: an app's own ``get_weather(city)`` (the Atoms article's) shares the built-in's
        name but not its ``location`` parameter; one unmatched argument goes to the one
        unfilled parameter, anything more ambiguous is no match.
        """
        params = self._params.get(name)
        if params is None or set(args) <= params:
            return args
        extra = [k for k in args if k not in params]
        free = [p for p in params if p not in args]
        if len(extra) == 1 and len(free) == 1:
            kept = {k: v for k, v in args.items() if k in params}
            return {**kept, free[0]: args[extra[0]]}
        return None

    def route(self, text: str) -> Route | None:
        t = normalize(text)
        if not t:
            return None
        statement = is_statement(t)
        # A tool's own sentences are tried even on a statement, under a stricter gate:
        # Whisper turns a noisy "can I get a" into "and I'm going to", which the guard
        # reads as a comment; two or more of the tool's values still make it an order,
        # while "i love coffee" (one value) stays conversation.
        spoken = self._sentences(text, strict=statement)
        if spoken is not None or statement:
            return spoken
        return self._templates(t, text) or self._user(text) or \
            (self._cues(t) if is_request_form(t) else None)

    def tool_call(self, text: str) -> ToolCall | None:
        route = self.route(text)
        return route.to_tool_call() if route else None

    def _sentences(self, text: str, strict: bool = False) -> Route | None:
        best = None
        for intent in self.spoken:
            m = intent.match(text, strict=strict)
            if m is not None and (best is None or m.confidence > best.confidence):
                best = m
        return Route(best.tool, best.arguments, "sentences") if best else None

    def _templates(self, t: str, original: str) -> Route | None:
        if not self.builtin:
            return None
        from hassil import recognize_all

        intents = builtin_templates(str(self.templates))
        best: tuple[int, Route] | None = None
        for result in recognize_all(t, intents):
            name = result.intent.name
            if name not in self.builtin:
                continue
            slots = {k: str(v.value) for k, v in result.entities.items()}
            args = BUILTIN_SLOT_FILLERS[name](slots, original if name == "add_note" else t)
            args = self._fit(name, args) if args is not None else None
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
        for name, cue, build in CUES:
            if name in self.builtin and cue.search(t):
                args = build(t)
                args = self._fit(name, args) if args is not None else None
                if args is not None:
                    return Route(name, args, "cue")
        return None
