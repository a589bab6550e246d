"""The pure parts of the brain: the streaming <tool_call> parser and the speech filter."""

from __future__ import annotations

import json

from localvox.llm.spoken import SpokenFilter, wants_detail
from localvox.llm.toolcall import ToolCallParser, parse_call


def _feed(parser_or_filter, text: str, step: int) -> str:
    out = [parser_or_filter.feed(text[i:i + step]) for i in range(0, len(text), step)]
    return "".join(out) + parser_or_filter.finish()


def test_text_streams_and_calls_are_cut_out_whatever_the_piece_size():
    raw = ('Let me check. <tool_call>\n{"name": "get_weather", "arguments": '
           '{"location": "Oslo"}}\n</tool_call>\n<tool_call>{"name": "get_time", '
           '"arguments": {}}</tool_call>')
    for step in (1, 2, 3, 7, 50, len(raw)):
        parser = ToolCallParser()
        text = _feed(parser, raw, step)
        assert text.strip() == "Let me check."
        assert [c.name for c in parser.calls] == ["get_weather", "get_time"]
        assert json.loads(parser.calls[0].arguments) == {"location": "Oslo"}


def test_text_is_released_before_the_call_finishes():
    parser = ToolCallParser()
    assert parser.feed("Sure") == "Sure"
    assert parser.feed(" thing <tool") == " thing "  # "<tool" might open a call: held
    assert parser.feed("_call>{\"name\"") == ""
    assert parser.in_call


def test_malformed_json_keeps_the_raw_text_for_the_registry_to_refuse():
    call = parse_call('{"name": "get_weather", "arguments": {"location": Oslo}}')
    assert call.name == "get_weather" and call.arguments == '{"location": Oslo}'
    with_error = json.JSONDecodeError
    try:
        json.loads(call.arguments)
    except with_error:
        pass
    else:  # pragma: no cover - the point of the test
        raise AssertionError("arguments should still be the malformed text")
    unclosed = ToolCallParser()
    _feed(unclosed, '<tool_call>{"name": "set_timer", "arguments": {"seconds": 30', 4)
    assert [c.name for c in unclosed.calls] == ["set_timer"]


def test_markdown_and_lists_are_spoken_as_plain_sentences():
    shaper = SpokenFilter(max_sentences=5, max_chars=400)
    raw = ("**Here are tips:**\n\n1. Keep a *regular* schedule\n2. Avoid `screens` late\n"
           "- Keep the room dark\n")
    text = _feed(shaper, raw, 3)
    assert "*" not in text and "`" not in text and "1." not in text and "-" not in text
    assert text == ("Here are tips: Keep a regular schedule. Avoid screens late. "
                    "Keep the room dark.")


def test_cap_on_sentences_and_characters():
    shaper = SpokenFilter(max_sentences=3, max_chars=320)
    text = _feed(shaper, "One. Two is 3.5 big. Three! Four. Five.", 2)
    assert text == "One. Two is 3.5 big. Three!" and shaper.done
    long = SpokenFilter(max_sentences=3, max_chars=40)
    said = _feed(long, "This sentence goes on and on and on without ever stopping at all", 5)
    assert len(said) <= 40 and said.endswith(".") and long.done


def test_detail_requests_get_more_sentences():
    assert wants_detail("Explain in detail how vaccines work")
    assert not wants_detail("What is the capital of France?")
    assert SpokenFilter.for_request("tell me more about it").max_sentences == 6


def test_bare_json_call_as_qwen_coder_writes_it():
    """Qwen2.5-Coder drops the tags and copies the template's doubled braces."""
    for raw in ('{"name": "get_weather", "arguments": {"location": "Paris"}}',
                '{{"name": "get_weather", "arguments": {"location": "Paris"}}}',
                '  {"name": "get_weather", "arguments": {"location": "Paris"}}\n'):
        for step in (1, 4, len(raw)):
            parser = ToolCallParser()
            assert _feed(parser, raw, step).strip() == ""
            assert [c.name for c in parser.calls] == ["get_weather"]
            assert json.loads(parser.calls[0].arguments) == {"location": "Paris"}


def test_text_with_braces_later_is_just_text():
    parser = ToolCallParser()
    assert _feed(parser, "Use {curly} braces like {this}.", 3) == "Use {curly} braces like {this}."
    assert parser.calls == []


def test_cap_is_never_exceeded_even_with_the_closing_period():
    words = "word " * 200
    for cap in (20, 41, 100, 320):
        shaper = SpokenFilter(max_sentences=3, max_chars=cap)
        said = _feed(shaper, words, 7)
        assert len(said) <= cap and said.endswith(".")


def test_extra_closing_braces_after_a_bare_call_are_not_spoken():
    parser = ToolCallParser()
    raw = '{"name": "add_note", "arguments": {"text": "bored"}}}}'
    assert _feed(parser, raw, 3) == ""
    assert [c.name for c in parser.calls] == ["add_note"]


def test_two_bare_calls_one_per_line_are_both_calls_whatever_the_piece_size():
    """Qwen2.5-Coder-1.5B, measured in the bank example: an execute_query object, a newline,
    then an analyze_data object. When the first object closed before the second began, the
    second one was spoken as JSON text."""
    raw = ('{"name": "execute_query", "arguments": {"sql": "SELECT 1"}}\n'
           '{"name": "analyze_data", "arguments": {"data_json": "[]", "analysis_type": "total"}}')
    for step in (1, 2, 3, 7, len(raw)):
        parser = ToolCallParser()
        assert _feed(parser, raw, step).strip() == "", step
        assert [c.name for c in parser.calls] == ["execute_query", "analyze_data"], step


def test_text_after_a_bare_call_is_still_spoken():
    parser = ToolCallParser()
    raw = '{"name": "get_time", "arguments": {}}\nIt is noon.'
    assert _feed(parser, raw, 2).strip() == "It is noon."
    assert [c.name for c in parser.calls] == ["get_time"]
