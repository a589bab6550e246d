"""``bench commands``' report: per-SNR rows, the table beside Picovoice's, the plot.

Why a module of its own: everything here is bookkeeping over finished
:class:`~localvox.bench.commands_clips.Result` records, the same whether they came from a
run through the spoken loop or from ``--reroute``; the measuring half
(:mod:`localvox.bench.commands`) never has to change for a new column.

``PUBLISHED`` holds Picovoice's speech-to-intent table (their README: cafe and kitchen noise
at 6-24 dB); ``average_6_24`` is our acceptance over the same SNR range, for the row beside it.
"""

from __future__ import annotations

from typing import Any

from localvox.bench.commands_clips import Result, snr_label
from localvox.bench.latency_report import percentile

__all__ = ["PUBLISHED", "summarize", "print_report", "plot"]

PUBLISHED = [
    # engine, average over 6-24 dB, {snr: acceptance}
    ("Picovoice Rhino", 97.6, {24: 99.0, 6: 93.5}),
    ("Microsoft LUIS", 89.9, {}),
    ("IBM Watson", 86.8, {}),
    ("Amazon Lex", 84.5, {}),
    ("Google Dialogflow", 77.6, {}),
]


def summarize(results: list[Result], snrs: list[float | None], *,
              bias_text: str = "") -> dict[str, Any]:
    """The ``--json`` document: a row per SNR (acceptance, slot accuracy, no-command and
    split-turn counts, endpoint and voice-to-tool p50/p95), the 6-24 dB average, the
    published rows and every clip's result."""
    rows: dict[str, Any] = {}
    for snr in snrs:
        label = snr_label(snr)
        sub = [r for r in results if r.snr == label]
        if not sub:
            continue
        ep = [r.endpoint_ms for r in sub if r.endpoint_ms is not None]
        tl = [r.tool_ms for r in sub if r.tool_ms is not None]
        rows[label] = {
            "snr_db": snr, "clips": len(sub),
            "acceptance": 100.0 * sum(r.accepted for r in sub) / len(sub),
            "slot_accuracy": 100.0 * sum(r.slots_right for r in sub)
            / max(1, sum(r.slots_total for r in sub)),
            "no_command": sum(r.tool is None for r in sub),
            "split_turns": sum(r.turns > 1 for r in sub),
            "endpoint_p50_ms": percentile(ep, 50), "endpoint_p95_ms": percentile(ep, 95),
            "tool_p50_ms": percentile(tl, 50), "tool_p95_ms": percentile(tl, 95),
        }
    noisy = [v for v in rows.values() if v["snr_db"] is not None and 6 <= v["snr_db"] <= 24]
    average = sum(v["acceptance"] for v in noisy) / len(noisy) if noisy else None
    return {"bench": "commands", "rows": rows, "average_6_24": average,
            "published": [{"engine": e, "average": a, "by_snr": s} for e, a, s in PUBLISHED],
            "asr_prompt": bias_text, "results": [r.__dict__ for r in results]}


def print_report(summary: dict[str, Any]) -> None:
    from localvox.bench.common import table

    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v:.0f}"

    rows = []
    for label, v in summary["rows"].items():
        rows.append([label, v["clips"], f"{v['acceptance']:.1f}%", f"{v['slot_accuracy']:.1f}%",
                     v["no_command"], v["split_turns"], ms(v["endpoint_p50_ms"]),
                     ms(v["endpoint_p95_ms"]), ms(v["tool_p50_ms"]), ms(v["tool_p95_ms"])])
    mode = "real time" if summary.get("realtime") else \
        "fast mode: latencies on the fast-mode clock; use --realtime for a live microphone's"
    if summary.get("rerouted_from"):
        mode = f"transcripts of {summary['rerouted_from']} routed again"
    print(table(["SNR", "clips", "accepted", "slots", "no cmd", "split", "endpoint p50",
                 "p95", "voice->tool p50", "p95"], rows,
                title=f"localvox (barista example, whole spoken path; {mode})"))
    avg = summary["average_6_24"]
    print()
    pub = [["localvox (this run)", "-" if avg is None else f"{avg:.1f}%",
            _at(summary, 24), _at(summary, 6)]]
    for p in summary["published"]:
        pub.append([p["engine"] + " (published)", f"{p['average']:.1f}%",
                    f"{p['by_snr'][24]:.1f}%" if 24 in p["by_snr"] else "-",
                    f"{p['by_snr'][6]:.1f}%" if 6 in p["by_snr"] else "-"])
    print(table(["engine", "avg 6-24 dB", "24 dB", "6 dB"], pub,
                title="command acceptance beside Picovoice's speech-to-intent table"))


def _at(summary: dict[str, Any], snr: float) -> str:
    row = summary["rows"].get(snr_label(snr))
    return "-" if row is None else f"{row['acceptance']:.1f}%"


def plot(summary: dict[str, Any], out: str) -> None:
    from localvox.bench.common import figure, save_figure

    fig, ax = figure(1, 1, size=(7, 4.5))
    a = ax[0][0]
    pts = sorted((v["snr_db"], v["acceptance"]) for v in summary["rows"].values()
                 if v["snr_db"] is not None)
    if pts:
        a.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label="localvox (measured)")
    clean = summary["rows"].get("clean")
    if clean:
        a.axhline(clean["acceptance"], color="C0", ls=":", label="localvox clean")
    for p in summary["published"]:
        if p["by_snr"]:
            xs = sorted(p["by_snr"])
            a.plot(xs, [p["by_snr"][x] for x in xs], "s--", label=f"{p['engine']} (published)")
        a.axhline(p["average"], ls="--", lw=0.6, color="grey")
        a.text(24.2, p["average"], f"{p['engine']} avg", fontsize=7, va="center")
    a.set_xlabel("SNR (dB)")
    a.set_ylabel("command acceptance %")
    a.set_title("spoken coffee orders: acceptance vs SNR")
    a.invert_xaxis()
    a.legend(fontsize=8)
    save_figure(fig, out)
