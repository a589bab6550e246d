"""llama.cpp in-process (llama-cpp-python): the default, fully offline brain.

Everything that touches the model runs in ONE long-lived worker thread: finding and
joining the GGUF, loading it, rendering and tokenizing the conversation, fitting it to the
context window, and generating. The event loop only awaits results, so the first voice
turn no longer freezes audio and the TUI for the 2.9 s load of the 1.5B model (it used
to load through ``trim_history -> tokenize_len`` on the loop). llama.cpp releases the GIL
while it computes; each streamed piece reaches the loop through ``call_soon_threadsafe``.
A ``threading.Event`` is checked after every token, so closing the async iterator (or
cancelling its consumer: barge-in) stops generation within one token.

Prompt caching. The prompt is rendered with the GGUF's own chat template
(``chat_template.py``) and generated with ``Llama.generate``, which reuses the longest
prefix already in the KV cache. Every turn of a conversation starts with the same system
prompt and tool schemas, so a turn evaluates only what is new. ``warm()`` evaluates that
prefix ahead of the first turn (the app calls it in the background at start), and the KV
state right after each distinct prefix is saved (``llama_state_get_data``; a few MB per
thousand tokens) so a prompt with another prefix -- tools offered or not, another
session's system prompt -- restores it instead of re-reading the schemas
(``prefix_cache.py``). Measured with the 1.5B (n_threads=2): first token 0.9 s cold,
0.27-0.35 s once cached.

Native tools: when the template is Hermes-style (Qwen2.5), tools go into the template and
``<tool_call>`` blocks are parsed from the stream (``toolcall.py``); text outside them
streams as usual. Templates without tool support fall back to llama-cpp-python's
``chatml-function-calling`` handler (grammar-constrained, not streamed).
"""

from __future__ import annotations

import asyncio
import codecs
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable

from localvox.errors import LLMError, LocalvoxError
from localvox.llm.base import ChatChunk
from localvox.llm.chat_template import ChatTemplate, template_info
from localvox.llm.llama_fallback import grammar_tool_call, plain_completion
from localvox.llm.llama_load import check_gguf, close_at_exit, keep_stdio_open
from localvox.llm.prefix_cache import PrefixCache, common_prefix
from localvox.llm.tool_bias import call_start_tokens, first_token_bias
from localvox.llm.toolcall import ToolCallParser
from localvox.worker_queue import until_end

if TYPE_CHECKING:
    from localvox.config import Config
    from localvox.cpu_share import CpuShare

_DONE = object()


