"""Tables and the plot of ``localvox bench wake`` (kept apart from the measuring)."""

from __future__ import annotations

from typing import Any


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _ms(x: float) -> str:
    return "-" if x != x else f"{1000 * x:.0f} ms"


def print_report(r: dict[str, Any]) -> None:
    from localvox.bench.common import table

    hours = r["negative_hours"]
    print(f"wake word: {r['model']} -- {r['positives']} positives; {r['set']}")
    print(f"negatives: {hours:.2f} h ({r['distinct_negative_minutes']:.1f} min distinct speech)")
    print()
    op = r["operating"]
    keys = [k for k in ("all", "clean", "noisy", "half A", "half B") if k in op["two stages"]]
    head = ["", "threshold"] + [f"miss {k}" for k in keys] + [
        "FA", "FA / h", "delay p50", "delay p95"]
    body = []
    for name, t in (("stage one alone", r["stage_one_threshold"]),
                    ("two stages", r["first_threshold"])):
        o = op["stage one" if name == "stage one alone" else "two stages"]
        body.append([name, t] + [f"{_pct(o[k]['miss_rate'])} ({o[k]['misses']}/{o[k]['n']})"
                                 for k in keys]
                    + [o["false_accepts"], f"{o['false_accepts'] / hours:.2f}" if hours else "-",
                       _ms(o["delay_p50_s"]), _ms(o["delay_p95_s"])])
    print(table(head, body, title="at the operating point (delay: after the phrase ends, "
                                  "stage two's compute included)"))
    print()
    rows = []
    for name, targets in r["at_fa_rate"].items():
        for a in targets:
            p = a["point"]
            note = (f"{a['allowed']} FA allowed in {hours:.2f} h" if a["measurable"] else
                    f"0 FA seen in {hours:.2f} h: only < {a['upper_bound_per_hour']:.1f}/h "
                    f"(95%) is measured, not 1/{1 / a['per_hour']:.0f} h")
            rows.append([name, f"1/{1 / a['per_hour']:.0f} h", _pct(p["miss_rate"] if p else None),
                         p["threshold"] if p else "-", p["false_accepts"] if p else "-", note])
    for system, miss in (tuple(x.values()) for x in r["published"]):
        rows.append([system, "1/10 h", f"{miss:.1f}%", "-", "-", "alexa, 10 dB noise"])
    print(table(["system", "FA rate", "miss", "threshold", "FA", "note"], rows,
                title="miss rate at a fixed false-accept rate (all positives, clean + noisy)"))
    print()
    print(f"stage two: {r['checks']} checks, {_ms(r['check_p50_s'])} p50 / "
          f"{_ms(r['check_p95_s'])} p95 each ({r['verifier']['model']}, "
          f"{r['verifier']['window_s']:g} s window); whole run RTF {r['compute_rtf']:.4f} "
          f"({100 * r['compute_rtf']:.1f}% of a core), {r['wall_s']:.0f} s wall")
    fas = [f for f in r["false_accept_rows"] if f["first_score"] >= r["stage_one_threshold"]
           or f["accepted"]]
    if fas:
        print()
        print(table(["negative stream", "at s", "stage one", "stage two heard", "accepted"],
                    [[f["stream"], f["at_s"], f"{f['first_score']:.2f}", f["heard"][:50],
                      f["accepted"]] for f in fas[:25]],
                    title="stage-one candidates on negatives (score >= the stage-one-alone "
                          "threshold, or accepted)"))
    missed = [p for p in r["positive_rows"] if not p["detected"]]
    if missed:
        print()
        print(table(["missed positive", "condition", "stage one max", "stage two heard"],
                    [[p["clip"], p["condition"], f"{p['stage_one_max']:.2f}",
                      " | ".join(p["heard"])[:50]] for p in missed[:25]],
                    title="two stages: missed positives"))


def plot(r: dict[str, Any], path: str) -> None:
    from localvox.bench.common import figure, save_figure

    fig, ax = figure(1, 1, size=(7, 5))
    a = ax[0][0]
    hours = r["negative_hours"]
    floor = 0.5 / hours if hours else 0.01      # where "0 false accepts" is drawn
    for name, pts in r["curves"].items():
        xs = [max(p["false_accepts_per_hour"], floor) for p in pts]
        a.plot(xs, [100 * p["miss_rate"] for p in pts], "o-", ms=3, label=name)
    for system, miss in (tuple(x.values()) for x in r["published"]):
        a.plot([0.1], [miss], "s", label=f"{system} @ 1/10 h")
    a.axvline(floor, color="gray", lw=0.5, ls=":")
    a.annotate("0 FA seen", (floor, 1), fontsize=7)
    a.set_xscale("log")
    a.set_ylim(0, 55)
    a.set_xlabel(f"false accepts per hour ({hours:.2f} h of negatives)")
    a.set_ylabel("miss rate %")
    a.set_title(f"{r['model']}: miss rate vs false accepts")
    a.legend(fontsize=7)
    save_figure(fig, path)
