"""The turn table on its own: every (profile, state, event) triple, and the walks through it.

The wake-mode table is spelled out here in full as the product behaves (a literal, not
derived from the module); the other profiles are checked for the differences that define
them, and all of them for totality, reachability and no dead ends.
"""

from __future__ import annotations

import itertools

import pytest

from localvox.pipeline.events import TurnState as S
from localvox.pipeline.turn_table import (TABLES, WAITING, Profile, TurnEvent as E,
                                          next_state, profile_for)

WAKE_TABLE = {
    (S.IDLE, E.VOICE_READY): S.SLEEPING,
    (S.SLEEPING, E.WAKE): S.LISTENING,
    (S.LISTENING, E.WINDOW_CLOSED): S.SLEEPING,
    (S.IDLE, E.PTT_PRESSED): S.LISTENING,
    (S.SLEEPING, E.PTT_PRESSED): S.LISTENING,
    (S.LISTENING, E.PTT_PRESSED): S.LISTENING,
    (S.THINKING, E.PTT_PRESSED): S.LISTENING,
    (S.SPEAKING, E.PTT_PRESSED): S.LISTENING,
    (S.LISTENING, E.SPEECH_BEGAN): S.HEARING,
    (S.TRANSCRIBING, E.SPEECH_BEGAN): S.HEARING,      # the user went on: one turn
    (S.THINKING, E.SPEECH_BEGAN): S.HEARING,          # the reply in preparation is dropped
    (S.SPEAKING, E.SPEECH_BEGAN): S.HEARING,          # full duplex
    (S.HEARING, E.SPEECH_ENDED): S.TRANSCRIBING,
    (S.HEARING, E.UTTERANCE_DROPPED): S.LISTENING,
    (S.TRANSCRIBING, E.UTTERANCE_DROPPED): S.LISTENING,
    (S.IDLE, E.REPLY_STARTED): S.THINKING,            # typed turn before voice is on
    (S.SLEEPING, E.REPLY_STARTED): S.THINKING,        # a timer rings while asleep
    (S.LISTENING, E.REPLY_STARTED): S.THINKING,
    (S.TRANSCRIBING, E.REPLY_STARTED): S.THINKING,    # the final transcript is answered
    (S.THINKING, E.AUDIO_STARTED): S.SPEAKING,
    (S.THINKING, E.REPLY_ENDED): S.LISTENING,         # the follow-up window opens
    (S.SPEAKING, E.REPLY_ENDED): S.LISTENING,
    (S.THINKING, E.BARGE_IN): S.LISTENING,
    (S.SPEAKING, E.BARGE_IN): S.LISTENING,
    **{(state, E.STOPPED): S.IDLE for state in S if state is not S.MUTED},
}

START = {Profile.TEXT: S.IDLE, Profile.WAKE: S.SLEEPING, Profile.ALWAYS: S.LISTENING,
         Profile.PTT: S.IDLE}


def test_wake_table_is_exactly_the_product_behaviour() -> None:
    for state, event in itertools.product(S, E):
        want = WAKE_TABLE.get((state, event), state)
        assert next_state(Profile.WAKE, state, event) == want, (state, event)


@pytest.mark.parametrize("profile", list(Profile))
def test_every_pair_has_an_answer_and_none_is_muted(profile: Profile) -> None:
    for state, event in itertools.product([s for s in S if s is not S.MUTED], E):
        after = next_state(profile, state, event)
        assert isinstance(after, S)
        assert after is not S.MUTED       # mute is shown over the table, never entered
    assert all(k[0] is not S.MUTED for k in TABLES[profile])


def test_always_mode_differs_from_wake_only_where_it_never_sleeps() -> None:
    diff = {(s, e) for s, e in itertools.product(S, E)
            if next_state(Profile.ALWAYS, s, e) != next_state(Profile.WAKE, s, e)}
    assert diff == {(S.IDLE, E.VOICE_READY), (S.SLEEPING, E.WAKE),
                    (S.LISTENING, E.WINDOW_CLOSED)}
    assert next_state(Profile.ALWAYS, S.IDLE, E.VOICE_READY) == S.LISTENING
    assert next_state(Profile.ALWAYS, S.LISTENING, E.WINDOW_CLOSED) == S.LISTENING


