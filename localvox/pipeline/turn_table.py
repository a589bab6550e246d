"""The turn state machine as one pure table: ``(state, event) -> state``.

Why a table: speculation, barge-in, typed turns, timers that ring and the follow-up window
all race each other. When each helper decided a state on its own (the reply desk choosing
THINKING/SPEAKING, a second answer derived from "is an utterance or a reply open?"), the
answers disagreed -- that second source could never say TRANSCRIBING. Now the helpers
(``Hearing``, ``Replies``, the announcer) only *report* what happened as a ``TurnEvent``;
the engine looks the next state up here and applies it. Nothing else sets the state.

Where the assistant waits between turns depends on how it listens, so there is one table
per ``Profile``: ``text`` (no voice input yet: typed turns only), ``wake`` (the wake word
opens a turn; after a reply the follow-up window is LISTENING until ``WINDOW_CLOSED``),
``always`` (always listening) and ``ptt`` (push-to-talk). Mute is not a turn state: the
engine shows MUTED over whatever the table says while the microphone is off (a reply keeps
playing), so ``TurnState.MUTED`` never appears in a table.

A pair missing from a table means "this event does not change that state" (a late
``AUDIO_STARTED`` of a reply already cancelled, ``WAKE`` while a reply plays, ...): the
table is total, ``next_state`` never raises.
"""

from __future__ import annotations

from enum import Enum
from types import MappingProxyType
from typing import Mapping

from localvox.pipeline.events import TurnState

S = TurnState


class TurnEvent(str, Enum):
    """What happened, as reported to the engine by the part that saw it."""

    VOICE_READY = "voice-ready"            # VAD + ASR (+ wake word) attached: voice input on
    WAKE = "wake"                          # the wake word was heard
    WINDOW_CLOSED = "window-closed"        # the follow-up window ended with nobody speaking
    PTT_PRESSED = "ptt-pressed"            # push-to-talk pressed (cancels a reply in flight)
    PTT_RELEASED = "ptt-released"          # released with no utterance open
    SPEECH_BEGAN = "speech-began"          # the endpointer confirmed speech
    SPEECH_ENDED = "speech-ended"          # the endpoint: the final transcript is on its way
    UTTERANCE_DROPPED = "utterance-dropped"  # nothing to answer: empty/failed/abandoned
    REPLY_STARTED = "reply-started"        # a reply (voice, typed or announced) is committed
    AUDIO_STARTED = "audio-started"        # its first sample went to the speaker
    REPLY_ENDED = "reply-ended"            # it finished or was interrupted (Esc, barge-in)
    BARGE_IN = "barge-in"                  # the user spoke over the reply: listen to them
    STOPPED = "stopped"                    # the session is over


class Profile(str, Enum):
    TEXT = "text"
    WAKE = "wake"
    ALWAYS = "always"
    PTT = "ptt"


Table = Mapping[tuple[TurnState, TurnEvent], TurnState]

WAITING = (S.IDLE, S.SLEEPING, S.LISTENING)
"""States with no turn in progress: where a queued announcement may be said."""

_TURN = (S.HEARING, S.TRANSCRIBING, S.THINKING, S.SPEAKING)
_REPLYING = (S.THINKING, S.SPEAKING)


def _build(profile: Profile) -> Table:
    E = TurnEvent
    voice = profile is not Profile.TEXT
    # Where the assistant waits: when voice input starts, and after a turn.
    start = {Profile.TEXT: S.IDLE, Profile.WAKE: S.SLEEPING, Profile.ALWAYS: S.LISTENING,
             Profile.PTT: S.IDLE}[profile]
    after = {Profile.TEXT: S.IDLE, Profile.WAKE: S.LISTENING,   # wake: the follow-up window
             Profile.ALWAYS: S.LISTENING, Profile.PTT: S.IDLE}[profile]
    t: dict[tuple[TurnState, TurnEvent], TurnState] = {}

    # Any reply -- a typed turn, a timer ringing, the answer to a voice turn -- thinks first.
    for state in WAITING + (S.TRANSCRIBING,):
        t[state, E.REPLY_STARTED] = S.THINKING
    t[S.THINKING, E.AUDIO_STARTED] = S.SPEAKING
    for state in _REPLYING:
        t[state, E.REPLY_ENDED] = after
    # The session ends from anywhere.
    for state in TurnState:
        if state is not S.MUTED:
            t[state, E.STOPPED] = S.IDLE
    if not voice:
        return MappingProxyType(t)

    t[S.IDLE, E.VOICE_READY] = start
    if profile is Profile.WAKE:
        t[S.SLEEPING, E.WAKE] = S.LISTENING
        t[S.LISTENING, E.WINDOW_CLOSED] = S.SLEEPING
    if profile is Profile.PTT:
        t[S.LISTENING, E.PTT_RELEASED] = S.IDLE
    # Push-to-talk opens the microphone in every profile (and cuts a reply short).
    for state in WAITING + _REPLYING:
        t[state, E.PTT_PRESSED] = S.LISTENING
    # The user speaks: while awake, while a final transcript is still on its way (they
    # went on: one turn), or while the reply is still thinking (it is dropped).
    for state in (S.LISTENING, S.TRANSCRIBING, S.THINKING, S.SPEAKING):
        t[state, E.SPEECH_BEGAN] = S.HEARING
    t[S.HEARING, E.SPEECH_ENDED] = S.TRANSCRIBING
    for state in (S.HEARING, S.TRANSCRIBING):
        t[state, E.UTTERANCE_DROPPED] = after
    t[S.SPEAKING, E.BARGE_IN] = S.LISTENING
    t[S.THINKING, E.BARGE_IN] = S.LISTENING
    return MappingProxyType(t)


TABLES: Mapping[Profile, Table] = MappingProxyType({p: _build(p) for p in Profile})


def profile_for(mode: str, voice: bool) -> Profile:
    """The table in use: ``mode`` is ``[wake] mode`` (wake | always | ptt)."""
    return Profile(mode) if voice else Profile.TEXT


def next_state(profile: Profile, state: TurnState, event: TurnEvent) -> TurnState:
    """The state after ``event`` (``state`` itself if the event does not move it)."""
    return TABLES[profile].get((state, event), state)
