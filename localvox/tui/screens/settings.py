"""Settings: wake word, devices, models, backends; saved to the user config.

Changes are validated and written with ``save_user_settings``; the app applies what it
can at once and says what needs a restart.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Select

from localvox.config import Config

# (section, key, label, choices); devices are filled in at open time.
FIELDS: list[tuple[str, str, str, list[str]]] = [
    ("wake", "model", "Wake word", ["hey_jarvis", "alexa", "hey_mycroft", "ok_nabu"]),
    ("wake", "mode", "Listening", ["wake", "ptt", "always"]),
    ("audio", "input_device", "Input device", []),
    ("audio", "output_device", "Output device", []),
    ("asr", "model", "Speech recognition", ["whisper_tiny_en", "whisper_base"]),
    ("llm", "backend", "LLM backend", ["llama_cpp", "openai"]),
    ("llm", "model", "LLM model", ["smollm2_135m", "gemma3_270m"]),
    ("tts", "voice", "Voice", ["piper_joe_medium"]),
    ("speech", "where", "Speech", ["local", "cloud"]),
]


def device_choices(kind: str) -> list[str]:
    """Device names from sounddevice, or nothing when there is no sound card."""
    try:
        from localvox.audio.device import list_devices
    except ImportError:
        return []
    try:
        return [d.name for d in list_devices() if d.channels(kind) > 0]
    except Exception:  # no PortAudio / no devices: the settings still open
        return []


class SettingsScreen(ModalScreen[dict[str, dict[str, Any]] | None]):
    """Returns the changed settings as {section: {key: value}}, or None when cancelled."""

    BINDINGS = [("escape", "cancel", "Cancel")]

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self._initial: dict[str, str] = {}

    def _current(self, section: str, key: str) -> str:
        if section == "speech":
            return "cloud" if self.config.asr.backend == "pulse" else "local"
        return str(getattr(getattr(self.config, section), key))

    def compose(self) -> ComposeResult:
        with Vertical(id="settings-dialog", classes="dialog"):
            yield Label("Settings", classes="title")
            with Grid(id="settings-grid"):
                for section, key, label, choices in FIELDS:
                    if section == "audio":
                        choices = [""] + device_choices("input" if "input" in key else "output")
                    current = self._current(section, key)
                    if current not in choices:
                        choices = [current, *choices]
                    self._initial[f"{section}.{key}"] = current
                    yield Label(label)
                    yield Select([(c or "system default", c) for c in choices], value=current,
                                 allow_blank=False, id=f"set-{section}-{key}")
            with Horizontal(classes="buttons"):
                yield Button("Save", id="save", variant="primary")
                yield Button("Cancel", id="cancel")

    def changes(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for section, key, _, _ in FIELDS:
            value = self.query_one(f"#set-{section}-{key}", Select).value
            if value == self._initial[f"{section}.{key}"]:
                continue
            if section == "speech":
                cloud = value == "cloud"
                out.setdefault("asr", {})["backend"] = "pulse" if cloud else "whisper"
                out.setdefault("tts", {})["backend"] = "lightning" if cloud else "piper"
            else:
                out.setdefault(section, {})[key] = value
        return out

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(self.changes() if event.button.id == "save" else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
