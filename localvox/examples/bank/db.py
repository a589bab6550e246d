"""The bank's SQLite schema, where the files live, and the two ways to open it.

Money is integer paise (``amount_paise``) so sums are exact. The agent never holds a
writable handle for reads: information queries go through ``sqlguard`` on a read-only
connection; the few actions (breaking a fixed deposit) use ``connect_rw`` inside one
short transaction after the verification level was checked in code.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

SCHEMA = """
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    dob TEXT NOT NULL,              -- YYYY-MM-DD
    city TEXT NOT NULL,
    phone TEXT NOT NULL,
    email TEXT NOT NULL
);
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    account_number TEXT NOT NULL UNIQUE,   -- 12 digits
    type TEXT NOT NULL CHECK (type IN ('savings')),
    balance_paise INTEGER NOT NULL,
    opened_on TEXT NOT NULL
);
CREATE TABLE cards (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    account_id INTEGER REFERENCES accounts(id),
    type TEXT NOT NULL CHECK (type IN ('debit', 'credit')),
    card_number TEXT NOT NULL UNIQUE,      -- 16 digits
    last_four TEXT NOT NULL,
    expiry TEXT NOT NULL,                  -- YYYY-MM
    credit_limit_paise INTEGER,
    status TEXT NOT NULL DEFAULT 'active'
);
CREATE TABLE fixed_deposits (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    fd_number TEXT NOT NULL UNIQUE,
    principal_paise INTEGER NOT NULL,
    rate_bps INTEGER NOT NULL,             -- 725 = 7.25 % a year
    opened_on TEXT NOT NULL,
    maturity_on TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'broken', 'matured')),
    closed_on TEXT,
    payout_paise INTEGER
);
CREATE TABLE transactions (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    card_id INTEGER REFERENCES cards(id),
    posted_on TEXT NOT NULL,               -- YYYY-MM-DD
    merchant TEXT NOT NULL,
    category TEXT NOT NULL,
    amount_paise INTEGER NOT NULL CHECK (amount_paise > 0),
    direction TEXT NOT NULL CHECK (direction IN ('debit', 'credit')),
    channel TEXT NOT NULL,
    description TEXT NOT NULL
);
CREATE INDEX tx_customer_date ON transactions(customer_id, posted_on);
"""


def default_bank_path() -> Path:
    from localvox.config import xdg_dir

    return xdg_dir("data") / "examples" / "bank.db"


def default_audit_path() -> Path:
    from localvox.config import xdg_dir

    return xdg_dir("data") / "audit.db"


def ro_uri(path: Path) -> str:
    """A read-only URI: SQLite itself refuses every write on this connection."""
    return f"file:{quote(str(Path(path).resolve()))}?mode=ro"


def connect_ro(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(ro_uri(path), uri=True, isolation_level=None, check_same_thread=False)
    con.row_factory = sqlite3.Row
    return con


def connect_rw(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    con.row_factory = sqlite3.Row
    con.execute("PRAGMA foreign_keys=ON")
    return con


def ensure_bank(path: Path | None = None) -> Path:
    """Create and seed the bank database on first use; return its path."""
    from localvox.examples.bank.seed import seed

    path = Path(path) if path else default_bank_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        seed(tmp)
        tmp.replace(path)  # atomic: a half-seeded bank is never visible
    return path
