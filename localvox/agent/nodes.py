"""Nodes: the units of agent logic, each with its own queue and task.

Contract (the Pipecat processor contract, in Atoms' names):

* ``process_event(event)`` handles one event. The base implementation forwards it to the
  children; an override decides what to forward (``await self.send_event(event)``).
* ``send_event(event)`` fans out to the children. An :class:`Interrupt` is delivered
  synchronously, so when it returns every interruptible node below has stopped.
* A node whose ``process_event`` raises is reported as an ``ErrorEvent`` and keeps
  running, and the event still goes on to the nodes after it (the Atoms SDK drops it).

:class:`OutputAgentNode` turns ``LLMRequest`` into a streamed reply;
:class:`BackgroundAgentNode` observes without ever delaying that reply.

This module is the SDK's import path for the three classes (the Atoms SDK's
``agent.nodes``); they live in ``node_base`` (``Node``, ``BackgroundAgentNode``: the
queue/task machinery) and ``output_node`` (``OutputAgentNode``: replies and the tool loop).
"""

from __future__ import annotations

from localvox.agent.node_base import BackgroundAgentNode, Node
from localvox.agent.output_node import OutputAgentNode

__all__ = ["Node", "OutputAgentNode", "BackgroundAgentNode"]
