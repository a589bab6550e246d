"""The bank customer-service agent: its output node, tools and per-call state.

The deterministic dialogue policy is in ``policy.py``, the SDK ``App`` in ``app.py``.

Two ways the tools get chosen (``[llm] tool_mode``; with ``auto``/``hybrid`` the first
turn picks native when the model calls tools itself -- the default Qwen2.5 1.5B does --
and the deterministic policy otherwise, e.g. with SmolLM2):

* **intent** (the fallback for small models): ``BankPolicy`` (``policy.py``) is a small
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
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Literal

from localvox.agent.events import (EndCall, TransferCall, TransferOption, TransferType,
                                   UserJoined)
from localvox.agent.nodes import OutputAgentNode
from localvox.agent.tools import RunContext, ToolRegistry, function_tool
from localvox.examples.bank import analysis
from localvox.examples.bank.db import connect_rw
from localvox.examples.bank.dialogue import Request, extract_factors
from localvox.examples.bank.events import VerificationAttempt
from localvox.examples.bank.grounded_reply import LOOK_IT_UP, grounded
from localvox.examples.bank.grounding import ground
from localvox.examples.bank.policy import BankPolicy
from localvox.examples.bank.speech import rupees_in_words
from localvox.examples.bank.sqlguard import SCHEMA_HELP, CustomerSQL, QueryRefused
from localvox.examples.bank.verification import (FACTOR_LABELS, NotVerified, VerificationState,
                                                 Verifier, check_level)
from localvox.llm.base import ToolCall

_VERIFY_ARGS = {"name": "name", "dob": "dob", "account_last4": "account_last_four",
                "city": "city", "debit_last4": "debit_card_last_four"}
"""verify_customer's parameter for each verification factor."""

TRANSFER_NUMBER = "+91-20-4000-1000"
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

    def _refused(self, err: NotVerified) -> str:
        """The refusal, with the verify_customer call the caller's own words allow.

        Measured: told only "call verify_customer first", the 1.5B queried four times in a
        row and never verified (one full-suite run). The details are read from what the
        caller said (``extract_factors``), never from the model, so nothing is invented."""
        said: dict[str, str] = {}
        for m in self.context.history:
            if m["role"] == "user":
                said.update(extract_factors(str(m["content"]), None))
        args = {_VERIFY_ARGS[k]: v for k, v in said.items() if k in _VERIFY_ARGS}
        if not args:
            return f"{err} Ask the caller for two of: full name, date of birth, last four " \
                   "digits of the account."
        call = json.dumps({"name": "verify_customer", "arguments": args})
        return f"{err} From what the caller said: {call}"

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
        except NotVerified as err:
            return self._refused(err)
        except QueryRefused as err:
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
        try:
            check_level(self.state.verification, 1)
        except NotVerified as err:
            return self._refused(err)
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
            return self._refused(err)
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
