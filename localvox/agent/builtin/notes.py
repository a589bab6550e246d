"""Note tools over a SQLite file, so notes outlive the session and every session shares them."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING

from localvox.agent.tools import function_tool

if TYPE_CHECKING:
    from localvox.config import Config

__all__ = ["NotesStore", "default_notes_path", "NoteTools"]


class NotesStore:
    """Notes in one SQLite file; a connection per call keeps it safe from any thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY "
                       "AUTOINCREMENT, text TEXT NOT NULL, created REAL NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=5)

    def add(self, text: str) -> int:
        with self._connect() as db:
            cur = db.execute("INSERT INTO notes (text, created) VALUES (?, ?)",
                             (text, time.time()))
            return int(cur.lastrowid or 0)

    def list(self) -> list[str]:
        with self._connect() as db:
            return [r[0] for r in db.execute("SELECT text FROM notes ORDER BY id")]

    def delete(self, number: int) -> str | None:
        """Delete the note at 1-based ``number`` in list order (-1: the last one)."""
        with self._connect() as db:
            rows = list(db.execute("SELECT id, text FROM notes ORDER BY id"))
            index = len(rows) - 1 if number == -1 else number - 1
            if not 0 <= index < len(rows):
                return None
            db.execute("DELETE FROM notes WHERE id = ?", (rows[index][0],))
            return rows[index][1]


def default_notes_path(config: "Config | None") -> Path:
    """``agent.notes_db`` from the config, else the XDG data dir (kept across upgrades)."""
    from localvox.config import xdg_dir

    if config is not None and config.agent.notes_db:
        return Path(config.agent.notes_db).expanduser()
    return xdg_dir("data") / "notes.sqlite3"


class NoteTools:
    """``add_note``, ``list_notes``, ``delete_note``. Mixed into :class:`BuiltinTools`,
    which provides ``notes``."""

    notes: NotesStore

    @function_tool
    def add_note(self, text: str) -> str:
        """Save a note to remember for later.

        Args:
            text: What to write down.
        """
        text = text.strip()
        if not text:
            raise ValueError("the note is empty")
        self.notes.add(text)
        return f"Noted: {text}."

    @function_tool
    def list_notes(self) -> str:
        """Read back all saved notes."""
        notes = self.notes.list()
        if not notes:
            return "You have no notes."
        listed = "; ".join(f"{i}: {n}" for i, n in enumerate(notes, 1))
        return f"You have {len(notes)} note{'s' if len(notes) != 1 else ''}. {listed}."

    @function_tool
    def delete_note(self, number: int) -> str:
        """Delete one saved note by its number in the list (1 is the first, -1 the last).

        Args:
            number: The note's position in the list.
        """
        removed = self.notes.delete(number)
        if removed is None:
            count = len(self.notes.list())
            return f"There is no note number {number}; you have {count}."
        return f"Deleted the note: {removed}."
