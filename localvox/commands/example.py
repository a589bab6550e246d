"""``localvox example NAME [--text]``: run one of the article's agents.

``--text`` reads lines (from the terminal, or from stdin when piped, one turn per line)
and prints the replies; without it the example runs in the speech loop.
"""

from __future__ import annotations

import argparse
from typing import Any

NAME = "example"
HELP = "run an example agent (weather, bank, sentiment, barista) by voice or with --text"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from localvox.examples import EXAMPLES

    p.add_argument("name", choices=sorted(EXAMPLES), help="which example")
    p.add_argument("--text", dest="example_text", action="store_true",
                   help="type instead of talking")
    p.add_argument("--input", metavar="WAV", help="voice mode: a WAV file as the microphone")
    p.add_argument("--output", metavar="WAV", help="voice mode: write the speech to a WAV file")
    p.add_argument("--bank-db", metavar="FILE", help="bank example: the bank database "
                   "(created and seeded if missing; default in the user data dir)")
    p.add_argument("--audit-db", metavar="FILE", help="bank example: the audit database")
    p.add_argument("--today", metavar="YYYY-MM-DD", help="bank example: pretend today is this "
                   "date (the seeded data ends on 2025-06-30)")


def _app(args: argparse.Namespace, config: Any) -> Any:
    import datetime as dt
    import importlib
    from pathlib import Path

    from localvox.errors import ConfigError
    from localvox.examples import EXAMPLES

    module = importlib.import_module(EXAMPLES[args.name][0])
    kw: dict[str, Any] = {}
    if args.name == "bank":
        if args.bank_db:
            kw["bank_path"] = Path(args.bank_db)
        if args.audit_db:
            kw["audit_path"] = Path(args.audit_db)
        if args.today:
            try:
                kw["today"] = dt.date.fromisoformat(args.today)
            except ValueError:
                raise ConfigError(f"--today {args.today!r} is not a date like 2025-06-30") from None
    return module.create_app(config, **kw)


def run(args: argparse.Namespace, config: Any) -> int:
    import asyncio

    app = _app(args, config)
    if args.example_text or getattr(args, "text_mode", False):
        return asyncio.run(_text_loop(app))
    return _voice(app, args, config)


def _voice(app: Any, args: argparse.Namespace, config: Any) -> int:
    """The example as the agent of the speech loop (wake word, ASR, TTS, barge-in)."""
    import asyncio

    from localvox.errors import LocalvoxError

    try:
        from localvox.pipeline.agent_port import SessionAgent
        from localvox.pipeline.factory import build_engine
        from localvox.tui.textmode import run_text_mode
    except ImportError:
        raise LocalvoxError("the speech loop is not available in this build; "
                            f"run `localvox example {args.name} --text`") from None

    async def main() -> int:
        session = await app.open_session()
        try:
            agent = SessionAgent(session)
            for said in await agent.join():
                print(f"[{args.name} greets] {said}", flush=True)
            engine = await build_engine(config, agent=agent,
                                        input_path=getattr(args, "input", None),
                                        output_path=getattr(args, "output", None))
            follower = _bias_follower(app, engine, config)
            try:
                return int(await run_text_mode(engine) or 0)
            finally:
                if follower is not None:
                    await follower.stop()
        finally:
            await app.close()
            finish = getattr(app, "finish", None)
            if finish is not None:
                finish()

    return asyncio.run(main())


def _bias_follower(app: Any, engine: Any, config: Any) -> Any:
    """Tell the recogniser what the example's tools expect (examples that say so)."""
    vocabulary = getattr(app, "vocabulary", None)
    if vocabulary is None or not config.asr.bias:
        return None
    from localvox.agent.listen import BiasFollower

    wake = config.wake.model if config.wake.mode == "wake" else ""
    follower = BiasFollower(engine, lambda question: vocabulary(question, wake_word=wake),
                            notify=lambda line: print(f"[note] {line}", flush=True))
    follower.start()
    return follower


async def _text_loop(app: Any) -> int:
    import sys

    from localvox.agent import events as ev

    interactive = sys.stdin.isatty()
    session = await app.open_session()
    out = sys.stdout

    def show(text: str) -> None:
        out.write(text)
        out.flush()

    try:
        async def greet() -> None:
            # anything said on join (a greeting) arrives as Speak events
            stream = session.events()
            await session.send(ev.UserJoined())
            await session.idle(5)
            stream.close()
            async for e in stream:
                if isinstance(e, ev.Speak):
                    show(f"agent> {e.text}\n")

        await greet()
        loop = asyncio_loop()
        while not session.ended:
            if interactive:
                show("you> ")
            line = await loop.run_in_executor(None, sys.stdin.readline)
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
                elif isinstance(e, ev.ErrorEvent):
                    show(f"\n[{e.severity}: {e.message.splitlines()[0]}]")
                elif isinstance(e, ev.TransferCall):
                    show(f"\n[transferring ({e.option.type.value}) to {e.number}]")
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
        closer = getattr(app, "finish", None)
        if closer is not None:
            closer()
    return 0


def asyncio_loop() -> Any:
    import asyncio

    return asyncio.get_running_loop()
