"""Pure protocol code: query strings, frame parsers/builders, handshake gate; fuzzed."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localvox.cloud.lightning_protocol import (
    parse_tts_frame, parse_tts_request, tts_chunk_frame, tts_request_message,
)
from localvox.cloud.protocol import (
    STT_LEGACY_PATH, STT_PATH, ProtocolError, build_query, parse_stt_control, parse_stt_event,
    parse_stt_query, parse_tts_query, pcm16_to_float, float_to_pcm16, split_path,
    transcription_message,
)
from localvox.serve.auth import bearer_token, check_request
from localvox.serve.tts import split_ready


def test_query_booleans_are_lowercase_strings_and_lists_comma_joined() -> None:
    q = build_query({"model": "pulse", "punctuate": True, "diarize": False,
                     "keywords": ["Jensen Huang:2", "Blackwell"], "max_words": None})
    assert q == "model=pulse&punctuate=true&diarize=false&keywords=Jensen+Huang%3A2%2CBlackwell"


def test_stt_query_booleans_follow_the_service_true_comparison() -> None:
    path, query = split_path(f"{STT_PATH}?model=pulse&language=en&punctuate=True&capitalize=false")
    p = parse_stt_query(path, query)
    assert p.punctuate is False  # "True" is not "true" on the real service either
    assert p.capitalize is False
    assert p.sample_rate == 16000 and p.encoding == "linear16"
    p = parse_stt_query(*split_path(f"{STT_PATH}?model=pulse&language=en&format=false"))
    assert not p.punctuate and not p.capitalize


@pytest.mark.parametrize("target, fragment", [
    (f"{STT_PATH}?language=en", "model is required"),
    (f"{STT_PATH}?model=pulse-pro&language=en", "pulse-pro does not stream"),
    (f"{STT_PATH}?model=pulse&language=xx", "language must be one of"),
    (f"{STT_PATH}?model=pulse&language=en&sample_rate=12345", "sample_rate must be one of"),
    (f"{STT_PATH}?model=pulse&language=en&sample_rate=abc", "whole number"),
    (f"{STT_PATH}?model=pulse&language=en&eou_timeout_ms=5", "between 100 and 10000"),
])
def test_bad_stt_handshake_is_one_clear_line(target: str, fragment: str) -> None:
    with pytest.raises(ProtocolError, match=fragment) as info:
        parse_stt_query(*split_path(target))
    assert "\n" not in str(info.value)


def test_legacy_path_needs_no_model_and_defaults_word_timestamps_on() -> None:
    p = parse_stt_query(*split_path(f"{STT_LEGACY_PATH}?language=en"))
    assert p.word_timestamps is True


def test_handshake_gate_orders_404_401_400() -> None:
    good = {"Authorization": "Bearer k1"}
    assert check_request("/nope", good, ["k1"])[0] == 404
    assert check_request(f"{STT_PATH}?model=pulse&language=en", {}, ["k1"])[0] == 401
    assert check_request(f"{STT_PATH}?model=pulse&language=en",
                         {"Authorization": "Token k1"}, ["k1"])[0] == 401
    assert check_request(f"{STT_PATH}?model=pulse&language=en",
                         {"Authorization": "Bearer k2"}, ["k1"])[0] == 401
    assert check_request(f"{STT_PATH}?model=bad&language=en", good, ["k1"])[0] == 400
    assert check_request(f"{STT_PATH}?model=pulse&language=en&encoding=opus", good, ["k1"])[0] \
        == 400
    assert check_request("/waves/v1/tts/live?timeout=-1", good, ["k1"])[0] == 400
    assert check_request(f"{STT_PATH}?model=pulse&language=en", good, ["k0", "k1"]) is None
    assert check_request("/waves/v1/tts/live?timeout=120", good, ["k1"]) is None
    assert bearer_token({"Authorization": "bearer  abc "}) == "abc"


def test_control_messages_and_end_alias() -> None:
    assert parse_stt_control('{"type":"finalize"}') == "finalize"
    assert parse_stt_control('{"type": "close_stream"}') == "close_stream"
    assert parse_stt_control('{"type":"end"}') == "close_stream"
    with pytest.raises(ProtocolError, match="unknown control message"):
        parse_stt_control('{"type":"flush"}')


def test_transcription_message_round_trips_through_the_client_parser() -> None:
    msg = transcription_message("s1", "Hi there", is_final=True, from_finalize=True)
    assert msg["transcript"] == msg["transcription"] == "Hi there"
    assert msg["languages"] == ["en"]
    ev = parse_stt_event(json.dumps(msg))
    assert (ev.type, ev.transcript, ev.is_final, ev.from_finalize, ev.is_last) == \
        ("transcription", "Hi there", True, True, False)
    partial = transcription_message("s1", "Hi", is_final=False)
    assert "language" not in partial and "from_finalize" not in partial
    err = parse_stt_event('{"type":"error","status":"error","message":"boom"}')
    assert err.type == "error" and err.message == "boom"
    vad = parse_stt_event('{"type":"speech_started","session_id":"a","timestamp":1.84}')
    assert vad.type == "speech_started" and vad.timestamp == 1.84


def test_tts_request_validation_and_continue_alias() -> None:
    wire = tts_request_message("v", "Hello", continue_=True, sample_rate=24000, speed=None)
    assert wire == {"voice_id": "v", "text": "Hello", "continue": True, "sample_rate": 24000}
    req = parse_tts_request(json.dumps(wire))
    assert req.continue_ and not req.ends_request and req.sample_rate == 24000
    flush = parse_tts_request('{"voice_id":"v","text":"","flush":true}')
    assert flush.ends_request and flush.sample_rate == 44100
    assert parse_tts_request('{"voice_id":"v","text":"x","future_key":1}').extra == \
        {"future_key": 1}
    for bad, frag in [('{"text":"x"}', "voice_id is required"),
                      ('{"voice_id":"v"}', "text is required"),
                      ('{"voice_id":"v","text":"x","sample_rate":22050}', "sample_rate"),
                      ('{"voice_id":"v","text":"x","model":"lightning"}', "model must be"),
                      ('{"voice_id":"v","text":"x","speed":3}', "speed must be between"),
                      ('{"voice_id":"v","text":"x","continue":"yes"}', "continue must be"),
                      ('{"voice_id":"v","text":"x","request_id":"a b"}', "request_id"),
                      ("[1,2]", "JSON object"), ("{", "not valid JSON")]:
        with pytest.raises(ProtocolError, match=frag):
            parse_tts_request(bad)


def test_tts_chunk_frame_carries_base64_pcm_and_echoes_external_ids() -> None:
    pcm = float_to_pcm16(np.array([0.0, 0.5, -0.5], np.float32))
    frame = tts_chunk_frame("ws_1", "task_1", pcm, ext_request="lv-3")
    assert base64.b64decode(frame["data"]["audio"]) == pcm
    parsed = parse_tts_frame(json.dumps(frame))
    assert parsed.status == "chunk" and parsed.external_request_id == "lv-3"
    assert np.allclose(pcm16_to_float(parsed.audio), [0.0, 0.5, -0.5], atol=1e-4)
    timeout = parse_tts_frame('{"status":"error","message":"Connection timed out after 60 '
                              'seconds of inactivity"}')
    assert timeout.status == "error" and "inactivity" in timeout.message
    old = parse_tts_frame('{"status":"error","error":{"message":"bad voice","code":4}}')
    assert old.message == "bad voice"
    with pytest.raises(ProtocolError, match="not base64"):
        parse_tts_frame('{"status":"chunk","data":{"audio":"***"}}')


def test_tts_timeout_query() -> None:
    assert parse_tts_query({}) == 60.0
    assert parse_tts_query({"timeout": "5"}) == 5.0
    for bad in ("0", "nan", "inf", "x"):
        with pytest.raises(ProtocolError):
            parse_tts_query({"timeout": bad})


def test_split_ready_cuts_at_the_last_sentence_end() -> None:
    assert split_ready("Hello there. How are") == ("Hello there.", "How are")
    assert split_ready("No end yet") == ("", "No end yet")
    assert split_ready("One. Two! Three") == ("One. Two!", "Three")


# ---------------------------------------------------------------- fuzz

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                 max_size=5),
    max_leaves=12)
frames = st.one_of(
    st.text(max_size=200), st.binary(max_size=200),
    json_values.map(json.dumps),
    st.dictionaries(st.sampled_from(["type", "status", "voice_id", "text", "continue", "flush",
                                     "sample_rate", "speed", "model", "data", "transcript",
                                     "is_final", "is_last", "from_finalize", "message",
                                     "request_id", "timestamp", "error"]),
                    json_values, max_size=8).map(json.dumps),
)


@settings(max_examples=300, deadline=None)
@given(frames)
def test_frame_parsers_raise_only_protocol_errors(frame: str | bytes) -> None:
    for parse in (parse_stt_control, parse_stt_event, parse_tts_request, parse_tts_frame):
        try:
            parse(frame)
        except ProtocolError as err:
            assert str(err) and "\n" not in str(err)


query_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([STT_PATH, STT_LEGACY_PATH, "/waves/v1/tts/live", "/x"]),
       st.dictionaries(st.sampled_from(["model", "language", "sample_rate", "encoding",
                                        "punctuate", "max_words", "eou_timeout_ms", "timeout",
                                        "vad", "vad_events"]), query_text, max_size=6),
       st.text(max_size=30))
def test_handshake_gate_answers_every_request(path: str, params: dict[str, str], key: str) -> None:
    target = f"{path}?{build_query(params)}"
    verdict = check_request(target, {"Authorization": f"Bearer {key}"}, ["secret-key"])
    assert verdict is None or verdict[0] in (400, 401, 404)
    if verdict is not None:
        assert "secret-key" not in verdict[1] and "\n" not in verdict[1]
    try:
        if path == "/waves/v1/tts/live":
            parse_tts_query(split_path(target)[1])
        else:
            parse_stt_query(*split_path(target))
    except ProtocolError:
        pass
