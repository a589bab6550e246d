"""``localvox models``: what is installed, where it came from, and whether it is intact."""

from __future__ import annotations

import argparse
from typing import Any

NAME = "models"
HELP = "list the offline model packs and their status; `models verify` re-checks every hash"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", nargs="?", choices=["list", "verify"], default="list")


def _size(n: int) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 1e6 else f"{n / 1e3:,.0f} kB"


def run(args: argparse.Namespace, config: Any) -> int:
    from localvox.modelpacks import ModelResolver

    resolver = ModelResolver(config.models)
    verify = args.action == "verify"
    if verify:
        resolver._hashes.data.clear()  # re-hash everything, ignoring the remembered sums
    rows = resolver.statuses(verify=True)
    header = ("id", "kind", "source", "size", "status")
    table = [(r.id, r.kind, r.source, _size(r.size),
              r.status + (f": {r.detail}" if r.detail and r.status != "ok" else ""))
             for r in rows]
    widths = [max(len(str(x[i])) for x in [header, *table]) for i in range(4)]
    print("  ".join(h.ljust(w) for h, w in zip(header[:4], widths)) + "  status")
    for row in table:
        print("  ".join(str(c).ljust(w) for c, w in zip(row[:4], widths)) + "  " + row[4])
    bad = [r for r in rows if r.status not in ("ok", "custom")]
    if verify:
        print(f"\n{len(rows) - len(bad)} of {len(rows)} models verified.")
    return 1 if bad else 0
