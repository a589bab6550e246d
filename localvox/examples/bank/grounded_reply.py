"""Native replies may only state amounts a tool returned.

The prompt says "never invent balances or amounts"; the default 1.5B does anyway. Measured:
verified, and before any query, it answered "Your balance is 12000 rupees" (the real one
is 22,42,093.64); asked about food spending, it summed a query that matched nothing and
said "15000 rupees". Like the SQL sandbox and the verification levels, the rule is kept in
code: the reply streams sentence by sentence, and a sentence with a number of three or more
digits that appears in no tool result of this turn and not in the caller's words is held
back. The model is then asked once more, told to look the figure up; if it still states an
unfounded figure, the caller hears that it could not be looked up, never a made-up amount.
"""

from __future__ import annotations

import re
from typing import Any, AsyncIterator, Callable

_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")
LOOK_IT_UP = ("Your last answer stated a figure that no tool returned. Look it up with "
              "execute_query (and analyze_data for sums), then answer with the figure the "
              "tool returned.")
COULD_NOT = "I couldn't look that up just now. Could you ask me again?"


def digits_of(text: str) -> list[str]:
    """Every number in ``text`` as bare digits: '22,42,093.64' -> '224209364'."""
    return [re.sub(r"\D", "", m) for m in _NUMBER.findall(text)]


def unfounded(sentence: str, evidence: str) -> list[str]:
    """Numbers of 3+ digits in ``sentence`` that are not inside a number of ``evidence``
    (rupees with or without paise are a prefix of the paise figure a tool returned)."""
    known = digits_of(evidence)
    return [n for n in digits_of(sentence)
            if len(n) >= 3 and not any(n in k for k in known)]


def turn_evidence(history: list[dict[str, Any]]) -> str:
    """What the caller said this call, and what the tools returned since their last line."""
    said = [str(m.get("content") or "") for m in history if m["role"] == "user"]
    last_user = max((i for i, m in enumerate(history) if m["role"] == "user"), default=-1)
    results = [str(m.get("content") or "") for m in history[last_user + 1:]
               if m["role"] == "tool"]
    return "\n".join(said + results)


async def grounded(reply: Callable[[bool], AsyncIterator[str]],
                   history: Callable[[], list[dict[str, Any]]]) -> AsyncIterator[str]:
    """Stream ``reply(retry)`` a sentence at a time, holding back a sentence with an
    unfounded figure and asking once more (``retry=True``: the caller of this adds
    ``LOOK_IT_UP`` to the context) when one was held."""
    for attempt in range(2):
        held = False
        buffer = ""
        stream = reply(attempt > 0)
        try:
            async for chunk in stream:
                buffer += chunk
                while (end := _SENTENCE_END.search(buffer)) is not None:
                    sentence, buffer = buffer[:end.end()], buffer[end.end():]
                    if unfounded(sentence, turn_evidence(history())):
                        held = True
                        break
                    yield sentence
                if held:
                    break
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
        if not held and buffer.strip():
            if unfounded(buffer, turn_evidence(history())):
                held = True
            else:
                yield buffer
        if not held:
            return
    yield COULD_NOT
