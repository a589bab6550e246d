"""The bank customer-service agent: tools, the dialogue policy, and the app.

Two ways the tools get chosen (``[llm] tool_mode``; with ``auto``/``hybrid`` the first
turn picks native when the model calls tools itself -- the default Qwen2.5 1.5B does --
and the deterministic policy otherwise, e.g. with SmolLM2):

* **intent** (the fallback for small models): ``BankPolicy`` below is a small
  deterministic dialogue manager. It recognises requests (``dialogue.parse_request``),
  collects verification answers one at a time, and calls the *same* tools through the
  SDK's ``ToolRegistry`` (so every call is validated, timed, emitted and audited). Replies
  that carry facts are composed from tool results in code: a tiny model would garble
  "two lakh seven thousand". The LLM answers only what is not a banking request, and is
  offered no tools.
* **native** (the default model, or a capable one behind ``--llm openai``): the model drives
  the SDK tool loop itself with ``verify_customer``, ``execute_query``, ``analyze_data`` and
  the action tools.

Either way the guard rails are in the tools, not the prompt: each tool checks the
session's verification level in code; SQL runs in ``sqlguard.CustomerSQL`` (read-only,
one customer's rows); amounts are added in ``analysis`` in integer paise.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Literal

from localvox.agent.events import (EndCall, TransferCall, TransferOption, TransferType,
                                   UserJoined)
from localvox.agent.nodes import OutputAgentNode
from localvox.agent.tools import RunContext, ToolRegistry, function_tool
from localvox.examples.bank import analysis
from localvox.examples.bank.db import connect_rw, ensure_bank
from localvox.examples.bank.dialogue import Request, extract_factors, parse_request
from localvox.examples.bank.events import VerificationAttempt
from localvox.examples.bank.grounded_reply import LOOK_IT_UP, grounded
from localvox.examples.bank.grounding import ground
from localvox.examples.bank.speech import count_phrase, rupees_in_words, spoken_date
from localvox.examples.bank.sqlguard import SCHEMA_HELP, CustomerSQL, QueryRefused
from localvox.examples.bank.verification import (FACTOR_LABELS, NotVerified, VerificationState,
                                                 Verifier, check_level, spoken_digits)
from localvox.llm.base import ToolCall

TRANSFER_NUMBER = "+91-20-4000-1000"
COLLECT_ORDER = ("name", "dob", "account_last4", "city", "debit_last4")
GREETING = ("Welcome to Localvox Bank. I can tell you your balance, your spending, "
            "and help with fixed deposits. How can I help?")
SYSTEM_PROMPT = (
    "You are a customer-service agent of Localvox Bank on a phone call. Answer in one or two "
    "short spoken sentences. Never invent account details, balances or amounts.")
NATIVE_PROMPT = SYSTEM_PROMPT + (
    " Before any account information, verify the caller with verify_customer (two details "
    "for information, three for actions such as breaking a fixed deposit). Use execute_query "
    "for SELECT queries and analyze_data for any arithmetic on the rows it returned. Never "
    "invent details: call a tool only with what the caller said or a tool returned; a "
    "greeting needs no tool. " + SCHEMA_HELP)


@dataclass
class BankState:
    """Everything the bank keeps for one call (lives in ``session.state['bank']``)."""

    verification: VerificationState = field(default_factory=VerificationState)
    sandbox: CustomerSQL | None = None
    collected: dict[str, str] = field(default_factory=dict)
    expected: str | None = None
    pending: Request | None = None
    confirm: dict[str, Any] | None = None
    fd_choices: list[str] = field(default_factory=list)
    offered_transfer: bool = False
    returned_rows: set[str] = field(default_factory=set)  # every row execute_query returned


class BankCSR(OutputAgentNode):
    """The bank's output node."""

    def __init__(self, bank_path: Path, llm: Any, *, tool_mode: str = "intent",
                 today: dt.date | None = None, transfer_number: str = TRANSFER_NUMBER,
                 tool_timeout_s: float = 10.0, holding_phrase: str = "One moment.",
                 holding_after_ms: float = 700, max_tool_rounds: int = 4) -> None:
        super().__init__(name="bank-csr")
        self.bank_path = Path(bank_path)
        self.llm = llm
        self.tool_mode = tool_mode
        self._today = today
        self.transfer_number = transfer_number
        self.holding_phrase = holding_phrase
        self.holding_after_ms = holding_after_ms
        self.max_tool_rounds = max_tool_rounds
        self.verifier = Verifier(self.bank_path)
        self._warm: Any = None
        self.tools = ToolRegistry(timeout_s=tool_timeout_s)
        self.tools.discover(self)
        self.context.add_message({"role": "system", "content":
                                  SYSTEM_PROMPT if tool_mode == "intent" else NATIVE_PROMPT})

    # -- session state ------------------------------------------------------------------------
    @property
    def state(self) -> BankState:
        store = self.session.state if self.session is not None else self.__dict__
        if "bank" not in store:
            store["bank"] = BankState()
        return store["bank"]

    def today(self) -> dt.date:
        return self._today or dt.date.today()

    async def on_start(self) -> None:
        from localvox.examples._common import start_warm

        await super().on_start()
        if self.tool_mode != "intent":
            self._warm = start_warm(self.llm, [{"role": "system", "content": NATIVE_PROMPT}],
                                    self.tools.get_schemas())

    async def on_stop(self) -> None:
        if self._warm is not None:
            self._warm.cancel()
        st = self.state
        if st.sandbox is not None:
            st.sandbox.close()
            st.sandbox = None
        await super().on_stop()

    async def on_event(self, event: Any) -> None:
        if isinstance(event, UserJoined):
            await self.speak(GREETING, record=True)

    # -- tools (each one checks the verification level itself) --------------------------------
    @function_tool
    async def verify_customer(self, name: str = "", dob: str = "", account_last_four: str = "",
                              city: str = "", debit_card_last_four: str = "") -> str:
        """Verify the caller's identity. Two matching details allow information, three allow
        actions such as breaking a fixed deposit. Pass only the details the caller actually
        said and leave the others empty: a wrong detail counts as a failed attempt.

        Args:
            name: Caller's full name.
            dob: Date of birth, e.g. 1988-04-12.
            account_last_four: Last four digits of the savings account.
            city: City of the caller's address.
            debit_card_last_four: Last four digits of the debit card.
        """
        st = self.state
        caller = [str(m["content"]) for m in self.context.history if m["role"] == "user"]
        given, unsaid = ground({"name": name, "dob": dob, "account_last4": account_last_four,
                                "city": city, "debit_last4": debit_card_last_four}, caller)
        out = self.verifier.attempt(st.verification, **given)
        if out.counted or out.locked:
            await self.send_event(VerificationAttempt(
                factors_given=list(out.factors_given), ok=out.ok, level=out.level,
                failed_attempts=out.failed_attempts, locked=out.locked, message=out.message))
        if out.ok:
            if st.sandbox is None:
                st.sandbox = await asyncio.to_thread(CustomerSQL, self.bank_path,
                                                     st.verification.customer_id)
        if out.ok:
            # left to itself after a success the 1.5B answered "your balance is 123456
            # paise" without a query: the tool result says what comes next
            return f"{out.message} Now use execute_query for what the caller asked."
        if unsaid:  # told after a success, the 1.5B retried the same call
            return (f"{out.message} Ignored, because the caller did not say them: "
                    f"{', '.join(FACTOR_LABELS[f].removeprefix('your ') for f in unsaid)}.")
        return out.message

    def _sandbox(self) -> CustomerSQL:
        st = self.state
        check_level(st.verification, 1)
        assert st.sandbox is not None
        return st.sandbox

    @function_tool
    def execute_query(self, sql: str) -> str:
        """Run one read-only SELECT over the verified caller's own data and return JSON rows.

        Args:
            sql: A single SELECT statement over transactions, accounts, cards, fixed_deposits
                or profile. Amounts are integer paise.
        """
        try:
            res = self._sandbox().query(sql)
        except (QueryRefused, NotVerified) as err:
            return str(err)
        self.state.returned_rows.update(_row_key(r) for r in res.rows)
        return json.dumps({"columns": res.columns, "rows": [_with_spoken(r) for r in res.rows],
                           "truncated": res.truncated})

    @function_tool
    def analyze_data(self, data_json: str,
                     analysis_type: Literal["total", "trend_yearly", "trend_monthly",
                                            "comparison", "by_merchant"],
                     period_a: str = "", period_b: str = "") -> str:
        """Exact arithmetic on rows from execute_query (amounts in integer paise).

        Args:
            data_json: The JSON returned by execute_query.
            analysis_type: What to compute.
            period_a: For comparison: first period, e.g. 2024 or 2024-01.
            period_b: For comparison: second period.
        """
        check_level(self.state.verification, 1)
        try:
            rows = analysis.rows_of(data_json)
            if not all(_row_key(r) in self.state.returned_rows for r in rows):
                # measured: the 1.5B typed its own rows ({"amount_paise": 100000}) for "how
                # much did I spend on food" and would have read out their sum
                return ("Refused: analyze_data takes the rows exactly as execute_query "
                        "returned them. Run execute_query first.")
            return json.dumps(analysis.analyze(rows, analysis_type, period_a, period_b))
        except analysis.AnalysisError as err:
            return f"Analysis failed: {err}"

    @function_tool
    def break_fixed_deposit(self, fd_number: str) -> str:
        """Break (close early) one of the caller's fixed deposits and credit the payout.

        Args:
            fd_number: The deposit number, e.g. FD12345678.
        """
        st = self.state
        try:
            check_level(st.verification, 2)
        except NotVerified as err:
            return str(err)
        cid = st.verification.customer_id
        today = self.today()
        con = connect_rw(self.bank_path)
        try:
            con.execute("BEGIN IMMEDIATE")
            fd = con.execute("SELECT id, account_id, principal_paise, rate_bps, opened_on, "
                             "maturity_on, status FROM fixed_deposits WHERE fd_number = ? AND "
                             "customer_id = ?", (fd_number.strip().upper(), cid)).fetchone()
            if fd is None:
                con.execute("ROLLBACK")
                return f"No fixed deposit {fd_number} on this customer's record."
            if fd["status"] != "active" or fd["maturity_on"] <= today.isoformat():
                con.execute("ROLLBACK")
                return f"Fixed deposit {fd_number} is not active (it is {fd['status']} or matured)."
            days = max(0, (today - dt.date.fromisoformat(fd["opened_on"])).days)
            rate = max(0, fd["rate_bps"] - 100)  # premature closure: one point below the rate
            interest = fd["principal_paise"] * rate * days // (365 * 10_000)
            payout = fd["principal_paise"] + interest
            con.execute("UPDATE fixed_deposits SET status='broken', closed_on=?, payout_paise=? "
                        "WHERE id=?", (today.isoformat(), payout, fd["id"]))
            con.execute("INSERT INTO transactions (customer_id, account_id, card_id, posted_on, "
                        "merchant, category, amount_paise, direction, channel, description) "
                        "VALUES (?,?,NULL,?,?,?,?,'credit','internal',?)",
                        (cid, fd["account_id"], today.isoformat(), "Fixed deposit closure",
                         "deposits", payout, f"PREMATURE CLOSURE {fd_number}"))
            con.execute("UPDATE accounts SET balance_paise = balance_paise + ? WHERE id = ?",
                        (payout, fd["account_id"]))
            con.execute("COMMIT")
        finally:
            con.close()
        if st.sandbox is not None:
            st.sandbox.refresh()
        return json.dumps({"status": "broken", "fd_number": fd_number, "principal_paise":
                           fd["principal_paise"], "interest_paise": interest,
                           "payout_paise": payout, "days_held": days})

    @function_tool
    def transfer_to_human_agent(self) -> TransferCall:
        """Cold transfer: connect the caller to a human agent or a real person at once.
        Use this whenever the caller asks for a human, a person or an agent."""
        return TransferCall(number=self.transfer_number,
                            option=TransferOption(type=TransferType.COLD),
                            on_hold_music="relaxing_sound")

    @function_tool
    def warm_transfer_to_supervisor(self, reason: str) -> TransferCall:
        """Warm transfer: brief a supervisor first, then connect the caller. Only when the
        caller asks for a supervisor or a manager, or wants to complain.

        Args:
            reason: Summary of the caller's issue for the supervisor.
        """
        return TransferCall(number=self.transfer_number,
                            option=TransferOption(type=TransferType.WARM,
                                                  handoff_prompt=self.briefing(reason)),
                            on_hold_music="uplifting_beats")

    @function_tool
    def end_call(self) -> EndCall:  # type: ignore[override]
        """End the call politely when the caller is done."""
        return EndCall(reason="caller finished")

    def briefing(self, reason: str) -> str:
        """The private handoff note for a warm transfer (never spoken to the caller)."""
        v = self.state.verification
        who = (f"verified at level {v.level} (customer #{v.customer_id})" if v.verified
               else "locked out of verification" if v.locked else "not verified")
        turns = [m["content"] for m in self.context.history if m["role"] == "user"][-3:]
        said = " | ".join(t[:120] for t in turns)
        return f"Customer escalation: {reason}. Caller is {who}. Recent requests: {said}"

    # -- replies ------------------------------------------------------------------------------
    async def _resolve_mode(self) -> None:
        """hybrid: native when the model calls tools itself, else the deterministic policy."""
        native = await self.llm.supports_tools()
        self.tool_mode = "native" if native else "intent"
        prompt = NATIVE_PROMPT if native else SYSTEM_PROMPT
        self.context.set_messages([{"role": "system", "content": prompt} if m["role"] == "system"
                                   else m for m in self.context.history])

    async def generate_response(self) -> AsyncIterator[str]:
        if self.tool_mode == "hybrid":
            await self._resolve_mode()
        if self.tool_mode == "native":
            async for sentence in grounded(self._native_reply, lambda: self.context.history):
                yield sentence
            return
        last = self.context.last("user")
        text = last["content"] if last else ""
        policy = BankPolicy(self)
        reply = await policy.respond(text)
        if reply is None:
            async for chunk in self._chat():
                yield chunk
        elif reply:
            yield reply
        if policy.after is not None:
            await policy.after()  # a handoff: the parting words above were the last ones

    async def _native_reply(self, retry: bool) -> AsyncIterator[str]:
        if retry:
            self.context.add_message({"role": "system", "content": LOOK_IT_UP})
        async for chunk in self.run_llm_with_tools(
                self.llm, self.tools, max_rounds=self.max_tool_rounds,
                holding_phrase=self.holding_phrase, holding_after_ms=self.holding_after_ms):
            yield chunk

    async def _chat(self) -> AsyncIterator[str]:
        from localvox.examples._common import chat_text

        msgs = [m for m in self.context.messages if m["role"] in ("system", "user")]
        async for sentence in chat_text(self.llm, msgs[:1] + msgs[1:][-2:]):
            yield sentence

    async def call_tool(self, tool: str, /, **arguments: Any) -> tuple[str, bool]:
        """Run one tool the way the LLM would (validated, timed, emitted, audited)."""
        call = ToolCall(id=f"policy_{uuid.uuid4().hex[:12]}", name=tool,
                        arguments=json.dumps(arguments))
        [result] = await self.tools.execute([call], context=RunContext(session=self.session,
                                                                       node=self),
                                            emit=self.send_event)
        return result.content, result.is_error


