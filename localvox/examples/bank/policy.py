"""The bank's deterministic dialogue policy: intent mode, for models too small to drive tools.

``BankPolicy`` recognises requests (``dialogue.parse_request``), collects verification
answers one at a time, and calls the *same* tools as native mode through ``BankCSR.call_tool``
(so every call is validated, timed, emitted and audited). Replies that carry facts are
composed here from tool results: a tiny model would garble "two lakh seven thousand".
It lives apart from ``agent.py`` (the node, its tools and the native path) so each stays
under the house limit of ~400 lines; ``BankCSR.generate_response`` runs one per turn.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from localvox.examples.bank.dialogue import Request, extract_factors, parse_request
from localvox.examples.bank.speech import count_phrase, rupees_in_words, spoken_date
from localvox.examples.bank.verification import FACTOR_LABELS, spoken_digits

if TYPE_CHECKING:
    from localvox.examples.bank.agent import BankCSR

COLLECT_ORDER = ("name", "dob", "account_last4", "city", "debit_last4")


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