def test_push_to_talk_rests_idle_and_release_closes_the_mic() -> None:
    p = Profile.PTT
    assert next_state(p, S.IDLE, E.VOICE_READY) == S.IDLE
    assert next_state(p, S.IDLE, E.PTT_PRESSED) == S.LISTENING
    assert next_state(p, S.LISTENING, E.PTT_RELEASED) == S.IDLE
    assert next_state(p, S.SPEAKING, E.REPLY_ENDED) == S.IDLE
    assert next_state(p, S.HEARING, E.UTTERANCE_DROPPED) == S.IDLE
    assert next_state(p, S.IDLE, E.SPEECH_BEGAN) == S.IDLE    # speech before the press
    # Release only closes an idle mic in push-to-talk mode.
    assert next_state(Profile.ALWAYS, S.LISTENING, E.PTT_RELEASED) == S.LISTENING


def test_text_profile_only_answers_typed_turns() -> None:
    p = Profile.TEXT
    for state, event in itertools.product(S, E):
        after = next_state(p, state, event)
        assert after in (state, S.IDLE, S.THINKING, S.SPEAKING), (state, event)
    assert next_state(p, S.IDLE, E.VOICE_READY) == S.IDLE      # the engine swaps tables
    assert next_state(p, S.SPEAKING, E.REPLY_ENDED) == S.IDLE


def _reachable(profile: Profile) -> set[S]:
    seen, todo = {START[profile]}, [START[profile]]
    while todo:
        state = todo.pop()
        for event in E:
            after = next_state(profile, state, event)
            if after not in seen:
                seen.add(after)
                todo.append(after)
    return seen


@pytest.mark.parametrize("profile,expected", [
    (Profile.WAKE, set(S) - {S.MUTED}),
    (Profile.ALWAYS, set(S) - {S.MUTED, S.SLEEPING}),
    (Profile.PTT, set(S) - {S.MUTED, S.SLEEPING}),
    (Profile.TEXT, {S.IDLE, S.THINKING, S.SPEAKING}),
])
def test_reachable_states(profile: Profile, expected: set[S]) -> None:
    # TRANSCRIBING among them: the old derived state could never say it.
    assert _reachable(profile) == expected


@pytest.mark.parametrize("profile", list(Profile))
def test_no_dead_ends_every_state_gets_back_to_waiting(profile: Profile) -> None:
    for state in _reachable(profile):
        seen, todo = {state}, [state]
        while todo and not seen & set(WAITING):
            s = todo.pop()
            for event in E:
                if event is E.STOPPED:
                    continue
                after = next_state(profile, s, event)
                if after not in seen:
                    seen.add(after)
                    todo.append(after)
        assert seen & set(WAITING), (profile, state)


def test_a_spoken_turn_walks_the_states_in_order() -> None:
    walk = [E.VOICE_READY, E.WAKE, E.SPEECH_BEGAN, E.SPEECH_ENDED, E.REPLY_STARTED,
            E.AUDIO_STARTED, E.REPLY_ENDED, E.SPEECH_BEGAN, E.SPEECH_ENDED,
            E.REPLY_STARTED, E.AUDIO_STARTED, E.REPLY_ENDED, E.WINDOW_CLOSED]
    state, seen = S.IDLE, []
    for event in walk:
        state = next_state(Profile.WAKE, state, event)
        seen.append(state)
    assert seen == [S.SLEEPING, S.LISTENING, S.HEARING, S.TRANSCRIBING, S.THINKING,
                    S.SPEAKING, S.LISTENING, S.HEARING, S.TRANSCRIBING, S.THINKING,
                    S.SPEAKING, S.LISTENING, S.SLEEPING]


def test_profile_for() -> None:
    assert profile_for("wake", True) is Profile.WAKE
    assert profile_for("ptt", True) is Profile.PTT
    assert profile_for("always", False) is Profile.TEXT
