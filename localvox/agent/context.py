"""The conversation an output node keeps: OpenAI-style message dicts.

Records may carry metadata the LLM must not see (``"interrupted": True`` on a reply the
user cut off). ``history`` returns the records as stored; ``messages`` returns copies with
only the keys chat APIs accept, so ``llm.chat(self.context.messages)`` is always safe.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["ContextManager"]

_LLM_KEYS = ("role", "content", "name", "tool_calls", "tool_call_id")
_ROLES = {"system", "user", "assistant", "tool"}


class ContextManager:
    def __init__(self, messages: Iterable[dict[str, Any]] = ()) -> None:
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
        self._messages.append(_checked(message))

    def add_messages(self, messages: Iterable[dict[str, Any]]) -> None:
        checked = [_checked(m) for m in messages]
        self._messages.extend(checked)

    def set_messages(self, messages: Iterable[dict[str, Any]]) -> None:
        self._messages = [_checked(m) for m in messages]

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
            body = [i for i, m in enumerate(self._messages) if m["role"] != "system"]
            if not body:
                break
            start = body[0]
            end = start + 1
            while end < len(self._messages) and self._messages[end]["role"] not in (
                    "user", "system"):
                end += 1
            if end >= len(self._messages):
                break  # only the latest turn is left: keep it rather than send nothing
            del self._messages[start:end]
            dropped += end - start
        return dropped


def _checked(message: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(message, dict):
        raise TypeError(f"a message must be a dict, got {type(message).__name__}")
    role = message.get("role")
    if role not in _ROLES:
        raise ValueError(f"a message needs a role in {sorted(_ROLES)}, got {role!r}")
    return dict(message)
