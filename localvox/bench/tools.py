"""``localvox bench tools``: does the assistant pick the right tool with the right arguments?

Runs the labelled spoken-style prompt set (``tests/data/tool_prompts.jsonl``, or
``--prompts FILE``: one JSON object per line with ``text``, ``tool`` (null for chit-chat),
``args`` (the arguments that must match) and ``split``) through the routing in use:

* ``intent``: the template/slot router (the LLM is not asked at all for tool choice);
* ``native``: the configured LLM's own function calling, offered every built-in tool.

Prints tool-selection accuracy (all prompts), argument accuracy (of the tool prompts whose
tool was chosen right), chit-chat false tool calls, and per-tool rows; ``--json FILE``
writes the same figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

NAME = "tools"
HELP = "tool-choice and argument accuracy of the assistant's routing on a labelled prompt set"

DEFAULT_PROMPTS = Path(__file__).resolve().parents[2] / "tests" / "data" / "tool_prompts.jsonl"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prompts", metavar="JSONL", default=str(DEFAULT_PROMPTS),
                   help="labelled prompt set (default: the bundled one)")
    p.add_argument("--mode", choices=["intent", "hybrid", "native", "config"], default="config",
                   help="routing to measure (default: [llm] tool_mode as resolved)")
    p.add_argument("--split", choices=["all", "dev", "heldout"], default="all")
    p.add_argument("--limit", type=int, default=0, help="only the first N prompts")
    p.add_argument("--verbose", "-v", action="store_true", help="print every miss")


def load_prompts(path: str | Path, split: str = "all") -> list[dict[str, Any]]:
    rows = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if not isinstance(row.get("text"), str) or "tool" not in row:
            raise ValueError(f"{path}:{n}: each line needs text and tool")
        if split == "all" or row.get("split") == split:
            rows.append(row)
    return rows


def args_match(tool: str | None, want: dict[str, Any], got: dict[str, Any]) -> bool:
    """The labelled arguments are present with the same meaning (numbers by value,
    expressions by their result, units by canonical name, text ignoring case)."""
    from localvox.agent.builtin_tools import find_unit, safe_calculate

    for key, expected in want.items():
        if key not in got:
            return False
        value = got[key]
        try:
            if tool == "calculate" and key == "expression":
                if abs(safe_calculate(str(value)) - safe_calculate(str(expected))) > 1e-6:
                    return False
            elif key in ("from_unit", "to_unit"):
                if find_unit(str(value)).name != find_unit(str(expected)).name:
                    return False
            elif isinstance(expected, (int, float)) and not isinstance(expected, bool):
                if abs(float(value) - float(expected)) > 1e-6:
                    return False
            elif str(value).strip().lower().rstrip(".") != str(expected).lower():
                return False
        except (ValueError, TypeError):
            return False
    return True


@dataclass
class Prediction:
    tool: str | None
    args: dict[str, Any]
    error: str = ""


def score(prompts: list[dict[str, Any]], predict: Callable[[str], Prediction]
          ) -> dict[str, Any]:
    per_tool: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # n, tool ok, args ok
    misses: list[dict[str, Any]] = []
    tool_ok = args_ok = tool_prompts = chit = chit_false = 0
    started = time.perf_counter()
    for row in prompts:
        pred = predict(row["text"])
        want = row["tool"]
        key = want or "(no tool)"
        per_tool[key][0] += 1
        right_tool = pred.tool == want
        right_args = right_tool and (want is None or args_match(want, row.get("args", {}),
                                                                pred.args))
        tool_ok += right_tool
        per_tool[key][1] += right_tool
        per_tool[key][2] += right_args
        if want is None:
            chit += 1
            chit_false += pred.tool is not None
        else:
            tool_prompts += 1
            args_ok += right_args
        if not right_args:
            misses.append({"text": row["text"], "want": want, "want_args": row.get("args"),
                           "got": pred.tool, "got_args": pred.args, "error": pred.error})
    tool_right_with_tool = sum(v[1] for k, v in per_tool.items() if k != "(no tool)")
    return {
        "prompts": len(prompts),
        "tool_accuracy": tool_ok / len(prompts) if prompts else 0.0,
        "tool_correct": tool_ok,
        "arg_accuracy": args_ok / tool_right_with_tool if tool_right_with_tool else 0.0,
        "arg_correct": args_ok,
        "tool_prompts": tool_prompts,
        "chitchat_prompts": chit,
        "chitchat_false_tool_calls": chit_false,
        "seconds": time.perf_counter() - started,
        "per_tool": {k: {"n": v[0], "tool_ok": v[1], "args_ok": v[2]}
                     for k, v in sorted(per_tool.items())},
        "misses": misses,
    }


def builtin_schemas(notes_dir: Path) -> list[dict[str, Any]]:
    from localvox.agent.builtin_tools import BuiltinTools
    from localvox.agent.tools import ToolRegistry

    registry = ToolRegistry()
    registry.discover(BuiltinTools(notes_path=notes_dir / "bench-notes.sqlite3"))
    return registry.get_schemas()


def intent_predictor(schemas: list[dict[str, Any]]) -> Callable[[str], Prediction]:
    from localvox.agent.intent import IntentRouter

    router = IntentRouter(schemas)

    def predict(text: str) -> Prediction:
        route = router.route(text)
        return Prediction(route.tool, route.arguments) if route else Prediction(None, {})

    return predict


def native_predictor(config: Any, schemas: list[dict[str, Any]],
                     loop: asyncio.AbstractEventLoop) -> Callable[[str], Prediction]:
    from localvox.agent.assistant import create_llm
    from localvox.errors import LocalvoxError

    llm = create_llm(config)

    async def ask(text: str) -> Prediction:
        messages = [{"role": "system", "content": config.agent.system_prompt},
                    {"role": "user", "content": text}]
        calls = []
        async for chunk in llm.chat(messages, tools=schemas, stream=True):
            calls.extend(chunk.tool_calls)
        if not calls:
            return Prediction(None, {})
        try:
            args = json.loads(calls[0].arguments)
        except ValueError:
            return Prediction(calls[0].name, {}, "malformed JSON arguments")
        return Prediction(calls[0].name, args if isinstance(args, dict) else {})

    def predict(text: str) -> Prediction:
        try:
            return loop.run_until_complete(ask(text))
        except LocalvoxError as err:
            return Prediction("(error)", {}, str(err))

    return predict


def run(args: argparse.Namespace, config: Any) -> int:
    from localvox.agent.assistant import resolve_tool_mode

    mode = resolve_tool_mode(config) if args.mode == "config" else args.mode
    prompts = load_prompts(args.prompts, args.split)
    if args.limit:
        prompts = prompts[: args.limit]
    loop = asyncio.new_event_loop()
    with tempfile.TemporaryDirectory() as tmp:
        schemas = builtin_schemas(Path(tmp))
        if mode in ("intent", "hybrid"):
            # hybrid routes the built-ins with the router alone (the LLM is offered only
            # tools without templates), so on these sets it is the router's figure
            predict = intent_predictor(schemas)
            model = "(no LLM: templates + slots)"
        else:
            predict = native_predictor(config, schemas, loop)
            model = config.llm.model if config.llm.backend == "llama_cpp" else \
                f"{config.llm.remote_model} @ {config.llm.base_url}"
        result = score(prompts, predict)
    loop.close()
    result.update({"mode": mode, "backend": config.llm.backend, "model": model,
                   "split": args.split})
    print(f"tool routing: mode={mode} backend={config.llm.backend} model={model} "
          f"split={args.split}")
    print(f"  tool choice      {result['tool_correct']:3d}/{result['prompts']:<3d} "
          f"{100 * result['tool_accuracy']:5.1f}%")
    print(f"  arguments        {result['arg_correct']:3d}/"
          f"{sum(v['tool_ok'] for k, v in result['per_tool'].items() if k != '(no tool)'):<3d} "
          f"{100 * result['arg_accuracy']:5.1f}%  (of tool prompts routed right)")
    print(f"  chit-chat calls  {result['chitchat_false_tool_calls']:3d}/"
          f"{result['chitchat_prompts']:<3d} (tool calls on prompts that need none)")
    print(f"  time             {result['seconds']:.1f} s "
          f"({1000 * result['seconds'] / max(1, len(prompts)):.0f} ms per prompt)")
    print("  per tool: " + ", ".join(f"{k} {v['tool_ok']}/{v['n']}"
                                      for k, v in result["per_tool"].items()))
    if args.verbose:
        for miss in result["misses"]:
            print(f"  miss: {miss['text']!r}: want {miss['want']} {miss['want_args']}, "
                  f"got {miss['got']} {miss['got_args']} {miss['error']}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2), encoding="utf-8")
        print(f"wrote {args.json}")
    return 0
