"""The flags every way of running an agent shares (``App.run``, ``localvox agent``,
``localvox example``). Kept here, import-light, so ``localvox --help`` stays instant."""

from __future__ import annotations

import argparse
from typing import Any


def add_run_arguments(p: argparse.ArgumentParser, *, nested: bool = False,
                      text: bool = True) -> None:
    """The run-mode flags; ``nested`` (a subcommand's parser) leaves earlier values alone;
    ``text=False`` for a command that gives ``--text`` its own meaning."""
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if nested else value

    g = p.add_argument_group("how to run the agent")
    if text:
        g.add_argument("--text", "--no-tui", dest="text_mode", action="store_true",
                       default=default(False),
                       help="plain line-based mode instead of the full-screen app")
    g.add_argument("--input", metavar="WAV", default=default(None),
                   help="use a WAV file as the microphone (headless with --text)")
    g.add_argument("--output", metavar="WAV", default=default(None),
                   help="write the agent's speech to a WAV file instead of the speaker")
    g.add_argument("--serve", metavar="HOST:PORT", default=default(None),
                   help="serve the agent over WebSocket (one session per connection)")
    g.add_argument("--chat", action="store_true", default=default(False),
                   help="typed turns only, no speech models (like `localvox chat`)")
