"""``localvox bench chat``: is the brain worth hearing? Models side by side, in one run.

For each model (``--models a,b,c``; default the configured one) the labelled
conversations (``tests/data/chat_conversations.jsonl``: facts, advice, follow-ups that
need the previous turn, chit-chat that must not call a tool) go through the *default
assistant* exactly as ``localvox chat`` runs them -- intent router first, the LLM with
the tools offered, the speech filter -- one session per conversation. The last reply is
scored (``chat_score.judge``: expected words, language, spoken cap, no stray tool calls).

Figures per model: accuracy (overall and per kind), non-English replies, replies over the
cap, chit-chat tool calls; for LLM turns the first token as the assistant yields it after
the final transcript (a whole first word, past the speech filter: about one decode step
after the model's own first token, printed beside it), and generation speed (tokens/s) as
llama.cpp reports it, p50/p95;
load + warm-up time (system prompt and tool schemas read once into the KV cache).

Then native calling of user tools (``tests/data/user_tool_prompts.jsonl``): each prompt
is one chat with the weather example's or the bank example's own system prompt and tool
schemas; right when the model calls the labelled tool with the labelled arguments (or,
for prompts labelled with no tool, calls none). Models whose template cannot call tools
are marked "-".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

NAME = "chat"
HELP = "conversation accuracy, language, length, first token and tokens/s per model"

DATA = Path(__file__).resolve().parents[2] / "tests" / "data"
# Figures the issue measured on this 2-core CPU (n_threads=2), for comparison.
ANCHORS = {
    "smollm2_135m": "issue #16: 18/30 right",
    "qwen2_5_coder_0_5b": "issue #16: 22/30 right, first token 0.15 s, 35 tok/s",
    "qwen2_5_coder_1_5b": "issue #16: 29/30 right, first token 0.27-0.35 s cached, 18-20 tok/s",
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", default="", help="comma-separated model ids or GGUF paths "
                   "(default: [llm] model)")
    p.add_argument("--conversations", default=str(DATA / "chat_conversations.jsonl"))
    p.add_argument("--tool-prompts", default=str(DATA / "user_tool_prompts.jsonl"))
    p.add_argument("--no-user-tools", action="store_true", help="skip the user-tool set")
    p.add_argument("--user-tools-only", action="store_true",
                   help="only the user-tool set (no conversations)")
    p.add_argument("--limit", type=int, default=0, help="only the first N conversations")
    p.add_argument("--back-to-back", action="store_true",
                   help="ask each turn the moment the previous reply ends, before the "
                   "assistant has read the next turn's opening (a user takes longer)")
    p.add_argument("--verbose", "-v", action="store_true", help="print every wrong reply")


async def _run_conversations(config: Any, convs: list[Any], tmp: Path,
                             verbose: bool, wait: bool = True) -> dict[str, Any]:
    from localvox.agent.assistant import AssistantNode, create_app, create_llm
    from localvox.agent.builtin_tools import BuiltinTools
    from localvox.agent.events import ResponseChunk, ToolCallStart
    from localvox.bench.chat_score import judge
    from localvox.bench.common import percentile

    llm = create_llm(config)
    tools = BuiltinTools(config, notes_path=tmp / "notes.sqlite3")
    app = create_app(config, llm=llm, tools_factory=lambda c: tools)
    t0 = time.perf_counter()
    first = await app.open_session()
    node = first.nodes[0]
    await llm.warm(node.system_messages(), node.offered_schemas())
    warm_s = time.perf_counter() - t0
    await first.close()
    first_token: list[float] = []
    """Turn start -> the first text out of the speech filter (a whole first word)."""
    model_first: list[float] = []
    """The model's own time to its first token (``last_stats``: prompt eval included)."""
    follow_first: list[float] = []
    """The model's own first token on turns after the first (the history is in the cache)."""
    speed: list[float] = []
    results = []
    for conv in convs:
        session = await app.open_session()
        node = session.nodes[0]
        reply, calls, called = "", 0, []
        for index, text in enumerate(conv.turns):
            if wait and isinstance(node, AssistantNode):
                await node.prepared()  # the user takes longer than this to say the next turn
            before = getattr(llm, "last_stats", None)
            started = time.perf_counter()
            heard: float | None = None
            parts = []
            async for event in session.turn(text):
                if isinstance(event, ResponseChunk):
                    if heard is None:
                        heard = time.perf_counter() - started
                    parts.append(event.text)
                elif isinstance(event, ToolCallStart):
                    called.append(event.name)
                    calls += not event.call_id.startswith("intent_")  # the model's own
            reply = "".join(parts).strip()
            stats = getattr(llm, "last_stats", None)
            if stats is not before and stats:  # this turn reached the LLM
                if heard is not None:
                    first_token.append(heard)
                if stats.get("first_token_s"):
                    model_first.append(stats["first_token_s"])
                    if index:
                        follow_first.append(stats["first_token_s"])
                if stats.get("tokens_per_s"):
                    speed.append(stats["tokens_per_s"])
        await session.close()
        result = judge(conv, reply, calls, max_chars=config.llm.spoken_max_chars,
                       max_sentences=2 * config.llm.spoken_max_sentences)
        result["tools"] = called
        results.append(result)
        if verbose and not result["ok"]:
            print(f"    miss {conv.id}: {reply!r} ({'; '.join(result['reasons'])}; "
                  f"tools: {', '.join(called) or 'none'})")
    await app.close()
    await llm.close()
    kinds: dict[str, list[int]] = {}
    for r in results:
        k = kinds.setdefault(r["kind"], [0, 0])
        k[0] += r["ok"]
        k[1] += 1
    english = [r for r, c in zip(results, convs) if c.language == "en"]
    return {
        "conversations": len(results), "right": sum(r["ok"] for r in results),
        "accuracy": sum(r["ok"] for r in results) / max(1, len(results)),
        "per_kind": {k: {"right": v[0], "n": v[1]} for k, v in kinds.items()},
        "non_english": sum(r["language"] != "en" for r in english),
        "over_cap": sum(r["over_cap"] for r in results),
        "chitchat_tool_calls": sum(r["tool_calls"] for r, c in zip(results, convs)
                                   if c.kind == "chitchat"),
        "first_token_p50_s": percentile(first_token, 50),
        "first_token_p95_s": percentile(first_token, 95),
        "model_first_token_p50_s": percentile(model_first, 50),
        "follow_up_first_token_p50_s": percentile(follow_first, 50),
        "follow_up_turns": len(follow_first),
        "tokens_per_s_p50": percentile(speed, 50), "tokens_per_s_p95": percentile(speed, 95),
        "llm_turns": len(first_token), "load_and_warm_s": warm_s, "results": results,
    }


