"""Shared helpers for the bench modules: tables, JSON, plots, WER normalisation, process stats.

Why one place: every bench prints a table, writes the same figures as JSON and can draw
them, and the ASR bench and its tests must agree on how text is normalised before
scoring. Nothing heavy at import time: matplotlib is imported inside ``figure()`` with
the Agg backend (no display on these machines), jiwer inside ``wer()``.

(This module is skipped by ``localvox bench`` discovery: it is not a bench.)
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from pathlib import Path
from typing import Any, Iterable, Sequence

# --------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str = "") -> str:
    """A plain text table: numbers right-aligned, floats shown with 3 significant places."""

    def cell(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, bool):
            return "yes" if v else "no"
        if isinstance(v, float):
            if math.isnan(v):
                return "-"
            if v != 0 and abs(v) < 0.01:
                return f"{v:.4f}"
            return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
        return str(v)

    body = [[cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in body:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], len(c))
    numeric = [all(_is_num(r[i]) for r in body) if body else False for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if numeric[i] else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = [title] if title else []
    out.append(line(list(headers)))
    out.append("  ".join("-" * w for w in widths))
    out.extend(line(r) for r in body)
    return "\n".join(out)


def _is_num(s: str) -> bool:
    try:
        float(s.rstrip("%x"))
        return True
    except ValueError:
        return s == "-"


def write_json(path: str | Path | None, data: Any) -> None:
    """Write ``data`` as indented JSON if a path was given (``--json FILE``)."""
    if not path:
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data, indent=2, default=_jsonable), encoding="utf-8")
    print(f"wrote {path}")


def _jsonable(v: Any) -> Any:
    if hasattr(v, "item"):  # numpy scalars
        return v.item()
    if hasattr(v, "tolist"):
        return v.tolist()
    if isinstance(v, Path):
        return str(v)
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def figure(nrows: int = 1, ncols: int = 1, *, size: tuple[float, float] = (10, 4)) -> Any:
    """A matplotlib ``(fig, axes)`` on the Agg backend (imported here, not at module load)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=size, squeeze=False)
    return fig, axes


def save_figure(fig: Any, path: str | Path) -> None:
    import matplotlib.pyplot as plt

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


def percentile(values: Sequence[float], q: float) -> float:
    """``q``-th percentile (0-100) by linear interpolation; NaN for no values."""
    xs = sorted(float(v) for v in values)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


# --------------------------------------------------------------------------------------
# Whisper-style text normalisation (English), for WER
# --------------------------------------------------------------------------------------

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_WORD_VALUES: dict[str, int] = {w: i for i, w in enumerate(_ONES)}
_WORD_VALUES.update({w: 10 * i for i, w in enumerate(_TENS) if w})
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000, "billion": 1_000_000_000}
_ORDINALS = {"first": "1", "second": "2", "third": "3", "fourth": "4", "fifth": "5",
             "sixth": "6", "seventh": "7", "eighth": "8", "ninth": "9", "tenth": "10",
             "eleventh": "11", "twelfth": "12", "thirteenth": "13", "fifteenth": "15",
             "twentieth": "20", "thirtieth": "30"}
# British/American spellings and contractions Whisper's normaliser also folds.
_SPELLINGS = {"colour": "color", "favourite": "favorite", "centre": "center", "metre": "meter",
              "metres": "meters", "litre": "liter", "litres": "liters", "theatre": "theater",
              "organise": "organize", "realise": "realize", "travelling": "traveling",
              "grey": "gray", "okay": "ok", "mr": "mister", "mrs": "missus", "dr": "doctor",
              "st": "saint", "percent": "%"}
_CONTRACTIONS = [(r"\bwon't\b", "will not"), (r"\bcan't\b", "can not"), (r"\bcannot\b", "can not"),
                 (r"\blet's\b", "let us"), (r"n't\b", " not"), (r"'re\b", " are"),
                 (r"'ve\b", " have"), (r"'ll\b", " will"), (r"'d\b", " would"),
                 (r"'m\b", " am"), (r"\bit's\b", "it is"), (r"\bthat's\b", "that is"),
                 (r"\bwhat's\b", "what is"), (r"\bthere's\b", "there is"),
                 (r"\bhe's\b", "he is"), (r"\bshe's\b", "she is"), (r"\bwho's\b", "who is"),
                 (r"\bhow's\b", "how is"), (r"\bwhere's\b", "where is")]