class BankPolicy:
    """One turn of the deterministic dialogue (intent mode). ``respond`` returns the reply,
    ``None`` for open conversation (the LLM answers), or "" after a handoff."""

    def __init__(self, node: BankCSR) -> None:
        self.node = node
        self.st = node.state
        self.after: Any = None
        """A handoff to run once the reply has been said (transfer, end call)."""

    async def respond(self, text: str) -> str | None:
        st = self.st
        if re.search(r"\d(?:[ -]?\d){11,}", text):
            # a full card or account number: never pass it on (not even to the LLM)
            return ("For your security, please don't share full card or account numbers. "
                    "I only ever need the last four digits.")
        if st.expected:
            found = extract_factors(text, st.expected)
            if found:
                st.collected.update(found)
                return await self._continue_verification()
        if st.fd_choices:
            choices, st.fd_choices = st.fd_choices, []
            digits = re.sub(r"\D", "", spoken_digits(text))
            picked = [fd for fd in choices if digits and fd.endswith(digits[-4:])]
            if len(picked) == 1:
                return await self._do(Request("break_fd", fd_hint=picked[0]))
        merchants = self._merchants()
        req = parse_request(text, merchants, self.node.today())
        if st.confirm is not None and req.kind in ("yes", "no"):
            return await self._confirmed(req.kind == "yes")
        if st.offered_transfer and req.kind == "yes":
            return await self._transfer(cold=st.verification.locked,
                                        reason="caller asked for help after verification lock")
        if req.kind in ("cold_transfer", "warm_transfer"):
            return await self._transfer(cold=req.kind == "cold_transfer",
                                        reason="caller asked for a supervisor")
        if req.kind == "end_call":
            self.after = lambda: self.node.call_tool("end_call")
            return "Thank you for calling Localvox Bank. Goodbye."
        if req.kind in ("yes", "no", "chat"):
            if st.expected:
                return self._ask(st.expected, again=True)
            if req.kind == "no" and st.offered_transfer:
                st.offered_transfer = False
                return "All right. Is there anything else?"
            return None
        return await self._serve(req)

    # -- verification ---------------------------------------------------------------------
    def _needed_factors(self, level: int) -> int:
        return 2 if level <= 1 else 3

    def _next_factor(self) -> str:
        have = set(self.st.collected) | self.st.verification.matched
        return next(f for f in COLLECT_ORDER if f not in have)

    def _ask(self, factor: str, again: bool = False) -> str:
        self.st.expected = factor
        label = FACTOR_LABELS[factor]
        if again:
            return f"Sorry, I didn't catch that. Please tell me {label}."
        return f"Please tell me {label}."

    async def _serve(self, req: Request) -> str:
        st = self.st
        v = st.verification
        if req.level > v.level:
            if v.locked:
                st.offered_transfer = True
                return ("I'm sorry, I can't verify you on this call. Would you like me to "
                        "transfer you to a colleague?")
            st.pending = req
            st.collected = {}
            if v.verified:
                return ("For that I need one more security detail. "
                        + self._ask(self._next_factor()))
            return "First I need to verify your identity. " + self._ask(self._next_factor())
        return await self._do(req)

    async def _continue_verification(self) -> str:
        st = self.st
        v = st.verification
        target = st.pending.level if st.pending else 1
        have = len(st.collected) + len(v.matched)
        if have < self._needed_factors(target) and not v.verified:
            return "Thank you. " + self._ask(self._next_factor())
        args = {"name": st.collected.get("name", ""), "dob": st.collected.get("dob", ""),
                "account_last_four": st.collected.get("account_last4", ""),
                "city": st.collected.get("city", ""),
                "debit_card_last_four": st.collected.get("debit_last4", "")}
        message, _ = await self.node.call_tool("verify_customer", **args)
        st.collected = {}
        st.expected = None
        if v.locked:
            st.pending = None
            st.offered_transfer = True
            return ("I'm sorry, those details don't match our records, and I can't verify you "
                    "on this call. Would you like me to transfer you to a colleague?")
        if not message.startswith("Verified"):
            if "more than one" in message:
                return "Thank you. " + self._ask(self._next_factor())
            left = 3 - v.failed_attempts
            return (f"I'm sorry, those details don't match our records. You have {left} "
                    f"attempt{'s' if left != 1 else ''} left. " + self._ask(COLLECT_ORDER[0]))
        req, st.pending = st.pending, None
        if req is not None and req.level > v.level:
            st.pending = req
            return "Thank you. For that I need one more detail. " + self._ask(self._next_factor())
        if req is None:
            return "Thank you, you're verified. How can I help?"
        return "Thank you, you're verified. " + await self._do(req)

    # -- requests -------------------------------------------------------------------------
    def _merchants(self) -> list[str]:
        sandbox = self.st.sandbox
        if sandbox is None:
            from localvox.examples.bank.seed import MERCHANTS

            return [m[0] for m in MERCHANTS]
        return [r["merchant"] for r in sandbox.query(
            "SELECT DISTINCT merchant FROM transactions").rows]

    async def _query(self, sql: str) -> list[dict[str, Any]]:
        content, is_error = await self.node.call_tool("execute_query", sql=sql)
        data = json.loads(content) if not is_error and content.startswith("{") else None
        if data is None:
            raise RuntimeError(content)
        return data["rows"]

    async def _analyze(self, rows: list[dict[str, Any]], kind: str, **kw: str) -> dict[str, Any]:
        content, is_error = await self.node.call_tool(
            "analyze_data", data_json=json.dumps({"rows": rows}), analysis_type=kind, **kw)
        if is_error or not content.startswith("{"):
            raise RuntimeError(content)
        return json.loads(content)

    def _spend_filter(self, req: Request) -> tuple[str, str]:
        where = ["direction = 'debit'"]
        what = "total spending"
        if req.merchant:
            where.append(f"merchant = '{req.merchant.replace(chr(39), chr(39) * 2)}'")
            what = f"total {req.merchant} spend"
        elif req.category:
            where.append(f"category = '{req.category}'")
            what = f"total spending on {req.category}"
        return " AND ".join(where), what

    async def _do(self, req: Request) -> str:
        try:
            return await self._do_inner(req)
        except RuntimeError as err:
            return f"Sorry, I couldn't get that: {err}"

    async def _do_inner(self, req: Request) -> str:
        if req.kind == "balance":
            rows = await self._query("SELECT account_last4, balance_paise FROM accounts")
            return " ".join(f"The balance in your savings account ending {r['account_last4']} "
                            f"is {rupees_in_words(r['balance_paise'])}." for r in rows)
        if req.kind == "spend":
            where, what = self._spend_filter(req)
            period = ""
            if req.since:
                where += f" AND posted_on >= '{req.since}'"
                period = f" since {spoken_date(req.since)}"
            if req.until:
                where += f" AND posted_on <= '{req.until}'"
                period = f" in {req.since[:4]}" if req.since and req.since[5:] == "01-01" \
                    and req.until.endswith("12-31") else period + f" to {spoken_date(req.until)}"
            rows = await self._query(f"SELECT posted_on, merchant, amount_paise FROM transactions "
                                     f"WHERE {where}")
            res = await self._analyze(rows, "total")
            if res["count"] == 0:
                return f"I found no such transactions{period}."
            return (f"Your {what}{period} was {rupees_in_words(res['total_paise'])} across "
                    f"{count_phrase(res['count'], 'transaction')}.")
        if req.kind == "trend":
            where, what = self._spend_filter(req)
            rows = await self._query(f"SELECT posted_on, amount_paise FROM transactions WHERE {where}")
            res = await self._analyze(rows, "trend_yearly")
            parts = [f"in {p['period']}, {rupees_in_words(p['total_paise'])}" for p in res["periods"]]
            return f"Your {what} by year: " + "; ".join(parts) + "."
        if req.kind == "compare":
            where, what = self._spend_filter(req)
            a, b = req.years
            rows = await self._query(f"SELECT posted_on, amount_paise FROM transactions WHERE {where}")
            res = await self._analyze(rows, "comparison", period_a=a, period_b=b)
            diff = res["difference_paise"]
            direction = "more" if diff > 0 else "less"
            pct = f", {abs(res['change_pct'])} percent" if res["change_pct"] is not None else ""
            return (f"Your {what} was {rupees_in_words(res['a']['total_paise'])} in {a} and "
                    f"{rupees_in_words(res['b']['total_paise'])} in {b}: "
                    f"{rupees_in_words(abs(diff))} {direction}{pct}.")
        if req.kind == "recent":
            rows = await self._query("SELECT posted_on, merchant, amount_paise, direction FROM "
                                     f"transactions ORDER BY posted_on DESC, id DESC LIMIT {req.count}")
            return "Your latest transactions: " + "; ".join(
                f"{spoken_date(r['posted_on'])}, {r['merchant']}, "
                f"{rupees_in_words(r['amount_paise'])}"
                f"{' credited' if r['direction'] == 'credit' else ''}" for r in rows) + "."
        if req.kind == "deposits":
            rows = await self._active_fds()
            if not rows:
                return "You have no active fixed deposits."
            return "Your active fixed deposits: " + "; ".join(
                f"{r['fd_number'][-4:]} ending, {rupees_in_words(r['principal_paise'])} at "
                f"{r['rate_bps'] / 100:g} percent, maturing {spoken_date(r['maturity_on'])}"
                for r in rows) + "."
        if req.kind == "break_fd":
            rows = await self._active_fds()
            if req.fd_hint:
                rows = [r for r in rows if r["fd_number"].endswith(req.fd_hint[-4:])] or rows
            if not rows:
                return "You have no active fixed deposit that can be broken."
            if len(rows) > 1:
                self.st.fd_choices = [r["fd_number"] for r in rows]
                endings = " or ".join(r["fd_number"][-4:] for r in rows)
                return f"Which fixed deposit: the one ending {endings}?"
            fd = rows[0]
            self.st.confirm = {"action": "break_fd", "fd_number": fd["fd_number"]}
            return (f"Your fixed deposit ending {fd['fd_number'][-4:]} holds "
                    f"{rupees_in_words(fd['principal_paise'])}. Breaking it early pays one percent "
                    "less interest. Shall I break it?")
        return "Sorry, I can't help with that yet."

    async def _active_fds(self) -> list[dict[str, Any]]:
        return await self._query(
            "SELECT fd_number, principal_paise, rate_bps, maturity_on FROM fixed_deposits "
            f"WHERE status = 'active' AND maturity_on > '{self.node.today().isoformat()}' "
            "ORDER BY fd_number")

    async def _confirmed(self, yes: bool) -> str:
        confirm, self.st.confirm = self.st.confirm, None
        if not yes or confirm is None:
            return "All right, I haven't changed anything. Anything else?"
        content, is_error = await self.node.call_tool("break_fixed_deposit",
                                                      fd_number=confirm["fd_number"])
        if is_error or not content.startswith("{"):
            return f"Sorry, I couldn't do that: {content}"
        res = json.loads(content)
        return (f"Done. Your fixed deposit is closed and {rupees_in_words(res['payout_paise'])} "
                "has been credited to your savings account.")

    async def _transfer(self, *, cold: bool, reason: str) -> str:
        self.st.offered_transfer = False
        if cold:
            self.after = lambda: self.node.call_tool("transfer_to_human_agent")
            return "Connecting you to a colleague now. Please hold."
        self.after = lambda: self.node.call_tool("warm_transfer_to_supervisor", reason=reason)
        return "I'll brief a supervisor and connect you. Please hold."