def _app_tools(app: str, tmp: Path) -> tuple[str, list[dict[str, Any]]]:
    """The example's own system prompt and tool schemas (as its native mode offers them)."""
    if app == "weather":
        from localvox.agent.builtin_tools import WeatherClient
        from localvox.examples.weather import SYSTEM_PROMPT, WeatherAgent

        node = WeatherAgent(None, WeatherClient("http://127.0.0.1:9", "http://127.0.0.1:9"))
        return SYSTEM_PROMPT, node.tools.get_schemas()
    from localvox.examples.bank.agent import NATIVE_PROMPT, BankCSR
    from localvox.examples.bank.db import ensure_bank

    path = tmp / "bank.db"
    ensure_bank(path)
    node = BankCSR(path, None, tool_mode="native")
    return NATIVE_PROMPT, node.tools.get_schemas()


_VERIFIED = [
    {"role": "user", "content": "I'm Asha Rao, born 12 March 1988, account ending 4417."},
    {"role": "assistant", "content": "", "tool_calls": [{"id": "call_v1", "type": "function",
     "function": {"name": "verify_customer", "arguments": json.dumps(
         {"name": "Asha Rao", "dob": "1988-03-12", "account_last_four": "4417"})}}]},
    {"role": "tool", "tool_call_id": "call_v1", "name": "verify_customer",
     "content": "Verified at level 2: account information and actions are allowed."},
    {"role": "assistant", "content": "Thank you, Ms Rao, you're verified. How can I help?"},
]


