"""``localvox audit show [SESSION]``: print a call's audit trail (the bank example's log)."""

from __future__ import annotations

import argparse
from typing import Any

NAME = "audit"
HELP = "show the audit trail of example calls: `audit show [SESSION]`, `audit verify`"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["show", "list", "verify"], nargs="?", default="show")
    p.add_argument("session", nargs="?", help="session id (default: the latest call)")
    p.add_argument("--db", metavar="FILE", help="audit database (default in the user data dir)")


def run(args: argparse.Namespace, config: Any) -> int:
    import json
    from pathlib import Path

    from localvox.errors import LocalvoxError
    from localvox.examples.bank.audit import list_sessions, read_trail, verify_chain
    from localvox.examples.bank.db import default_audit_path

    path = Path(args.db) if args.db else default_audit_path()
    if not path.exists():
        raise LocalvoxError(f"no audit log at {path}; run `localvox example bank --text` first")
    if args.action == "verify":
        ok, bad = verify_chain(path)
        print("audit chain intact" if ok else f"audit chain broken at record {bad}")
        return 0 if ok else 1
    sessions = list_sessions(path)
    if args.action == "list":
        for sid, ts, n in sessions:
            print(f"{sid}  {ts}  {n} records")
        return 0
    if not sessions:
        raise LocalvoxError(f"the audit log at {path} is empty")
    sid = args.session or sessions[0][0]
    records = read_trail(path, sid)
    if not records:
        raise LocalvoxError(f"no session {sid!r} in {path}; `localvox audit list` shows them")
    print(f"session {sid}: {len(records)} records")
    for r in records:
        p = r.payload
        if r.kind == "TRANSCRIPT":
            detail = f"{p.get('role')}: {p.get('content')}"
        elif r.kind.startswith("TOOL_CALL"):
            extra = p.get("arguments", p.get("result_preview", p.get("error", "")))
            detail = f"{p.get('tool')} {json.dumps(extra, ensure_ascii=False)[:160]}"
        else:
            detail = json.dumps(p, ensure_ascii=False)[:200]
        print(f"{r.seq:>6}  {r.ts[11:23]}  {r.kind:<16} {detail}")
    return 0
