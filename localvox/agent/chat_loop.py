"""``--chat``: typed turns straight into an app's session, no speech models.

What ``localvox example NAME --text`` always was, for any app: ``you> `` / ``agent> `` lines,
what the agent says on join and after a reply (a timer going off), tool failures, errors
and handoffs as bracketed lines. Piped stdin is one turn per line.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Any

from localvox.agent.app_agent import handoff_notice
from localvox.agent.launch import finish

if TYPE_CHECKING:
    from localvox.agent.app import App

__all__ = ["chat_loop"]


async def chat_loop(app: "App", stdin: Any = None, stdout: Any = None) -> int:
    """Typed turns into the session, replies printed (``you> `` / ``agent> `` lines)."""
    from localvox.agent import events as ev
    from localvox.agent.client import take_announcements

    stdin = stdin or sys.stdin
    out = stdout or sys.stdout
    interactive = stdin.isatty()

    def show(text: str) -> None:
        out.write(text)
        out.flush()

    session = await app.open_session(transport="chat")
    for line in take_announcements():
        print(f"[info] {line}", file=sys.stderr, flush=True)
    try:
        stream = session.events()      # what the agent says when the user joins
        await session.send(ev.UserJoined())
        await session.idle(5)
        stream.close()
        async for e in stream:
            if isinstance(e, ev.Speak):
                show(f"agent> {e.text}\n")
        loop = asyncio.get_running_loop()
        while not session.ended:
            if interactive:
                show("you> ")
            line = await loop.run_in_executor(None, stdin.readline)
            if not line:
                break
            text = line.strip()
            if not text:
                continue
            if not interactive:
                show(f"you> {text}\n")
            show("agent> ")
            after = session.events()  # what the agent says once the reply is over
            async for e in session.turn(text):
                if isinstance(e, (ev.ResponseChunk, ev.Speak)):
                    show(e.text)
                elif isinstance(e, ev.ToolCallError):
                    show(f"\n[tool error: {e.error.splitlines()[0]}]\n")
                elif isinstance(e, ev.ErrorEvent):
                    show(f"\n[{e.severity}: {e.message.splitlines()[0]}]")
                elif isinstance(e, ev.TransferCall):
                    show(f"\n[{handoff_notice(e)}]")
                elif isinstance(e, ev.EndCall):
                    show("\n[call ended]")
            show("\n")
            await session.idle(5)
            after.close()
            replied = False
            async for e in after:
                if isinstance(e, ev.ResponseEnd):
                    replied = True
                elif replied and isinstance(e, ev.Speak):
                    show(f"agent> {e.text}\n")
        await session.idle(5)
    finally:
        await app.close()
        finish(app)
    return 0
