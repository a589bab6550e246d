"""Deterministic arithmetic over query results, in integer paise.

The LLM never adds numbers: it (or the dialogue policy) fetches rows with the SQL tool and
hands them here. Totals, yearly trends and period comparisons are exact integers; the only
rounding is a percentage shown to one decimal place, computed from exact fractions.
"""

from __future__ import annotations

import json
from collections import defaultdict
from fractions import Fraction
from typing import Any, Iterable

from localvox.errors import LocalvoxError

ANALYSES = ("total", "trend_yearly", "trend_monthly", "comparison", "by_merchant")


class AnalysisError(LocalvoxError):
    """The rows cannot be analysed as asked (no amount column, bad period, ...)."""


def rows_of(data: str | Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as err:
            raise AnalysisError(f"data_json is not JSON: {err.msg}") from None
    if isinstance(data, dict) and "rows" in data:
        data = data["rows"]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise AnalysisError("data must be a list of row objects")
    return data


def amount_of(row: dict[str, Any]) -> int:
    """The row's amount in paise, signed negative for a credit when the row says so."""
    for key in ("amount_paise", "total_paise", "paise"):
        if key in row:
            value = row[key]
            break
    else:
        keys = [k for k in row if k.endswith("_paise")]
        if not keys:
            raise AnalysisError("rows need an amount_paise column (integer paise)")
        value = row[keys[0]]
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.lstrip("-").isdigit():
            value = int(value)
        else:
            raise AnalysisError(f"amount must be integer paise, got {value!r}")
    return value


def _date_of(row: dict[str, Any]) -> str:
    for key in ("posted_on", "date", "day"):
        if isinstance(row.get(key), str) and len(row[key]) >= 7:
            return row[key]
    raise AnalysisError("rows need a posted_on date column (YYYY-MM-DD) for a trend")


def pct_change(old: int, new: int) -> float | None:
    if old == 0:
        return None
    return float(round(Fraction(new - old, old) * 100, 1))


def total(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"total_paise": sum(amount_of(r) for r in rows), "count": len(rows),
            "currency": "INR"}


def trend(rows: list[dict[str, Any]], width: int) -> dict[str, Any]:
    buckets: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        b = buckets[_date_of(r)[:width]]
        b[0] += amount_of(r)
        b[1] += 1
    keys = sorted(buckets)
    periods = [{"period": k, "total_paise": buckets[k][0], "count": buckets[k][1]} for k in keys]
    for prev, cur in zip(periods, periods[1:]):
        cur["change_paise"] = cur["total_paise"] - prev["total_paise"]
        cur["change_pct"] = pct_change(prev["total_paise"], cur["total_paise"])
    return {"periods": periods, "currency": "INR"}


def comparison(rows: list[dict[str, Any]], period_a: str, period_b: str) -> dict[str, Any]:
    """Compare two periods given as 'YYYY', 'YYYY-MM' or 'YYYY-MM-DD..YYYY-MM-DD'."""
    def within(day: str, period: str) -> bool:
        if ".." in period:
            start, end = period.split("..", 1)
            return start <= day[:len(start)] and day[:len(end)] <= end
        return day.startswith(period)

    if not period_a or not period_b:
        raise AnalysisError("comparison needs period_a and period_b (e.g. 2024 and 2025)")
    out: dict[str, Any] = {"currency": "INR"}
    for label, period in (("a", period_a), ("b", period_b)):
        sel = [r for r in rows if within(_date_of(r), period)]
        out[label] = {"period": period, "total_paise": sum(amount_of(r) for r in sel),
                      "count": len(sel)}
    out["difference_paise"] = out["b"]["total_paise"] - out["a"]["total_paise"]
    out["change_pct"] = pct_change(out["a"]["total_paise"], out["b"]["total_paise"])
    return out


def by_merchant(rows: list[dict[str, Any]]) -> dict[str, Any]:
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        s = sums[str(r.get("merchant", "unknown"))]
        s[0] += amount_of(r)
        s[1] += 1
    ranked = sorted(sums.items(), key=lambda kv: (-kv[1][0], kv[0]))
    return {"merchants": [{"merchant": m, "total_paise": t, "count": c} for m, (t, c) in ranked],
            "currency": "INR"}


def analyze(data: str | list[dict[str, Any]], analysis_type: str, period_a: str = "",
            period_b: str = "") -> dict[str, Any]:
    rows = rows_of(data)
    if analysis_type == "total":
        return total(rows)
    if analysis_type == "trend_yearly":
        return trend(rows, 4)
    if analysis_type == "trend_monthly":
        return trend(rows, 7)
    if analysis_type == "comparison":
        return comparison(rows, period_a, period_b)
    if analysis_type == "by_merchant":
        return by_merchant(rows)
    raise AnalysisError(f"unknown analysis_type {analysis_type!r}; use one of {', '.join(ANALYSES)}")
