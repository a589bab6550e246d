"""Pure rendering helpers shared by the widgets (no widget state, easy to test)."""

from __future__ import annotations

from rich.text import Text

# Waterfall stages in the order they happen, with the trace marks that bound them.
STAGES: tuple[tuple[str, str, str, str], ...] = (
    ("endpoint", "speech_end", "endpoint", "#e5c07b"),
    ("transcript", "endpoint", "final_transcript", "#61afef"),
    ("first token", "final_transcript", "llm_first_token", "#c678dd"),
    ("first clause", "llm_first_token", "first_chunk_text", "#56b6c2"),
    ("first audio", "first_chunk_text", "first_audio_out", "#98c379"),
)
"""A chat reply's first clause is the LLM writing (~0.5 s at 14 tokens/s), its first audio
the synthesiser voicing it (~0.1-0.2 s): one bar for both hid which one to shorten."""

STATE_STYLES: dict[str, tuple[str, str]] = {
    "idle": ("idle", "dim"),
    "sleeping": ("sleeping · say the wake word", "#7f848e"),
    "listening": ("listening", "bold #61afef"),
    "hearing": ("hearing you", "bold #e5c07b"),
    "transcribing": ("transcribing", "bold #e5c07b"),
    "thinking": ("thinking", "bold #c678dd"),
    "speaking": ("speaking", "bold #98c379"),
    "muted": ("muted", "bold #e06c75"),
}


def fmt_ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:,.0f} ms"


def level_bar(level: float, width: int = 12) -> Text:
    """A microphone meter: ``level`` is RMS in [0, 1], shown on a dB-like scale."""
    import math

    db = 20 * math.log10(max(level, 1e-5))
    fill = max(0.0, min(1.0, (db + 60) / 60))
    n = round(fill * width)
    style = "#98c379" if fill < 0.7 else "#e5c07b" if fill < 0.9 else "#e06c75"
    return Text("▮" * n, style=style) + Text("▯" * (width - n), style="#3e4451")


def stage_durations(marks: dict[str, float]) -> list[tuple[str, float | None, str]]:
    out = []
    for label, start, end, color in STAGES:
        if start in marks and end in marks:
            out.append((label, max(0.0, marks[end] - marks[start]), color))
        else:
            out.append((label, None, color))
    return out


def voice_to_voice(marks: dict[str, float]) -> float | None:
    start = marks.get("speech_end", marks.get("final_transcript"))
    if start is None or "first_audio_out" not in marks:
        return None
    return max(0.0, marks["first_audio_out"] - start)


def waterfall(marks: dict[str, float], width: int = 22) -> Text:
    """One line per stage, offset and sized by its share of the turn's latency."""
    stages = stage_durations(marks)
    total = sum(d for _, d, _ in stages if d is not None) or 1.0
    text = Text()
    offset = 0.0
    for label, dur, color in stages:
        text.append(f"{label:<12}", style="bold")
        if dur is None:
            text.append(" " * width + "      —\n", style="dim")
            continue
        lead = round(offset / total * width)
        size = max(1, round(dur / total * width))
        text.append(" " * lead)
        text.append("█" * size, style=color)
        text.append(" " * max(0, width - lead - size))
        text.append(f" {dur * 1000:>6.0f} ms\n")
        offset += dur
    return text


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)
