"""``localvox example NAME [--text]``: run one of the article's agents.

``--text`` reads lines (from the terminal, or from stdin when piped, one turn per line)
and prints the replies; without it the example runs in the speech loop, like any app's
``app.run()`` (``localvox.agent.launch``): the TUI on a terminal, lines otherwise.
"""

from __future__ import annotations

import argparse
from typing import Any

NAME = "example"
HELP = "run an example agent (weather, bank, sentiment, barista) by voice or with --text"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from localvox.examples import EXAMPLES

    from localvox.commands._runflags import add_run_arguments

    p.add_argument("name", choices=sorted(EXAMPLES), help="which example")
    p.add_argument("--text", dest="example_text", action="store_true",
                   help="type instead of talking (no speech models; --chat)")
    add_run_arguments(p, nested=True, text=False)
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
    """The example is an ordinary app: it runs through ``App.run``'s launcher, so it gets
    the TUI, line mode, WAV input/output and ``--serve`` like any user's agent.
    ``--text`` here keeps its old meaning: typed turns without the speech models
    (``--chat`` of the launcher)."""
    from localvox.agent.launch import launch

    app = _app(args, config)
    if getattr(args, "example_text", False) or getattr(args, "text_mode", False):
        args.chat = True
    return launch(app, args, config, name=args.name)
