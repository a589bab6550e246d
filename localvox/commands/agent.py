"""``localvox agent FILE.py``: run your own agent file in the speech loop.

``FILE.py`` makes an app (``AtomsApp(setup_handler=...)`` / ``localvox.agent.App``), at
module level or under ``if __name__ == "__main__":`` before ``app.run()``; it runs exactly
as ``python FILE.py`` would, with the same flags: the TUI, ``--text``, ``--input/--output
WAV``, ``--serve HOST:PORT``, ``--chat``, and every ``localvox`` configuration flag.
"""

from __future__ import annotations

import argparse
from typing import Any

NAME = "agent"
HELP = "run your own agent file (a FILE.py that makes an App) by voice, text or WebSocket"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from localvox.commands._runflags import add_run_arguments

    p.add_argument("file", metavar="FILE.py", help="the Python file that makes `app`")
    add_run_arguments(p, nested=True)


def run(args: argparse.Namespace, config: Any) -> int:
    from pathlib import Path

    from localvox.agent.launch import launch, load_app

    return launch(load_app(args.file), args, config, name=Path(args.file).stem)
