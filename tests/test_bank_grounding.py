"""The bank's guard rails against a model that invents: details the caller never said, and
figures no tool returned."""

from __future__ import annotations

import pytest

from localvox.examples.bank.grounded_reply import COULD_NOT, LOOK_IT_UP, grounded, unfounded
from localvox.examples.bank.grounding import caller_said, ground

CALLER = ["Hi, I'm Priya Sharma, date of birth 12th April 1988, and my account ends in "
          "eight nine four nine.", "I live in Bombay."]


def test_only_details_in_the_callers_words_are_kept():
    kept, dropped = ground({"name": "Priya Sharma", "dob": "1988-04-12",
                            "account_last4": "8949", "city": "New York",
                            "debit_last4": "0062"}, CALLER)
    assert kept == {"name": "Priya Sharma", "dob": "1988-04-12", "account_last4": "8949"}
    assert dropped == ["city", "debit_last4"]


@pytest.mark.parametrize("factor,value,said", [
    ("city", "Mumbai", False),       # the alias the verifier knows, but not the word said
    ("city", "Bombay", True),
    ("name", "Priya", True),
    ("name", "Priya Verma", False),
    ("dob", "1988-04-21", False),
    ("dob", "12/04/1988", True),
    ("account_last4", "4949", False),
])
def test_near_misses_are_not_the_callers_words(factor, value, said):
    assert caller_said(factor, value, CALLER) is said


def test_figures_must_come_from_a_tool_or_the_caller():
    evidence = '{"rows": [{"balance_paise": 224209364}]}\nmy account ends in 8949'
    assert unfounded("Your balance is 22,42,093.64 rupees.", evidence) == []
    assert unfounded("Your balance is 2242093 rupees and 64 paise.", evidence) == []
    assert unfounded("The account ending 8949 holds 12000 rupees.", evidence) == ["12000"]
    assert unfounded("You have 3 cards.", evidence) == []  # small counts are not amounts


async def _run(replies, history):
    asked = []

    async def reply(retry: bool):
        asked.append(retry)
        for piece in replies.pop(0):
            yield piece

    said = [s async for s in grounded(reply, lambda: history)]
    return said, asked


async def test_a_made_up_figure_is_held_back_and_asked_again():
    history = [{"role": "user", "content": "What is my balance?"},
               {"role": "tool", "content": '{"rows": [{"balance_paise": 224209364}]}'}]
    said, asked = await _run([["Sure. Your bal", "ance is 12000 rupees. Bye."],
                              ["Your balance is 2242093 rupees", " and 64 paise."]], history)
    assert said == ["Sure. ", "Your balance is 2242093 rupees and 64 paise."]
    assert asked == [False, True]
    assert "execute_query" in LOOK_IT_UP


async def test_twice_made_up_is_never_said():
    history = [{"role": "user", "content": "What is my balance?"}]
    said, asked = await _run([["It is 12000 rupees."], ["It is 15000 rupees."]], history)
    assert said == [COULD_NOT] and asked == [False, True]
