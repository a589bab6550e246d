"""The conversation pane: turns, streamed replies, tool calls and notices."""

from __future__ import annotations

import json

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Collapsible, Static


class UserTurn(Static):
    """What the user said (or typed)."""


class AssistantTurn(Static):
    """The assistant's reply, growing as it streams."""

    def __init__(self, turn_id: int) -> None:
        super().__init__("", classes="assistant streaming")
        self.turn_id = turn_id
        self.text = ""

    def append(self, chunk: str) -> None:
        self.text += chunk
        self.update(Text(self.text))

    def finish(self, text: str, interrupted: bool) -> None:
        self.text = text or self.text
        self.remove_class("streaming")
        label = Text(self.text)
        if interrupted:
            self.add_class("interrupted")
            label.append("  ⏹ interrupted", style="italic #e06c75")
        self.update(label)


class ToolCallView(Collapsible):
    """One tool call: a one-line summary, expandable to arguments and result."""

    def __init__(self, call_id: str, name: str, arguments: str) -> None:
        self.call_id = call_id
        self.tool_name = name
        self.arguments = arguments
        self.detail = Static(self._body_text(None), classes="tool-body")
        super().__init__(self.detail, title=self._summary("running…"), collapsed=True,
                         classes="tool")

    def _args_short(self) -> str:
        try:
            args = json.loads(self.arguments or "{}")
            short = ", ".join(f"{k}={v!r}" for k, v in args.items())
        except (ValueError, AttributeError):
            short = self.arguments
        return short if len(short) <= 60 else short[:57] + "…"

    def _summary(self, status: str) -> str:
        return f"⚙ {self.tool_name}({self._args_short()})  {status}"

    def _body_text(self, result: str | None) -> Text:
        t = Text()
        t.append("arguments ", style="bold")
        t.append(self.arguments or "{}")
        if result is not None:
            t.append("\nresult    ", style="bold")
            t.append(result)
        return t

    def finish(self, result: str, is_error: bool, latency_ms: float) -> None:
        mark = "✗" if is_error else "✓"
        self.title = self._summary(f"{mark} {latency_ms:,.0f} ms")
        if is_error:
            self.add_class("error")
        self.detail.update(self._body_text(result))


class Notice(Static):
    """A readable notice: a fallback, a recoverable error."""


class ConversationView(VerticalScroll):
    """All turns of the session, newest at the bottom."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._replies: dict[int, AssistantTurn] = {}
        self._tools: dict[str, ToolCallView] = {}

    def _add(self, widget) -> None:
        self.mount(widget)
        self.scroll_end(animate=False)

    def add_user(self, text: str, source: str = "voice") -> None:
        icon = "⌨" if source == "text" else "◉"
        self._add(UserTurn(Text(f"{icon} {text}"), classes="user"))

    def reply(self, turn_id: int) -> AssistantTurn:
        if turn_id not in self._replies:
            self._replies[turn_id] = AssistantTurn(turn_id)
            self._add(self._replies[turn_id])
        return self._replies[turn_id]

    def append_reply(self, turn_id: int, chunk: str) -> None:
        self.reply(turn_id).append(chunk)
        self.scroll_end(animate=False)

    def finish_reply(self, turn_id: int, text: str, interrupted: bool) -> None:
        self.reply(turn_id).finish(text, interrupted)

    def add_tool_call(self, call_id: str, name: str, arguments: str) -> None:
        view = ToolCallView(call_id, name, arguments)
        self._tools[call_id] = view
        self._add(view)

    def finish_tool_call(self, call_id: str, name: str, result: str, is_error: bool,
                         latency_ms: float) -> None:
        view = self._tools.get(call_id)
        if view is None:
            self.add_tool_call(call_id, name, "")
            view = self._tools[call_id]
        view.finish(result, is_error, latency_ms)

    def add_notice(self, level: str, message: str) -> None:
        self._add(Notice(Text(f"{'⚠' if level != 'info' else 'ℹ'} {message}"),
                         classes=f"notice {level}"))
