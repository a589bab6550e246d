"""``smallestai.atoms.agent.clients.openai``: ``OpenAIClient``.

``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` set (or an ``api_key`` passed): that server and
the ``model`` you name. Not set: localvox's local model answers, offline, and the front end
says so in one line. An LLM picked with ``--llm`` / ``--llm-model`` / config wins over both.
See :class:`localvox.agent.client.LLMClient`, which does the work.
"""

from localvox.agent.client import LLMClient


class OpenAIClient(LLMClient):
    """``LLMClient`` under the Atoms name: ``await client.chat(messages=..., stream=True,
    tools=...)`` then ``async for chunk in ...`` (or iterate it directly)."""


__all__ = ["OpenAIClient"]
