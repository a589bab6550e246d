"""``localvox`` with no command: the terminal app (or ``--text`` line mode)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

NAME = "app"
HELP = "open the terminal app (the default when no command is given)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--text", "--no-tui", dest="text_mode", action="store_true",
                   help="plain line-based mode instead of the full-screen app")
    p.add_argument("--input", metavar="WAV", help="use a WAV file as the microphone")
    p.add_argument("--output", metavar="WAV", help="write speech to a WAV file")


def run(args: argparse.Namespace, config: Any) -> int:
    options = {"input_wav": getattr(args, "input", None),
               "output_wav": getattr(args, "output", None)}
    if getattr(args, "text_mode", False) or not sys.stdout.isatty():
        import asyncio

        from localvox.pipeline.factory import build_engine
        from localvox.tui.textmode import run_text_mode

        async def main() -> int:
            engine = await build_engine(config, progress=lambda _t: None, **options)
            return await run_text_mode(engine)

        return asyncio.run(main())
    from localvox.tui.app import LocalvoxApp, default_engine_factory

    LocalvoxApp(config, default_engine_factory(config, **options)).run()
    return 0
