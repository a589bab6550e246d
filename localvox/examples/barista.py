"""A coffee-ordering agent on the localvox SDK: ``localvox example barista``.

``order_drink`` takes the six slots of Picovoice's coffee-maker grammar (the speech-to-intent
benchmark's ``coffee_maker.yaml``), each typed by a ``Literal`` of that grammar's values,
and says how it is asked for with ``@function_tool(sentences=[...])``. So:

* the **intent router** routes "can I get a large dark roast latte with some milk" to
  ``order_drink`` before any LLM, and fills the slots fuzzily against the ``Literal``
  values ("light rose" -> light roast, "ice mocha" -> iced mocha), with a confidence gate
  so "tell me a joke" orders nothing (:mod:`localvox.agent.sentences`);
* the **recogniser** is told the same values (``vocabulary()``, a Whisper prompt built from
  the tool's signature), and after "Which drink would you like?" the drinks come first;
* the **reply** reads the order back ("A large dark roast latte with some milk. Coming
  right up."); the SDK's tool loop says "One moment." only if the tool takes longer than
  ``[agent] holding_after_ms`` (it is instant here, so it never does);
* an order without a drink ("a large one with milk") keeps what was heard and asks for
  the drink; the next answer completes it.

Everything else goes to the LLM as open conversation, offered no tools.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Literal

from localvox.agent.nodes import OutputAgentNode
from localvox.agent.tools import ToolRegistry, function_tool
from localvox.llm.base import ChatChunk

CoffeeDrink = Literal["americano", "cappuccino", "espresso", "iced mocha", "latte", "mocha",
                      "coffee", "drip coffee", "house coffee", "iced coffee"]
Size = Literal["small", "medium", "large", "eight ounce", "twelve ounce", "sixteen ounce",
               "twenty ounce"]
Roast = Literal["light roast", "medium roast", "dark roast"]
Shots = Literal["single shot", "double shot", "triple shot"]
Milk = Literal[
    "milk", "a little bit of milk", "a bit of milk", "some milk", "a lot of milk",
    "lots of milk", "skim milk", "a little bit of skim milk", "a bit of skim milk",
    "some skim milk", "a lot of skim milk", "lots of skim milk", "whole milk",
    "a little bit of whole milk", "a bit of whole milk", "some whole milk",
    "a lot of whole milk", "lots of whole milk", "soy milk", "a little bit of soy milk",
    "a bit of soy milk", "some soy milk", "a lot of soy milk", "lots of soy milk",
    "almond milk", "a little bit of almond milk", "a bit of almond milk", "some almond milk",
    "a lot of almond milk", "lots of almond milk", "cream", "a little bit of cream",
    "a bit of cream", "some cream", "a lot of cream", "lots of cream"]
Sugar = Literal[
    "sugar", "a little bit of sugar", "a bit of sugar", "some sugar", "a lot of sugar",
    "lots of sugar", "brown sugar", "a little bit of brown sugar", "a bit of brown sugar",
    "some brown sugar", "a lot of brown sugar", "lots of brown sugar", "sweetener",
    "a little bit of sweetener", "a bit of sweetener", "some sweetener",
    "a lot of sweetener", "lots of sweetener"]

_ASK = "(brew|can i get|can i have|i want|get me|give me|i'd like|make me|may i have|i'll have)"
SENTENCES = [
    _ASK + " [a|an] [{size}] [{roast}] [{shots}] {coffee_drink} [with {milk}] [and {sugar}]",
    _ASK + " [a|an] [{size}] [{roast}] [{shots}] {coffee_drink} [with {sugar}] [and {milk}]",
    _ASK + " [a|an] [{roast}] [{shots}] [{size}] {coffee_drink} [with {milk}] [and {sugar}]",
    "[a|an] [{size}] [{roast}] [{shots}] {coffee_drink} [with {milk}] [and {sugar}] [please]",
]
"""How people order, in hassil syntax (the grammar's carrier phrases; slot order is free in
the value layer, so these few lines cover the grammar's 80 expressions)."""

SYSTEM_PROMPT = ("You are a friendly barista taking coffee orders. Answer in one short "
                 "spoken sentence.")
ASK_DRINK = "Which drink would you like? We have americano, cappuccino, espresso, latte, " \
            "mocha, iced mocha, drip, house and iced coffee."


def describe(order: dict[str, Any]) -> str:
    """The order as one spoken phrase: "a large dark roast double shot latte with some milk"."""
    size = order.get("size")
    head = " ".join(str(order[k]) for k in ("size", "roast", "shots", "coffee_drink")
                    if order.get(k))
    extras = [str(order[k]) for k in ("milk", "sugar") if order.get(k)]
    article = "an" if head[:1] in "aeiou" and not size else "a"
    if size and str(size)[:1] in "aeiou":
        article = "an"
    return f"{article} {head}" + (f" with {' and '.join(extras)}" if extras else "")


class BaristaAgent(OutputAgentNode):
    """Takes orders through ``order_drink``; the rest is small talk with the LLM."""

    def __init__(self, llm: Any, *, holding_phrase: str = "One moment.",
                 holding_after_ms: float = 700, tool_timeout_s: float = 10.0) -> None:
        super().__init__(name="barista")
        self.llm = llm
        self.holding_phrase = holding_phrase
        self.holding_after_ms = holding_after_ms
        self.tools = ToolRegistry(timeout_s=tool_timeout_s)
        self.tools.discover(self)
        self.orders: list[dict[str, Any]] = []
        self.context.add_message({"role": "system", "content": SYSTEM_PROMPT})

    @function_tool(sentences=SENTENCES)
    async def order_drink(self, coffee_drink: CoffeeDrink, size: Size | None = None,
                          roast: Roast | None = None, shots: Shots | None = None,
                          milk: Milk | None = None, sugar: Sugar | None = None) -> str:
        """Order a coffee drink.

        Args:
            coffee_drink: The drink, e.g. "latte".
            size: Cup size.
            roast: Roast of the beans.
            shots: Number of espresso shots.
            milk: Milk and how much.
            sugar: Sugar or sweetener and how much.
        """
        order = {"coffee_drink": coffee_drink, "size": size, "roast": roast, "shots": shots,
                 "milk": milk, "sugar": sugar}
        self.orders.append(order)
        text = describe(order)
        return f"{text[:1].upper()}{text[1:]}. Coming right up."

    async def generate_response(self) -> AsyncIterator[str]:
        async for chunk in self.run_llm_with_tools(
                self.llm, self.tools, max_rounds=1, holding_phrase=self.holding_phrase,
                holding_after_ms=self.holding_after_ms):
            yield chunk


class BaristaLLM:
    """Routes orders with the intent router (in a worker thread: fuzzy matching a long
    order costs up to ~100 ms); an order without a drink asks for it and is completed by
    the next answer; anything else goes to the real model without tools."""

    def __init__(self, llm: Any, node: BaristaAgent) -> None:
        from localvox.agent.intent import IntentRouter

        self.llm = llm
        self.router = IntentRouter(node.tools.get_schemas(), sentences=node.tools.get_sentences())
        self.pending: dict[str, Any] = {}
        self.name = f"barista+{getattr(llm, 'name', 'llm')}"

    def _route(self, text: str) -> Any:
        import json

        from localvox.llm.base import ToolCall

        call = self.router.tool_call(text)
        if call is not None and self.pending:
            # "a cappuccino" after "which drink?": the first answer's slots still count
            args = {**self.pending, **json.loads(call.arguments)}
            call = ToolCall(call.id, call.name, json.dumps(args))
        return call

    async def chat(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
                   *, stream: bool = True, **kw: Any) -> AsyncIterator[ChatChunk]:
        from localvox.examples._common import chat_text

        last = messages[-1] if messages else {}
        if last.get("role") == "tool":
            self.pending = {}
            yield ChatChunk(content=str(last.get("content", "")), finish_reason="stop")
            return
        text = str(last.get("content", ""))
        if tools and last.get("role") == "user":
            call = await asyncio.to_thread(self._route, text)
            if call is not None:
                yield ChatChunk(tool_calls=[call], finish_reason="tool_calls")
                return
            heard = await asyncio.to_thread(self._partial_order, text)
            if heard:
                self.pending.update(heard)
                yield ChatChunk(content=ASK_DRINK, finish_reason="stop")
                return
        chat_messages = [m for m in messages if m.get("role") in ("system", "user")]
        async for sentence in chat_text(self.llm, chat_messages[:1] + chat_messages[1:][-2:]):
            yield ChatChunk(content=sentence)

    def _partial_order(self, text: str) -> dict[str, Any]:
        """Slots heard in an order that named no drink ("a large one with oat... milk")."""
        from localvox.agent.intent import is_statement
        from localvox.agent.slots import normalize

        if is_statement(normalize(text)):
            return {}
        for intent in self.router.spoken:
            values = {k: v for k, v in intent.values.items() if k != "coffee_drink"}
            from localvox.agent.fuzzy import explained_fraction, match_slots

            found = match_slots(text, values, carrier=intent.carrier)
            if found and explained_fraction(text, found, intent.carrier | {"one"}) >= 0.6:
                return {m.slot: m.value for m in found}
        return {}

    async def close(self) -> None:
        await self.llm.close()


def vocabulary(node: BaristaAgent, *, wake_word: str = "", question: str = "") -> Any:
    """The recogniser's vocabulary for this agent; ``question`` (the last reply) sets the focus."""
    from localvox.agent.vocab import focus_for, tool_vocabulary

    schemas = node.tools.get_schemas()
    sentences = node.tools.get_sentences()
    return tool_vocabulary(schemas, sentences=sentences, entities=node.tools.get_entities(),
                           wake_word=wake_word,
                           focus=focus_for(question, schemas) if question else ())


def create_app(config: Any, *, llm: Any = None) -> Any:
    from localvox.agent.app import App
    from localvox.examples._common import create_llm

    shared: dict[str, Any] = {"llm": llm}
    agent_cfg = config.agent

    async def setup(session: Any) -> None:
        if shared["llm"] is None:
            shared["llm"] = await asyncio.to_thread(create_llm, config)
        node = BaristaAgent(shared["llm"], holding_phrase=agent_cfg.holding_phrase,
                            holding_after_ms=agent_cfg.holding_after_ms,
                            tool_timeout_s=agent_cfg.tool_timeout_s)
        node.llm = BaristaLLM(shared["llm"], node)
        session.add_node(node)
        shared["node"] = node
        await session.start()

    app = App(setup)

    def app_vocabulary(question: str = "", *, wake_word: str = "") -> Any:
        node = shared.get("node") or BaristaAgent(llm=None)
        return vocabulary(node, wake_word=wake_word, question=question)

    app.vocabulary = app_vocabulary  # type: ignore[attr-defined]  # read by `localvox example`
    return app
