"""``localvox bench NAME``: measured benchmarks, one module each in ``localvox.bench``.

A bench module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args, config) -> int``; it prints a table and writes JSON. Like commands, bench
modules import nothing heavy at module level.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from types import ModuleType
from typing import Any

NAME = "bench"
HELP = ("run a benchmark (latency, asr, commands, wake, tools, system, echo) and print "
        "measured figures")


def _benches() -> dict[str, ModuleType]:
    import localvox.bench as pkg

    found: dict[str, ModuleType] = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_") or info.name in ("common", "wake_set", "wake_report"):
            continue
        mod = importlib.import_module(f"localvox.bench.{info.name}")
        if hasattr(mod, "NAME") and hasattr(mod, "run"):
            found[mod.NAME] = mod
    return found


def add_arguments(p: argparse.ArgumentParser) -> None:
    from localvox.cli import add_config_flags

    sub = p.add_subparsers(dest="bench", metavar="NAME", required=True)
    for name, mod in _benches().items():
        bp = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        add_config_flags(bp, nested=True)
        bp.add_argument("--json", metavar="FILE", help="write the results as JSON here")
        bp.add_argument("--plot", metavar="PNG", help="draw the results (matplotlib)")
        mod.add_arguments(bp)


def run(args: argparse.Namespace, config: Any) -> int:
    return int(_benches()[args.bench].run(args, config) or 0)
