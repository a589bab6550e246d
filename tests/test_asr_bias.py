"""Tool-aware recognition: the tools' vocabulary as a bounded Whisper prompt (issue #17).

Pure parts (priority, truncation with a notice, condensing value lists, prompt echoes,
what a tool signature contributes, the per-turn focus) need no model; the model test
checks that the prompt reaches Whisper on a real crowd-sourced coffee order.
"""

from __future__ import annotations

from typing import Annotated, Literal


from localvox.agent.tools import ToolRegistry, function_tool
from localvox.agent.vocab import focus_for, tool_vocabulary
from localvox.asr.bias import Bias, build_prompt, condense, echoes_prompt
from localvox.bench.noise import shared_speech
from tests.conftest import needs_models, require_speech


class RecordingAsr:
    """What a ``BiasFollower`` sets on the recogniser, in order (the follower calls it on
    the event loop; ``changed`` lets a test wait for the next call instead of a clock)."""

    def __init__(self) -> None:
        import asyncio

        self.biases: list[Bias] = []
        self.changed = asyncio.Event()

    def set_bias(self, bias: Bias) -> None:
        self.biases.append(bias)
        self.changed.set()

    async def wait_for(self, count: int) -> None:
        while len(self.biases) < count:
            self.changed.clear()
            await self.changed.wait()


class FollowedEngine:
    """The two things a ``BiasFollower`` reads from the engine: its ASR and its events."""

    def __init__(self) -> None:
        import asyncio

        self.asr = RecordingAsr()
        self.queue: asyncio.Queue[object] = asyncio.Queue()

    def subscribe(self) -> object:
        return self.queue


def words_encode(text: str) -> list[int]:
    """A stand-in tokenizer: one token per word."""
    return list(range(len(text.split())))


def test_groups_fill_in_priority_order_and_the_first_group_ends_nearest_the_audio() -> None:
    p = build_prompt(Bias.of(["latte"], ["small", "large"], ["hey jarvis"]), words_encode, 10)
    assert p.text == "hey jarvis, large, small, latte."
    assert p.dropped == 0 and p.notice is None


def test_a_vocabulary_too_long_is_cut_by_priority_with_a_notice_never_an_error() -> None:
    many = [f"name{i}" for i in range(500)]
    p = build_prompt(Bias.of(["latte", "mocha"], many), words_encode, 20)
    assert "latte" in p.text and "mocha" in p.text
    assert len(p.tokens) <= 20 and p.dropped > 400
    assert p.notice is not None and "left out" in p.notice


def test_value_lists_are_condensed_to_the_phrases_that_add_a_word() -> None:
    milk = ["milk", "skim milk", "a lot of milk", "a lot of skim milk", "some milk",
            "some skim milk"]
    assert condense(milk) == ["milk", "skim milk", "some milk", "a lot of milk"]


def test_a_transcript_that_reads_the_prompt_back_is_an_echo() -> None:
    prompt = "hey jarvis, large, small, latte."
    assert echoes_prompt("Large, small, latte.", prompt)
    assert not echoes_prompt("A large latte.", prompt)


def test_the_vocabulary_comes_from_the_tool_signatures() -> None:
    @function_tool
    def call(contact: Annotated[str, {"examples": ["Ada Lovelace"]}],
             line: Literal["mobile", "office"] = "mobile") -> str:
        """Call someone.

        Args:
            contact: Who to call.
        """
        return "ok"

    @function_tool
    def weather(city: str = "") -> str:
        """Weather.

        Args:
            city: The city, e.g. "Reykjavik" or "New Delhi".
        """
        return "ok"

    reg = ToolRegistry()
    reg.register(call)
    reg.register(weather)
    reg.add_entities("rooms", ["conservatory"])
    bias = tool_vocabulary(reg.get_schemas(), entities=reg.get_entities(),
                           wake_word="hey_jarvis")
    closed, hints, wake = bias.groups
    assert closed == ("mobile", "office")
    assert set(hints) == {"Ada Lovelace", "Reykjavik", "New Delhi", "conservatory"}
    assert wake == ("hey jarvis",)


def test_a_question_puts_the_slot_it_asks_for_first() -> None:
    from localvox.examples.barista import ASK_DRINK, BaristaAgent, vocabulary

    node = BaristaAgent(llm=None)
    schemas = node.tools.get_schemas()
    assert focus_for("Which size would you like?", schemas)[:3] == ["small", "medium", "large"]
    assert focus_for("Here is your latte.", schemas) == []
    from typing import get_args

    from localvox.examples.barista import CoffeeDrink

    asked = vocabulary(node, question=ASK_DRINK)
    assert asked.groups[0] == get_args(CoffeeDrink)  # the drinks, and only them, first
    assert len(vocabulary(node).groups[0]) > len(get_args(CoffeeDrink))


