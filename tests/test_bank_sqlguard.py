"""The SQL tool: SQLite itself refuses writes, other customers' rows and escapes."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from localvox.examples.bank.seed import seed
from localvox.examples.bank.sqlguard import CustomerSQL, QueryRefused

CUSTOMER = 1

HOSTILE = [
    # writes and DDL
    "DROP TABLE transactions",
    "DELETE FROM transactions",
    "UPDATE accounts SET balance_paise = 0",
    "INSERT INTO transactions (id) VALUES (99999)",
    "CREATE TABLE evil (x)",
    "CREATE TEMP VIEW v AS SELECT * FROM main.customers",
    "DROP TABLE temp.transactions",
    "INSERT INTO temp.transactions SELECT * FROM temp.transactions",
    "UPDATE temp.accounts SET balance_paise = 1",
    "BEGIN; UPDATE accounts SET balance_paise = 1; COMMIT",
    "SAVEPOINT s1",
    "REINDEX",
    "ANALYZE",
    "VACUUM INTO '/tmp/localvox-stolen-copy.db'",
    # more than one statement, hidden behind comments
    "SELECT 1; DROP TABLE customers",
    "SELECT * FROM transactions; DELETE FROM transactions",
    "SELECT * FROM transactions /* harmless */ ; DROP TABLE accounts -- ",
    "SELECT * FROM transactions -- \n; DELETE FROM transactions",
    "/* comment */ DELETE FROM transactions",
    # other customers' rows
    "SELECT * FROM main.transactions",
    "SELECT * FROM customers",
    "SELECT * FROM main.customers WHERE id = 2",
    'SELECT * FROM "main"."customers"',
    "SELECT * FROM [customers]",
    "SELECT count(*) FROM main.transactions",
    "SELECT (SELECT count(*) FROM main.transactions)",
    "SELECT card_number FROM main.cards",
    "SELECT account_number FROM accounts",
    "SELECT name, city FROM profile UNION SELECT name, city FROM main.customers",
    "SELECT merchant FROM transactions UNION ALL SELECT merchant FROM main.transactions "
    "WHERE customer_id = 2",
    "SELECT * FROM transactions WHERE merchant = '' OR 1=1 UNION SELECT * FROM main.transactions",
    "SELECT * FROM transactions WHERE id IN (SELECT id FROM main.transactions WHERE customer_id = 2)",
    "WITH t AS (SELECT * FROM main.transactions) SELECT * FROM t",
    "WITH transactions AS (SELECT * FROM main.transactions) SELECT sum(amount_paise) FROM transactions",
    "SELECT * FROM main.accounts a JOIN transactions t ON 1",
    "SELECT rowid FROM transactions",
    # schema, pragmas, attach, files, extensions
    "SELECT * FROM sqlite_master",
    "SELECT sql FROM sqlite_temp_master",
    "PRAGMA table_info(customers)",
    "PRAGMA writable_schema = 1",
    "SELECT * FROM pragma_table_info('customers')",
    "SELECT group_concat(name) FROM pragma_database_list",
    "ATTACH DATABASE '/tmp/localvox-evil.db' AS evil",
    "DETACH DATABASE main",
    "SELECT load_extension('/tmp/evil.so')",
    "SELECT readfile('/etc/passwd')",
    "SELECT writefile('/tmp/x', 'data')",
    "SELECT sqlite_version()",
    # resource bombs
    "WITH RECURSIVE bomb(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM bomb) SELECT count(*) FROM bomb",
    "SELECT count(*) FROM transactions a, transactions b, transactions c, transactions d",
    "SELECT randomblob(1000000000)",
    "SELECT zeroblob(1000000000)",
    "SELECT replace(hex(zeroblob(100000000)), '0', 'a')",
    "SELECT 1 " + "UNION SELECT 1 " * 50,
    "SELECT * FROM transactions WHERE merchant = '" + "A" * 5000 + "'",
    "",
]


def _checksum(path: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(path.parent.glob(path.name + "*")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def bank(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bank") / "bank.db"
    seed(path)
    return path


@pytest.fixture(scope="module")
def sandbox(bank):
    box = CustomerSQL(bank, CUSTOMER)
    yield box
    box.close()


def test_corpus_is_large_enough():
    assert len(HOSTILE) >= 30
    assert len(set(HOSTILE)) == len(HOSTILE)


def test_every_hostile_query_is_refused_and_the_bank_is_unchanged(bank, sandbox):
    before = _checksum(bank)
    own_before = sandbox.query("SELECT count(*) AS n, sum(amount_paise) AS s FROM transactions").rows
    refused = []
    for sql in HOSTILE:
        with pytest.raises(QueryRefused) as info:
            sandbox.query(sql)
        msg = str(info.value)
        assert msg.startswith("Refused: ") and "\n" not in msg.split(". Tables")[0], sql
        refused.append(msg)
    assert _checksum(bank) == before
    assert not Path("/tmp/localvox-stolen-copy.db").exists()
    assert not Path("/tmp/localvox-evil.db").exists()
    # the sandbox itself was not altered either (temp tables intact)
    assert sandbox.query("SELECT count(*) AS n, sum(amount_paise) AS s FROM transactions"
                         ).rows == own_before
    assert any("only a single statement" in m for m in refused)
    assert any("main.customers is not allowed" in m for m in refused)
    assert any("load_extension() is not allowed" in m for m in refused)
    assert any("recursive queries are not allowed" in m for m in refused)
    assert any("took too long" in m for m in refused)


def test_sandbox_sees_only_its_customer(bank, sandbox):
    con = sqlite3.connect(bank)
    mine = con.execute("SELECT count(*) FROM transactions WHERE customer_id = ?",
                       (CUSTOMER,)).fetchone()[0]
    everyone = con.execute("SELECT count(*) FROM transactions").fetchone()[0]
    others = {r[0] for r in con.execute("SELECT name || city FROM customers WHERE id != ?",
                                        (CUSTOMER,))}
    con.close()
    assert mine < everyone
    assert sandbox.query("SELECT count(*) AS n FROM transactions").rows == [{"n": mine}]
    assert sandbox.query("SELECT count(*) AS n FROM temp.transactions").rows == [{"n": mine}]
    profile = sandbox.query("SELECT name || city AS who FROM profile").rows
    assert len(profile) == 1 and profile[0]["who"] not in others


def test_exposed_columns_never_include_full_numbers(bank, sandbox):
    con = sqlite3.connect(bank)
    secrets = [r[0] for r in con.execute(
        "SELECT card_number FROM cards UNION SELECT account_number FROM accounts")]
    con.close()
    dump = ""
    for table in ("transactions", "accounts", "cards", "fixed_deposits", "profile"):
        dump += repr(sandbox.query(f"SELECT * FROM {table}").rows)
    assert not any(s in dump for s in secrets)


def test_legitimate_queries_work(bank, sandbox):
    sql = ("SELECT sum(amount_paise) AS total, count(*) AS n FROM transactions "
           "WHERE merchant = 'Amazon' AND direction = 'debit' AND posted_on >= '2024-01-01'")
    con = sqlite3.connect(bank)
    expected = con.execute(
        "SELECT sum(amount_paise), count(*) FROM transactions WHERE customer_id = 1 "
        "AND merchant = 'Amazon' AND direction = 'debit' AND posted_on >= '2024-01-01'").fetchone()
    con.close()
    assert sandbox.query(sql).rows == [{"total": expected[0], "n": expected[1]}]
    cte = sandbox.query("WITH a AS (SELECT * FROM transactions WHERE merchant = 'Amazon') "
                        "SELECT strftime('%Y', posted_on) AS y, count(*) AS n FROM a GROUP BY y")
    assert sum(r["n"] for r in cte.rows) > 0
    fenced = sandbox.query("```sql\nSELECT count(*) AS n FROM accounts;\n```")
    assert fenced.rows == [{"n": 1}]


def test_row_limit_truncates(bank):
    box = CustomerSQL(bank, CUSTOMER)
    box.limits.max_rows = 5
    res = box.query("SELECT id FROM transactions")
    assert len(res.rows) == 5 and res.truncated
    box.close()


def test_parallel_queries_from_threads_do_not_deadlock(bank):
    import concurrent.futures

    box = CustomerSQL(bank, CUSTOMER)
    sqls = ["SELECT count(*) AS n FROM transactions", "SELECT * FROM main.customers"] * 20

    def run(sql):
        try:
            return box.query(sql).rows[0]["n"]
        except QueryRefused:
            return "refused"

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(run, sqls, timeout=60))
    box.close()
    assert results[1::2] == ["refused"] * 20 and len(set(results[0::2])) == 1
