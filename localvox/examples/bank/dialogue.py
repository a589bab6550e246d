"""Understanding a bank caller without asking a 135M-parameter model to do it.

The default offline LLM cannot pick tools or copy figures reliably, so the bank agent
uses a deterministic dialogue policy (``policy.BankPolicy``) fed by this module: a few
regular-expression cues turn an utterance into a ``Request`` (what the caller wants, with
its slots) and pull verification answers out of free speech. It is deliberately
conservative: anything it does not recognise goes to the LLM as open conversation, which
cannot reach a tool.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from localvox.examples.bank.verification import normalize_last4, parse_date

CATEGORIES = ("shopping", "food", "groceries", "travel", "fuel", "health", "utilities",
              "entertainment", "cash", "housing")
_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december"]
_MONTH_RE = "|".join(m for m in _MONTHS) + "|" + "|".join(m[:3] for m in _MONTHS)


@dataclass
class Request:
    kind: str
    """spend | trend | compare | balance | deposits | break_fd | recent | cold_transfer |
    warm_transfer | end_call | yes | no | chat"""
    merchant: str | None = None
    category: str | None = None
    since: str | None = None
    until: str | None = None
    years: list[str] = field(default_factory=list)
    fd_hint: str | None = None
    count: int = 5

    @property
    def level(self) -> int:
        """Verification level this request needs."""
        if self.kind == "break_fd":
            return 2
        if self.kind in ("spend", "trend", "compare", "balance", "deposits", "recent"):
            return 1
        return 0


def _has(t: str, *patterns: str) -> bool:
    return any(re.search(p, t) for p in patterns)


def parse_since(t: str, today: dt.date) -> tuple[str | None, str | None]:
    """('since January 2024' -> '2024-01-01', None); ('in 2024' -> 2024-01-01..2024-12-31)."""
    m = re.search(rf"\b(?:since|from|after)\s+(?:the\s+)?(?:start\s+of\s+|beginning\s+of\s+)?"
                  rf"(?:(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?)?({_MONTH_RE})[a-z]*,?\s+(\d{{4}})", t)
    if m:
        day = int(m.group(1) or 1)
        month = next(i for i, name in enumerate(_MONTHS, 1) if name.startswith(m.group(2)[:3]))
        try:
            return dt.date(int(m.group(3)), month, day).isoformat(), None
        except ValueError:
            return None, None
    m = re.search(r"\b(?:since|from|after)\s+(\d{4})\b", t)
    if m:
        return f"{m.group(1)}-01-01", None
    iso = re.search(r"\bsince\s+(\S+)", t)
    if iso and (d := parse_date(iso.group(1))):
        return d, None
    m = re.search(r"\b(?:in|during|for)\s+(?:the\s+year\s+)?(\d{4})\b", t)
    if m:
        return f"{m.group(1)}-01-01", f"{m.group(1)}-12-31"
    if "last year" in t:
        y = today.year - 1
        return f"{y}-01-01", f"{y}-12-31"
    if "this year" in t:
        return f"{today.year}-01-01", None
    return None, None


def parse_request(text: str, merchants: list[str], today: dt.date | None = None) -> Request:
    """Classify one utterance. ``merchants`` are the names in the caller's own data."""
    today = today or dt.date.today()
    t = " ".join(re.sub(r"[^\w\s'-]", " ", text.lower()).split())
    if not t:
        return Request("chat")
    if _has(t, r"^(yes|yeah|yep|sure|ok|okay|please do|go ahead|confirm|correct|do it)\b"):
        return Request("yes")
    if _has(t, r"^(no|nope|don't|do not|cancel|never mind|not now)\b"):
        return Request("no")
    if _has(t, r"\bsupervisor\b", r"\bmanager\b", r"\bcomplaint\b", r"\bescalate\b"):
        return Request("warm_transfer")
    if _has(t, r"\b(human|real person|representative|an agent|live agent|someone)\b"):
        return Request("cold_transfer")
    if _has(t, r"\b(bye|goodbye|hang up|end the call|that's all|that is all|nothing else)\b"):
        return Request("end_call")
    if _has(t, r"^(what is|what's|whats|explain|define) (a|an)\b"):
        return Request("chat")  # a question about banking, not about their money
    merchant = next((m for m in sorted(merchants, key=len, reverse=True)
                     if re.search(rf"\b{re.escape(m.lower())}\b", t)), None)
    category = next((c for c in CATEGORIES if re.search(rf"\b{c}\b", t)), None)
    years = re.findall(r"\b(20\d\d)\b", t)
    if _has(t, r"\b(break|close|withdraw|liquidate|cancel|encash)\b.*\b(fd|fixed deposit|deposit)",
            r"\bpremature\b"):
        m = re.search(r"\b(fd\s?\d{4,}|\d{4})\b", t)
        return Request("break_fd", fd_hint=m.group(1).replace(" ", "").upper() if m else None)
    if _has(t, r"\b(fd|fds|fixed deposits?)\b"):
        return Request("deposits")
    if _has(t, r"\bbalance\b", r"how much (money )?(do i have|is in|is there)"):
        return Request("balance")
    if _has(t, r"\bcompare\b", r"\bversus\b", r"\bvs\b") and len(years) >= 2:
        return Request("compare", merchant, category, years=years[:2])
    if _has(t, r"\b(trend|year by year|each year|every year|per year|yearly|annual)\b"):
        return Request("trend", merchant, category)
    if _has(t, r"\b(spend|spent|spending|pay|paid|expenses?|cost)\b"):
        since, until = parse_since(t, today)
        return Request("spend", merchant, category, since, until)
    if _has(t, r"\b(recent|last|latest)\b.*\btransactions?\b", r"\bstatement\b"):
        m = re.search(r"\b(\d{1,2}|three|five|ten)\b", t)
        words = {"three": 3, "five": 5, "ten": 10}
        n = int(m.group(1)) if m and m.group(1).isdigit() else words.get(m.group(1), 5) if m else 5
        return Request("recent", count=max(1, min(n, 20)))
    return Request("chat")


