"""Nudging a local model towards a tool call on its first generated token.

``call_start_tokens`` finds the tokens a call can begin with once, when the model loads;
``first_token_bias`` is the logits processor ``[llm] tool_call_bias`` installs when tools
are offered. Both run in the llama.cpp worker thread. Kept apart from ``llama_cpp.py``
(loading, prompt, generation) to hold that module under ~400 lines.
"""

from __future__ import annotations

from typing import Any, Callable


def call_start_tokens(llm: Any) -> list[int]:
    """Tokens a tool call can start with: ``<tool_call>`` and the braces Qwen-Coder uses."""
    out: list[int] = []
    for text, special in (("<tool_call>", True), ('{"', False), ("{{", False), ("{", False)):
        ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=special)
        if len(ids) == 1 and ids[0] not in out:
            out.append(ids[0])
    return out


def first_token_bias(prompt_len: int, token_ids: list[int], bias: float) -> Callable[..., Any]:
    """Raise the logits of the call-start tokens for the first generated token only.

    Why: Qwen2.5-Coder-1.5B answered "Is it raining in London right now?" with a made-up
    "Yes, it is raining" although get_weather was offered: the call's first token ``{"``
    trailed the top token by 1-3 logits on weather questions, and by 6-12 on chit-chat
    ("Tell me a joke", "Hello there!"), measured with the weather example's prompt. A
    bias inside that gap ([llm] tool_call_bias, default 3) turns the near-misses into calls
    and leaves small talk as text.
    """
    def process(input_ids: Any, logits: Any) -> Any:
        if len(input_ids) == prompt_len:
            logits[token_ids] += bias
        return logits

    return process
