"""The llama.cpp backend's prefix KV cache: saved model states, one per distinct prompt prefix.

Every turn of a conversation starts with the same system prompt and tool schemas, and
``Llama.generate`` already reuses the longest prefix left in the KV cache. But a prompt with
another prefix -- tools offered or not, another session's system prompt -- would evict it
and re-read the schemas. So the KV state right after each distinct prefix is saved
(``llama_state_get_data``; a few MB per thousand tokens) and restored with
``llama_state_set_data`` instead. Measured with the 1.5B (n_threads=2): first token 0.9 s
cold, 0.27-0.35 s once cached.

Kept apart from ``llama_cpp.py`` (loading, prompt, generation) to hold that module under
~400 lines. ``PrefixCache`` owns no thread: it touches the model, so it is called only from
``LlamaCppLLM``'s one worker thread, under its generation lock.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable

PREFIX_STATES = 3  # saved KV states kept (system prompt +/- tools, another session's)


class PrefixCache:
    """Saved KV states keyed by their prefix tokens, least recently used dropped first."""

    def __init__(self, keep: int = PREFIX_STATES) -> None:
        self.keep = keep
        self._states: OrderedDict[tuple[int, ...], bytes] = OrderedDict()

    def ensure(self, llm: Any, prefix: list[int]) -> str:
        """Make ``llm``'s KV cache start with ``prefix``: already there, restored, or evaluated."""
        key = tuple(prefix)
        n = llm.n_tokens
        have = llm.input_ids[:n].tolist() if n else []
        if n >= len(prefix) and have[:len(prefix)] == prefix:
            self._states.move_to_end(key, last=True) if key in self._states else None
            return "kept"
        state = self._states.get(key)
        if state is not None:
            import ctypes

            import llama_cpp

            buf = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
            if llama_cpp.llama_state_set_data(llm._ctx.ctx, buf, len(state)) == len(state):
                llm.input_ids[:len(prefix)] = prefix
                llm.n_tokens = len(prefix)
                llm._requires_eval = True
                self._states.move_to_end(key)
                return "restored"
        common = common_prefix(have, prefix)
        llm.n_tokens = common
        llm.eval(prefix[common:])
        self._save(llm, key)
        return "evaluated"

    @staticmethod
    def extend(llm: Any, tokens: list[int], pause: Callable[[], Any] | None = None,
               step: int = 4) -> int:
        """Make the KV cache hold ``tokens``, reading only what does not match already
        (a reply's own tokens usually do); returns how many tokens were evaluated.

        Read ahead of need, so it must not hold up what the user hears: with ``pause``
        (``CpuShare.yield_to_urgent``) it reads ``step`` tokens at a time and waits
        between them while a reply's first audio is being made."""
        common = common_prefix(llm.input_ids[:llm.n_tokens].tolist(), tokens)
        if common >= len(tokens):
            return 0
        llm.n_tokens = common
        if pause is None:
            llm.eval(tokens[common:])
            return len(tokens) - common
        for at in range(common, len(tokens), step):
            pause()
            llm.eval(tokens[at:at + step])
        return len(tokens) - common

    def _save(self, llm: Any, key: tuple[int, ...]) -> None:
        import ctypes

        import llama_cpp

        ctx = llm._ctx.ctx
        size = llama_cpp.llama_state_get_size(ctx)
        buf = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_get_data(ctx, buf, size)
        self._states[key] = bytes(memoryview(buf)[:written])
        while len(self._states) > self.keep:
            self._states.popitem(last=False)

    def clear(self) -> None:
        self._states.clear()


def common_prefix(a: list[int], b: list[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n
