"""``bench latency`` bookkeeping: tool and chat turns reported apart, the LLM counted, the
chunker-free parts of the turn set (no models needed)."""

from __future__ import annotations

import asyncio

from localvox.bench import turnset
from localvox.bench.latency_report import TurnResult, print_table, summarize
from localvox.config import load_config


def turn(kind: str, v2v: float, base: float, stall: float) -> TurnResult:
    return TurnResult("c", "q", "a", v2v, {"endpoint": v2v / 2}, kind=kind,
                      baseline_ms=base, baseline_stages_ms={"silence": 700.0},
                      stall_ms=stall)


def test_tool_and_chat_turns_have_their_own_percentiles_and_ratio(capsys) -> None:
    results = [turn("tool", 400, 2000, 5), turn("tool", 500, 2000, 7),
               turn("chat", 1000, 2500, 30), turn("chat", 1200, 3000, 40),
               turn("chat", 1400, 3500, 50)]
    s = summarize(results, load_config(use_user_file=False))
    assert set(s["kinds"]) == {"tool", "chat"}
    tool, chat = s["kinds"]["tool"], s["kinds"]["chat"]
    assert tool["total"] == 2 and chat["total"] == 3
    assert tool["stages"]["voice-to-voice"]["p50"] == 400
    assert chat["stages"]["voice-to-voice"]["p50"] == 1200
    assert tool["ratio_p50"] == 0.2 and chat["ratio_p50"] == 0.4
    assert chat["stages"]["event-loop stall (longest)"]["p95"] == 50
    print_table(s)
    out = capsys.readouterr().out
    assert "tool turns (2/2" in out and "chat turns (3/3" in out


def test_counting_llm_tells_chat_turns_from_tool_turns() -> None:
    class LLM:
        name = "fake"
        closed = False

        def chat(self, messages, tools=None, stream=True):
            return iter(())

        async def close(self) -> None:
            self.closed = True

    inner = LLM()
    llm = turnset.CountingLLM(inner)
    assert llm.calls == 0 and llm.name == "fake"
    llm.chat([{"role": "user", "content": "hi"}])
    assert llm.calls == 1
    asyncio.run(llm.close())
    assert inner.closed


def test_interleave_mixes_sources() -> None:
    a = [turnset.Clip(f"a{i}", "", None, 0.0) for i in range(3)]  # type: ignore[arg-type]
    b = [turnset.Clip("b0", "", None, 0.0, source="real")]  # type: ignore[arg-type]
    assert [c.name for c in turnset.interleave(a, b)] == ["a0", "b0", "a1", "a2"]