async def _run_user_tools(config: Any, rows: list[dict[str, Any]], tmp: Path,
                          verbose: bool) -> dict[str, Any] | None:
    from localvox.agent.assistant import create_llm
    from localvox.bench.chat_score import user_tool_match

    llm = create_llm(config)
    if not await llm.supports_tools():
        await llm.close()
        return None
    apps = {a: _app_tools(a, tmp) for a in sorted({r["app"] for r in rows})}
    right = 0
    per_app: dict[str, list[int]] = {}
    misses = []
    for row in rows:
        system, schemas = apps[row["app"]]
        messages = [{"role": "system", "content": system}]
        if row.get("context") == "verified":
            messages += _VERIFIED
        messages.append({"role": "user", "content": row["text"]})
        calls = []
        async for chunk in llm.chat(messages, tools=schemas, temperature=0):
            calls.extend(chunk.tool_calls)
        got, args = (calls[0].name, calls[0].arguments) if calls else (None, "{}")
        try:
            parsed = json.loads(args) if args.strip() else {}
        except ValueError:
            parsed = {}
        ok = user_tool_match(row["tool"], row.get("args", {}), got,
                             parsed if isinstance(parsed, dict) else {})
        right += ok
        per_app.setdefault(row["app"], [0, 0])
        per_app[row["app"]][0] += ok
        per_app[row["app"]][1] += 1
        if not ok:
            misses.append({"text": row["text"], "want": row["tool"], "got": got, "args": args})
            if verbose:
                print(f"    tool miss: {row['text']!r}: want {row['tool']}, got {got} {args}")
    await llm.close()
    return {"prompts": len(rows), "right": right, "accuracy": right / max(1, len(rows)),
            "per_app": {a: {"right": v[0], "n": v[1]} for a, v in per_app.items()},
            "misses": misses}


