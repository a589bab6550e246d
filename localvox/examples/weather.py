"""The article's weather agent, fixed, on the localvox SDK.

What the article's code got wrong, and what this does instead:

* It defined ``AssistantAgent`` but ran ``MyAgent()`` in ``on_start``: here the app's setup
  builds the ``WeatherAgent`` it defines.
* It serialised tool arguments with ``str(tc.arguments)`` (a Python repr, not JSON) and
  always said "One moment" even for instant tools: the SDK's tool loop
  (``run_llm_with_tools``) stores the model's JSON arguments verbatim and says the holding
  phrase only if the tools take longer than ``[agent] holding_after_ms``.
* Its follow-up call offered no tools, so the model could not chain a second lookup
  ("and in Mumbai?") and had no bound on rounds: the SDK loop offers the tools again, up to
  ``[agent] max_tool_rounds`` rounds, then asks for a final answer.
* Its ``get_weather`` returned a constant ("sunny, 72°F"); this one asks an open-meteo
  style service (``[agent] weather_url`` / ``geocode_url``) and says clearly when it is
  offline.

With the default model (Qwen2.5 1.5B, ``tool_mode`` hybrid) the SDK's ``IntentRouter``
catches the plain requests ("what's the weather in Mumbai") instantly and the tool's own
sentence is the answer; what it does not match ("do I need an umbrella in Tokyo?") goes to
the model with ``get_weather`` offered, and the model calls it itself through its native
``<tool_call>`` format (``bench chat``: user-tool set). With SmolLM2 (no native calling)
unmatched turns are plain conversation. Replies pass the speech filter (short, no
markdown) like the default assistant's.
"""

from __future__ import annotations

from typing import Any, AsyncIterator

from localvox.agent.builtin_tools import WeatherClient
from localvox.agent.nodes import OutputAgentNode
from localvox.agent.tools import ToolRegistry, function_tool

SYSTEM_PROMPT = "You are a helpful weather assistant. Be concise: one or two spoken sentences."


class WeatherAgent(OutputAgentNode):
    def __init__(self, llm: Any, weather: WeatherClient, *, holding_phrase: str = "One moment.",
                 holding_after_ms: float = 700, max_rounds: int = 4,
                 tool_timeout_s: float = 10.0) -> None:
        super().__init__(name="weather-agent")
        self.llm = llm
        self.weather = weather
        self.holding_phrase = holding_phrase
        self.holding_after_ms = holding_after_ms
        self.max_rounds = max_rounds
        self.tools = ToolRegistry(timeout_s=tool_timeout_s)
        self.tools.discover(self)
        self.context.add_message({"role": "system", "content": SYSTEM_PROMPT})
        self._warm: Any = None

    async def on_start(self) -> None:
        from localvox.examples._common import start_warm

        await super().on_start()
        self._warm = start_warm(self.llm, self.context.messages[:1], self.tools.get_schemas())

    async def on_stop(self) -> None:
        if self._warm is not None:
            self._warm.cancel()
        await super().on_stop()

    @function_tool
    async def get_weather(self, location: str = "") -> str:
        """Get the current weather and today's forecast for a city.

        Args:
            location: The city name to check the weather for, e.g. "New Delhi".
        """
        if not location.strip():
            return "Which city? For example, say: what's the weather in New Delhi."
        return await self.weather.report(location.strip())

    async def generate_response(self) -> AsyncIterator[str]:
        from localvox.agent.assistant import shaped
        from localvox.llm.spoken import SpokenFilter

        last = self.context.last("user")
        source = self.run_llm_with_tools(
            self.llm, self.tools, max_rounds=self.max_rounds,
            holding_phrase=self.holding_phrase, holding_after_ms=self.holding_after_ms)
        async for chunk in shaped(source, SpokenFilter.for_request(
                str(last["content"]) if last else ""), self.holding_phrase):
            yield chunk


def create_app(config: Any, *, llm: Any = None) -> Any:
    from localvox.agent.app import App
    from localvox.agent.intent import IntentRouter
    from localvox.examples._common import IntentLLM, create_llm, tool_mode

    shared: dict[str, Any] = {"llm": llm}
    agent_cfg = config.agent

    async def setup(session: Any) -> None:
        if shared["llm"] is None:
            shared["llm"] = create_llm(config)
        weather = WeatherClient(agent_cfg.weather_url, agent_cfg.geocode_url,
                                timeout_s=min(5.0, agent_cfg.tool_timeout_s))
        node = WeatherAgent(shared["llm"], weather, holding_phrase=agent_cfg.holding_phrase,
                            holding_after_ms=agent_cfg.holding_after_ms,
                            max_rounds=agent_cfg.max_tool_rounds,
                            tool_timeout_s=agent_cfg.tool_timeout_s)
        mode = tool_mode(config)
        if mode in ("intent", "hybrid"):
            node.llm = IntentLLM(shared["llm"], IntentRouter(node.tools.get_schemas()),
                                 native=mode == "hybrid")
        session.add_node(node)
        await session.start()

    return App(setup)
