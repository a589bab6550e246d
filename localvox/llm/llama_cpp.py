"""llama.cpp in-process (llama-cpp-python): the default, fully offline brain.

The model loads once, lazily, on the first ``chat``. Generation runs in a worker thread
(llama.cpp releases the GIL while it computes) and hands each streamed piece to the event
loop through ``call_soon_threadsafe``; the loop never blocks on the model. A
``threading.Event`` is checked after every token, so closing the async iterator (or
cancelling the task that consumes it: barge-in) stops generation within one token.

Plain chat uses the GGUF's own chat template. When tools are passed (``tool_mode =
native``), the ``chatml-function-calling`` handler of llama-cpp-python is used for that
call, which constrains tool-call JSON with a grammar.
"""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable

from localvox.errors import LLMError, ModelError
from localvox.llm.base import ChatChunk
from localvox.llm.openai import ToolCallAccumulator, read_delta_event

if TYPE_CHECKING:
    from localvox.config import Config

_DONE = object()


def check_gguf(path: Path) -> None:
    """Fail with one line before llama.cpp prints pages of C++ diagnostics."""
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except IsADirectoryError:
        raise LLMError(f"{path} is a folder, not a GGUF model file") from None
    except OSError as err:
        raise LLMError(f"cannot read model file {path}: {err.strerror}") from None
    if magic != b"GGUF":
        raise LLMError(f"{path} is not a GGUF model file (llama.cpp needs a .gguf; "
                       "set [llm] model to smollm2_135m, gemma3_270m or a .gguf path)")


class LlamaCppLLM:
    """A GGUF model running in this process."""

    name = "llama_cpp"

    def __init__(self, model_path: Path | str, *, n_ctx: int = 2048, threads: int = 2,
                 temperature: float = 0.3, max_tokens: int = 160, seed: int = 0) -> None:
        self.model_path = Path(model_path)
        self.n_ctx = n_ctx
        self.threads = threads
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.seed = seed
        self._llm: Any = None
        self._load_lock = threading.Lock()
        self._gen_lock = threading.Lock()  # one generation at a time per loaded model
        # One long-lived generation thread: a new thread per chat gave each reply fresh
        # glibc malloc arenas, and resident memory stepped up over long sessions.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama-generate")

    @property
    def model_name(self) -> str:
        return self.model_path.stem

    # -- loading ---------------------------------------------------------------------------
    def load(self) -> Any:
        """Load the model (once). Safe to call from any thread."""
        with self._load_lock:
            if self._llm is None:
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
                try:
                    self._llm = Llama(model_path=str(self.model_path), n_ctx=self.n_ctx,
                                      n_threads=self.threads, n_threads_batch=self.threads,
                                      seed=self.seed, verbose=False)
                except (ValueError, RuntimeError) as err:
                    raise LLMError(f"llama.cpp could not load {self.model_path.name}: "
                                   f"{str(err).splitlines()[0] if str(err) else 'bad file'}"
                                   ) from None
            return self._llm

    def tokenize_len(self, text: str) -> int:
        """Token count of ``text`` under this model (for trimming history to n_ctx)."""
        llm = self.load()
        return len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    # -- generation ------------------------------------------------------------------------
    def _completion(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
                    stream: bool, overrides: dict[str, Any]) -> Any:
        llm = self.load()
        kwargs: dict[str, Any] = {
            "messages": messages,
            "temperature": overrides.pop("temperature", self.temperature),
            "max_tokens": overrides.pop("max_tokens", self.max_tokens),
            "stream": stream,
        }
        kwargs.update(overrides)
        if tools:
            from llama_cpp import llama_chat_format

            handler = llama_chat_format.get_chat_completion_handler("chatml-function-calling")
            wrapped = [t if "function" in t else {"type": "function", "function": t}
                       for t in tools]
            return handler(llama=llm, tools=wrapped, tool_choice=kwargs.pop("tool_choice",
                                                                            "auto"), **kwargs)
        return llm.create_chat_completion(**kwargs)

    def _worker(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
                stream: bool, overrides: dict[str, Any], stop: threading.Event,
                put: Callable[[Any], None]) -> None:
        try:
            with self._gen_lock:
                if stop.is_set():
                    return
                result = self._completion(messages, tools, stream, overrides)
                if not stream:
                    put(result)
                    return
                for piece in result:
                    if stop.is_set():
                        break
                    put(piece)
                close = getattr(result, "close", None)
                if close is not None:
                    close()  # frees llama.cpp's generator state immediately
        except LLMError as err:
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
        # chatml-function-calling cannot stream with tool_choice "auto": with tools the
        # reply is generated whole and then yielded (still cancellable between calls).
        stream = stream and not tools
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()

        def put(item: Any) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:
                stop.set()  # the loop is gone; nobody is listening

        self._executor.submit(self._worker, messages, tools, stream, dict(overrides), stop, put)
        calls = ToolCallAccumulator()
        finish: str | None = None
        try:
            while True:
                item = await queue.get()
                if item is _DONE:
                    break
                if isinstance(item, BaseException):
                    raise item
                if not stream:
                    choice = item["choices"][0]
                    msg = choice.get("message") or {}
                    if msg.get("content"):
                        yield ChatChunk(content=msg["content"])
                    calls.add([dict(c, index=i) for i, c in
                               enumerate(msg.get("tool_calls") or [])])
                    finish = choice.get("finish_reason")
                    continue
                text, done = read_delta_event(item, calls)
                if text:
                    yield ChatChunk(content=text)
                finish = done or finish
            yield ChatChunk(tool_calls=calls.calls(), finish_reason=finish or "stop")
        finally:
            stop.set()  # consumer closed or cancelled us: stop at the next token

    async def close(self) -> None:
        with self._gen_lock:
            if self._llm is not None:
                close = getattr(self._llm, "close", None)
                if close is not None:
                    close()
                self._llm = None


def create(config: "Config", **kw: Any) -> LlamaCppLLM:
    from localvox.modelpacks import resolve_model

    llm = config.llm
    model = kw.get("model", llm.model)
    try:
        path = resolve_model(model, config)
    except ModelError:
        raise
    return LlamaCppLLM(path, n_ctx=llm.n_ctx, threads=llm.threads,
                       temperature=llm.temperature, max_tokens=llm.max_tokens)