CLIP = shared_speech() / "intent" / "coffee" / "0075d273-51bb-47cb-b323-4437bd0de029.wav"


@needs_models("whisper_tiny_en")
def test_the_prompt_reaches_whisper_on_a_real_order() -> None:
    """The first clip of the coffee set, labelled size "twelve ounce": tiny.en writes
    "12-ounce" unprompted and the grammar's spelling with the barista's vocabulary."""
    require_speech(CLIP)
    from localvox.audio.wav import read_wav
    from localvox.config import load_config
    from localvox.examples.barista import BaristaAgent, vocabulary
    from localvox.registry import create

    asr = create("asr", "whisper", load_config(use_user_file=False))
    audio = read_wav(CLIP)
    try:
        asr.set_bias(None)
        plain = asr.decode(audio).text.lower()
        assert asr.set_bias(vocabulary(BaristaAgent(llm=None))) is None  # it all fits
        biased = asr.decode(audio).text.lower()
    finally:
        asr.set_bias(None)
    assert "twelve ounce" not in plain
    assert "twelve ounce" in biased and "light roast" in biased


async def test_a_session_gives_the_vocabulary_of_its_tools_and_follows_questions() -> None:
    from localvox.agent.listen import BiasFollower, session_vocabulary
    from localvox.config import load_config
    from localvox.examples.barista import ASK_DRINK, create_app
    from localvox.pipeline.events import ReplyDone

    app = create_app(load_config(use_user_file=False), llm=object())
    session = await app.open_session()
    try:
        engine = FollowedEngine()
        follower = BiasFollower(engine, lambda q: session_vocabulary(
            session, wake_word="hey_jarvis", question=q))
        follower.start()
        engine.queue.put_nowait(ReplyDone(1, ASK_DRINK))
        import asyncio

        await asyncio.wait_for(engine.asr.wait_for(2), 30)
        await follower.stop()
        first, second = engine.asr.biases
        assert "light roast" in first.groups[0] and first.groups[-1] == ("hey jarvis",)
        assert second.groups[0][0] == "americano" and "light roast" not in second.groups[0]
    finally:
        await app.close()


def test_open_conversation_gets_no_prompt() -> None:
    """The default assistant (built-in tools, wake word): a prompt of their words raised
    tiny.en's WER on real read speech (7.70% -> 8.51%), so there is none."""
    from localvox.agent.builtin_tools import BuiltinTools
    from localvox.config import load_config

    reg = ToolRegistry()
    reg.discover(BuiltinTools(load_config(use_user_file=False)))
    assert tool_vocabulary(reg.get_schemas(), wake_word="hey_jarvis").empty


async def test_any_app_launched_gets_its_tools_vocabulary() -> None:
    """A user's own app (no ``vocabulary`` of its own) launched by ``App.run()``: the
    recogniser is told the values its tools take, from the session's tool registries."""
    import asyncio

    from localvox.agent.app import App
    from localvox.agent.launch import follow_vocabulary
    from localvox.agent.nodes import OutputAgentNode
    from localvox.config import load_config

    class Lights(OutputAgentNode):
        def __init__(self) -> None:
            super().__init__(name="lights")
            self.tools = ToolRegistry()
            self.tools.discover(self)

        @function_tool()
        def set_scene(self, scene: Literal["candlelight", "movie night", "reading"]) -> str:
            """Switch the living room to a lighting scene."""
            return f"{scene} on"

        async def generate_response(self):  # type: ignore[override]
            yield "ok"

    async def setup(session: object) -> None:
        session.add_node(Lights())  # type: ignore[attr-defined]
        await session.start()  # type: ignore[attr-defined]

    config = load_config(use_user_file=False)
    app = App(setup)
    session = await app.open_session()
    try:
        engine = FollowedEngine()
        follower = follow_vocabulary(app, engine, config, session)
        assert follower is not None
        await follower.stop()
        words = [w for group in engine.asr.biases[0].groups for w in group]
        assert {"candlelight", "movie night", "reading"} <= set(words)
        config.asr.bias = False
        assert follow_vocabulary(app, FollowedEngine(), config, session) is None
    finally:
        await app.close()
