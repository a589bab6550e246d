"""``smallestai.atoms.agent.clients``: the LLM client (``from ...clients import OpenAIClient``)."""

from localvox.atoms.agent.clients.openai import OpenAIClient

__all__ = ["OpenAIClient"]
