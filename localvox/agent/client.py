"""LLMClient: the chat client an agent node holds (``OpenAIClient`` in the Atoms names).

Why a client over the ``localvox.llm`` backends, and not the backend itself:

* **Awaitable and iterable.** The Atoms SDK's code does ``response = await llm.chat(...)``
  then ``async for chunk in response``; localvox backends are async generators, which
  cannot be awaited. ``chat()`` returns a :class:`ChatStream`, which is both.
* **Which model, said out loud.** The article builds ``OpenAIClient(model="gpt-4o-mini",
  api_key=os.getenv("OPENAI_API_KEY"))`` in every agent. Here an LLM chosen on the command
  line or in config (``--llm``, ``--llm-model``, ``--base-url``) wins; otherwise
  ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` (or an ``api_key`` argument) select that
  OpenAI-compatible server and the ``model`` argument; otherwise the local default model
  answers. :func:`take_announcements` returns one line saying which, for the front end to
  show (the TUI as a notice, text mode as a line).
* **One model per process.** Each session builds its own agent and so its own client;
  they share one backend per (backend, model, server), so a GGUF loads once.
* **Tools on a small local model.** With ``[llm] tool_mode`` intent (the default for the
  local backend) a ``chat(tools=...)`` on a user turn is routed by
  :class:`~localvox.agent.intent.IntentRouter` (a deterministic tool call, where the
  packaged 135M model picks wrong tools: see ``intent.py``), and the answer after a tool
  result is the tool's own text, so a tiny model never garbles a figure.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from localvox.llm.base import ChatChunk

if TYPE_CHECKING:
    from localvox.config import Config

__all__ = ["ChatStream", "LLMClient", "active_label", "set_active_config", "share_backend",
           "take_announcements"]

_BACKENDS: dict[tuple[str, ...], Any] = {}
_ANNOUNCED: list[str] = []
_ACTIVE: dict[str, Any] = {"config": None, "llm_chosen": False, "label": None}


def set_active_config(config: "Config | None", *, llm_chosen: bool = False) -> None:
    """The config of the running front end (``App.run`` sets it before any session).

    ``llm_chosen``: the user picked the LLM (flag or config file), so it beats the
    ``OPENAI_*`` environment variables.
    """
    _ACTIVE["config"] = config
    _ACTIVE["llm_chosen"] = llm_chosen


def share_backend(config: "Config", llm: Any) -> None:
    """Make clients that would load ``config``'s local model use ``llm`` (one already
    loaded, e.g. the built-in assistant's in a bench) instead of loading it again."""
    _BACKENDS[_local_key(config)] = llm


def _local_key(config: "Config") -> tuple[str, ...]:
    return (config.llm.backend, config.llm.model, config.llm.base_url)


def active_label() -> str | None:
    """``backend:model`` of the latest client (the status bar's LLM label)."""
    return _ACTIVE["label"]


def take_announcements() -> list[str]:
    """Lines saying which model each new client uses (each said once), then cleared."""
    lines = list(_ANNOUNCED)
    _ANNOUNCED.clear()
    return lines


def _announce(line: str) -> None:
    if line not in _ANNOUNCED:
        _ANNOUNCED.append(line)


def _config() -> "Config":
    if _ACTIVE["config"] is None:
        from localvox.config import load_config

        _ACTIVE["config"] = load_config()
    return _ACTIVE["config"]


class ChatStream:
    """A streamed reply: ``async for chunk in stream``, or ``await`` it first (Atoms style).

    Closing it (``aclose()``, or leaving the ``async for`` early) stops generation.
    """

    def __init__(self, chunks: AsyncIterator[ChatChunk]) -> None:
        self._chunks = chunks

    def __aiter__(self) -> "ChatStream":
        return self

    async def __anext__(self) -> ChatChunk:
        return await self._chunks.__anext__()

    def __await__(self) -> Any:
        async def itself() -> "ChatStream":
            return self

        return itself().__await__()

    async def aclose(self) -> None:
        aclose = getattr(self._chunks, "aclose", None)
        if aclose is not None:
            await aclose()


