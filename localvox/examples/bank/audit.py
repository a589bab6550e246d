"""Append-only audit trail in SQLite, written off the reply path.

``AuditStore`` owns one writer thread: callers enqueue a record and return at once, the
thread commits each record in its own transaction (WAL, ``synchronous=FULL``), so a
killed process loses nothing that was committed and the reply never waits for a disk.
Triggers make the table append-only (UPDATE and DELETE abort), and every record carries
a SHA-256 chained over the previous one, so an edit made with the triggers dropped is
still detectable (``verify_chain``). Card and account numbers are masked before a record
is queued: nothing longer than four digits of one reaches the file.

``AuditLogger`` (in ``audit_node``) is the background node that turns session events into
records.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import queue
import re
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

AUDIT_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    ts TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_session ON audit_log(session_id, seq);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
"""

KINDS = ("CALL_START", "CALL_END", "TRANSCRIPT", "TOOL_CALL_START", "TOOL_CALL_END",
         "TOOL_CALL_ERROR", "VERIFICATION", "TRANSFER", "ERROR")

# Account numbers have 12 digits and cards 16: mask any run of 12+ digits, allowing spaces
# or hyphens between groups ("4111 1111 ..."), and the same spelled out as digit words.
# Amounts in paise (at most 11 digits below ten crore rupees) and dates stay readable.
_LONG_NUMBER = re.compile(r"(?<![\w])\d(?:[ -]?\d){11,}(?![\w])")
_DIGIT_WORD = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|double|triple)"
_SPOKEN_NUMBER = re.compile(rf"\b{_DIGIT_WORD}(?:[\s,-]+{_DIGIT_WORD}){{11,}}\b", re.IGNORECASE)


def mask_numbers(text: str) -> str:
    """'4230548958820062' -> 'XXXXXXXXXXXX0062'; amounts, years and last fours stay."""
    def repl(m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        return "X" * (len(digits) - 4) + digits[-4:]

    def spoken(m: re.Match[str]) -> str:
        from localvox.examples.bank.verification import spoken_digits

        digits = spoken_digits(m.group(0))
        return "X" * max(len(digits) - 4, 8) + digits[-4:]
    return _SPOKEN_NUMBER.sub(spoken, _LONG_NUMBER.sub(repl, text))


def mask(value: Any) -> Any:
    """Mask every string inside a JSON-like value (keys included)."""
    if isinstance(value, str):
        return mask_numbers(value)
    if isinstance(value, dict):
        return {mask(k): mask(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**11:
        return mask_numbers(str(value))
    return value


def preview(text: Any, limit: int = 500) -> str:
    s = text if isinstance(text, str) else json.dumps(text, default=str)
    return s if len(s) <= limit else s[:limit] + "…"


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    session_id: str
    ts: str
    kind: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


def _hash(prev: str, session_id: str, ts: str, kind: str, payload: str) -> str:
    return hashlib.sha256("\x1f".join((prev, session_id, ts, kind, payload)).encode()).hexdigest()


def open_audit_db(path: Path) -> sqlite3.Connection:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=10)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.executescript(AUDIT_SCHEMA)
    return con


class AuditStore:
    """Queue-fed writer: ``log`` never blocks on disk; ``flush`` waits for the queue."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._con = open_audit_db(self.path)
        self._queue: queue.Queue[tuple[str, str, str, str] | None] = queue.Queue()
        self._errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def log(self, session_id: str, kind: str, payload: dict[str, Any]) -> None:
        ts = dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")
        text = json.dumps(mask(payload), ensure_ascii=False, sort_keys=True, default=str)
        self._queue.put((session_id, ts, kind, text))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._write(*item)
            except BaseException as err:  # keep writing later records; report on flush
                self._errors.append(err)
            finally:
                self._queue.task_done()

    def _write(self, session_id: str, ts: str, kind: str, text: str) -> None:
        con = self._con
        con.execute("BEGIN IMMEDIATE")  # serialises hash chaining across processes
        try:
            row = con.execute("SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
            prev = row[0] if row else ""
            con.execute("INSERT INTO audit_log (session_id, ts, kind, payload, prev_hash, hash)"
                        " VALUES (?,?,?,?,?,?)",
                        (session_id, ts, kind, text, prev, _hash(prev, session_id, ts, kind, text)))
            con.execute("COMMIT")
        except BaseException:
            # On SQLITE_FULL SQLite has already rolled back; a second ROLLBACK would raise
            # "no transaction is active" and hide the real cause ("disk is full").
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise

    def flush(self) -> None:
        """Wait until every queued record is committed."""
        self._queue.join()
        if self._errors:
            # Report the first failure once; later ones are the same outage, not news.
            err = self._errors[0]
            self._errors.clear()
            raise RuntimeError(f"audit write failed: {err}") from err

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=10)
        self._con.close()


def read_trail(path: Path, session_id: str | None = None) -> list[AuditRecord]:
    """Records of one session (or all), oldest first, through a read-only connection."""
    from localvox.examples.bank.db import ro_uri

    con = sqlite3.connect(ro_uri(Path(path)), uri=True)
    try:
        sql = "SELECT seq, session_id, ts, kind, payload, prev_hash, hash FROM audit_log"
        rows = (con.execute(sql + " WHERE session_id = ? ORDER BY seq", (session_id,))
                if session_id else con.execute(sql + " ORDER BY seq")).fetchall()
    finally:
        con.close()
    return [AuditRecord(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6]) for r in rows]


def list_sessions(path: Path) -> list[tuple[str, str, int]]:
    """(session_id, first timestamp, record count), newest first."""
    from localvox.examples.bank.db import ro_uri

    con = sqlite3.connect(ro_uri(Path(path)), uri=True)
    try:
        return con.execute("SELECT session_id, min(ts), count(*) FROM audit_log "
                           "GROUP BY session_id ORDER BY min(seq) DESC").fetchall()
    finally:
        con.close()


def verify_chain(path: Path) -> tuple[bool, int | None]:
    """(intact, seq of the first bad record). Recomputes every hash in order."""
    from localvox.examples.bank.db import ro_uri

    con = sqlite3.connect(ro_uri(Path(path)), uri=True)
    try:
        prev = ""
        for seq, sid, ts, kind, payload, prev_hash, h in con.execute(
                "SELECT seq, session_id, ts, kind, payload, prev_hash, hash FROM audit_log "
                "ORDER BY seq"):
            if prev_hash != prev or _hash(prev, sid, ts, kind, payload) != h:
                return False, seq
            prev = h
    finally:
        con.close()
    return True, None
