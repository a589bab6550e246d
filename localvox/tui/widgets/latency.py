"""Per-turn latency: the last turn's waterfall and the session's running p50.

Figures come from the pipeline's ``TurnTrace`` marks, never from the TUI's own clocks. A
spoken turn is measured voice→voice (end of the user's speech to the first reply audio), a
typed one text→voice (the line sent to the first audio): they are different figures, so
each is labelled for what it is and the p50 is taken over turns of the same kind.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from localvox.tui.widgets.render import fmt_ms, percentile, voice_to_voice, waterfall


class LatencyPanel(Static):
    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.turns: list[dict[str, float]] = []
        self.sources: list[str] = []
        self.update(self._build())

    def add_trace(self, turn_id: int, marks: dict[str, float], source: str = "voice") -> None:
        """A finished user turn (``source`` voice or text; agent announcements have no
        user latency and are not shown)."""
        self.turns.append(dict(marks, _turn=float(turn_id)))
        self.sources.append(source)
        self.update(self._build())

    def _build(self) -> Text:
        text = Text()
        text.append("latency", style="bold underline")
        if not self.turns:
            text.append("\nno turns yet", style="dim")
            return text
        last, kind = self.turns[-1], self.sources[-1]
        same = [t for t, s in zip(self.turns, self.sources) if s == kind]
        totals = [v for v in (voice_to_voice(t) for t in same) if v is not None]
        text.append(f" · turn #{int(last['_turn'])}\n")
        text.append_text(waterfall(last, width=22))
        text.append("text→voice " if kind == "text" else "voice→voice ", style="bold")
        text.append(f"{fmt_ms(voice_to_voice(last))}\n")
        text.append(f"session p50 {fmt_ms(percentile(totals, 0.5))}", style="#98c379")
        text.append(f" over {len(totals)} turn{'s' if len(totals) != 1 else ''}", style="dim")
        return text
