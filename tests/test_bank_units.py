"""Bank example building blocks: spoken money, seeding, verification, analysis."""

from __future__ import annotations

import sqlite3

import pytest

from localvox.examples.bank import analysis
from localvox.examples.bank.seed import seed
from localvox.examples.bank.speech import count_phrase, format_inr, number_in_words, rupees_in_words
from localvox.examples.bank.verification import (NotVerified, VerificationState, Verifier,
                                                 check_level, parse_date, spoken_digits)


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    path = tmp_path_factory.mktemp("bank") / "bank.db"
    seed(path)
    return path


def _row(bank, sql, *params):
    con = sqlite3.connect(bank)
    try:
        return con.execute(sql, params).fetchone()
    finally:
        con.close()


# -- speech --------------------------------------------------------------------------------

@pytest.mark.parametrize("n, words", [
    (0, "zero"), (7, "seven"), (15, "fifteen"), (42, "forty-two"), (100, "one hundred"),
    (999, "nine hundred ninety-nine"), (1000, "one thousand"),
    (100000, "one lakh"), (376000, "three lakh seventy-six thousand"),
    (10000000, "one crore"),
    (123456789, "twelve crore thirty-four lakh fifty-six thousand seven hundred eighty-nine"),
    (10**10, "one thousand crore"),
])
def test_indian_number_words(n, words):
    assert number_in_words(n) == words


def test_rupees_and_display():
    assert rupees_in_words(37600000) == "three lakh seventy-six thousand rupees"
    assert rupees_in_words(37621450) == ("three lakh seventy-six thousand two hundred fourteen "
                                         "rupees and fifty paise")
    assert rupees_in_words(100) == "one rupee"
    assert rupees_in_words(5) == "five paise"
    assert format_inr(37621450) == "₹3,76,214.50"
    assert format_inr(123456789012) == "₹1,23,45,67,890.12"
    assert format_inr(99) == "₹0.99"
    assert count_phrase(13, "transaction") == "13 transactions"
    assert count_phrase(1, "transaction") == "one transaction"
    with pytest.raises(TypeError):
        rupees_in_words(12.5)


# -- seeding -------------------------------------------------------------------------------

def test_seed_is_deterministic_and_realistic(bank, tmp_path):
    other = tmp_path / "again.db"
    seed(other)
    dump = lambda p: list(sqlite3.connect(p).iterdump())  # noqa: E731
    assert dump(bank) == dump(other)
    customers, = _row(bank, "SELECT count(*) FROM customers")
    assert customers >= 5
    first, last = _row(bank, "SELECT min(posted_on), max(posted_on) FROM transactions")
    assert first <= "2023-07-05" and last >= "2025-06-25"
    assert _row(bank, "SELECT count(DISTINCT customer_id) FROM transactions "
                      "WHERE merchant = 'Amazon'")[0] == customers
    assert _row(bank, "SELECT count(*) FROM cards WHERE type = 'credit'")[0] >= 2
    assert _row(bank, "SELECT count(*) FROM fixed_deposits WHERE status = 'active'")[0] >= customers
    assert _row(bank, "SELECT typeof(amount_paise) FROM transactions LIMIT 1")[0] == "integer"
    assert _row(bank, "SELECT min(balance_paise) FROM accounts")[0] > 0


# -- verification --------------------------------------------------------------------------

def _facts(bank, cid):
    name, dob, city, acct, debit = _row(
        bank, "SELECT c.name, c.dob, c.city, a.account_number, d.last_four FROM customers c "
              "JOIN accounts a ON a.customer_id = c.id JOIN cards d ON d.customer_id = c.id "
              "AND d.type = 'debit' WHERE c.id = ?", cid)
    return {"name": name, "dob": dob, "city": city, "account_last4": acct[-4:],
            "debit_last4": debit}


