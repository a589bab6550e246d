"""``smallestai.atoms.agent.tools``: ``@function_tool`` and ``ToolRegistry``.

``ToolRegistry.execute(tool_calls=..., parallel=True)`` takes the Atoms keyword; a
registry that ``discover(self)``-ed a node's tools reports each call to that node's
session (the TUI shows it) without being given an ``emit``.
"""

from localvox.agent.tools import RunContext, ToolRegistry, function_tool

__all__ = ["ToolRegistry", "function_tool", "RunContext"]
