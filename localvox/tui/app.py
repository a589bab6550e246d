"""The localvox terminal app.

The window appears at once; the speech loop is built in the background (models load with
a progress line) and typed messages wait in order until the agent is ready. The app owns
no turn state: it sends commands to the engine and renders the ``PipelineEvent``s the
engine publishes.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Iterable

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from localvox.config import Config, save_user_settings
from localvox.errors import LocalvoxError
from localvox.pipeline import events as ev
from localvox.tui.port import VoiceEngine
from localvox.tui.screens.help import HelpScreen
from localvox.tui.screens.settings import SettingsScreen
from localvox.tui.widgets.conversation import ConversationView
from localvox.tui.widgets.latency import LatencyPanel
from localvox.tui.widgets.status import StatusBar

ProgressCallback = Callable[[str], None]
EngineFactory = Callable[[ProgressCallback], Awaitable[VoiceEngine]]

# Settings the engine can take while running; anything else needs a restart.
LIVE_SETTINGS = {("tui", "speech_output")}


class LoadProgress(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class LocalvoxApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "localvox"

    BINDINGS = [
        Binding("f2", "push_to_talk", "Talk", priority=True),
        Binding("f3", "toggle_mute", "Mute mic", priority=True),
        Binding("escape", "interrupt", "Stop speaking", priority=True),
        Binding("f4", "toggle_speech", "Speech on/off", priority=True),
        Binding("f9", "settings", "Settings", priority=True),
        Binding("f1", "help", "Help", priority=True),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, config: Config, engine_factory: EngineFactory | None = None) -> None:
        super().__init__()
        self.config = config
        self.engine_factory = engine_factory or default_engine_factory(config)
        self.engine: VoiceEngine | None = None
        self.pending_text: list[str] = []
        self.muted = False
        self.speech_output = config.tui.speech_output
        self.ptt_active = False
        self._ptt_release_timer: Any = None
        self.state = "idle"
        self.ready = asyncio.Event()

    # -- layout -------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static("starting…", id="loading")
        with Horizontal(id="main"):
            yield ConversationView(id="conversation")
            yield LatencyPanel(id="latency")
        yield Static("", id="partial")
        yield Input(placeholder="Type a message, or say the wake word…", id="prompt")
        yield Footer()

    def on_mount(self) -> None:
        self.theme = self.config.tui.theme
        self.query_one("#prompt", Input).focus()
        self.start_engine()

    # -- engine lifecycle ---------------------------------------------------------------------
    @work(exclusive=True, group="engine")
    async def start_engine(self) -> None:
        try:
            engine = await self.engine_factory(lambda text: self.post_message(LoadProgress(text)))
        except LocalvoxError as err:
            self.query_one("#loading", Static).update(f"⚠ {err}")
            self.conversation.add_notice("error", str(err))
            return
        self.engine = engine
        queue = engine.subscribe()
        self.pump_events(queue)
        info = engine.describe()
        self.query_one(StatusBar).set_backends(info)
        if info.get("audio_input") in (None, "", "none"):
            self.query_one(StatusBar).set_mic_available(False)
            self.conversation.add_notice(
                "info", info.get("audio_note") or "No sound card found: text mode. Type below.")
        self.query_one("#loading", Static).add_class("hidden")
        engine.set_speech_output(self.speech_output)
        self.ready.set()
        for text in self.pending_text:
            await engine.submit_text(text)
        self.pending_text.clear()
        self.run_engine()

    @work(group="engine-run")
    async def run_engine(self) -> None:
        assert self.engine is not None
        try:
            await self.engine.run()
        except LocalvoxError as err:
            self.conversation.add_notice("error", str(err))

    @work(group="events")
    async def pump_events(self, queue: "asyncio.Queue[ev.PipelineEvent]") -> None:
        while True:
            event = await queue.get()
            if not self.is_running:
                # Textual takes the screens down before on_unmount stops the engine, and a
                # live microphone sends a level every frame until then: nothing to show it on.
                return
            self.handle_event(event)

    def on_load_progress(self, message: LoadProgress) -> None:
        self.query_one("#loading", Static).update(f"⏳ {message.text}")

    @property
    def conversation(self) -> ConversationView:
        return self.query_one(ConversationView)

    # -- events from the pipeline ---------------------------------------------------------------
    def handle_event(self, event: ev.PipelineEvent) -> None:
        conv = self.conversation
        match event:
            case ev.StateChanged(state=state):
                self.state = state.value
                self.query_one(StatusBar).set_state(state.value)
            case ev.PartialTranscript(text=text):
                self.query_one("#partial", Static).update(f"… {text}")
            case ev.FinalTranscript(text=text, source=source):
                self.query_one("#partial", Static).update("")
                conv.add_user(text, source)
            case ev.ReplyChunk(turn_id=turn_id, text=text):
                conv.append_reply(turn_id, text)
            case ev.ReplyDone(turn_id=turn_id, text=text, interrupted=interrupted):
                conv.finish_reply(turn_id, text, interrupted)
            case ev.ToolCallStarted(call_id=call_id, name=name, arguments=arguments):
                conv.add_tool_call(call_id, name, arguments)
            case ev.ToolCallFinished(call_id=cid, name=name, result=result, is_error=err,
                                     latency_ms=ms):
                conv.finish_tool_call(cid, name, result, err, ms)
            case ev.TurnTrace(source="agent"):
                pass                    # a timer ringing: no user turn to measure
            case ev.TurnTrace(turn_id=turn_id, marks=marks, source=source):
                self.query_one(LatencyPanel).add_trace(turn_id, marks, source)
            case ev.MicLevel(rms=rms):
                self.query_one(StatusBar).set_level(rms)
            case ev.Notice(level=level, message=message):
                conv.add_notice(level, message)
            case ev.SessionEnded(reason="input_ended"):
                conv.add_notice("info", "the audio input ended; typing still works")
            case ev.SessionEnded(reason=reason):
                conv.add_notice("info", f"conversation ended ({reason})")
            case _:
                pass

    # -- user input ---------------------------------------------------------------------------
    @on(Input.Submitted, "#prompt")
    async def submit(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        event.input.value = ""
        if not text:
            return
        if self.engine is None:
            self.pending_text.append(text)
            self.conversation.add_notice("info", "still loading; your message will be sent "
                                         "as soon as the assistant is ready")
            return
        await self.engine.submit_text(text)

    async def action_push_to_talk(self) -> None:
        if self.engine is None:
            return
        if self.config.tui.ptt_style == "hold":
            # Terminals report no key release: holding a key auto-repeats, so talk while
            # repeats keep coming and stop shortly after they end.
            if not self.ptt_active:
                self.ptt_active = True
                await self.engine.push_to_talk(True)
            if self._ptt_release_timer is not None:
                self._ptt_release_timer.stop()
            self._ptt_release_timer = self.set_timer(0.6, self._release_ptt)
            return
        self.ptt_active = not self.ptt_active
        await self.engine.push_to_talk(self.ptt_active)
        self.notify("Listening…" if self.ptt_active else "Stopped listening", timeout=1.5)

    async def _release_ptt(self) -> None:
        self.ptt_active = False
        if self.engine is not None:
            await self.engine.push_to_talk(False)

    def action_toggle_mute(self) -> None:
        self.muted = not self.muted
        if self.engine is not None:
            self.engine.set_muted(self.muted)
        self.query_one(StatusBar).set_mic_available(not self.muted)
        self.notify("Microphone muted" if self.muted else "Microphone on", timeout=1.5)

    async def action_interrupt(self) -> None:
        if self.engine is not None:
            await self.engine.interrupt()

    def action_toggle_speech(self) -> None:
        self.speech_output = not self.speech_output
        if self.engine is not None:
            self.engine.set_speech_output(self.speech_output)
        self.notify("Speech output on" if self.speech_output else "Speech output off",
                    timeout=1.5)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_settings(self) -> None:
        self.push_screen(SettingsScreen(self.config), self._apply_settings)

    def _apply_settings(self, changes: dict[str, dict[str, Any]] | None) -> None:
        if not changes:
            return
        try:
            path = save_user_settings(changes)
        except LocalvoxError as err:
            self.notify(str(err), severity="error")
            return
        for section, values in changes.items():
            for key, value in values.items():
                setattr(getattr(self.config, section), key, value)
        needs_restart = [f"{s}.{k}" for s, vals in changes.items() for k in vals
                         if (s, k) not in LIVE_SETTINGS]
        msg = f"Saved to {path}."
        if needs_restart:
            msg += " Restart localvox to apply: " + ", ".join(needs_restart)
        self.notify(msg, timeout=6)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Push to talk", "Start or stop listening (F2)",
                            self.action_push_to_talk)
        yield SystemCommand("Mute microphone", "Mute or unmute the mic (F3)",
                            self.action_toggle_mute)
        yield SystemCommand("Stop speaking", "Interrupt the reply (Esc)", self.action_interrupt)
        yield SystemCommand("Toggle speech output", "Speak replies or only show them (F4)",
                            self.action_toggle_speech)
        yield SystemCommand("Settings", "Wake word, devices, models, voice (F9)",
                            self.action_settings)
        yield SystemCommand("Help", "Keys and how to talk to localvox (F1)", self.action_help)

    async def on_unmount(self) -> None:
        if self.engine is not None:
            await self.engine.stop()
            await self.engine.close()


def default_engine_factory(config: Config, **options: Any) -> EngineFactory:
    """Build the real speech loop from config: the engine is returned once the agent is
    ready (typed messages work); speech models load behind it (``progressive``)."""

    async def factory(progress: ProgressCallback) -> VoiceEngine:
        from localvox.pipeline.factory import build_engine

        return await build_engine(config, progress=progress,
                                  **{"progressive": True, **options})

    return factory
