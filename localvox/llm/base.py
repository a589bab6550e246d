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


class LLM(Protocol):
    name: str

    def chat(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
             *, stream: bool = True, **overrides: Any) -> AsyncIterator[ChatChunk]:
        """Stream a reply. Cancelling the consumer stops generation."""

    async def close(self) -> None: ...