def test_verification_identifies_the_callers_own_record(bank):
    # two customers are called Priya Sharma; the second one's facts must verify her, not #1
    assert _row(bank, "SELECT count(*) FROM customers WHERE name = 'Priya Sharma'")[0] == 2
    cid = _row(bank, "SELECT max(id) FROM customers WHERE name = 'Priya Sharma'")[0]
    facts = _facts(bank, cid)
    state = VerificationState()
    out = Verifier(bank).attempt(state, name=facts["name"], city=facts["city"])
    assert out.ok and state.level == 1 and state.customer_id == cid
    out = Verifier(bank).attempt(state, debit_last4=facts["debit_last4"])
    assert out.ok and state.level == 2


def test_wrong_customers_details_fail_and_lock_after_three(bank):
    me, other = _facts(bank, 1), _facts(bank, 2)
    v, state = Verifier(bank), VerificationState()
    mixes = [dict(name=me["name"], dob=other["dob"]),
             dict(name=me["name"], city=other["city"], account_last4=other["account_last4"]),
             dict(dob=me["dob"], debit_last4=other["debit_last4"])]
    for i, mix in enumerate(mixes, start=1):
        out = v.attempt(state, **mix)
        assert not out.ok and state.level == 0 and state.failed_attempts == i
        assert "name" not in out.message.lower()  # never says which answer was wrong
    assert state.locked
    # even the right answers are refused now
    out = v.attempt(state, name=me["name"], dob=me["dob"], city=me["city"])
    assert not out.ok and out.locked and state.level == 0
    with pytest.raises(NotVerified):
        check_level(state, 1)


def test_verification_normalises_spoken_answers(bank):
    facts = _facts(bank, 1)
    y, m, d = facts["dob"].split("-")
    months = ["January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December"]
    spoken_dob = f"{int(d)}th of {months[int(m) - 1]} {y}"
    words = " ".join("zero one two three four five six seven eight nine".split()[int(c)]
                     for c in facts["account_last4"])
    state = VerificationState()
    out = Verifier(bank).attempt(state, name="mrs " + facts["name"].upper(), dob=spoken_dob,
                                 account_last4=words)
    assert out.ok and state.level == 2 and state.customer_id == 1
    assert parse_date("12/04/1988") == "1988-04-12" and parse_date("April 12, 1988") == "1988-04-12"
    assert parse_date("31 February 1990") is None
    assert spoken_digits("double four one two") == "4412"


def test_one_factor_is_not_an_attempt(bank):
    state = VerificationState()
    out = Verifier(bank).attempt(state, name="Priya Sharma")
    assert not out.ok and not out.counted and state.failed_attempts == 0


def test_upgrade_checks_the_same_customer_only(bank):
    me, other = _facts(bank, 1), _facts(bank, 2)
    v, state = Verifier(bank), VerificationState()
    assert v.attempt(state, name=me["name"], dob=me["dob"]).ok
    out = v.attempt(state, account_last4=other["account_last4"])
    assert not out.ok and state.level == 1 and state.failed_attempts == 1
    with pytest.raises(NotVerified):
        check_level(state, 2)
    check_level(state, 1)


# -- analysis ------------------------------------------------------------------------------

def test_analysis_is_exact_in_paise():
    rows = [{"posted_on": "2024-01-05", "amount_paise": 10}, {"posted_on": "2024-06-01",
             "amount_paise": 20}, {"posted_on": "2025-02-01", "amount_paise": 45}]
    assert analysis.analyze(rows, "total") == {"total_paise": 75, "count": 3, "currency": "INR"}
    trend = analysis.analyze(rows, "trend_yearly")["periods"]
    assert [(p["period"], p["total_paise"], p["count"]) for p in trend] == [
        ("2024", 30, 2), ("2025", 45, 1)]
    assert trend[1]["change_paise"] == 15 and trend[1]["change_pct"] == 50.0
    cmp = analysis.analyze(rows, "comparison", period_a="2024", period_b="2025")
    assert cmp["difference_paise"] == 15 and cmp["a"]["count"] == 2
    # many small values that drift as floats stay exact
    many = [{"posted_on": "2024-01-01", "amount_paise": 10}] * 1000
    assert analysis.total(many)["total_paise"] == 10000
    with pytest.raises(analysis.AnalysisError):
        analysis.analyze([{"amount": 1.5}], "total")
    with pytest.raises(analysis.AnalysisError):
        analysis.analyze(rows, "median")
