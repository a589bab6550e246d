"""``smallestai.atoms.agent.session``: one conversation (``localvox.agent.session``)."""

from localvox.agent.session import Session as AgentSession

__all__ = ["AgentSession"]
