"""Help: what the keys do and how to talk to localvox."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Markdown

HELP = """\
# localvox

Say the wake word (shown in the status bar), then ask. Or type in the box at the bottom.

| key | does |
|---|---|
| **F2** | push-to-talk (toggle; or hold, in settings) |
| **F3** | mute / unmute the microphone |
| **Esc** | stop speaking (interrupt the reply) |
| **F4** | speech output on / off (replies still appear here) |
| **F9** | settings |
| **F1** | this help |
| **Ctrl+P** | command palette |
| **Ctrl+Q** | quit |

Talking over the assistant interrupts it. Tool calls show as ⚙ lines: select one to
see its arguments and result. The latency panel times the last turn from the end of
your speech to the first sound of the reply.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [("escape", "dismiss", "Close"), ("f1", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog"):
            yield Markdown(HELP)
            yield Button("Close", id="close", variant="primary")

    def on_button_pressed(self) -> None:
        self.dismiss(None)
