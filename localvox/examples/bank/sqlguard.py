"""A read-only SQL sandbox that shows the database one verified customer's rows only.

The LLM may write SELECT queries; this module makes SQLite itself enforce what they may
touch, because no text filter survives comments, unions, CTEs and quoting tricks:

1. The connection is opened with ``mode=ro``: SQLite refuses every write to the bank file.
2. At verification time the customer's own rows are copied into TEMP tables
   (``transactions``, ``accounts``, ``cards``, ``fixed_deposits``, ``profile``), exposing
   only safe columns (last four digits, never full card or account numbers). TEMP names
   shadow the main tables, so ``SELECT ... FROM transactions`` just works.
3. An authorizer then allows exactly: SELECT, reads of those TEMP tables and their
   columns, and a whitelist of pure functions. Every read of the ``main`` schema (so every
   ``main.customers``, UNION or subquery trick), ``sqlite_master``, PRAGMA, ATTACH,
   recursive CTEs, writes, DDL, transactions and functions such as ``load_extension`` are
   denied while the statement is prepared, before anything runs.
4. Python's sqlite3 executes one statement only; trailing statements are refused.
5. A progress handler stops queries past a VM-instruction budget or a wall-clock deadline,
   and results are capped at ``max_rows``. ``setlimit`` bounds SQL length, string size,
   compound selects and expression depth.

Other customers' rows are not in the tables this connection may read, so no query shape
can reach them.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localvox.errors import LocalvoxError
from localvox.examples.bank.db import connect_ro


class QueryRefused(LocalvoxError):
    """The SQL tool refused a query; the message says why and what is allowed."""


# name -> (SELECT over main, filtered by customer id, producing exactly the exposed columns)
VIEWS: dict[str, str] = {
    "transactions": (
        "SELECT t.id AS id, t.posted_on AS posted_on, t.merchant AS merchant, "
        "t.category AS category, t.amount_paise AS amount_paise, t.direction AS direction, "
        "t.channel AS channel, t.description AS description, "
        "substr(a.account_number, -4) AS account_last4, "
        "(SELECT c.type FROM main.cards c WHERE c.id = t.card_id) AS card_type, "
        "(SELECT c.last_four FROM main.cards c WHERE c.id = t.card_id) AS card_last4 "
        "FROM main.transactions t JOIN main.accounts a ON a.id = t.account_id "
        "WHERE t.customer_id = :cid ORDER BY t.posted_on, t.id"),
    "accounts": (
        "SELECT substr(account_number, -4) AS account_last4, type, balance_paise, opened_on "
        "FROM main.accounts WHERE customer_id = :cid"),
    "cards": (
        "SELECT type, last_four AS card_last4, expiry, credit_limit_paise, status "
        "FROM main.cards WHERE customer_id = :cid"),
    "fixed_deposits": (
        "SELECT fd_number, principal_paise, rate_bps, opened_on, maturity_on, status, "
        "closed_on, payout_paise FROM main.fixed_deposits WHERE customer_id = :cid"),
    "profile": "SELECT name, city FROM main.customers WHERE id = :cid",
}

SCHEMA_HELP = (
    "Tables (only your own rows): transactions(id, posted_on 'YYYY-MM-DD', merchant, category, "
    "amount_paise INTEGER, direction 'debit'|'credit', channel, description, account_last4, "
    "card_type, card_last4); accounts(account_last4, type, balance_paise, opened_on); "
    "cards(type, card_last4, expiry, credit_limit_paise, status); fixed_deposits(fd_number, "
    "principal_paise, rate_bps, opened_on, maturity_on, status, closed_on, payout_paise); "
    "profile(name, city). Amounts are integer paise (100 paise = 1 rupee).")

ALLOWED_FUNCTIONS = frozenset({
    "count", "sum", "total", "avg", "min", "max", "abs", "round", "lower", "upper", "length",
    "substr", "substring", "trim", "ltrim", "rtrim", "instr", "coalesce", "ifnull", "nullif",
    "iif", "date", "strftime", "julianday", "like", "glob", "printf", "format", "typeof",
})

_FENCE = re.compile(r"^\s*```(?:sql)?\s*|\s*```\s*$", re.IGNORECASE)

_ACTIONS = ("CREATE_INDEX CREATE_TABLE CREATE_TEMP_INDEX CREATE_TEMP_TABLE CREATE_TEMP_TRIGGER "
            "CREATE_TEMP_VIEW CREATE_TRIGGER CREATE_VIEW DELETE DROP_INDEX DROP_TABLE "
            "DROP_TEMP_INDEX DROP_TEMP_TABLE DROP_TEMP_TRIGGER DROP_TEMP_VIEW DROP_TRIGGER "
            "DROP_VIEW INSERT PRAGMA READ SELECT TRANSACTION UPDATE ATTACH DETACH ALTER_TABLE "
            "REINDEX ANALYZE CREATE_VTABLE DROP_VTABLE FUNCTION SAVEPOINT RECURSIVE").split()
_ACTION_NAMES = {getattr(sqlite3, f"SQLITE_{n}"): n for n in _ACTIONS if hasattr(sqlite3, f"SQLITE_{n}")}


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[dict[str, Any]]
    truncated: bool = False


@dataclass
class _Limits:
    time_limit_s: float = 2.0
    max_vm_steps: int = 20_000_000
    max_rows: int = 1000
    max_sql_chars: int = 4000


@dataclass
class CustomerSQL:
    """One verified customer's read-only view of the bank. Build one per session."""

    db_path: Path
    customer_id: int
    limits: _Limits = field(default_factory=_Limits)

    def __post_init__(self) -> None:
        # One connection, used by one thread at a time: parallel tool calls run in worker
        # threads, and two statements sharing the authorizer/progress state (or SQLite's
        # connection mutex while a Python callback waits for the GIL) would deadlock.
        self._lock = threading.RLock()
        self._con = connect_ro(Path(self.db_path))
        self._con.row_factory = None
        self._denied: str | None = None
        self._load()

    # -- setup ------------------------------------------------------------------------------
    def _load(self) -> None:
        """(Re)copy the customer's rows into TEMP tables, with no authorizer installed."""
        con = self._con
        con.set_authorizer(None)
        con.execute("PRAGMA temp_store = MEMORY")
        for name, select in VIEWS.items():
            con.execute(f"DROP TABLE IF EXISTS temp.{name}")
            con.execute(f"CREATE TEMP TABLE {name} AS {select}", {"cid": int(self.customer_id)})
        self._columns = {name: {row[1] for row in con.execute(f"PRAGMA temp.table_info({name})")}
                         for name in VIEWS}
        self._main_tables = {row[0].lower() for row in con.execute(
            "SELECT name FROM main.sqlite_master WHERE type IN ('table', 'view')")}
        self._main_tables |= {"sqlite_master", "sqlite_schema", "sqlite_temp_master",
                              "sqlite_temp_schema", "sqlite_sequence", "sqlite_stat1"}
        self._main_tables -= set(VIEWS)
        con.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, self.limits.max_sql_chars)
        con.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 1_000_000)
        con.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        con.setlimit(sqlite3.SQLITE_LIMIT_COMPOUND_SELECT, 8)
        con.setlimit(sqlite3.SQLITE_LIMIT_EXPR_DEPTH, 64)
        con.set_authorizer(self._authorize)

    def refresh(self) -> None:
        """Re-read the customer's rows (after an action changed them)."""
        with self._lock:
            self._load()

    def close(self) -> None:
        with self._lock:
            self._con.close()

    # -- the authorizer -----------------------------------------------------------------------
    def _deny(self, why: str) -> int:
        if self._denied is None:
            self._denied = why
        return sqlite3.SQLITE_DENY

    def _authorize(self, action: int, arg1: str | None, arg2: str | None,
                   db: str | None, _ctx: str | None) -> int:
        if action == sqlite3.SQLITE_SELECT:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_READ:
            table, column = (arg1 or "").lower(), (arg2 or "")
            if not column and db is None and table not in self._main_tables:
                # "SELECT count(*) FROM x" with an unqualified x: a table is named but no
                # column is read. Unqualified names of ours resolve to TEMP (it shadows
                # main); a name that is not a main table is a CTE whose body was checked.
                return sqlite3.SQLITE_OK
            if db not in ("temp", None) or table not in self._columns:
                where = f"{db}.{arg1}" if db else str(arg1)
                return self._deny(f"reading {where} is not allowed; only your own tables "
                                  f"({', '.join(VIEWS)}) can be queried")
            if column and column not in self._columns[table]:
                return self._deny(f"column {column} of {table} is not available")
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_FUNCTION:
            if (arg2 or "").lower() in ALLOWED_FUNCTIONS:
                return sqlite3.SQLITE_OK
            return self._deny(f"the function {arg2}() is not allowed")
        if action == getattr(sqlite3, "SQLITE_RECURSIVE", 33):
            self._denied = None  # the clearer reason wins
            return self._deny("recursive queries are not allowed")
        name = _ACTION_NAMES.get(action, str(action)).removeprefix("SQLITE_")
        return self._deny(f"{name.replace('_', ' ').lower()} is not allowed; "
                          "only a single SELECT statement can run")

    def _progress(self) -> int:
        self._steps += 1
        if self._steps * 1000 > self.limits.max_vm_steps or time.monotonic() > self._deadline:
            self._denied = self._denied or "the query was stopped: it took too long"
            return 1
        return 0

    # -- queries -----------------------------------------------------------------------------
    def query(self, sql: str) -> QueryResult:
        """Run one SELECT. Raises ``QueryRefused`` with a one-line reason on any refusal."""
        with self._lock:
            return self._query(sql)

    def _query(self, sql: str) -> QueryResult:
        if not isinstance(sql, str):
            raise QueryRefused("Refused: the query must be text.")
        sql = _FENCE.sub("", sql).strip()
        if not sql:
            raise QueryRefused("Refused: the query is empty.")
        if len(sql) > self.limits.max_sql_chars:
            raise QueryRefused(f"Refused: the query is longer than {self.limits.max_sql_chars} "
                               "characters.")
        self._denied = None
        self._steps = 0
        self._deadline = time.monotonic() + self.limits.time_limit_s
        self._con.set_progress_handler(self._progress, 1000)
        cur = self._con.cursor()
        try:
            cur.execute(sql)
            if cur.description is None:
                raise QueryRefused("Refused: only a SELECT that returns rows can run.")
            rows = cur.fetchmany(self.limits.max_rows + 1)
        except sqlite3.ProgrammingError as err:
            if "one statement" in str(err):
                raise QueryRefused("Refused: only a single statement can run.") from None
            raise QueryRefused(f"Refused: {err}.") from None
        except sqlite3.Warning as err:  # older Pythons signal extra statements this way
            raise QueryRefused("Refused: only a single statement can run.") from err
        except sqlite3.DatabaseError as err:
            reason = self._denied or str(err)
            raise QueryRefused(f"Refused: {reason}. {SCHEMA_HELP}") from None
        finally:
            cur.close()
            self._con.set_progress_handler(None, 0)
        names = [d[0] for d in cur.description or []]
        truncated = len(rows) > self.limits.max_rows
        rows = rows[: self.limits.max_rows]
        return QueryResult(names, [dict(zip(names, r)) for r in rows], truncated)