_FILLERS = {"um", "uh", "hmm", "mm", "mhm", "er", "ah", "oh"}


def _words_to_numbers(words: list[str]) -> list[str]:
    """Fold runs of number words into digits: "twenty one" -> "21", "two hundred and five"
    -> "205", "three thousand" -> "3000". A word that cannot continue the number ("one
    two") starts a new one, so digit strings read out one by one stay separate numbers."""
    out: list[str] = []
    total = current = 0
    active = False

    def close() -> None:
        nonlocal total, current, active
        if active:
            out.append(str(total + current))
        total = current = 0
        active = False

    for i, w in enumerate(words):
        if w in _WORD_VALUES:
            v = _WORD_VALUES[w]
            rem = current % 100
            fits = rem == 0 or (v < 10 and rem >= 20 and rem % 10 == 0)
            if active and (not fits or (v == 0 and current)):
                close()
            current += v
            active = True
        elif w == "hundred" and (active or not out or out[-1] == "a") and current % 100 == current:
            if out and out[-1] == "a" and not active:
                out.pop()
            current = max(current, 1) * 100
            active = True
        elif w in _SCALES and w != "hundred" and active:
            total += max(current, 1) * _SCALES[w]
            current = 0
        elif w == "and" and active and current % 100 == 0 and (current or total) \
                and i + 1 < len(words) and words[i + 1] in _WORD_VALUES:
            continue
        else:
            close()
            out.append(_ORDINALS.get(w, w))
    close()
    return out


def normalize_english(text: str) -> str:
    """Whisper-style English normalisation for WER (a small subset of its
    ``EnglishTextNormalizer``, without pulling in torch): lowercase, expand contractions,
    fold British spellings, spell numbers as digits, drop fillers and punctuation.

    >>> normalize_english("It's twenty-one degrees, Dr. Smith!")
    'it is 21 degrees doctor smith'
    """
    t = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    t = re.sub(r"[\[(<][^\])>]*[\])>]", " ", t)          # [music], (laughs)
    for pat, rep in _CONTRACTIONS:
        t = re.sub(pat, rep, t)
    t = re.sub(r"(?<=\d),(?=\d{3}\b)", "", t)             # 1,000 -> 1000
    t = re.sub(r"(\d)\s*%", r"\1 %", t)
    t = t.replace("-", " ")
    t = re.sub(r"(?<!\d)\.(?!\d)", " ", t)                  # keep 3.5
    t = re.sub(r"[^\w\s%.']", " ", t)
    t = t.replace("'", " ")
    words = [_SPELLINGS.get(w, w) for w in t.split() if w not in _FILLERS]
    words = _words_to_numbers(words)
    return " ".join(w.strip(".") for w in words if w.strip("."))


def wer(references: Sequence[str], hypotheses: Sequence[str]) -> dict[str, Any]:
    """Corpus word error rate after ``normalize_english``; counts for the table and JSON."""
    import jiwer

    refs = [normalize_english(r) for r in references]
    hyps = [normalize_english(h) for h in hypotheses]
    pairs = [(r, h) for r, h in zip(refs, hyps) if r]
    if not pairs:
        return {"wer": float("nan"), "words": 0, "substitutions": 0, "deletions": 0,
                "insertions": 0}
    out = jiwer.process_words([r for r, _ in pairs], [h if h else "" for _, h in pairs])
    words = sum(len(r.split()) for r, _ in pairs)
    return {"wer": float(out.wer), "words": words, "substitutions": out.substitutions,
            "deletions": out.deletions, "insertions": out.insertions}


# --------------------------------------------------------------------------------------
# Process figures (system bench, soak)
# --------------------------------------------------------------------------------------


def process_stats() -> dict[str, Any]:
    """RSS (MiB), threads, open files and CPU seconds of this process (psutil)."""
    import psutil

    p = psutil.Process()
    cpu = p.cpu_times()
    try:
        files = len(p.open_files())
    except psutil.Error:
        files = -1
    return {"rss_mb": p.memory_info().rss / 2**20, "threads": p.num_threads(),
            "open_files": files, "fds": p.num_fds() if hasattr(p, "num_fds") else -1,
            "cpu_s": cpu.user + cpu.system}
