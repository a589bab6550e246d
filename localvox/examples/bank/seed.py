"""Deterministic synthetic bank data: same seed, same bytes of data, every run.

Seven customers (two of them share the name "Priya Sharma", so verification must
identify a caller by all the facts she gives, never by the first row a query returns),
savings accounts, debit and credit cards, fixed deposits, and two years of transactions
(1 July 2023 to 30 June 2025, fixed so expectations never drift with today's date) at
Indian merchants, Amazon among them. Amounts are integer paise.
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from pathlib import Path

from localvox.examples.bank.db import SCHEMA

SEED = 20240101
START = dt.date(2023, 7, 1)
END = dt.date(2025, 6, 30)

CUSTOMERS = [
    # name, dob, city, monthly salary in rupees, rent in rupees
    ("Priya Sharma", "1988-04-12", "Pune", 145_000, 32_000),
    ("Rahul Verma", "1979-11-03", "New Delhi", 210_000, 55_000),
    ("Ananya Iyer", "1992-07-25", "Chennai", 98_000, 21_000),
    ("Arjun Mehta", "1985-01-30", "Mumbai", 260_000, 75_000),
    ("Kavya Reddy", "1995-09-18", "Hyderabad", 88_000, 18_000),
    ("Vikram Singh", "1970-02-08", "Jaipur", 175_000, 0),
    ("Priya Sharma", "1991-12-02", "Bengaluru", 120_000, 38_000),
]

# merchant, category, channel, typical low and high amount in rupees, chance per month
MERCHANTS = [
    ("Amazon", "shopping", "card", 299, 42_000, 0.62),
    ("Flipkart", "shopping", "card", 399, 25_000, 0.35),
    ("Swiggy", "food", "upi", 180, 1_400, 0.95),
    ("Zomato", "food", "upi", 150, 1_600, 0.80),
    ("BigBasket", "groceries", "upi", 600, 6_500, 0.90),
    ("DMart", "groceries", "card", 900, 7_500, 0.55),
    ("Uber", "travel", "upi", 120, 1_900, 0.75),
    ("IRCTC", "travel", "netbanking", 450, 6_800, 0.30),
    ("Indian Oil", "fuel", "card", 1_000, 4_500, 0.60),
    ("Apollo Pharmacy", "health", "upi", 150, 3_200, 0.40),
    ("Airtel", "utilities", "upi", 499, 1_499, 0.97),
    ("Tata Power", "utilities", "netbanking", 900, 5_200, 0.97),
    ("Netflix", "entertainment", "card", 649, 649, 0.90),
    ("BookMyShow", "entertainment", "upi", 300, 2_400, 0.35),
    ("Myntra", "shopping", "card", 699, 9_000, 0.30),
]


def _luhn_complete(partial: str) -> str:
    digits = [int(c) for c in partial]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return partial + str((10 - total % 10) % 10)


def _months(start: dt.date, end: dt.date) -> list[dt.date]:
    out, d = [], start.replace(day=1)
    while d <= end:
        out.append(d)
        d = (d.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return out


def _paise(rng: random.Random, low: int, high: int) -> int:
    if low == high:
        return low * 100
    return rng.randint(low * 100, high * 100)


def seed(path: Path, *, rng_seed: int = SEED) -> None:
    """Create the schema in a new file at ``path`` and fill it deterministically."""
    rng = random.Random(rng_seed)
    con = sqlite3.connect(str(path))
    con.executescript(SCHEMA)
    used_numbers: set[str] = set()

    def unique(make) -> str:
        while True:
            value = make()
            if value not in used_numbers:
                used_numbers.add(value)
                return value

    for cid, (name, dob, city, salary, rent) in enumerate(CUSTOMERS, start=1):
        first = name.split()[0].lower()
        con.execute("INSERT INTO customers VALUES (?,?,?,?,?,?)",
                    (cid, name, dob, city, f"+91 9{rng.randint(100000000, 999999999)}",
                     f"{first}.{cid}@example.in"))
        acct_no = unique(lambda: "5010" + "".join(rng.choice("0123456789") for _ in range(8)))
        opened = dt.date(2015 + cid % 6, 1 + cid % 12, 10).isoformat()
        cur = con.execute("INSERT INTO accounts (customer_id, account_number, type, balance_paise,"
                          " opened_on) VALUES (?,?,?,?,?)", (cid, acct_no, "savings", 0, opened))
        account_id = cur.lastrowid
        debit_no = unique(lambda: _luhn_complete("4" + "".join(rng.choice("0123456789")
                                                             for _ in range(14))))
        cur = con.execute(
            "INSERT INTO cards (customer_id, account_id, type, card_number, last_four, expiry,"
            " credit_limit_paise) VALUES (?,?,?,?,?,?,NULL)",
            (cid, account_id, "debit", debit_no, debit_no[-4:], f"{2027 + cid % 3}-{1 + cid % 12:02d}"))
        debit_id = cur.lastrowid
        credit_id = None
        if cid % 2 == 1:
            credit_no = unique(lambda: _luhn_complete("5" + "".join(rng.choice("0123456789")
                                                                  for _ in range(14))))
            cur = con.execute(
                "INSERT INTO cards (customer_id, account_id, type, card_number, last_four, expiry,"
                " credit_limit_paise) VALUES (?,?,?,?,?,?,?)",
                (cid, None, "credit", credit_no, credit_no[-4:], f"{2028 + cid % 2}-{1 + cid % 12:02d}",
                 salary * 300))
            credit_id = cur.lastrowid
        for n in range(1 + cid % 2):
            principal = rng.choice([100_000, 200_000, 250_000, 500_000, 750_000, 1_000_000]) * 100
            opened_fd = dt.date(2024, 1 + (cid + n * 5) % 12, 5)
            con.execute(
                "INSERT INTO fixed_deposits (customer_id, account_id, fd_number, principal_paise,"
                " rate_bps, opened_on, maturity_on, status) VALUES (?,?,?,?,?,?,?,'active')",
                (cid, account_id, unique(lambda: "FD" + str(rng.randint(10_000_000, 99_999_999))),
                 principal, rng.choice([650, 675, 700, 725, 750]), opened_fd.isoformat(),
                 opened_fd.replace(year=opened_fd.year + 2 + n).isoformat()))

        balance = _paise(rng, 20_000, 300_000)  # opening balance on 1 July 2023
        rows = []
        for month in _months(START, END):
            rows.append((month.replace(day=1), "Employer Payroll", "salary", "neft",
                         salary * 100, "credit", None, "SALARY CREDIT"))
            if rent:
                rows.append((month.replace(day=5), "Rent", "housing", "netbanking",
                             rent * 100, "debit", None, "RENT TRANSFER"))
            for merchant, category, channel, low, high, chance in MERCHANTS:
                visits = 1 if rng.random() < chance else 0
                if merchant in ("Swiggy", "Zomato", "Uber") and visits:
                    visits = rng.randint(1, 4)
                for _ in range(visits):
                    day = month.replace(day=rng.randint(1, 28))
                    if day < START or day > END:
                        continue
                    card = credit_id if (channel == "card" and credit_id and rng.random() < 0.5) \
                        else (debit_id if channel == "card" else None)
                    rows.append((day, merchant, category, channel, _paise(rng, low, high),
                                 "debit", card, f"{merchant.upper()} {rng.randint(100000, 999999)}"))
            if rng.random() < 0.12:  # an occasional Amazon refund
                day = month.replace(day=rng.randint(1, 28))
                rows.append((day, "Amazon", "shopping", "card", _paise(rng, 299, 4_000),
                             "credit", debit_id, "AMAZON REFUND"))
            if rng.random() < 0.5:
                rows.append((month.replace(day=rng.randint(1, 28)), "ATM Withdrawal", "cash",
                             "atm", rng.choice([2000, 5000, 10000]) * 100, "debit", debit_id,
                             "ATM CASH"))
        rows.sort(key=lambda r: (r[0], r[1]))
        for day, merchant, category, channel, amount, direction, card, desc in rows:
            con.execute(
                "INSERT INTO transactions (customer_id, account_id, card_id, posted_on, merchant,"
                " category, amount_paise, direction, channel, description)"
                " VALUES (?,?,?,?,?,?,?,?,?,?)",
                (cid, account_id, card, day.isoformat(), merchant, category, amount, direction,
                 channel, desc))
            # credit-card spends do not touch the savings balance
            if card is not None and card == credit_id:
                continue
            balance += amount if direction == "credit" else -amount
        con.execute("UPDATE accounts SET balance_paise=? WHERE id=?", (balance, account_id))
    con.commit()
    con.close()
