"""The adaptive end-of-turn rule: how long a silence ends the turn, from the partial transcript.

Why apart from the endpointer: the end-of-turn silence is the largest fixed cost of every
turn, and this rule -- short after "What time is it?" (400 ms), long after "... and" or
"um" (1200 ms), 700 ms before any partial -- is pure text in, milliseconds out. It is
tested on its own and the endpointer (``endpoint``) takes it as its default
``silence_rule``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from localvox.config import EndpointConfig

_TRAILING_OFF = ("...", "…", ",", "-", "–", "—", ":", ";")
_FINISHED = (".", "?", "!")
_WORD = re.compile(r"[a-z0-9']+")

Completeness = Literal["complete", "incomplete", "unknown"]

def partial_completeness(text: str | None, continuation_words: "list[str] | set[str]"
                         ) -> Completeness:
    """Judge whether a partial transcript looks like a finished turn.

    In order (the first that applies wins):

    1. nothing yet (None or blank)                       -> ``unknown``
    2. last word is a continuation word or filler from
       ``[endpoint] continuation_words`` ("... and", "um.") -> ``incomplete``
       (checked before punctuation: Whisper writes "Um." and "and." too)
    3. ends with trailing-off punctuation: "...", "…", ",", dashes, ":" or ";"
       (how Whisper renders a voice that trails off or rises mid-sentence) -> ``incomplete``
    4. ends with ".", "?" or "!"                          -> ``complete``
    5. anything else (no final punctuation: a cloud ASR that does not punctuate, or a
       partial cut mid-word)                             -> ``unknown``
    """
    if text is None:
        return "unknown"
    stripped = text.strip().replace("’", "'")
    if not stripped:
        return "unknown"
    words = _WORD.findall(stripped.lower())
    if words:
        cont = {w.lower() for w in continuation_words}
        if words[-1] in cont:
            return "incomplete"
    else:
        return "unknown"  # only punctuation or symbols: no evidence either way
    if stripped.endswith(_TRAILING_OFF):
        return "incomplete"
    if stripped.endswith(_FINISHED):
        return "complete"
    return "unknown"


def endpoint_silence_ms(text: str | None, cfg: "EndpointConfig") -> int:
    """The end-of-turn silence (ms) to wait for, given the latest partial transcript.

    ``complete`` -> ``cfg.complete_silence_ms`` (e.g. "What time is it?" -> 400),
    ``incomplete`` -> ``cfg.incomplete_silence_ms`` ("set a timer for five minutes and",
    "um" -> 1200), ``unknown`` -> ``cfg.default_silence_ms`` (700). See
    ``partial_completeness`` for the rule.
    """
    verdict = partial_completeness(text, cfg.continuation_words)
    if verdict == "complete":
        return cfg.complete_silence_ms
    if verdict == "incomplete":
        return cfg.incomplete_silence_ms
    return cfg.default_silence_ms

