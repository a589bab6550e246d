"""``smallestai.atoms.agent.nodes``: the node classes (``localvox.agent.nodes``)."""

from localvox.agent.nodes import BackgroundAgentNode, Node, OutputAgentNode

__all__ = ["Node", "OutputAgentNode", "BackgroundAgentNode"]
