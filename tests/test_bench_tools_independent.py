"""The independent tool-routing prompt set (tests/data/tool_prompts_independent.jsonl),
written without looking at the router's templates or its own prompt set: well formed,
varied, and scored by ``localvox bench tools --prompts``. The accuracy is reported by the
bench, not asserted here (the router is not tuned on this set)."""

from __future__ import annotations

import json
from pathlib import Path

from localvox.bench.tools import load_prompts
from localvox.cli import main

SET = Path(__file__).resolve().parent / "data" / "tool_prompts_independent.jsonl"
TOOLS = {"get_time", "get_date", "set_timer", "set_alarm", "list_timers", "cancel_timers",
         "calculate", "convert_units", "add_note", "list_notes", "delete_note", "get_weather"}


def test_set_is_well_formed_and_varied():
    rows = load_prompts(SET)
    assert len(rows) >= 60
    assert len({r["text"].lower() for r in rows}) == len(rows)
    assert {r["tool"] for r in rows if r["tool"]} == TOOLS
    chit = [r for r in rows if r["tool"] is None]
    assert len(chit) >= 15
    tool_words = ("weather", "timer", "note", "time", "alarm", "math", "kilogram")
    assert sum(any(w in r["text"].lower() for w in tool_words) for r in chit) >= 8
    asr_style = [r for r in rows if r["text"] == r["text"].lower() and
                 not any(c in r["text"] for c in ".,?!")]
    assert len(asr_style) >= len(rows) // 2


def test_bench_tools_runs_on_it(tmp_path, capsys):
    rc = main(["bench", "tools", "--prompts", str(SET), "--mode", "intent", "--json",
               str(tmp_path / "t.json")])
    out = capsys.readouterr().out
    data = json.loads((tmp_path / "t.json").read_text())
    assert rc == 0 and data["prompts"] == len(load_prompts(SET))
    assert data["tool_correct"] + len([m for m in data["misses"] if m["got"] != m["want"]]) \
        == data["prompts"]
    assert "tool choice" in out


HELDOUT2 = Path(__file__).resolve().parent / "data" / "tool_prompts_heldout2.jsonl"


def test_fresh_heldout_set_regression_floor(tmp_path, capsys):
    """tool_prompts_heldout2.jsonl was written blind (no router code, no other prompt set)
    and scored once after the router was broadened: 109/120 tool choice, 1/27 chit-chat
    calls. It is never used for tuning; this floor only catches regressions."""
    rows = load_prompts(HELDOUT2)
    assert len(rows) >= 80 and {r["tool"] for r in rows if r["tool"]} == TOOLS
    rc = main(["bench", "tools", "--prompts", str(HELDOUT2), "--mode", "intent", "--json",
               str(tmp_path / "h.json")])
    capsys.readouterr()
    data = json.loads((tmp_path / "h.json").read_text())
    assert rc == 0
    assert data["tool_correct"] / data["prompts"] >= 0.85