_NAME_CUE = re.compile(r"\b(?:my name is|name's|this is|i am|i'm|it's)\s+([a-z][a-z .'-]+)",
                       re.IGNORECASE)
_CITY_CUE = re.compile(r"\b(?:i live in|i'm from|i am from|living in|city is|based in)\s+"
                       r"([a-z][a-z ]+)", re.IGNORECASE)
_STOP_AFTER_NAME = re.compile(r"\b(and|born|from|my|i|date|dob|living|who)\b.*$", re.IGNORECASE)


def extract_factors(text: str, expected: str | None) -> dict[str, str]:
    """Verification answers in ``text``. ``expected`` is the factor the agent just asked
    for; a bare answer ("Priya Sharma", "Pune", "four three two one") fills it."""
    found: dict[str, str] = {}
    low = text.lower()
    if (m := _NAME_CUE.search(text)):
        name = _STOP_AFTER_NAME.sub("", m.group(1)).strip(" .,")
        if len(name.split()) >= 2:
            found["name"] = name
    if (d := parse_date(text)):
        found["dob"] = d
    if (m := _CITY_CUE.search(text)):
        found["city"] = _STOP_AFTER_NAME.sub("", m.group(1)).strip(" .,")
    acct = re.search(r"account[^.]*?(?:ends?|ending|last four[^0-9a-z]*(?:digits)?[^0-9a-z]*"
                     r"(?:are|is)?)\s*(?:in|with)?\s*([\w ,-]+)", low)
    if acct and (d4 := normalize_last4(acct.group(1))):
        found["account_last4"] = d4
    card = re.search(r"card[^.]*?(?:ends?|ending|last four[^0-9a-z]*(?:digits)?[^0-9a-z]*"
                     r"(?:are|is)?)\s*(?:in|with)?\s*([\w ,-]+)", low)
    if card and (d4 := normalize_last4(card.group(1))):
        found["debit_last4"] = d4
    if expected and expected not in found:
        bare = text.strip(" .!?")
        bare = re.sub(r"^(it's|it is|that's|that is|sure|yes|ok|okay)[,\s]+", "", bare,
                      flags=re.IGNORECASE)
        if expected in ("account_last4", "debit_last4"):
            if (d4 := normalize_last4(bare)) and len(re.sub(r"\D", "", d4)) == 4:
                found[expected] = d4
        elif expected == "name" and re.fullmatch(r"[A-Za-z][A-Za-z .'-]{2,60}", bare) \
                and len(bare.split()) >= 2:
            found["name"] = bare
        elif expected == "city" and re.fullmatch(r"[A-Za-z][A-Za-z .'-]{1,40}", bare):
            found["city"] = bare
    return found
