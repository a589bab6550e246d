"""The status bar: state, wake word, backends, microphone level."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import Static

from localvox.tui.widgets.render import STATE_STYLES, level_bar


class StateLabel(Static):
    state: reactive[str] = reactive("idle")

    def render(self) -> Text:
        label, style = STATE_STYLES.get(self.state, (self.state, ""))
        return Text(f"● {label}", style=style)


class MicMeter(Static):
    level: reactive[float] = reactive(0.0)
    enabled: reactive[bool] = reactive(True)

    def render(self) -> Text:
        if not self.enabled:
            return Text("mic ", style="bold") + Text("off", style="dim")
        return Text("mic ", style="bold") + level_bar(self.level)


class StatusBar(Horizontal):
    """State on the left, then what is running, then the mic meter."""

    def compose(self) -> ComposeResult:
        yield StateLabel(id="state")
        yield MicMeter(id="mic")
        yield Static("", id="backends")

    def set_state(self, state: str) -> None:
        self.query_one(StateLabel).state = state

    def set_level(self, rms: float) -> None:
        self.query_one(MicMeter).level = rms

    def set_mic_available(self, available: bool) -> None:
        self.query_one(MicMeter).enabled = available

    def set_backends(self, info: dict[str, str]) -> None:
        parts = []
        for key in ("wake_word", "asr", "llm", "tts"):
            if info.get(key):
                parts.append(f"{key.replace('_', ' ')}: {info[key]}")
        if info.get("echo"):
            parts.append(f"echo: {info['echo']}")
        self.query_one("#backends", Static).update(Text("  ·  ".join(parts), style="#abb2bf"))
