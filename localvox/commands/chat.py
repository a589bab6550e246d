"""``localvox chat``: a text conversation with the default assistant (same agent, tools and
routing as the voice loop, minus the audio).

Interactive on a terminal; with stdin from a pipe or file it answers each line and exits,
so ``printf 'What is 12 times 7?\\n' | localvox chat`` prints the answer. Errors (a dead
LLM server, a bad tool argument) are one line on stderr and the conversation goes on.
Timers and alarms that go off while chatting are printed as the assistant speaks them.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

NAME = "chat"
HELP = "chat with the assistant in text (reads lines from stdin when piped)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tool-mode", choices=["auto", "hybrid", "intent", "native"], default=None,
                   help="how tools are chosen (sets llm.tool_mode)")
    p.add_argument("--verbose", action="store_true", help="log agent internals to stderr")
    p.add_argument("--show-tools", action="store_true",
                   help="print each tool call and its result")


def run(args: argparse.Namespace, config: Any) -> int:
    import asyncio
    import logging

    if args.tool_mode:
        config.llm.tool_mode = args.tool_mode
    logging.basicConfig(level=logging.INFO if args.verbose else logging.CRITICAL,
                        format="%(levelname)s %(name)s: %(message)s")
    return asyncio.run(_chat(config, show_tools=args.show_tools))


async def _chat(config: Any, *, show_tools: bool) -> int:
    import asyncio

    from localvox.agent.assistant import create_app
    from localvox.agent.events import (ErrorEvent, ResponseChunk, ResponseEnd, Speak,
                                       ToolCallEnd, ToolCallError, ToolCallStart)

    interactive = sys.stdin.isatty()
    app = create_app(config)
    session = await app.open_session()
    line_open = False

    def write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    async def printer() -> None:
        nonlocal line_open
        async for event in session.events():
            if isinstance(event, ResponseChunk):
                write(event.text)
                line_open = True
            elif isinstance(event, ResponseEnd):
                if line_open:
                    write("\n")
                line_open = False
            elif isinstance(event, Speak):
                # timers and alarms going off (speak() outside a reply)
                write(("\n" if line_open else "") + event.text + "\n")
                line_open = False
                if interactive:
                    write("you> ")
            elif isinstance(event, ErrorEvent):
                if line_open:
                    write("\n")
                    line_open = False
                print(f"localvox: {event.message}", file=sys.stderr, flush=True)
            elif show_tools and isinstance(event, ToolCallStart):
                print(f"[tool] {event.name}({event.arguments})", file=sys.stderr)
            elif show_tools and isinstance(event, (ToolCallEnd, ToolCallError)):
                result = getattr(event, "result", None) or getattr(event, "error", "")
                print(f"[tool] {event.name} -> {result}", file=sys.stderr)

    printing = asyncio.create_task(printer())
    await asyncio.sleep(0)  # subscribe before the first turn
    try:
        if interactive:
            print("localvox chat: type a message; Ctrl-D or /quit to leave.", file=sys.stderr)
        while True:
            if interactive:
                try:
                    line = await asyncio.to_thread(input, "you> ")
                except EOFError:
                    break
            else:
                line = await asyncio.to_thread(sys.stdin.readline)
                if not line:
                    break
            text = line.strip()
            if not text:
                continue
            if text in ("/quit", "/exit"):
                break
            async for _ in session.turn(text):
                pass
            await asyncio.sleep(0)  # let the printer catch up with the last events
            if session.ended:
                break
    except KeyboardInterrupt:
        pass
    finally:
        await asyncio.sleep(0.05)
        printing.cancel()
        await asyncio.gather(printing, return_exceptions=True)
        await app.close()
        llm = getattr(session.nodes[0], "llm", None) if session.nodes else None
        close = getattr(llm, "close", None)
        if close is not None:
            try:
                await close()
            except Exception:  # noqa: BLE001 - shutting down
                pass
    return 0
