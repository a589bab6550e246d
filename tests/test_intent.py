"""Intent routing and slot filling (no LLM involved)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytest

from localvox.agent.builtin_tools import BuiltinTools
from localvox.agent.intent import (IntentRouter, is_request_form, is_statement, normalize,
                                   parse_clock, parse_conversion, parse_duration,
                                   parse_expression, parse_location, parse_ordinal_or_number,
                                   spoken_to_digits)
from localvox.agent.tools import ToolRegistry, function_tool
from localvox.bench.tools import DEFAULT_PROMPTS, args_match, load_prompts, score, \
    intent_predictor, Prediction


@pytest.fixture(scope="module")
def schemas(tmp_path_factory):
    registry = ToolRegistry()
    registry.discover(BuiltinTools(notes_path=tmp_path_factory.mktemp("n") / "n.sqlite3"))
    return registry.get_schemas()


def test_held_out_accuracy_beats_target_and_baseline(schemas):
    prompts = load_prompts(DEFAULT_PROMPTS, "heldout")
    assert len(prompts) >= 30
    result = score(prompts, intent_predictor(schemas))
    # floor from the data: the majority-class guess ("no tool" for everything) gets this...
    majority = max(sum(p["tool"] == t for p in prompts) for t in {p["tool"] for p in prompts})
    baseline = majority / len(prompts)
    # ...and the routing must beat it by a wide margin and reach the 90% target.
    floor = max(0.9, baseline + 0.75 * (1 - baseline))
    assert result["tool_accuracy"] >= floor, result["misses"]
    assert result["chitchat_false_tool_calls"] == 0, result["misses"]
    assert result["arg_accuracy"] >= 0.9, result["misses"]


def test_full_set_has_every_tool_and_chitchat():
    prompts = load_prompts(DEFAULT_PROMPTS)
    assert len(prompts) >= 60
    tools = {p["tool"] for p in prompts}
    assert None in tools and {"get_time", "set_timer", "calculate", "convert_units",
                              "add_note", "get_weather"} <= tools
    assert any(len(p["args"]) >= 2 for p in prompts)  # multi-argument calls


@pytest.mark.parametrize("text,seconds", [
    ("five and a half minutes", 330), ("an hour and a half", 5400), ("half an hour", 1800),
    ("2 hours and 15 minutes", 8100), ("ninety seconds", 90), ("a minute", 60),
    ("twelve minutes", 720), ("10-minute", 600), ("the capital of France", None)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text,clock", [
    ("7 am", "07:00"), ("six thirty", "06:30"), ("9:45 pm", "21:45"),
    ("half past seven", "07:30"), ("quarter to nine pm", "20:45"), ("noon", "12:00"),
    ("banana", None)])
def test_clock_times(text, clock):
    assert parse_clock(text) == clock


@pytest.mark.parametrize("text,expr", [
    ("twelve times seven", "12*7"), ("15 percent of 80", "(15/100)*80"),
    ("the square root of 144", "sqrt(144)"), ("2 to the power of 10", "2**10"),
    ("three hundred and twenty plus forty five", "320+45"), ("9 squared", "9**2"),
    ("the capital of france", None), ("love", None), ("42", None)])
def test_expressions(text, expr):
    assert parse_expression(text) == expr


def test_spoken_numbers():
    assert spoken_to_digits("one hundred and five apples") == "105 apples"
    assert spoken_to_digits("two point five") == "2.5"
    assert spoken_to_digits("twenty one thousand") == "21000"
    assert spoken_to_digits("seven thirty") == "7 30"  # a clock time, not 37


def test_conversions():
    assert parse_conversion("how many grams are in 3 pounds") == {
        "value": 3.0, "from_unit": "pound", "to_unit": "gram"}
    assert parse_conversion("60 miles per hour in km/h") == {
        "value": 60.0, "from_unit": "mile per hour", "to_unit": "kilometer per hour"}
    assert parse_conversion("the cat in the hat") is None


def test_removing_a_tool_removes_its_intent(schemas):
    router = IntentRouter([s for s in schemas if s["function"]["name"] != "calculate"])
    assert router.route("what is 12 times 7") is None
    assert IntentRouter(schemas).route("what is 12 times 7").tool == "calculate"


def test_user_tool_routed_from_its_name_and_docstring(schemas):
    @function_tool
    def get_stock_price(symbol: str) -> str:
        """Get the latest stock price for a ticker symbol.

        Args:
            symbol: Ticker symbol, e.g. AAPL.
        """
        return symbol

    @function_tool
    def set_thermostat(temperature: int, mode: Literal["heat", "cool"] = "heat") -> str:
        """Set the thermostat to a temperature."""
        return ""

    registry = ToolRegistry()
    registry.register(get_stock_price)
    registry.register(set_thermostat)
    router = IntentRouter(schemas + registry.get_schemas())
    route = router.route("what's the stock price of apple")
    assert route is not None and route.tool == "get_stock_price"
    assert route.arguments == {"symbol": "apple"}
    route = router.route("set the thermostat to twenty one degrees and cool")
    assert route.tool == "set_thermostat" and route.arguments == {"temperature": 21,
                                                                  "mode": "cool"}
    assert router.route("tell me a joke") is None
    assert router.route("what is 12 times 7").tool == "calculate"  # built-ins unaffected


def test_args_match_compares_meaning():
    assert args_match("calculate", {"expression": "15/100*80"}, {"expression": "(15/100)*80"})
    assert args_match("convert_units", {"from_unit": "mile"}, {"from_unit": "miles"})
    assert not args_match("set_timer", {"seconds": 300}, {"seconds": 30})


# --------------------------------------------------------------------------------------------
# Paraphrase families, ASR-style input and the request guard. These sentences are the
# router's own examples of each family (neither bench set's), so a template that only
# matched one sentence fails here.
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def router(schemas):
    return IntentRouter(schemas)


@pytest.mark.parametrize("text,tool,args", [
    # time: "how late", "what hour", "past noon", indirect questions, fillers
    ("how late is it now", "get_time", {}),
    ("what hour is it", "get_time", {}),
    ("is it after five yet", "get_time", {}),
    ("have we hit noon yet", "get_time", {}),
    ("uh do you happen to know what time it is", "get_time", {}),
    ("i need to know the time", "get_time", {}),
    ("is it christmas yet", None, {}),
    # date: weekday / day-of-month checks, apostrophe-less "todays"
    ("todays date", "get_date", {}),
    ("is it friday today", "get_date", {}),
    ("is today the twenty first", "get_date", {}),
    ("what day are we on", "get_date", {}),
    # timers: "time N for", "let me know when", labels, request verbs, no preposition
    ("could you time 4 minutes", "set_timer", {"seconds": 240}),
    ("start timing 10 minutes", "set_timer", {"seconds": 600}),
    ("tell me when 5 minutes are up", "set_timer", {"seconds": 300}),
    ("let me know in 10 minutes", "set_timer", {"seconds": 600}),
    ("set a timer named laundry for 40 minutes", "set_timer",
     {"seconds": 2400, "label": "laundry"}),
    ("make a timer for 45 minutes called laundry", "set_timer",
     {"seconds": 2700, "label": "laundry"}),
    ("set a pasta timer for 12 minutes", "set_timer", {"seconds": 720, "label": "pasta"}),
    ("i need a timer for 3 minutes", "set_timer", {"seconds": 180}),
    ("set timer 30 seconds", "set_timer", {"seconds": 30}),
    ("um set a timer for uh a couple of minutes", "set_timer", {"seconds": 120}),
    ("in 20 minutes remind me to call john", "set_timer", {"seconds": 1200}),
    # alarms: spoken clock times after any request verb
    ("i want an alarm for twenty past six", "set_alarm", {"time_of_day": "06:20"}),
    ("can you wake me at ten to seven", "set_alarm", {"time_of_day": "06:50"}),
    ("remind me at 3 pm to call the bank", "set_alarm", {"time_of_day": "15:00"}),
    ("set a 7 am alarm", "set_alarm", {"time_of_day": "07:00"}),
    ("alarm for half six", "set_alarm", {"time_of_day": "06:30"}),
    # listing and cancelling timers
    ("are any timers set", "list_timers", {}),
    ("is there an alarm set", "list_timers", {}),
    ("what's left on my timer", "list_timers", {}),
    ("when does my alarm go off", "list_timers", {}),
    ("kill the timer", "cancel_timers", {}),
    ("switch the alarm off", "cancel_timers", {}),
    ("i don't need the timer anymore", "cancel_timers", {}),
    ("forget the alarm turn it off", "cancel_timers", {}),
    ("cancel the pasta timer", "cancel_timers", {}),
    # arithmetic phrasings
    ("add 15 to 30", "calculate", {"expression": "45"}),
    ("add up 10 20 and 30", "calculate", {"expression": "60"}),
    ("fifty plus fifty", "calculate", {"expression": "100"}),
    ("subtract 15 from 80", "calculate", {"expression": "65"}),
    ("take 7 away from 20", "calculate", {"expression": "13"}),
    ("what do you get when you multiply 9 by 6", "calculate", {"expression": "54"}),
    ("sqrt of 49", "calculate", {"expression": "7"}),
    ("what's 18 squared", "calculate", {"expression": "324"}),
    ("what's half of 86", "calculate", {"expression": "43"}),
    ("i have 3 bags of 12 apples how many apples is that", "calculate",
     {"expression": "36"}),
    ("if i split 90 dollars between 3 people how much each", "calculate",
     {"expression": "30"}),
    ("what's a 20 percent tip on 50 dollars", "calculate", {"expression": "10"}),
    # notes
    ("jot this down the meeting is at noon", "add_note", {"text": "the meeting is at noon"}),
    ("don't let me forget to buy a birthday card", "add_note",
     {"text": "buy a birthday card"}),
    ("put milk on the shopping list", "add_note", {"text": "milk"}),
    ("have i saved any notes", "list_notes", {}),
    ("read my notes back to me", "list_notes", {}),
    ("what's on my shopping list", "list_notes", {}),
    ("remove the most recent note", "delete_note", {"number": -1}),
    ("scratch note 3", "delete_note", {"number": 3}),
    # weather: "what's it like outside", time word before the place, fragments
    ("what's it like out there", "get_weather", {}),
    ("whats it like outside in oslo today", "get_weather", {"location": "oslo"}),
    ("will it snow tomorrow in chicago", "get_weather", {"location": "chicago"}),
    ("should i bring an umbrella", "get_weather", {}),
    ("temperature outside", "get_weather", {}),
    ("hows the weather in tokyo right now", "get_weather", {"location": "tokyo"}),
    ("what's it like to live in paris", None, {}),
])
def test_paraphrase_families(router, text, tool, args):
    route = router.route(text)
    assert (route.tool if route else None) == tool, (text, route)
    if tool:
        assert args_match(tool, args, route.arguments), (text, route.arguments)


@pytest.mark.parametrize("text", [
    # opinions and stories that mention a tool word
    "i love the weather today", "i hate the rain", "i set an alarm but slept through it",
    "i forgot to set my alarm yesterday", "i wrote some notes for my exam",
    "i usually wake up at seven", "i ran 5 miles today",
    # statements about a thing
    "this weather is awful", "the weather has been crazy lately",
    "my alarm didn't go off this morning", "my oven timer is broken", "my notes are a mess",
    "it's raining again", "that took 2 hours", "dinner is in 20 minutes",
    # questions about the assistant or about knowledge
    "what's your favorite kind of weather", "do you like snow", "how do alarms work",
    "what was the weather like in the ice age", "who invented the thermometer",
    # time words that are not requests for the time
    "what time does the store close", "what's the best time to visit japan",
    "see you in ten minutes", "give me a minute",
])
def test_statements_that_mention_tool_words_are_not_requests(router, text):
    assert router.route(text) is None, text


def test_request_guard_keeps_requests_inside_statements(router):
    # a statement clause followed by a real question is still a request
    assert router.route("i have 12 boxes of 24 how many is that").tool == "calculate"
    # a short fragment or a question is a request form, a longer remark is not
    assert router.route("weather tomorrow").tool == "get_weather"
    assert router.route("weather like this makes me want to stay in bed") is None
    assert is_statement("the weather man is always wrong")
    assert not is_statement("what's the weather in rome")
    assert is_request_form("is it raining") and not is_request_form(
        "rainy weather makes everyone at work grumpy")


@pytest.mark.parametrize("text,want", [
    ("Um, what's the uh time?", "what's the time"),
    ("whats todays date", "what's today's date"),
    ("Remind me, which day is it?", "which day is it"),
    ("do you know if its going to rain", "is it going to rain"),
    ("can you tell me whether i need an umbrella", "do i need an umbrella"),
    ("i wonder what time it is", "what time is it"),
    ("remind me in 5 minutes", "remind me in 5 minutes"),  # not a wrapped question
])
def test_normalize_speech(text, want):
    assert normalize(text) == want


@pytest.mark.parametrize("text,expr", [
    ("add 38 and 47", "38+47"), ("the difference between 10 and 3", "10-3"),
    ("double 21", "21*2"), ("5 dozen", "5*12"), ("2 to the 10th power", "2**10"),
    ("split 120 between 4 people", "120/4"), ("a hundred minus thirty seven", "100-37"),
    ("i have 2 kids and 3 dogs", None), ("page 2 of 5", None)])
def test_expression_phrasings(text, expr):
    assert parse_expression(text) == expr


@pytest.mark.parametrize("text,clock", [
    ("quarter past eight", "08:15"), ("at 7", "07:00"), ("seven a m", "07:00"),
    ("six oh five", "06:05"), ("1930", "19:30"), ("for tomorrow at 7", "07:00"),
    ("7 in the evening", "19:00"), ("half six", "06:30")])
def test_more_clock_times(text, clock):
    assert parse_clock(text) == clock


def test_ordinals_and_labels():
    assert parse_ordinal_or_number("most recent") == -1
    assert parse_ordinal_or_number("fifteenth") == 15
    assert parse_ordinal_or_number("twenty first") == 21
    assert parse_duration("a couple of minutes") == 120
    assert parse_location("the city of london") == "london"
    assert parse_location("it like to live in paris") is None


def test_garbled_prefix_does_not_hide_the_request():
    from localvox.agent.intent import normalize

    garbled = b"\xff\xfe\xc3\x28 what time is it".decode("utf-8", "replace")
    assert normalize(garbled) == "what time is it"
    assert normalize("what is (3 + 4) * 2").endswith("(3 + 4) * 2")
