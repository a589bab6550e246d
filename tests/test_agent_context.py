"""ContextManager: chat-safe messages, validation, and trimming by whole turns."""

from __future__ import annotations

import pytest

from localvox.agent import ContextManager


def conversation() -> ContextManager:
    ctx = ContextManager([{"role": "system", "content": "Be brief."}])
    ctx.add_messages([
        {"role": "user", "content": "weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "c1", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "c1", "name": "get_weather", "content": "sunny"},
        {"role": "assistant", "content": "Sunny."},
        {"role": "user", "content": "and tomorrow?"},
        {"role": "assistant", "content": "Also sun", "interrupted": True},
        {"role": "user", "content": "thanks"},
    ])
    return ctx


def test_messages_strip_private_keys_but_history_keeps_them():
    ctx = conversation()
    assert ctx.history[-2]["interrupted"] is True
    assert ctx.messages[-2] == {"role": "assistant", "content": "Also sun"}
    ctx.messages[0]["content"] = "changed"  # copies: editing them changes nothing
    assert ctx.messages[0]["content"] == "Be brief."


def test_bad_messages_are_rejected():
    ctx = ContextManager()
    with pytest.raises(ValueError, match="role"):
        ctx.add_message({"role": "robot", "content": "x"})
    with pytest.raises(TypeError):
        ctx.add_message("hello")  # type: ignore[arg-type]


def test_set_last_and_clear():
    ctx = conversation()
    assert ctx.last("user") == {"role": "user", "content": "thanks"}
    ctx.clear()
    assert ctx.messages == [{"role": "system", "content": "Be brief."}]
    ctx.set_messages([{"role": "user", "content": "fresh"}])
    assert len(ctx) == 1 and ctx.last() == {"role": "user", "content": "fresh"}


def test_trim_drops_whole_oldest_turns_and_keeps_system():
    ctx = conversation()
    dropped = ctx.trim(max_messages=5)
    assert dropped == 4  # the whole tool turn went together
    assert ctx.messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "and tomorrow?"},
        {"role": "assistant", "content": "Also sun"},
        {"role": "user", "content": "thanks"},
    ]
    assert not any(m["role"] == "tool" for m in ctx.messages)


def test_trim_with_a_budget_function_never_drops_the_latest_turn():
    ctx = conversation()
    ctx.trim(fits=lambda msgs: sum(len(m.get("content") or "") for m in msgs) < 5)
    assert ctx.messages == [{"role": "system", "content": "Be brief."},
                            {"role": "user", "content": "thanks"}]
    assert ctx.trim(max_messages=1) == 0