def create_app(config: Any, *, llm: Any = None, bank_path: Path | None = None,
               audit_path: Path | None = None, today: dt.date | None = None) -> Any:
    """The bank example as an SDK ``App``: CSR output node plus the audit logger."""
    from localvox.agent.app import App
    from localvox.examples._common import create_llm, tool_mode
    from localvox.examples.bank.audit import AuditStore
    from localvox.examples.bank.audit_node import AuditLogger
    from localvox.examples.bank.db import default_audit_path

    path = ensure_bank(bank_path)
    shared: dict[str, Any] = {"llm": llm, "store": None}

    async def setup(session: Any) -> None:
        if shared["llm"] is None:
            shared["llm"] = create_llm(config)
        if shared["store"] is None:
            shared["store"] = AuditStore(audit_path or default_audit_path())
        session_id = getattr(session, "id", None) or uuid.uuid4().hex[:12]
        session.state["audit_session_id"] = session_id
        agent = config.agent
        session.add_node(AuditLogger(shared["store"], session_id))
        session.add_node(BankCSR(path, shared["llm"], tool_mode=tool_mode(config), today=today,
                                 tool_timeout_s=agent.tool_timeout_s,
                                 holding_phrase=agent.holding_phrase,
                                 holding_after_ms=agent.holding_after_ms,
                                 max_tool_rounds=agent.max_tool_rounds))
        await session.start()

    app = App(setup)

    def finish() -> None:
        """Commit every queued audit record and stop the writer (after ``app.close()``)."""
        store = shared["store"]
        if store is not None:
            store.flush()
            store.close()
            shared["store"] = None

    app.audit = shared  # type: ignore[attr-defined]
    app.finish = finish  # type: ignore[attr-defined]
    return app


def _with_spoken(row: dict[str, Any]) -> dict[str, Any]:
    """A row with every integer paise amount also in words, for the model to read out: a
    model left to convert 224209364 paise itself says the digits, or gets them wrong."""
    out = dict(row)
    for key, value in row.items():
        if key.endswith("_paise") and isinstance(value, int):
            out[key.removesuffix("_paise") + "_spoken"] = rupees_in_words(value)
    return out


def _row_key(row: dict[str, Any]) -> str:
    """One spelling of a row, without the words ``_with_spoken`` adds for the model."""
    return json.dumps({k: v for k, v in row.items() if not k.endswith("_spoken")},
                      sort_keys=True, default=str)
