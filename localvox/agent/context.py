"""The conversation an output node keeps: OpenAI-style message dicts.

Records may carry metadata the LLM must not see (``"interrupted": True`` on a reply the
user cut off). ``history`` returns the records as stored; ``messages`` returns copies with
only the keys chat APIs accept, so ``llm.chat(self.context.messages)`` is always safe.

The conversation is bounded: at most ``max_turns`` turns (a user message and everything
after it) are kept; when a new user message would exceed that, the oldest whole turns go
(system messages stay). Why: a voice session stays open for hours, and turns answered
without the LLM (tools routed by intent) never reach ``trim()``. Unbounded, every turn
added records forever, every reply copied them all, and the next LLM call was handed the
whole window -- a 135M model then took seconds of prompt evaluation per reply and parroted
stale tool answers. ``trim()`` still fits what is kept into the LLM's window.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["ContextManager"]

_LLM_KEYS = ("role", "content", "name", "tool_calls", "tool_call_id")
_ROLES = {"system", "user", "assistant", "tool"}


DEFAULT_MAX_TURNS = 20
"""Turns kept by default: more than a spoken conversation refers back to, and small enough
that a small local model answers from it in well under a second of prompt evaluation."""


class ContextManager:
    """The records of one conversation.

    Args:
        messages: initial records (e.g. the system prompt).
        max_turns: turns kept (``None``: unbounded, e.g. to trim by tokens only).
    """

    def __init__(self, messages: Iterable[dict[str, Any]] = (), *,
                 max_turns: int | None = DEFAULT_MAX_TURNS) -> None:
        if max_turns is not None and max_turns < 1:
            raise ValueError(f"max_turns must be at least 1 (or None), got {max_turns}")
        self.max_turns = max_turns
        self._messages: list[dict[str, Any]] = []
        self.add_messages(messages)

    def __len__(self) -> int:
        return len(self._messages)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The conversation as chat-API messages (fresh copies; edit via the methods)."""
        return [{k: copy.deepcopy(m[k]) for k in _LLM_KEYS if k in m} for m in self._messages]

    @property
    def history(self) -> list[dict[str, Any]]:
        """The stored records, metadata included (copies)."""
        return copy.deepcopy(self._messages)

    def add_message(self, message: dict[str, Any]) -> None:
        checked = _checked(message)
        self._messages.append(checked)
        if checked["role"] == "user":
            self._bound()

    def add_messages(self, messages: Iterable[dict[str, Any]]) -> None:
        checked = [_checked(m) for m in messages]
        self._messages.extend(checked)
        if any(m["role"] == "user" for m in checked):
            self._bound()

    def set_messages(self, messages: Iterable[dict[str, Any]]) -> None:
        self._messages = [_checked(m) for m in messages]
        self._bound()

    def snapshot(self) -> tuple[dict[str, Any], ...]:
        """The records as they are now, for ``restore`` (cheap: records are never edited in
        place, only added and removed, so sharing them is safe)."""
        return tuple(self._messages)

    def restore(self, snapshot: tuple[dict[str, Any], ...]) -> None:
        """Back to a ``snapshot`` (forget a speculative turn)."""
        self._messages = list(snapshot)

    def clear(self, keep_system: bool = True) -> None:
        self._messages = [m for m in self._messages if keep_system and m["role"] == "system"]

    def last(self, role: str | None = None) -> dict[str, Any] | None:
        for message in reversed(self._messages):
            if role is None or message["role"] == role:
                return dict(message)
        return None

    def trim(self, *, max_messages: int | None = None,
             fits: Callable[[list[dict[str, Any]]], bool] | None = None) -> int:
        """Drop the oldest turns until the rest fits; returns how many records went.

        System messages always stay. A turn (a user message and everything after it up to
        the next user message) goes as a whole, so an assistant ``tool_calls`` message is
        never separated from its tool results. ``fits`` receives ``messages``-style
        dicts, e.g. ``lambda m: count_tokens(m) < n_ctx - reply_budget``.
        """
        dropped = 0

        def ok() -> bool:
            if max_messages is not None and len(self._messages) > max_messages:
                return False
            return fits is None or fits(self.messages)

        while not ok():
            gone = self._drop_oldest_turn()
            if not gone:
                break  # only the latest turn is left: keep it rather than send nothing
            dropped += gone
        return dropped

    def _drop_oldest_turn(self) -> int:
        """Remove the oldest non-system turn unless it is the last; how many records went."""
        start = next((i for i, m in enumerate(self._messages) if m["role"] != "system"), None)
        if start is None:
            return 0
        end = start + 1
        while end < len(self._messages) and self._messages[end]["role"] not in (
                "user", "system"):
            end += 1
        if end >= len(self._messages):
            return 0
        del self._messages[start:end]
        return end - start

    def _bound(self) -> None:
        """Keep at most ``max_turns`` user turns (whole turns go, oldest first)."""
        if self.max_turns is None:
            return
        while sum(m["role"] == "user" for m in self._messages) > self.max_turns \
                and self._drop_oldest_turn():
            pass


def _checked(message: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(message, dict):
        raise TypeError(f"a message must be a dict, got {type(message).__name__}")
    role = message.get("role")
    if role not in _ROLES:
        raise ValueError(f"a message needs a role in {sorted(_ROLES)}, got {role!r}")
    return dict(message)