class LLMClient:
    """A chat client for an agent node.

    Args:
        model: the server-side model name when an OpenAI-compatible server is used (the
            local model is the one localvox is configured with).
        api_key: a key for that server (also selects it, like ``OPENAI_API_KEY``).
        base_url: the server (default ``OPENAI_BASE_URL``, else OpenAI's).
        llm: use this backend as is (tests, or an LLM you built yourself).
        temperature / max_tokens: sampling settings for this client's calls.
    """

    def __init__(self, model: str | None = None, api_key: str | None = None, *,
                 base_url: str | None = None, llm: Any = None,
                 temperature: float | None = None, max_tokens: int | None = None) -> None:
        self.model = model
        self.defaults: dict[str, Any] = {k: v for k, v in (
            ("temperature", temperature), ("max_tokens", max_tokens)) if v is not None}
        """Per-client sampling settings, sent with every ``chat`` (a call's own win)."""
        config = _config()
        if llm is not None:
            self.llm, self.source = llm, f"the given LLM ({getattr(llm, 'name', 'llm')})"
            self.tool_mode = "native"
        elif not _ACTIVE["llm_chosen"] and (api_key or base_url or os.environ.get(
                "OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL")):
            url = (base_url or os.environ.get("OPENAI_BASE_URL")
                   or "https://api.openai.com/v1").rstrip("/")
            key = api_key or os.environ.get("OPENAI_API_KEY") or ""
            name = model or config.llm.remote_model
            self.llm = _shared(("openai", url, name, key), lambda: _openai(config, url, name, key))
            self.source = f"{name} at {url} (OPENAI_BASE_URL/OPENAI_API_KEY)"
            _ACTIVE["label"] = f"openai:{name}"
            self.tool_mode = "intent" if config.llm.tool_mode == "intent" else "native"
        else:
            from localvox.agent.assistant import resolve_tool_mode
            from localvox.registry import create

            backend = config.llm.backend
            where = config.llm.model if backend != "openai" else \
                f"{config.llm.remote_model} at {config.llm.base_url}"
            self.llm = _shared(_local_key(config), lambda: create("llm", backend, config))
            self.tool_mode = resolve_tool_mode(config)
            why = "chosen by --llm/config" if _ACTIVE["llm_chosen"] else \
                "OPENAI_BASE_URL/OPENAI_API_KEY not set"
            self.source = f"the local model {where} ({backend}; {why})"
            model_id = config.llm.remote_model if backend == "openai" else config.llm.model
            _ACTIVE["label"] = f"{backend}:{model_id}"
        asked = f"model={model!r}" if model else "no model"
        _announce(f"{type(self).__name__}({asked}) answers with {self.source}; "
                  f"tools: {self.tool_mode}")
        self._routers: dict[int, Any] = {}

    @property
    def name(self) -> str:
        return getattr(self.llm, "name", "llm")

    def chat(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
             *, stream: bool = True, **overrides: Any) -> ChatStream:
        """The reply as a :class:`ChatStream` of ``ChatChunk`` (``content``, ``tool_calls``)."""
        return ChatStream(self._chat(list(messages), tools, stream,
                                     {**self.defaults, **overrides}))

    async def _chat(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
                    stream: bool, overrides: dict[str, Any]) -> AsyncIterator[ChatChunk]:
        if self.tool_mode == "intent":
            last = messages[-1] if messages else {}
            if last.get("role") == "tool":
                # the tool's own words are the answer: a tiny model garbles figures
                said = [str(m.get("content") or "") for m in _trailing_tool_results(messages)]
                yield ChatChunk(content=" ".join(s for s in said if s), finish_reason="stop")
                return
            if tools and last.get("role") == "user":
                call = self._router(tools).tool_call(str(last.get("content") or ""))
                if call is not None:
                    yield ChatChunk(tool_calls=[call], finish_reason="tool_calls")
                    return
            # open conversation: no tools offered, and no tool records it cannot read
            messages = [m for m in messages if m.get("role") != "tool" and not m.get(
                "tool_calls")]
            tools = None
        source = self.llm.chat(messages, tools, stream=stream, **overrides)
        try:
            async for chunk in source:
                yield chunk
        finally:
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                await aclose()

    def _router(self, tools: list[dict[str, Any]]) -> Any:
        from localvox.agent.intent import IntentRouter

        key = hash(repr(tools))
        router = self._routers.get(key)
        if router is None:
            router = self._routers[key] = IntentRouter(tools)
        return router

    async def close(self) -> None:
        """Nothing to do: the backend is shared by every session of the process."""


def _trailing_tool_results(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in reversed(messages):
        if message.get("role") != "tool":
            break
        out.append(message)
    return out[::-1]


def _shared(key: tuple[str, ...], build: Any) -> Any:
    llm = _BACKENDS.get(key)
    if llm is None:
        llm = _BACKENDS[key] = build()
    return llm


def _openai(config: "Config", url: str, model: str, key: str) -> Any:
    from localvox.llm.openai import OpenAICompatibleLLM

    llm = config.llm
    return OpenAICompatibleLLM(url, model, api_key=key, temperature=llm.temperature,
                               max_tokens=llm.max_tokens, timeout_s=llm.timeout_s,
                               retries=llm.retries)
