"""The bank example end to end through the SDK: scripted calls, audit trail, handoffs,
and a process killed mid-call."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from localvox.agent import events as ev
from localvox.config import load_config
from localvox.examples.bank.agent import BankCSR
from localvox.examples.bank.app import create_app
from localvox.examples.bank.audit import read_trail, verify_chain
from localvox.examples.bank.seed import seed
from localvox.examples.bank.speech import count_phrase, rupees_in_words
from localvox.llm.base import LLMBase

TODAY = dt.date(2025, 6, 30)
REPO = Path(__file__).resolve().parent.parent


class NoChatLLM(LLMBase):
    """Banking turns must never reach the LLM; any call fails the test. Like SmolLM2 it
    cannot call tools itself, so hybrid mode picks the deterministic policy."""

    name = "no-chat"

    def __init__(self) -> None:
        self.calls = 0

    async def chat(self, messages, tools=None, stream=True, **kw):  # noqa: ANN001
        self.calls += 1
        raise AssertionError(f"the LLM was asked: {messages[-1]}")
        yield  # pragma: no cover

    async def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bankseed") / "bank.db"
    seed(path)
    return path


@pytest.fixture
def bank(tmp_path, seeded) -> Path:
    path = tmp_path / "bank.db"
    path.write_bytes(seeded.read_bytes())
    return path


def facts(bank: Path, cid: int) -> dict[str, str]:
    con = sqlite3.connect(bank)
    name, dob, city, acct, debit = con.execute(
        "SELECT c.name, c.dob, c.city, a.account_number, d.last_four FROM customers c "
        "JOIN accounts a ON a.customer_id = c.id JOIN cards d ON d.customer_id = c.id "
        "AND d.type = 'debit' WHERE c.id = ?", (cid,)).fetchone()
    con.close()
    return {"name": name, "dob": dob, "city": city, "account": acct, "debit": debit}


class Call:
    """A scripted phone call against the bank app."""

    def __init__(self, bank: Path, audit: Path) -> None:
        self.llm = NoChatLLM()
        self.app = create_app(load_config(), llm=self.llm, bank_path=bank, audit_path=audit,
                              today=TODAY)
        self.events: list[ev.Event] = []

    async def __aenter__(self) -> "Call":
        self.session = await self.app.open_session()
        self.stream = self.session.events()
        await self.session.send(ev.UserJoined())
        await self.session.idle(5)
        return self

    async def say(self, text: str) -> str:
        out = []
        async for e in self.session.turn(text):
            self.events.append(e)
            if isinstance(e, ev.ResponseChunk):
                out.append(e.text)
        await self.session.idle(5)
        return "".join(out)

    @property
    def node(self) -> BankCSR:
        return next(n for n in self.session.nodes if isinstance(n, BankCSR))

    async def __aexit__(self, *exc: object) -> None:
        await self.session.idle(5)
        self.stream.close()
        self.all_events = [e async for e in self.stream]
        await self.app.close()
        self.app.finish()


async def test_amazon_question_gives_the_exact_total_and_count(bank, tmp_path):
    f = facts(bank, 1)
    con = sqlite3.connect(bank)
    total, count = con.execute(
        "SELECT sum(amount_paise), count(*) FROM transactions WHERE customer_id = 1 AND "
        "merchant = 'Amazon' AND direction = 'debit' AND posted_on >= '2024-01-01'").fetchone()
    con.close()
    async with Call(bank, tmp_path / "audit.db") as call:
        first = await call.say("How much did I spend on Amazon since January 2024?")
        assert "verify" in first.lower()
        await call.say(f"My name is {f['name']}")
        reply = await call.say(f"I was born on {f['dob']}")
    words = rupees_in_words(total)
    assert f"{words} across {count_phrase(count, 'transaction')}" in reply, reply
    assert "Amazon" in reply and "1 January 2024" in reply
    assert call.llm.calls == 0


async def test_wrong_customers_details_fail_and_lock_after_three_tries(bank, tmp_path):
    me, other = facts(bank, 1), facts(bank, 2)
    audit = tmp_path / "audit.db"
    async with Call(bank, audit) as call:
        await call.say("What is my balance?")
        for attempt in range(3):
            await call.say(f"My name is {me['name']}")
            reply = await call.say(other["dob"])
            assert "don't match" in reply
        assert "can't verify you" in reply
        assert call.node.state.verification.locked
        # the right answers no longer help
        reply = await call.say("What is my balance?")
        assert "can't verify you" in reply and "lakh" not in reply
        sid = call.session.state["audit_session_id"]
    trail = [r.payload for r in read_trail(audit, sid) if r.kind == "VERIFICATION"]
    assert [(t["ok"], t["failed_attempts"], t["locked"]) for t in trail] == [
        (False, 1, False), (False, 2, False), (False, 3, True)]


async def test_level_one_caller_cannot_break_a_fixed_deposit(bank, tmp_path):
    f = facts(bank, 1)

    def fd_state() -> list[tuple]:
        con = sqlite3.connect(bank)
        rows = con.execute("SELECT fd_number, status, payout_paise FROM fixed_deposits "
                           "ORDER BY id").fetchall()
        rows += con.execute("SELECT sum(balance_paise) FROM accounts").fetchall()
        con.close()
        return rows

    before = fd_state()
    con = sqlite3.connect(bank)
    fd_number = con.execute("SELECT fd_number FROM fixed_deposits WHERE customer_id = 1 AND "
                            "maturity_on > ? ORDER BY fd_number", (TODAY.isoformat(),)
                            ).fetchone()[0]
    con.close()
    async with Call(bank, tmp_path / "audit.db") as call:
        await call.say("What is my balance?")
        await call.say(f["name"])
        reply = await call.say(f["dob"])
        assert call.node.state.verification.level == 1 and "balance" in reply
        # the dialogue asks for another factor instead of acting
        reply = await call.say(f"Please break my fixed deposit {fd_number}")
        assert "one more" in reply and "Done" not in reply
        # and the tool refuses on its own, whoever calls it (an LLM in native mode)
        result, _ = await call.node.call_tool("break_fixed_deposit", fd_number=fd_number)
        assert result.startswith("Not allowed") and "level 2" in result
    assert fd_state() == before


async def test_level_two_breaks_a_deposit_and_credits_the_payout(bank, tmp_path):
    f = facts(bank, 1)
    async with Call(bank, tmp_path / "audit.db") as call:
        await call.say("I want to break my fixed deposit")
        await call.say(f["name"])
        await call.say(f["dob"])
        reply = await call.say(f["account"][-4:])
        assert "Which fixed deposit" in reply
        con = sqlite3.connect(bank)
        fd_number, principal, rate, opened = con.execute(
            "SELECT fd_number, principal_paise, rate_bps, opened_on FROM fixed_deposits "
            "WHERE customer_id = 1 AND maturity_on > ? ORDER BY fd_number", (TODAY.isoformat(),)
        ).fetchone()
        balance_before = con.execute("SELECT balance_paise FROM accounts WHERE customer_id = 1"
                                     ).fetchone()[0]
        con.close()
        reply = await call.say(f"the one ending {fd_number[-4:]}")
        assert "Shall I break it" in reply
        reply = await call.say("yes")
    days = (TODAY - dt.date.fromisoformat(opened)).days
    payout = principal + principal * (rate - 100) * days // (365 * 10_000)
    assert rupees_in_words(payout) in reply
    con = sqlite3.connect(bank)
    status, paid = con.execute("SELECT status, payout_paise FROM fixed_deposits WHERE "
                               "fd_number = ?", (fd_number,)).fetchone()
    balance = con.execute("SELECT balance_paise FROM accounts WHERE customer_id = 1").fetchone()[0]
    con.close()
    assert (status, paid) == ("broken", payout) and balance == balance_before + payout


async def test_audit_holds_every_event_and_no_full_numbers(bank, tmp_path):
    f = facts(bank, 1)
    audit = tmp_path / "audit.db"
    async with Call(bank, audit) as call:
        await call.say("How much did I spend on Amazon since January 2024?")
        await call.say(f"My name is {f['name']}")
        await call.say(f["dob"])
        await call.say(f"My card number is {' '.join(f['debit'].rjust(16, '4')[i:i+4] for i in range(0, 16, 4))}")
        await call.say(f"and my account number is {f['account']}")
        await call.say("What is my balance?")
        await call.say("I'd like to speak to your supervisor")
        after = await call.say("Hello? Are you still there?")
        sid = call.session.state["audit_session_id"]
    assert after == ""  # after the handoff the agent says nothing more
    trail = read_trail(audit, sid)
    kinds = [r.kind for r in trail]
    assert kinds[0] == "CALL_START" and kinds[-1] == "CALL_END"
    assert trail[1].payload["content"].startswith("Welcome")
    events = call.all_events
    expect = {
        "TRANSCRIPT": sum(isinstance(e, (ev.TranscriptUpdate, ev.Speak)) for e in events),
        "TOOL_CALL_START": sum(isinstance(e, ev.ToolCallStart) for e in events),
        "TOOL_CALL_END": sum(isinstance(e, ev.ToolCallEnd) for e in events),
        "VERIFICATION": 1, "TRANSFER": 1, "CALL_START": 1, "CALL_END": 1,
    }
    assert expect["TRANSCRIPT"] == 15  # greeting + 7 user lines + 7 replies (none after)
    assert {k: kinds.count(k) for k in expect} == expect
    tools = {r.payload["tool"] for r in trail if r.kind == "TOOL_CALL_START"}
    assert {"verify_customer", "execute_query", "analyze_data",
            "warm_transfer_to_supervisor"} <= tools
    transfer = next(r.payload for r in trail if r.kind == "TRANSFER")
    assert transfer["type"] == "warm" and "supervisor" in transfer["handoff_prompt"]
    # no full card or account number anywhere in the audit files
    con = sqlite3.connect(bank)
    secrets = [r[0] for r in con.execute(
        "SELECT card_number FROM cards UNION SELECT account_number FROM accounts")]
    con.close()
    secrets.append(f["debit"].rjust(16, "4"))
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("audit.db*"))
    dump = "\n".join(r.payload.__repr__() for r in trail)
    for s in secrets:
        assert s.encode() not in raw and s not in dump
    assert f["account"][-4:] in dump  # masked, not dropped
    assert verify_chain(audit) == (True, None)
    # append-only: the database itself refuses edits
    con = sqlite3.connect(audit)
    for sql in ("UPDATE audit_log SET payload = '{}'", "DELETE FROM audit_log"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            con.execute(sql)
    con.close()


async def test_cold_transfer_and_end_call(bank, tmp_path):
    async with Call(bank, tmp_path / "a.db") as call:
        reply = await call.say("Can I talk to a human please")
        assert "Connecting you" in reply
        assert await call.say("hello?") == ""
    transfer = [e for e in call.all_events if isinstance(e, ev.TransferCall)]
    assert len(transfer) == 1 and transfer[0].option.type == ev.TransferType.COLD
    async with Call(bank, tmp_path / "b.db") as call:
        reply = await call.say("That's all, goodbye")
        assert "Goodbye" in reply
        assert await call.say("wait") == ""
    assert any(isinstance(e, ev.EndCall) for e in call.all_events)


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_CONFIG_HOME=str(tmp_path / "config"), PYTHONUNBUFFERED="1")
    return env


@pytest.mark.models
def test_text_mode_deterministic_policy_on_the_small_model(tmp_path, seeded):
    """SmolLM2 cannot call tools: hybrid mode falls back to the deterministic policy."""
    f = facts(seeded, 1)
    lines = ["How much did I spend on Amazon since January 2024?", f"My name is {f['name']}",
             f["dob"], "What's a good name for a dog?", "Bye"]
    proc = subprocess.run(
        [sys.executable, "-m", "localvox", "example", "bank", "--text", "--today", "2025-06-30",
         "--bank-db", str(tmp_path / "bank.db"), "--audit-db", str(tmp_path / "audit.db"),
         "--llm-model", "smollm2_135m"],
        input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=180,
        cwd=REPO, env=_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    con = sqlite3.connect(tmp_path / "bank.db")
    total, count = con.execute(
        "SELECT sum(amount_paise), count(*) FROM transactions WHERE customer_id = 1 AND "
        "merchant = 'Amazon' AND direction = 'debit' AND posted_on >= '2024-01-01'").fetchone()
    con.close()
    assert rupees_in_words(total) in proc.stdout and count_phrase(count, "transaction") in proc.stdout
    chat_reply = proc.stdout.split("you> What's a good name for a dog?\nagent> ")[1].split("\n")[0]
    assert chat_reply.strip()  # the LLM answered the open question
    assert "[call ended]" in proc.stdout
    show = subprocess.run([sys.executable, "-m", "localvox", "audit", "show", "--db",
                           str(tmp_path / "audit.db")], capture_output=True, text=True,
                          cwd=REPO, env=_env(tmp_path), timeout=60)
    assert show.returncode == 0 and "VERIFICATION" in show.stdout and "CALL_END" in show.stdout


def test_killed_mid_call_keeps_every_committed_record(tmp_path, seeded):
    f = facts(seeded, 1)
    audit = tmp_path / "audit.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "localvox", "example", "bank", "--text", "--today", "2025-06-30",
         "--bank-db", str(tmp_path / "bank.db"), "--audit-db", str(audit),
         "--llm-model", "smollm2_135m"],  # the scripted policy dialogue
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=REPO, env=_env(tmp_path))
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()

    def readline() -> str:
        try:
            return lines.get(timeout=120)
        except queue.Empty:
            raise AssertionError(f"no reply from the example: {proc.stderr.read()}") from None

    try:
        assert proc.stdout is not None and proc.stdin is not None
        assert readline().startswith("agent> Welcome")
        for line in ["How much did I spend on Amazon since January 2024?",
                     f"My name is {f['name']}", f["dob"], "What is my balance?"]:
            proc.stdin.write(line + "\n")
            proc.stdin.flush()
            readline()  # echo
            assert readline().startswith("agent> ")
        # what is committed now (read through a separate connection, as an auditor would)
        deadline = time.monotonic() + 10
        while True:
            con = sqlite3.connect(f"file:{audit}?mode=ro", uri=True)
            committed = con.execute("SELECT seq, hash FROM audit_log ORDER BY seq").fetchall()
            con.close()
            if len(committed) >= 14 or time.monotonic() > deadline:
                break
            # Polling a SQLite file written by a separate (SIGKILLed) process: no event to wait on.
            time.sleep(0.05)
        assert len(committed) >= 14  # start + 9 transcript lines + verification + tools
        proc.stdin.write("What is my balance?\n")  # a turn in flight while we kill
        proc.stdin.flush()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    con = sqlite3.connect(audit)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    after = con.execute("SELECT seq, hash FROM audit_log ORDER BY seq").fetchall()
    con.close()
    assert after[:len(committed)] == committed
    assert verify_chain(audit) == (True, None)
    kinds = [r.kind for r in read_trail(audit)]
    assert "CALL_END" not in kinds  # the call really was cut off mid-way


class ScriptedCapableModel:
    """Stands in for a capable function-calling model that misbehaves: it reads before
    verifying, verifies with two factors, then tries SQL tricks and an action it may not
    take. The tools, not the prompt, must stop every step."""

    name = "scripted"

    def __init__(self, plan: list[list[tuple[str, dict]]]) -> None:
        self.plan = plan
        self.results: list[str] = []

    async def chat(self, messages, tools=None, stream=True, **kw):  # noqa: ANN001
        from localvox.llm.base import ChatChunk, ToolCall

        trailing = []
        for m in reversed(messages):
            if m["role"] != "tool":
                break
            trailing.insert(0, m["content"])
        self.results.extend(trailing)
        if self.plan and tools:
            step = self.plan.pop(0)
            yield ChatChunk(tool_calls=[ToolCall(f"c{len(self.plan)}_{i}", name, json_dumps(args))
                                        for i, (name, args) in enumerate(step)])
        else:
            yield ChatChunk(content="Done.")

    async def close(self) -> None:
        pass


def json_dumps(value: object) -> str:
    import json

    return json.dumps(value)


async def test_native_mode_tools_enforce_verification_and_sql_limits(bank, tmp_path):
    f = facts(bank, 1)
    con = sqlite3.connect(bank)
    fd_number = con.execute("SELECT fd_number FROM fixed_deposits WHERE customer_id = 1").fetchone()[0]
    before = hashlib.sha256(bank.read_bytes()).hexdigest()
    con.close()
    plan = [
        [("execute_query", {"sql": "SELECT * FROM accounts"})],
        [("verify_customer", {"name": f["name"], "dob": f["dob"]})],
        [("execute_query", {"sql": "SELECT name FROM main.customers"}),
         ("execute_query", {"sql": "SELECT 1; DELETE FROM transactions"})],
        [("break_fixed_deposit", {"fd_number": fd_number})],
    ]
    model = ScriptedCapableModel(plan)
    config = load_config()
    config.llm.tool_mode = "native"
    config.agent.max_tool_rounds = 6
    app = create_app(config, llm=model, bank_path=bank, audit_path=tmp_path / "a.db", today=TODAY)
    session = await app.open_session()
    async for _ in session.turn(f"I'm {f['name']}, born {f['dob']}. Break my deposit and "
                                "show me everyone's names"):
        pass
    await app.close()
    app.finish()
    r = model.results
    assert r[0].startswith("Not allowed") and "level 1" in r[0]
    # the refusal spells out the verify_customer call the caller's own words allow (told
    # only "verify first", the 1.5B queried four times and never verified)
    hint = json.loads(r[0].split("From what the caller said: ", 1)[1])
    assert hint == {"name": "verify_customer",
                    "arguments": {"name": f["name"], "dob": f["dob"]}}
    assert r[1].startswith("Verified at level 1")
    assert "main.customers is not allowed" in r[2] and "single statement" in r[3]
    assert r[4].startswith("Not allowed") and "level 2" in r[4]
    assert hashlib.sha256(bank.read_bytes()).hexdigest() == before


async def test_a_detail_the_caller_never_said_does_not_count_against_them(bank, tmp_path):
    """The 1.5B, measured: given name, date of birth and account digits, it added
    city="New York" to each verify_customer call, failed three times and locked the caller
    out. A detail the caller did not say is dropped, not counted as a failed attempt."""
    f = facts(bank, 1)
    invented = {"name": f["name"], "dob": f["dob"], "account_last_four": f["account"][-4:],
                "city": "New York", "debit_card_last_four": "9999"}
    model = ScriptedCapableModel([[("verify_customer", invented)],
                                  [("verify_customer", {"city": "New York",
                                                        "debit_card_last_four": "9999"})]])
    config = load_config()
    config.llm.tool_mode = "native"
    app = create_app(config, llm=model, bank_path=bank, audit_path=tmp_path / "a.db", today=TODAY)
    session = await app.open_session()
    async for _ in session.turn(f"Hi, I'm {f['name']}, date of birth {f['dob']}, and my "
                                f"account ends in {' '.join(f['account'][-4:])}."):
        pass
    node = next(n for n in session.nodes if isinstance(n, BankCSR))
    state = node.state.verification
    await app.close()
    app.finish()
    assert model.results[0].startswith("Verified at level 2"), model.results
    assert state.failed_attempts == 0 and not state.locked
    assert model.results[1].startswith("Give one more detail"), model.results
    assert "city" in model.results[1] and "debit card" in model.results[1]


async def test_analysis_refuses_rows_no_query_returned(bank, tmp_path):
    """Measured: asked about food spending, the 1.5B passed analyze_data rows it typed
    itself ({"amount_paise": 100000}). Only rows execute_query returned may be analysed."""
    import json

    f = facts(bank, 1)
    sql = "SELECT amount_paise, posted_on FROM transactions WHERE category = 'food' LIMIT 3"
    model = ScriptedCapableModel([
        [("verify_customer", {"name": f["name"], "dob": f["dob"]})],
        [("analyze_data", {"data_json": '[{"amount_paise": 100000}]', "analysis_type": "total"})],
        [("execute_query", {"sql": sql})],
    ])
    config = load_config()
    config.llm.tool_mode = "native"
    app = create_app(config, llm=model, bank_path=bank, audit_path=tmp_path / "a.db", today=TODAY)
    session = await app.open_session()
    async for _ in session.turn(f"I'm {f['name']}, born {f['dob']}. What did I spend on food?"):
        pass
    node = next(n for n in session.nodes if isinstance(n, BankCSR))
    assert model.results[1].startswith("Refused"), model.results
    rows = json.loads(model.results[2])["rows"]
    total = sum(r["amount_paise"] for r in rows)
    assert json.loads(node.analyze_data(model.results[2], "total"))["total_paise"] == total
    await app.close()
    app.finish()


@pytest.mark.models
async def test_default_model_drives_the_bank_tools_natively(bank, tmp_path):
    """With the default brain the model itself verifies the caller and queries the
    sandbox; verification and the SQL guard are still the tools' job."""
    from localvox.examples._common import create_llm

    f = facts(bank, 1)
    config = load_config(use_user_file=False)
    llm = create_llm(config)
    app = create_app(config, llm=llm, bank_path=bank, audit_path=tmp_path / "a.db", today=TODAY)
    session = await app.open_session()
    names = []
    reply = []
    async for e in session.turn(f"Hi, I'm {f['name']}, date of birth {f['dob']}, and the last "
                                f"four digits of my account are {f['account'][-4:]}. "
                                "What is my balance?"):
        if isinstance(e, ev.ToolCallStart):
            names.append(e.name)
        elif isinstance(e, ev.ResponseChunk):
            reply.append(e.text)
    node = next(n for n in session.nodes if isinstance(n, BankCSR))
    level = node.state.verification.level
    await app.close()
    app.finish()
    await llm.close()
    assert node.tool_mode == "native"
    # the model chose the tools itself; a query before verification is refused by the tool
    assert {"verify_customer", "execute_query"} <= set(names), names
    said = "".join(reply)
    assert level >= 1 and said.strip(), (level, names, reply)
    # every figure said is one the tools returned (grounded_reply holds back the others),
    # and the balance itself is said: 22,42,093.64 rupees for this customer
    balance = sqlite3.connect(bank).execute(
        "SELECT balance_paise FROM accounts WHERE customer_id = 1").fetchone()[0]
    spoken = rupees_in_words(balance)
    assert spoken.split(" rupees")[0] in said or str(balance // 100) in said.replace(",", ""), \
        said
