"""Agent events: every type round-trips through JSON; bad frames are one clear ValueError."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localvox.agent import events as ev
from localvox.agent.events import Event, TransferOption, TransferType

EXPECTED_TYPES = {
    "system.user.joined": ev.UserJoined,
    "system.user.started_speaking": ev.UserStartedSpeaking,
    "system.user.stopped_speaking": ev.UserStoppedSpeaking,
    "system.control.interrupt": ev.Interrupt,
    "system.llm.request": ev.LLMRequest,
    "agent.ready": ev.Ready,
    "agent.transcript.update": ev.TranscriptUpdate,
    "agent.llm.response.start": ev.ResponseStart,
    "agent.llm.response.chunk": ev.ResponseChunk,
    "agent.llm.response.end": ev.ResponseEnd,
    "agent.speak": ev.Speak,
    "agent.end_call": ev.EndCall,
    "agent.transfer_call": ev.TransferCall,
    "agent.tool_call.start": ev.ToolCallStart,
    "agent.tool_call.end": ev.ToolCallEnd,
    "agent.tool_call.error": ev.ToolCallError,
    "agent.error": ev.ErrorEvent,
}

SAMPLES: list[Event] = [
    ev.UserJoined(), ev.UserStartedSpeaking(), ev.UserStoppedSpeaking(), ev.Interrupt(),
    ev.LLMRequest(request_id="r1"), ev.Ready(),
    ev.TranscriptUpdate(role="user", content="what's the time?"),
    ev.TranscriptUpdate(role="assistant", content="It's ten pa", interrupted=True),
    ev.ResponseStart(request_id="r1"), ev.ResponseChunk(text="Hello ", request_id="r1"),
    ev.ResponseEnd(interrupted=True, request_id="r1"), ev.Speak(text="Hi, I'm localvox."),
    ev.EndCall(reason="user said bye"), ev.EndCall(),
    ev.TransferCall(number="+15550100"),
    ev.TransferCall(number="+15550100",
                    option=TransferOption(TransferType.WARM, handoff_prompt="angry about fees"),
                    on_hold_music="relaxing_sound"),
    ev.ToolCallStart(call_id="c1", name="get_time", arguments='{"tz": "UTC"}'),
    ev.ToolCallEnd(call_id="c1", name="get_time", result="10:00", latency_ms=1.5),
    ev.ToolCallError(call_id="c2", name="calc", error="division by zero", latency_ms=0.25),
    ev.ErrorEvent(message="boom", severity="fatal", payload={"node": "a", "n": [1, 2.5]}),
]


def test_every_type_string_is_registered_to_its_class():
    registered = ev.event_types()
    for name, cls in EXPECTED_TYPES.items():
        assert cls.type == name
        assert registered[name] is cls


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.type)
def test_round_trip_json(event: Event):
    text = event.to_json()
    data = json.loads(text)
    assert data["type"] == event.type
    assert data["timestamp"] == event.timestamp
    back = Event.from_json(text)
    assert type(back) is type(event)
    assert back == event


def test_samples_cover_every_builtin_type():
    assert {type(e) for e in SAMPLES} == set(EXPECTED_TYPES.values())


def test_transfer_wire_shape():
    event = ev.TransferCall(number="+1", option=TransferOption(TransferType.WARM, "brief"))
    data = event.to_dict()
    assert data["option"] == {"type": "warm", "handoff_prompt": "brief"}
    assert Event.from_dict(data).option.type is TransferType.WARM


def test_timestamp_optional_on_input():
    event = Event.from_dict({"type": "agent.speak", "text": "hi"})
    assert isinstance(event, ev.Speak) and event.timestamp > 0


def test_unknown_fields_are_ignored_for_forward_compatibility():
    event = Event.from_dict({"type": "agent.speak", "text": "hi", "voice": "new-field"})
    assert event == ev.Speak(text="hi", timestamp=event.timestamp)


@pytest.mark.parametrize("frame, message", [
    ('{"type": "no.such.event"}', "unknown event type 'no.such.event'"),
    ("{}", "needs a non-empty string 'type'"),
    ("[1, 2]", "must be a JSON object"),
    ("not json", "must be JSON"),
    ('{"type": "agent.speak"}', "missing field 'text'"),
    ('{"type": "agent.speak", "text": 5}', "agent.speak.text must be a string"),
    ('{"type": "agent.transcript.update", "role": "robot", "content": "x"}', "role must be one of"),
    ('{"type": "agent.llm.response.end", "interrupted": "yes"}', "must be a boolean"),
    ('{"type": "agent.transfer_call", "number": "1", "option": {"type": "hot"}}',
     "option.type must be one of"),
    ('{"type": "agent.tool_call.end", "call_id": "a", "name": "b", "result": "c", '
     '"latency_ms": true}', "must be a number"),
])
def test_bad_frames_are_clear_value_errors(frame: str, message: str):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        Event.from_json(frame)


def test_subclass_from_dict_checks_kind():
    with pytest.raises(ValueError, match="is not a Speak"):
        ev.Speak.from_dict({"type": "agent.end_call"})


@dataclass
class Escalation(Event, type="test.escalation"):
    reason: str
    level: int = 1


def test_user_defined_event_registers_itself_and_round_trips():
    assert ev.event_types()["test.escalation"] is Escalation
    event = Escalation(reason="frustrated", level=3)
    assert Event.from_json(event.to_json()) == event
    with pytest.raises(ValueError, match="level must be an integer"):
        Event.from_dict({"type": "test.escalation", "reason": "x", "level": 1.5})


def test_type_as_classvar_also_registers():
    @dataclass
    class Note(Event):
        type = "test.note"
        text: str = ""

    assert ev.event_types()["test.note"] is Note
    assert Event.from_dict({"type": "test.note", "text": "x"}).text == "x"


def test_duplicate_type_string_is_rejected():
    with pytest.raises(ValueError, match="already used"):
        @dataclass
        class Clash(Event, type="agent.speak"):
            pass


# -- fuzzing ------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)
texts = st.text(max_size=40)
finite = st.floats(min_value=0, max_value=1e7, allow_nan=False)

event_strategy = st.one_of(
    st.builds(ev.TranscriptUpdate, role=st.sampled_from(["user", "assistant"]), content=texts,
              interrupted=st.booleans()),
    st.builds(ev.ResponseChunk, text=texts, request_id=texts),
    st.builds(ev.ResponseEnd, interrupted=st.booleans(), request_id=texts),
    st.builds(ev.LLMRequest, request_id=texts),
    st.builds(ev.Speak, text=texts),
    st.builds(ev.EndCall, reason=texts),
    st.builds(ev.TransferCall, number=texts,
              option=st.builds(TransferOption, type=st.sampled_from(TransferType),
                               handoff_prompt=st.none() | texts),
              on_hold_music=st.none() | texts),
    st.builds(ev.ToolCallStart, call_id=texts, name=texts, arguments=texts),
    st.builds(ev.ToolCallEnd, call_id=texts, name=texts, result=texts, latency_ms=finite),
    st.builds(ev.ToolCallError, call_id=texts, name=texts, error=texts, latency_ms=finite),
    st.builds(ev.ErrorEvent, message=texts, severity=st.sampled_from(["warning", "fatal"]),
              payload=st.dictionaries(st.text(max_size=8), json_values, max_size=4)),
    st.builds(Escalation, reason=texts, level=st.integers()),
)


@settings(max_examples=150, deadline=None)
@given(event_strategy, st.floats(min_value=0, max_value=4e9, allow_nan=False))
def test_fuzz_round_trip(event: Event, timestamp: float):
    event = dataclasses.replace(event, timestamp=timestamp)
    assert Event.from_json(event.to_json()) == event


FIELDS = ["text", "role", "content", "number", "option", "payload", "latency_ms", "interrupted",
          "timestamp", "severity", "call_id", "name", "reason", "level", "result", "error"]
small_json = st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False) \
    | st.sampled_from(["user", "assistant", "fatal", "warm", "x"]) \
    | st.dictionaries(st.sampled_from(["type", "handoff_prompt"]),
                      st.none() | st.sampled_from(["warm", "cold", "hot"]) | st.integers())
frames = st.builds(lambda t, fields: {"type": t, **fields},
                   st.sampled_from(list(EXPECTED_TYPES) + ["test.escalation", "nope", ""]),
                   st.dictionaries(st.sampled_from(FIELDS), small_json, max_size=5))


@settings(max_examples=250, deadline=None)
@given(frames | json_values)
def test_fuzz_decode_only_raises_value_error(data):
    try:
        event = Event.from_dict(data)
    except ValueError:
        return
    # whatever decodes must encode back to an equivalent event
    assert Event.from_json(event.to_json()) == event


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=60) | st.text(max_size=60))
def test_fuzz_garbage_frames(frame):
    try:
        Event.from_json(frame)
    except ValueError:
        pass