class LlamaCppLLM:
    """A GGUF model running in this process."""

    name = "llama_cpp"

    def __init__(self, model_path: Path | str | Callable[[], Path], *, n_ctx: int = 4096,
                 threads: int = 2, temperature: float = 0.3, max_tokens: int = 160,
                 seed: int = 0, label: str = "", tool_call_bias: float = 0.0,
                 use_mmap: bool = False, yield_to: "CpuShare | None" = None) -> None:
        self._locate = model_path if callable(model_path) else None
        self.model_path: Path | None = None if callable(model_path) else Path(model_path)
        self.label = label
        self.n_ctx = n_ctx
        self.threads = threads
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.seed = seed
        self.tool_call_bias = tool_call_bias
        self.use_mmap = use_mmap
        self.yield_to = yield_to
        """Pause between tokens while this gate is held (the reply's first audio)."""
        self._call_starts: list[int] = []
        self._llm: Any = None
        self._template: ChatTemplate | None = None
        self._prefixes = PrefixCache()
        self._load_lock = threading.Lock()
        self._gen_lock = threading.Lock()  # one generation at a time per loaded model
        # One long-lived worker: a new thread per chat gave each reply fresh glibc malloc
        # arenas, and resident memory stepped up over long sessions.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama-worker")
        self.worker_thread: threading.Thread | None = None
        self.last_stats: dict[str, float] = {}
        self._asked = 0  # warm() and chat() calls so far: a warm queued before another is stale

    @property
    def model_name(self) -> str:
        if self.label:
            return self.label
        return self.model_path.stem if self.model_path is not None else "llama_cpp"

    # -- loading (worker thread) -----------------------------------------------------------
    def load(self) -> Any:
        """Load the model (once). Blocking: call it from the worker (``await warm()``)."""
        with self._load_lock:
            if self._llm is None:
                if self.model_path is None:
                    assert self._locate is not None
                    self.model_path = Path(self._locate())  # may join parts into the cache
                check_gguf(self.model_path)
                # llama.cpp's OpenMP threads spin while waiting by default. On a laptop that
                # also runs ASR/TTS (or on 2 busy cores) spinning threads starve each other:
                # measured 8 tok/s spinning vs 55 tok/s passive for SmolLM2 with 2 threads.
                os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
                try:
                    from llama_cpp import Llama
                except ImportError:
                    raise LLMError("llama-cpp-python is not installed: run "
                                   "`pip install llama-cpp-python`") from None
                keep_stdio_open()
                try:
                    llm = Llama(model_path=str(self.model_path), n_ctx=self.n_ctx,
                                n_threads=self.threads, n_threads_batch=self.threads,
                                seed=self.seed, use_mmap=self.use_mmap, verbose=False)
                except (ValueError, RuntimeError) as err:
                    raise LLMError(f"llama.cpp could not load {self.model_path.name}: "
                                   f"{str(err).splitlines()[0] if str(err) else 'bad file'}"
                                   ) from None
                info = template_info(llm)
                self._template = ChatTemplate(info) if info is not None else None
                self._llm = llm
                close_at_exit(llm)
                self._call_starts = call_start_tokens(llm)
            return self._llm

    def _run(self, fn: Callable[..., Any], *args: Any) -> "asyncio.Future[Any]":
        return asyncio.wrap_future(self._executor.submit(self._in_worker, fn, *args))

    def _in_worker(self, fn: Callable[..., Any], *args: Any) -> Any:
        self.worker_thread = threading.current_thread()
        return fn(*args)

    async def warm(self, messages: list[dict[str, Any]] | None = None,
                   tools: list[dict[str, Any]] | None = None, *,
                   user_so_far: str = "") -> None:
        """Load the model and evaluate what the next turn starts with: the shared prefix
        (system prompt + tools), then ``messages`` up to where the next user's words go
        (``ChatTemplate.opening``) and ``user_so_far``. Called at start, after every reply
        and on partial transcripts, so a turn reads only the words it adds. Only the
        latest request runs: one still queued when a newer warm or a reply is asked for is
        skipped (a reply reads what it needs itself and must not wait behind a guess)."""
        self._asked += 1
        snapshot = json.loads(json.dumps(messages or [], default=str))
        await self._run(self._warm, snapshot, tools, user_so_far, self._asked)

    def _warm(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
              user_so_far: str, seq: int) -> None:
        with self._gen_lock:
            if seq != self._asked:
                return
            self.load()
            if self._template is None:
                return
            if tools and not self._template.supports_tools:
                tools = None  # such a model gets its turns without tools
            prefix = self._prefix_tokens(messages, tools)
            if prefix:
                self._ensure_prefix(prefix)
            self._evaluate_opening(messages, tools, user_so_far, prefix)

    def _evaluate_opening(self, messages: list[dict[str, Any]],
                          tools: list[dict[str, Any]] | None, user_so_far: str,
                          prefix: list[int]) -> None:
        """Extend the KV cache to the next turn's opening, keeping what already matches."""
        assert self._template is not None
        text = self._template.opening(messages, tools, user_so_far)
        if not text:
            return
        opening = self._tokenize(text)
        if opening[:len(prefix)] != prefix or len(opening) > self.n_ctx - self.max_tokens - 8:
            return  # not a continuation of the cached prefix, or the turn will be trimmed
        self._prefixes.extend(self._llm, opening, pause=self.yield_to.yield_to_urgent
                              if self.yield_to is not None else None)

    async def supports_tools(self) -> bool:
        """True when the model's own template offers tools (Hermes ``<tool_call>``)."""
        return await self._run(self._supports_tools)

    def _supports_tools(self) -> bool:
        self.load()
        return self._template is not None and self._template.supports_tools

    async def count_tokens(self, messages: list[dict[str, Any]],
                           tools: list[dict[str, Any]] | None = None) -> int:
        """Prompt length of ``messages`` in tokens, rendered as the model will see them."""
        return await self._run(lambda: len(self._tokens(messages, tools)))

    # -- prompt (worker thread) ------------------------------------------------------------
    def _tokenize(self, text: str) -> list[int]:
        llm = self.load()
        assert self._template is not None
        add_bos = self._template.info.add_bos and not (
            self._template.info.bos_token and text.startswith(self._template.info.bos_token))
        # "replace": text from a pipe may carry undecodable bytes as lone surrogates
        # (surrogateescape); they become "?" rather than failing the whole turn.
        return llm.tokenize(text.encode("utf-8", "replace"), add_bos=add_bos, special=True)

    def _tokens(self, messages: list[dict[str, Any]],
                tools: list[dict[str, Any]] | None) -> list[int]:
        assert self._template is not None
        return self._tokenize(self._template.render(messages, tools))

    def _fit(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
             max_tokens: int) -> list[int]:
        """The prompt's tokens, dropping the oldest turns until the reply fits n_ctx."""
        budget = self.n_ctx - max_tokens - 8
        msgs = list(messages)
        while True:
            tokens = self._tokens(msgs, tools)
            if len(tokens) <= budget:
                return tokens
            first = next((i for i, m in enumerate(msgs) if m.get("role") != "system"), None)
            users = [i for i, m in enumerate(msgs) if m.get("role") == "user"]
            if first is None or len(users) < 2:
                raise LLMError(f"the prompt ({len(tokens)} tokens) does not fit the context "
                               f"window ({self.n_ctx}); raise [llm] n_ctx")
            nxt = next(i for i in users if i > first)  # drop one whole turn
            del msgs[first:nxt]

    def _prefix_tokens(self, messages: list[dict[str, Any]],
                       tools: list[dict[str, Any]] | None) -> list[int]:
        assert self._template is not None
        text = self._template.prefix(messages, tools)
        return self._tokenize(text) if text else []

    def _ensure_prefix(self, prefix: list[int]) -> str:
        """Make the KV cache start with ``prefix``: already there, restored, or evaluated."""
        return self._prefixes.ensure(self._llm, prefix)

    # -- generation (worker thread) ----------------------------------------------------------
    def _generate(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
                  overrides: dict[str, Any], stop: threading.Event,
                  put: Callable[[Any], None]) -> None:
        started = time.perf_counter()
        llm = self.load()
        temperature = float(overrides.pop("temperature", self.temperature))
        max_tokens = int(overrides.pop("max_tokens", self.max_tokens))
        assert self._template is not None
        tokens = self._fit(messages, tools, max_tokens)
        prefix = self._prefix_tokens(messages, tools)
        how = "none"
        if prefix and tokens[:len(prefix)] == prefix and len(tokens) > len(prefix):
            how = self._ensure_prefix(prefix)
        cached = common_prefix(llm.input_ids[:llm.n_tokens].tolist(), tokens)
        # a tool-capable model may still write a call when none is offered (the tool loop's
        # last round): cut it out rather than speak JSON; without tools it is dropped
        parser = ToolCallParser() if tools or self._template.supports_tools else None
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        vocab = llm._model.vocab
        import llama_cpp

        n_out = 0
        first_token_s = 0.0
        finish = "length"
        processors = None
        bias = float(overrides.pop("tool_call_bias", self.tool_call_bias))
        if tools and bias and self._call_starts:
            processors = [first_token_bias(len(tokens), self._call_starts, bias)]
        gen = llm.generate(tokens, temp=temperature, top_k=40, top_p=0.95, min_p=0.05,
                           repeat_penalty=float(overrides.pop("repeat_penalty", 1.0)),
                           logits_processor=processors)
        try:
            for token in gen:
                if stop.is_set():
                    finish = "cancelled"
                    break
                if llama_cpp.llama_vocab_is_eog(vocab, token):
                    finish = "stop"
                    break
                if n_out == 0:
                    first_token_s = time.perf_counter() - started
                n_out += 1
                text = decoder.decode(llm.detokenize([token], special=True))
                if parser is not None:
                    text = parser.feed(text)
                if text:
                    put(ChatChunk(content=text))
                if n_out >= max_tokens:
                    break
                if self.yield_to is not None:
                    self.yield_to.yield_to_urgent()
        finally:
            gen.close()
        tail = decoder.decode(b"", final=True)
        if parser is not None:
            tail = parser.feed(tail) + parser.finish() if tail else parser.finish()
        if tail:
            put(ChatChunk(content=tail))
        total = time.perf_counter() - started
        gen_s = max(1e-6, total - first_token_s)
        self.last_stats = {"prompt_tokens": len(tokens), "cached_tokens": cached,
                           "prefix": how, "first_token_s": first_token_s,
                           "completion_tokens": n_out, "total_s": total,
                           "tokens_per_s": (n_out - 1) / gen_s if n_out > 1 else 0.0}
        calls = parser.calls if parser is not None and tools else []
        put(ChatChunk(tool_calls=calls, finish_reason="tool_calls" if calls else finish,
                      stats=dict(self.last_stats)))

    def _worker(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
                overrides: dict[str, Any], stop: threading.Event,
                put: Callable[[Any], None]) -> None:
        self.worker_thread = threading.current_thread()
        try:
            with self._gen_lock:
                if stop.is_set():
                    return
                self.load()
                if self._template is None or (tools and not self._template.supports_tools) \
                        or "tool_choice" in overrides:
                    defaults = (self.temperature, self.max_tokens)
                    if tools:
                        grammar_tool_call(self._llm, messages, tools, overrides, put, defaults)
                    else:
                        plain_completion(self._llm, messages, overrides, stop, put, defaults)
                    return
                self._generate(messages, tools, overrides, stop, put)
        except LocalvoxError as err:
            put(err)
        except Exception as err:  # noqa: BLE001 - reported as one line to the user
            put(LLMError(f"llama.cpp generation failed: {type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else ''}".rstrip(": ")))
        finally:
            put(_DONE)

    async def chat(self, messages: list[dict[str, Any]],
                   tools: list[dict[str, Any]] | None = None, *, stream: bool = True,
                   **overrides: Any) -> AsyncIterator[ChatChunk]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()

        def put(item: Any) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:
                stop.set()  # the loop is gone; nobody is listening

        # a copy: the caller's history may change while the worker renders it
        snapshot = json.loads(json.dumps(messages, default=str))
        self._asked += 1
        self._executor.submit(self._worker, snapshot, tools or None, dict(overrides), stop, put)
        try:
            async for item in until_end(queue, _DONE):
                yield item
        finally:
            stop.set()  # consumer closed or cancelled us: stop at the next token

    async def close(self) -> None:
        await self._run(self._close)

    def _close(self) -> None:
        with self._gen_lock:
            self._prefixes.clear()
            if self._llm is not None:
                close = getattr(self._llm, "close", None)
                if close is not None:
                    close()
                self._llm = None


def create(config: "Config", **kw: Any) -> LlamaCppLLM:
    """The configured GGUF. A model id is resolved in the worker when the model loads:
    the first run joins a split pack (1.1 GB for the 1.5B) into the cache, which must not
    happen on the event loop; a missing pack is then the resolver's one line naming it."""
    from localvox.cpu_share import CPU
    from localvox.modelpacks import resolve_model

    llm = config.llm
    model = str(kw.get("model", llm.model))
    return LlamaCppLLM(lambda: resolve_model(model, config), n_ctx=llm.n_ctx,
                       threads=llm.threads, temperature=llm.temperature,
                       max_tokens=llm.max_tokens, label=Path(model).stem,
                       tool_call_bias=llm.tool_call_bias, use_mmap=llm.use_mmap,
                       yield_to=CPU if llm.yield_to_speech else None)
