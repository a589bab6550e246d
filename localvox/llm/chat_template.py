"""Render a conversation with the GGUF's own chat template (``tokenizer.chat_template``).

Why our own rendering instead of ``Llama.create_chat_completion``: we need the prompt as
tokens before generating, to (1) fit it to the context window with the real tokenizer,
in the worker thread, (2) know which prefix -- system prompt plus tool schemas -- is
shared by every turn, so it is evaluated once and kept in llama.cpp's KV cache, and
(3) offer tools through the model's own template (Qwen2.5 puts the JSON schemas in the
system turn and answers with ``<tool_call>`` blocks, see ``toolcall.py``).

A template "supports tools" when it renders the ``tools`` variable and asks for
``<tool_call>`` blocks (Hermes format: Qwen2.5, Hermes, many fine-tunes). SmolLM2's and
Gemma 3's templates do not; for those the assistant routes tools without the model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from localvox.errors import LLMError


_NEXT_USER = "<<localvox: the next user turn>>"


@dataclass(frozen=True)
class TemplateInfo:
    template: str
    bos_token: str
    eos_token: str
    add_bos: bool

    @property
    def supports_tools(self) -> bool:
        return "tools" in self.template and "<tool_call>" in self.template


class ChatTemplate:
    """The model's Jinja chat template, rendered in a sandbox (llama-cpp-python's)."""

    def __init__(self, info: TemplateInfo) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.info = info
        self._reply = Jinja2ChatFormatter(info.template, info.eos_token, info.bos_token,
                                          add_generation_prompt=True)
        self._plain = Jinja2ChatFormatter(info.template, info.eos_token, info.bos_token,
                                          add_generation_prompt=False)

    @property
    def supports_tools(self) -> bool:
        return self.info.supports_tools

    def render(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
               *, generation_prompt: bool = True) -> str:
        """The prompt text; ``generation_prompt`` opens the assistant's turn."""
        fmt = self._reply if generation_prompt else self._plain
        try:
            return fmt(messages=template_messages(messages),
                       tools=wrap_tools(tools) if tools else None).prompt
        except Exception as err:  # noqa: BLE001 - a template error is one line for the user
            raise LLMError(f"the model's chat template failed: {type(err).__name__}: "
                           f"{str(err).splitlines()[0] if str(err) else ''}") from None

    def prefix(self, messages: list[dict[str, Any]],
               tools: list[dict[str, Any]] | None) -> str:
        """The part every turn shares: the leading system messages (with the tools).

        Rendered as a conversation of only those messages; it is a true prefix of the full
        prompt for templates that render turns one after another (all we ship). Callers
        check that before relying on it.
        """
        head = []
        for m in messages:
            if m.get("role") != "system":
                break
            head.append(m)
        if not head and not tools:
            return ""
        return self.render(head, tools, generation_prompt=False)

    def opening(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
                user_so_far: str = "") -> str:
        """The prompt of the next turn up to where the user's words will go.

        Everything before the next user message is known once a reply is recorded: the
        history, the reply's end and the user turn's own header (``<|im_end|>\n
        <|im_start|>user\n`` for Qwen). Evaluated then, a turn reads only its words and the
        closing header. ``user_so_far`` (a partial transcript) is appended: its words are
        read while the user is still talking. Empty when the template does not render a
        user turn that way.
        """
        turn = {"role": "user", "content": user_so_far + _NEXT_USER}
        text = self.render(list(messages) + [turn], tools, generation_prompt=False)
        cut = text.find(_NEXT_USER)
        return text[:cut] if cut > 0 else ""


def wrap_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tools in the OpenAI ``{"type": "function", "function": {...}}`` form templates expect."""
    return [t if "function" in t else {"type": "function", "function": t} for t in tools]


def template_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages as HF chat templates expect them.

    Tool-call arguments are stored as the JSON text the model produced; templates render
    them with ``tojson``, which would quote that text a second time, so valid JSON is
    handed over as an object. Our bookkeeping keys (``interrupted``) are dropped.
    """
    out: list[dict[str, Any]] = []
    for m in messages:
        msg: dict[str, Any] = {"role": m["role"], "content": m.get("content") or ""}
        if m.get("tool_calls"):
            calls = []
            for call in m["tool_calls"]:
                fn = call.get("function", call)
                args: Any = fn.get("arguments", "")
                if isinstance(args, str):
                    try:
                        args = json.loads(args) if args.strip() else {}
                    except ValueError:
                        pass
                calls.append({"id": call.get("id", ""), "type": "function",
                              "function": {"name": fn.get("name", ""), "arguments": args}})
            msg["tool_calls"] = calls
        if m["role"] == "tool":
            for key in ("tool_call_id", "name"):
                if key in m:
                    msg[key] = m[key]
        out.append(msg)
    return out


def template_info(llm: Any) -> TemplateInfo | None:
    """The chat template and special tokens of a loaded ``llama_cpp.Llama``."""
    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        return None
    eos_id, bos_id = llm.token_eos(), llm.token_bos()
    eos = llm._model.token_get_text(eos_id) if eos_id != -1 else ""
    bos = llm._model.token_get_text(bos_id) if bos_id != -1 else ""
    add_bos = llm.metadata.get("tokenizer.ggml.add_bos_token", "false") == "true"
    return TemplateInfo(template, bos, eos, add_bos)
