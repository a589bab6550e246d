"""``smallestai.atoms.agent.clients.types``: what ``chat`` and ``execute`` hand back.

``ToolCall`` (``id``, ``name``, ``arguments`` as JSON text), ``ToolResult`` (``content``,
``is_error``), ``ChatChunk`` (``content``, ``tool_calls``).
"""

from localvox.agent.tools import ToolResult
from localvox.llm.base import ChatChunk, ToolCall

__all__ = ["ToolCall", "ToolResult", "ChatChunk"]
