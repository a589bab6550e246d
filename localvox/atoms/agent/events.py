"""``smallestai.atoms.agent.events``: the Atoms event names over localvox's typed events.

Most names are the localvox class itself (``SDKAgentTranscriptUpdateEvent is
TranscriptUpdate``: ``role`` and ``content``), so ``isinstance`` checks in Atoms code see
every event localvox produces. The transfer takes the Atoms keywords and *is* a
``TransferCall``::

    SDKAgentTransferConversationEvent(
        transfer_call_number="+1 555 0100",
        transfer_options=TransferOption(
            type=TransferOptionType.WARM_TRANSFER,
            private_handoff_option=WarmTransferPrivateHandoffOption(
                type=WarmTransferHandoffOptionType.PROMPT, prompt="Customer escalation: ...")),
        on_hold_music="uplifting_beats")

becomes ``TransferCall(number=..., option=TransferOption(WARM, handoff_prompt=...),
on_hold_music=...)``: on the wire it is ``agent.transfer_call``; the speech loop ends the
call with a notice naming the number, the kind of transfer, the hold music and the
private hand-off prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from localvox.agent import events as _ev
from localvox.agent.events import TransferType

__all__ = [
    "SDKEvent", "SDKSystemUserJoinedEvent", "SDKSystemUserStartedSpeakingEvent",
    "SDKSystemUserStoppedSpeakingEvent", "SDKSystemControlInterruptEvent",
    "SDKSystemLLMRequestEvent", "SDKAgentTranscriptUpdateEvent", "SDKAgentSpeakEvent",
    "SDKAgentEndCallEvent", "SDKAgentTransferConversationEvent", "SDKAgentErrorEvent",
    "SDKAgentToolCallStartEvent", "SDKAgentToolCallEndEvent", "SDKAgentToolCallErrorEvent",
    "TransferOption", "TransferOptionType", "WarmTransferPrivateHandoffOption",
    "WarmTransferHandoffOptionType",
]

SDKEvent = _ev.Event
SDKSystemUserJoinedEvent = _ev.UserJoined
SDKSystemUserStartedSpeakingEvent = _ev.UserStartedSpeaking
SDKSystemUserStoppedSpeakingEvent = _ev.UserStoppedSpeaking
SDKSystemControlInterruptEvent = _ev.Interrupt
SDKSystemLLMRequestEvent = _ev.LLMRequest
SDKAgentTranscriptUpdateEvent = _ev.TranscriptUpdate
SDKAgentSpeakEvent = _ev.Speak
SDKAgentEndCallEvent = _ev.EndCall
SDKAgentErrorEvent = _ev.ErrorEvent
SDKAgentToolCallStartEvent = _ev.ToolCallStart
SDKAgentToolCallEndEvent = _ev.ToolCallEnd
SDKAgentToolCallErrorEvent = _ev.ToolCallError

TransferOptionType = TransferType
"""``COLD_TRANSFER`` / ``WARM_TRANSFER`` are members of ``TransferType`` (aliases of
``COLD`` / ``WARM``)."""


class WarmTransferHandoffOptionType(str, Enum):
    PROMPT = "prompt"
    """The receiving agent is briefed with a text prompt before the caller joins."""


@dataclass(frozen=True)
class WarmTransferPrivateHandoffOption:
    """What the receiving human hears privately before the caller is connected."""

    type: WarmTransferHandoffOptionType = WarmTransferHandoffOptionType.PROMPT
    prompt: str = ""


class TransferOption(_ev.TransferOption):
    """``localvox.agent.events.TransferOption`` built from the Atoms keywords."""

    def __init__(self, type: TransferType | str = TransferType.COLD,  # noqa: A002
                 private_handoff_option: WarmTransferPrivateHandoffOption | None = None, *,
                 handoff_prompt: str | None = None) -> None:
        if private_handoff_option is not None and handoff_prompt is None:
            handoff_prompt = private_handoff_option.prompt or None
        super().__init__(type=TransferType(type), handoff_prompt=handoff_prompt)

    @property
    def private_handoff_option(self) -> WarmTransferPrivateHandoffOption | None:
        if self.handoff_prompt is None:
            return None
        return WarmTransferPrivateHandoffOption(prompt=self.handoff_prompt)


class SDKAgentTransferConversationEvent(_ev.TransferCall):
    """A ``TransferCall`` built from the Atoms keywords (``isinstance(e, TransferCall)``).

    ``transfer_call_number`` may be ``None`` (the article reads it from an unset
    ``TRANSFER_NUMBER``): the transfer still ends the call, and the notice says that no
    number was given.
    """

    def __init__(self, transfer_call_number: str | None = None,
                 transfer_options: _ev.TransferOption | None = None,
                 on_hold_music: str | None = None, *, number: str | None = None,
                 option: _ev.TransferOption | None = None, **kw: Any) -> None:
        super().__init__(number=transfer_call_number or number or "",
                         option=transfer_options or option or _ev.TransferOption(),
                         on_hold_music=on_hold_music, **kw)

    @property
    def transfer_call_number(self) -> str:
        return self.number

    @property
    def transfer_options(self) -> _ev.TransferOption:
        return self.option
