"""The LLM contract: ``chat(messages, tools, stream)`` yields text deltas and tool calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Protocol


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str
    """JSON text, exactly as the model produced it (it may be malformed)."""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": "function",
                "function": {"name": self.name, "arguments": self.arguments}}


@dataclass(frozen=True)
class ChatChunk:
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    """Complete tool calls; delivered once, after the model finished them."""
    finish_reason: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    """On the final chunk, when the backend measures them: prompt_tokens, cached_tokens,
    first_token_s, completion_tokens, tokens_per_s (``bench chat`` reads these)."""


class LLM(Protocol):
    name: str

    def chat(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
             *, stream: bool = True, **overrides: Any) -> AsyncIterator[ChatChunk]:
        """Stream a reply. Cancelling the consumer stops generation."""

    async def warm(self, messages: list[dict[str, Any]] | None = None,
                   tools: list[dict[str, Any]] | None = None, *,
                   user_so_far: str = "") -> None:
        """Get ready for the next turn of a conversation of ``messages`` with ``tools``:
        load the model and read what that turn will start with (the system prompt at
        first, later the history too), off the event loop. ``user_so_far``: the words of
        the turn being heard (a partial transcript), read as well so the final only adds
        the rest. A hint: it may be skipped. Remote backends have nothing to do."""

    async def supports_tools(self) -> bool:
        """Can the model call tools itself (native function calling)?"""

    async def close(self) -> None: ...


class LLMBase:
    """Defaults for the optional parts of the contract, for small custom LLMs and fakes:
    nothing to warm, no native tool calling, nothing to close."""

    name = "llm"

    async def warm(self, messages: list[dict[str, Any]] | None = None,
                   tools: list[dict[str, Any]] | None = None, *,
                   user_so_far: str = "") -> None:
        return None

    async def supports_tools(self) -> bool:
        return False

    async def close(self) -> None:
        return None