def run(args: argparse.Namespace, config: Any) -> int:
    import copy

    from localvox.bench.chat_score import load_conversations
    from localvox.bench.common import table, write_json

    models = [m.strip() for m in args.models.split(",") if m.strip()] or [config.llm.model]
    convs = load_conversations(args.conversations)
    if args.limit:
        convs = convs[: args.limit]
    if args.user_tools_only:
        convs = []
    rows = []
    if not args.no_user_tools:
        rows = [json.loads(ln) for ln in Path(args.tool_prompts).read_text(
            encoding="utf-8").splitlines() if ln.strip()]
    out: dict[str, Any] = {"bench": "chat", "models": {}, "conversations": len(convs)}
    for model in models:
        cfg = copy.deepcopy(config)
        cfg.llm.model = model
        print(f"{model}: {len(convs)} conversations ...", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            res = asyncio.run(_run_conversations(
                cfg, convs, Path(tmp), args.verbose, not args.back_to_back)) if convs else {}
            if rows:
                print(f"{model}: {len(rows)} user-tool prompts ...", flush=True)
                res["user_tools"] = asyncio.run(_run_user_tools(cfg, rows, Path(tmp),
                                                                args.verbose))
        out["models"][model] = res
    print(table(["figure"] + models, _rows(out, models) if convs else _tool_rows(out, models),
                title=f"bench chat: {len(convs)} conversations through the default assistant "
                      f"(tool_mode={config.llm.tool_mode}, threads={config.llm.threads})"))
    for model in models:
        if model in ANCHORS:
            print(f"  anchor {model}: {ANCHORS[model]} (30 conversations, unloaded CPU)")
    write_json(args.json, out)
    if args.plot and convs:
        plot(out, models, args.plot)
    return 0


def _rows(out: dict[str, Any], models: list[str]) -> list[list[Any]]:
    res = [out["models"][m] for m in models]

    def pct(r: dict[str, Any]) -> str:
        return f"{r['right']}/{r['conversations']} ({100 * r['accuracy']:.0f}%)"

    rows: list[list[Any]] = [["last reply right"] + [pct(r) for r in res]]
    for kind in ("fact", "advice", "followup", "chitchat"):
        rows.append([f"  {kind}"] + [f"{r['per_kind'].get(kind, {}).get('right', 0)}/"
                                     f"{r['per_kind'].get(kind, {}).get('n', 0)}" for r in res])
    rows += [["non-English replies (English prompts)"] + [r["non_english"] for r in res],
             ["replies over the spoken cap"] + [r["over_cap"] for r in res],
             ["chit-chat tool calls"] + [r["chitchat_tool_calls"] for r in res],
             ["first word out of the speech filter p50 (s)"] +
             [r["first_token_p50_s"] for r in res],
             ["first word out of the speech filter p95 (s)"] +
             [r["first_token_p95_s"] for r in res],
             ["the model's own first token p50 (s)"] +
             [r.get("model_first_token_p50_s") for r in res],
             ["  on follow-up turns only, p50 (s)"] +
             [f"{r['follow_up_first_token_p50_s']:.3f} ({r['follow_up_turns']} turns)"
              if r.get("follow_up_turns") else "-" for r in res],
             ["tokens/s p50"] + [r["tokens_per_s_p50"] for r in res],
             ["tokens/s p95"] + [r["tokens_per_s_p95"] for r in res],
             ["LLM turns measured"] + [r["llm_turns"] for r in res],
             ["load + warm-up (s)"] + [r["load_and_warm_s"] for r in res]]
    return rows + _tool_rows(out, models)


def _tool_rows(out: dict[str, Any], models: list[str]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    tools = [out["models"][m].get("user_tools") for m in models]
    if any(t is not None for t in tools):
        rows.append(["user tools, native calling"] +
                    [f"{t['right']}/{t['prompts']} ({100 * t['accuracy']:.0f}%)" if t else "-"
                     for t in tools])
        for app in sorted({a for t in tools if t for a in t["per_app"]}):
            rows.append([f"  {app}"] + [f"{t['per_app'][app]['right']}/{t['per_app'][app]['n']}"
                                        if t and app in t["per_app"] else "-" for t in tools])
    return rows


def plot(out: dict[str, Any], models: list[str], path: str) -> None:
    from localvox.bench.common import figure, save_figure

    fig, ax = figure(1, 3, size=(13, 4))
    a0, a1, a2 = ax[0]
    res = [out["models"][m] for m in models]
    a0.bar(models, [100 * r["accuracy"] for r in res])
    a0.set_ylabel("% last reply right")
    a0.set_ylim(0, 100)
    a0.set_title("conversations")
    xs = range(len(models))
    a1.bar([x - 0.2 for x in xs], [r["first_token_p50_s"] for r in res], 0.4, label="p50")
    a1.bar([x + 0.2 for x in xs], [r["first_token_p95_s"] for r in res], 0.4, label="p95")
    a1.axhline(0.35, color="red", ls="--", lw=0.8, label="target p50")
    a1.set_xticks(list(xs), models)
    a1.set_ylabel("seconds")
    a1.set_title("first token (LLM turns)")
    a1.legend(fontsize=8)
    a2.bar(models, [r["tokens_per_s_p50"] for r in res])
    a2.set_ylabel("tokens/s (p50)")
    a2.set_title("generation speed")
    for a in (a0, a1, a2):
        a.tick_params(axis="x", labelsize=7)
    save_figure(fig, path)
