"""Any OpenAI-compatible chat server (llama.cpp's server, vLLM, Ollama, LM Studio, OpenAI).

Streams Server-Sent Events with httpx. Text deltas are yielded as they arrive; tool-call
deltas are accumulated by ``index`` and yielded complete, once, at the end, so callers
never see half a JSON argument string. Connection failures and 429/5xx answers are
retried with exponential backoff *before* any byte of the reply was streamed; once
streaming has started a failure is an ``LLMError`` (a retry would repeat text the user
already heard). The client object survives such errors: the next ``chat`` call simply
opens a new request, so a conversation continues once the server is back.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, AsyncIterator

from localvox.errors import LLMError, redact
from localvox.llm.base import ChatChunk, ToolCall

if TYPE_CHECKING:
    import httpx

    from localvox.config import Config

_RETRY_STATUS = {429, 500, 502, 503, 504}


@dataclass
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class ToolCallAccumulator:
    """Merge streamed ``tool_calls`` deltas (OpenAI format) into complete calls.

    The first delta for an index usually carries ``id`` and ``function.name``; later ones
    append fragments of ``function.arguments``. Some servers omit ``index`` (one call) or
    repeat the name in every delta; both are handled.
    """

    def __init__(self) -> None:
        self._calls: dict[int, _PartialCall] = {}

    def add(self, deltas: list[dict[str, Any]] | None) -> None:
        for pos, delta in enumerate(deltas or []):
            index = delta.get("index", pos)
            call = self._calls.setdefault(int(index), _PartialCall())
            if delta.get("id"):
                call.id = delta["id"]
            fn = delta.get("function") or {}
            if fn.get("name") and not call.name:
                call.name = fn["name"]
            if fn.get("arguments"):
                call.arguments.append(fn["arguments"])

    def __bool__(self) -> bool:
        return bool(self._calls)

    def calls(self) -> list[ToolCall]:
        out = []
        for index in sorted(self._calls):
            c = self._calls[index]
            if not c.name:
                continue
            out.append(ToolCall(id=c.id or f"call_{index}", name=c.name,
                                arguments="".join(c.arguments) or "{}"))
        return out


def _first_line(text: str, limit: int = 160) -> str:
    line = " ".join(text.strip().split())
    return line[:limit] + ("…" if len(line) > limit else "")


def _error_detail(body: bytes) -> str:
    try:
        data = json.loads(body)
        err = data.get("error", data)
        if isinstance(err, dict):
            return _first_line(str(err.get("message") or err.get("detail") or err))
        return _first_line(str(err))
    except (ValueError, AttributeError):
        return _first_line(body.decode("utf-8", "replace"))


def read_delta_event(event: dict[str, Any], calls: ToolCallAccumulator) -> tuple[str, str | None]:
    """Apply one streamed ``chat.completion.chunk``: return (content text, finish reason) and
    add its tool-call deltas to ``calls``. Shared by the HTTP client and in-process llama.cpp,
    which both speak the OpenAI streaming shape."""
    text, finish = "", None
    for choice in event.get("choices") or []:
        delta = choice.get("delta") or {}
        text += delta.get("content") or ""
        if delta.get("tool_calls"):
            calls.add(delta["tool_calls"])
        finish = choice.get("finish_reason") or finish
    return text, finish


class OpenAICompatibleLLM:
    """Chat with an OpenAI-compatible ``/chat/completions`` endpoint."""

    name = "openai"

    def __init__(self, base_url: str, model: str = "local", *, api_key: str = "",
                 temperature: float = 0.3, max_tokens: int = 160, timeout_s: float = 30.0,
                 retries: int = 2, backoff_s: float = 0.5) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> "httpx.AsyncClient":
        import httpx

        if self._client is None or self._client.is_closed:
            headers = {"Content-Type": "application/json"}
            if self.api_key:
                headers["Authorization"] = f"Bearer {self.api_key}"
            timeout = httpx.Timeout(self.timeout_s, connect=min(5.0, self.timeout_s))
            self._client = httpx.AsyncClient(base_url=self.base_url, headers=headers,
                                             timeout=timeout)
        return self._client

    def _payload(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
                 stream: bool, overrides: dict[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": overrides.pop("model", self.model),
            "messages": messages,
            "stream": stream,
            "temperature": overrides.pop("temperature", self.temperature),
            "max_tokens": overrides.pop("max_tokens", self.max_tokens),
        }
        if tools:
            payload["tools"] = [t if t.get("type") == "function" and "function" in t
                                else {"type": "function", "function": t} for t in tools]
            payload["tool_choice"] = overrides.pop("tool_choice", "auto")
        payload.update(overrides)
        return payload

    async def chat(self, messages: list[dict[str, Any]],
                   tools: list[dict[str, Any]] | None = None, *, stream: bool = True,
                   **overrides: Any) -> AsyncIterator[ChatChunk]:
        import httpx

        payload = self._payload(messages, tools, stream, dict(overrides))
        client = self._http()
        where = self.base_url
        attempt = 0
        while True:
            started = False
            try:
                async with client.stream("POST", "/chat/completions", json=payload) as resp:
                    if resp.status_code != 200:
                        body = await resp.aread()
                        if resp.status_code in _RETRY_STATUS and attempt < self.retries:
                            raise _Retry(f"HTTP {resp.status_code}")
                        raise LLMError(f"LLM server at {where} answered HTTP {resp.status_code}: "
                                       f"{redact(_error_detail(body), self.api_key)}")
                    started = True
                    if stream:
                        async for chunk in self._read_sse(resp):
                            yield chunk
                    else:
                        body = await resp.aread()
                        for chunk in self._read_whole(body):
                            yield chunk
                    return
            except _Retry:
                pass
            except (httpx.ConnectError, httpx.ConnectTimeout) as err:
                if attempt >= self.retries:
                    raise LLMError(f"cannot reach the LLM server at {where} "
                                   f"({type(err).__name__}); is it running?") from None
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError,
                    httpx.ReadTimeout, httpx.PoolTimeout) as err:
                if started or attempt >= self.retries:
                    what = "stopped answering" if isinstance(err, httpx.ReadTimeout) \
                        else "closed the connection"
                    raise LLMError(f"the LLM server at {where} {what} "
                                   f"{'mid-reply' if started else 'before replying'}; "
                                   "try again") from None
            except httpx.HTTPError as err:
                raise LLMError(f"LLM request to {where} failed: {type(err).__name__}: "
                               f"{_first_line(str(err))}") from None
            attempt += 1
            await asyncio.sleep(self.backoff_s * (2 ** (attempt - 1)))

    async def _read_sse(self, resp: "httpx.Response") -> AsyncIterator[ChatChunk]:
        calls = ToolCallAccumulator()
        finish: str | None = None
        async for line in resp.aiter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            try:
                event = json.loads(data)
            except ValueError:
                raise LLMError(f"the LLM server at {self.base_url} sent a malformed "
                               f"stream event: {_first_line(data, 80)}") from None
            if "error" in event:
                raise LLMError(f"LLM server error: "
                               f"{redact(_error_detail(data.encode()), self.api_key)}")
            text, done = read_delta_event(event, calls)
            if text:
                yield ChatChunk(content=text)
            finish = done or finish
        yield ChatChunk(tool_calls=calls.calls(), finish_reason=finish or "stop")

    def _read_whole(self, body: bytes) -> list[ChatChunk]:
        try:
            data = json.loads(body)
            choice = data["choices"][0]
        except (ValueError, KeyError, IndexError, TypeError):
            raise LLMError(f"the LLM server at {self.base_url} sent an unreadable reply: "
                           f"{_first_line(body.decode('utf-8', 'replace'), 80)}") from None
        msg = choice.get("message") or {}
        calls = ToolCallAccumulator()
        calls.add([dict(c, index=i) for i, c in enumerate(msg.get("tool_calls") or [])])
        out = []
        if msg.get("content"):
            out.append(ChatChunk(content=msg["content"]))
        out.append(ChatChunk(tool_calls=calls.calls(),
                             finish_reason=choice.get("finish_reason") or "stop"))
        return out

    async def warm(self, messages: list[dict[str, Any]] | None = None,
                   tools: list[dict[str, Any]] | None = None, *,
                   user_so_far: str = "") -> None:
        """Nothing to load here; the server caches prompts itself (llama.cpp's does)."""

    async def supports_tools(self) -> bool:
        return True  # the server speaks OpenAI tool calls (or ignores them)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class _Retry(Exception):
    """Internal: the server asked us to come back later (429/5xx before streaming)."""


def create(config: "Config", **kw: Any) -> OpenAICompatibleLLM:
    llm = config.llm
    return OpenAICompatibleLLM(
        kw.get("base_url", llm.base_url), kw.get("model", llm.remote_model),
        api_key=os.environ.get(llm.api_key_env, ""), temperature=llm.temperature,
        max_tokens=llm.max_tokens, timeout_s=llm.timeout_s, retries=llm.retries)
