"""Fuzzy/phonetic slot filling (``localvox.agent.fuzzy``) and tool sentences routed by the
intent router (``@function_tool(sentences=...)``, Rhino grammars).

The near-misses are tiny.en's own transcripts of real crowd-sourced coffee orders (issue
#17): "light rose", "ice mocha", "media mocha", "8-dounds", "moco".
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

import pytest
from conftest import require_speech

from localvox.agent.fuzzy import best_value, match_slots, normalize_spoken
from localvox.agent.grammar import load_rhino, rhino_to_hassil
from localvox.agent.intent import IntentRouter
from localvox.agent.tools import ToolRegistry, function_tool
from localvox.bench.noise import shared_speech
from localvox.examples import barista

GRAMMAR = shared_speech() / "intent" / "coffee" / "coffee_maker.yaml"


def slots() -> dict[str, tuple[str, ...]]:
    return {"coffee_drink": get_args(barista.CoffeeDrink), "size": get_args(barista.Size),
            "roast": get_args(barista.Roast), "shots": get_args(barista.Shots),
            "milk": get_args(barista.Milk), "sugar": get_args(barista.Sugar)}


@pytest.mark.parametrize("heard, want", [
    ("can I get a light rose latte", {"roast": "light roast", "coffee_drink": "latte"}),
    ("I'd like an ice mocha with lots of milk",
     {"coffee_drink": "iced mocha", "milk": "lots of milk"}),
    ("give me a media mocha", {"size": "medium", "coffee_drink": "mocha"}),
    ("an 8-dounds coffee, dark roast",
     {"size": "eight ounce", "coffee_drink": "coffee", "roast": "dark roast"}),
    ("I'd like a 12-ounce light-roost double-shot moco with brown sugar and some almond milk.",
     {"size": "twelve ounce", "roast": "light roast", "shots": "double shot",
      "coffee_drink": "mocha", "sugar": "brown sugar", "milk": "some almond milk"}),
    # the longest value that is really there wins; a value is not stretched over words
    # that were not said, nor over the sentence's own words ("with")
    ("a latte with a lot of whole milk", {"coffee_drink": "latte", "milk": "a lot of whole milk"}),
    ("I want a mocha", {"coffee_drink": "mocha"}),
    ("make me a 16 ounce ice moco with milk",
     {"size": "sixteen ounce", "coffee_drink": "iced mocha", "milk": "milk"}),
])
def test_near_misses_fill_the_allowed_values(heard: str, want: dict[str, str]) -> None:
    carrier = {"with", "and", "a", "an", "i", "get", "can", "want", "like", "me", "make"}
    got = {m.slot: m.value for m in match_slots(heard, slots(), carrier=carrier)}
    assert got == want


def test_unrelated_words_fill_nothing() -> None:
    assert match_slots("tell me a joke", slots()) == []
    assert best_value("what's the weather in paris", get_args(barista.Size)) is None


def test_digits_and_units_are_spoken_words() -> None:
    assert normalize_spoken("A 12-oz. latte, 16oz") == "a twelve ounce latte sixteen ounce"


def test_rhino_syntax_becomes_hassil() -> None:
    assert rhino_to_hassil("[can I get, give me] [a, an] $size:size (please) $coffeeDrink:drink") \
        == "(can I get|give me) (a|an) {size} [please] {drink}"


def _barista_router() -> IntentRouter:
    node = barista.BaristaAgent(llm=None)
    return IntentRouter(node.tools.get_schemas(), sentences=node.tools.get_sentences())


@pytest.mark.parametrize("text, args", [
    ("Can I get a large dark roast latte with some milk",
     {"size": "large", "roast": "dark roast", "coffee_drink": "latte", "milk": "some milk"}),
    ("can I get a light rose latte", {"roast": "light roast", "coffee_drink": "latte"}),
    # Whisper's noisy "can I get a" reads as a comment; three values still make an order
    ("And I'm going to triple shot, light roast, aced coffee.",
     {"shots": "triple shot", "roast": "light roast", "coffee_drink": "iced coffee"}),
])
def test_the_barista_tool_is_routed_by_its_sentences(text: str, args: dict[str, str]) -> None:
    route = _barista_router().route(text)
    assert route is not None and route.layer == "sentences"
    assert (route.tool, route.arguments) == ("order_drink", args)


@pytest.mark.parametrize("text", ["tell me a joke", "I love coffee", "what time is it",
                                  "I think the latte here is great", "set a timer for 5 minutes"])
def test_the_confidence_gate_calls_nothing(text: str) -> None:
    assert _barista_router().route(text) is None


def test_function_tool_sentences_with_free_text_slots_match_exactly() -> None:
    calls = []

    @function_tool(sentences=["(play|put on) [some] {artist} [music]"])
    def play_music(artist: str, room: Literal["kitchen", "bedroom"] | None = None) -> str:
        """Play music."""
        calls.append(artist)
        return "ok"

    reg = ToolRegistry()
    reg.register(play_music)
    router = IntentRouter(reg.get_schemas(), sentences=reg.get_sentences())
    route = router.route("put on some miles davis")
    assert route is not None and route.layer == "sentences"
    assert route.arguments == {"artist": "miles davis"}
    assert router.route("what's the capital of france") is None
    # the schema the LLM sees carries no sentences
    assert "sentences" not in str(reg.get_schemas())


@pytest.fixture
def grammar() -> object:
    return load_rhino(require_speech(GRAMMAR))


def test_the_barista_literals_are_the_grammar_values(grammar: object) -> None:
    g = grammar  # type: ignore[assignment]
    named = {"coffeeDrink": barista.CoffeeDrink, "size": barista.Size, "roast": barista.Roast,
             "numberOfShots": barista.Shots, "milkAmount": barista.Milk,
             "sugarAmount": barista.Sugar}
    for slot, literal in named.items():
        assert tuple(get_args(literal)) == g.slot_values[slot], slot  # type: ignore[attr-defined]


def test_a_rhino_grammar_routes_a_tool_whose_parameters_are_named_differently(
        grammar: object) -> None:
    spec = grammar.spec("orderDrink")  # type: ignore[attr-defined]
    assert spec.required_slots() == ["coffeeDrink"]

    @function_tool(sentences=spec)
    def order(coffee_drink: barista.CoffeeDrink, shots: barista.Shots | None = None) -> str:
        """Order."""
        return "ok"

    reg = ToolRegistry()
    reg.register(order)
    router = IntentRouter(reg.get_schemas(), sentences=reg.get_sentences())
    route = router.route("may I have a double shot espresso")
    assert route is not None
    assert route.arguments == {"shots": "double shot", "coffee_drink": "espresso"}


def test_annotated_examples_reach_the_schema() -> None:
    @function_tool
    def call(name: Annotated[str, {"examples": ["Ada", "Grace"]}]) -> str:
        """Call someone."""
        return name

    reg = ToolRegistry()
    reg.register(call)
    assert reg.get_schemas()[0]["function"]["parameters"]["properties"]["name"]["examples"] \
        == ["Ada", "Grace"]
