"""The localvox agent SDK: App, Session, nodes, typed events and function tools.

A voice agent in a few lines::

    from localvox.agent import App, OutputAgentNode, Session, ToolRegistry, function_tool

    class Weather(OutputAgentNode):
        def __init__(self, llm):
            super().__init__("weather")
            self.llm = llm
            self.tools = ToolRegistry()
            self.tools.discover(self)
            self.context.add_message({"role": "system", "content": "Be brief."})

        @function_tool
        def get_weather(self, city: str) -> str:
            \"\"\"Get the current weather for a city.

            Args:
                city: The city name.
            \"\"\"
            return f"Sunny in {city}"

        async def generate_response(self):
            async for text in self.run_llm_with_tools(self.llm, self.tools):
                yield text

    async def setup(session: Session) -> None:
        session.add_node(Weather(my_llm))
        await session.start()
        await session.wait_until_complete()

    app = App(setup)          # or App(setup_handler=setup)
    app.run()                 # the TUI, --text, --input/--output WAV, --serve HOST:PORT

The same SDK under the Atoms SDK's import paths: ``localvox.atoms.agent.*``.
"""

from localvox.agent.app import App, SetupError, SetupHandler
from localvox.agent.client import ChatStream, LLMClient
from localvox.agent.context import ContextManager
from localvox.agent.events import (EndCall, ErrorEvent, Event, Interrupt, LLMRequest, Ready,
                                   ResponseChunk, ResponseEnd, ResponseStart, Speak,
                                   ToolCallEnd, ToolCallError, ToolCallStart, TranscriptUpdate,
                                   TransferCall, TransferOption, TransferType, UserJoined,
                                   UserStartedSpeaking, UserStoppedSpeaking, event_types)
from localvox.agent.nodes import BackgroundAgentNode, Node, OutputAgentNode
from localvox.agent.session import EventStream, Session, SessionClosedError
from localvox.agent.tools import (RunContext, ToolArgumentError, ToolInfo, ToolRegistry,
                                  ToolResult, function_tool, get_tool_info, is_function_tool,
                                  validate_arguments)

__all__ = [
    "App", "SetupHandler", "SetupError", "LLMClient", "ChatStream", "Session", "EventStream", "SessionClosedError",
    "Node", "OutputAgentNode", "BackgroundAgentNode", "ContextManager",
    "function_tool", "is_function_tool", "get_tool_info", "ToolInfo", "ToolRegistry",
    "ToolResult", "RunContext", "ToolArgumentError", "validate_arguments",
    "Event", "event_types", "UserJoined", "UserStartedSpeaking", "UserStoppedSpeaking",
    "Interrupt", "LLMRequest", "Ready", "TranscriptUpdate", "ResponseStart", "ResponseChunk",
    "ResponseEnd", "Speak", "EndCall", "TransferCall", "TransferOption", "TransferType",
    "ToolCallStart", "ToolCallEnd", "ToolCallError", "ErrorEvent",
]
