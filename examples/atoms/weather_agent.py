# The article's weather tool agent ("Conversational Flow and Tool Execution"), with only
# `smallestai.atoms` replaced by `localvox.atoms`. The "# added" / "# fixed" lines are the
# article's own. Ask "What's the weather in New Delhi?": the get_weather tool is called.
# On the packaged local model, `[llm] tool_mode` intent picks the tool deterministically;
# with a server that does function calling (OPENAI_BASE_URL), the model picks it.
import os
from localvox.atoms.agent.nodes import OutputAgentNode
from localvox.atoms.agent.clients import OpenAIClient
from localvox.atoms.agent.server import AtomsApp
from localvox.atoms.agent.session import AgentSession
from localvox.atoms.agent.tools import ToolRegistry, function_tool
from localvox.atoms.agent.clients.types import ToolCall, ToolResult


class AssistantAgent(OutputAgentNode):
    def __init__(self):
        super().__init__(name="assistant-agent")
        self.llm = OpenAIClient(model="gpt-4o-mini", api_key=os.getenv("OPENAI_API_KEY"))
        self.tool_registry = ToolRegistry()
        self.tool_registry.discover(self)
        self.tool_schemas = self.tool_registry.get_schemas()
        self.context.add_message({  # added
            "role": "system",
            "content": "You are a helpful weather assistant. Be concise."
        })

    @function_tool()
    def get_weather(self, city: str) -> str:
        """Get the current weather for a city.

        Args:
            city: The city name to check weather for.
        """
        return f"The weather in {city} is sunny, 72°F"

    async def generate_response(self):
        response = await self.llm.chat(
            messages=self.context.messages,
            stream=True,
            tools=self.tool_schemas
        )
        tool_calls = []
        full_response = ""
        async for chunk in response:
            if chunk.content:
                full_response += chunk.content
                yield chunk.content
            if chunk.tool_calls:
                tool_calls.extend(chunk.tool_calls)

        if not tool_calls:  # added
            self.context.add_message({"role": "assistant", "content": full_response})
            return

        yield "One moment while I check that for you. "
        results = await self.tool_registry.execute(tool_calls=tool_calls, parallel=True)
        self.context.add_messages([  # added
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"id": tc.id, "type": "function",
                     "function": {"name": tc.name, "arguments": str(tc.arguments)}}
                    for tc in tool_calls
                ],
            },
            *[
                {"role": "tool", "tool_call_id": tc.id, "content": str(result.content or "")}
                for tc, result in zip(tool_calls, results)
            ],
        ])
        final_response = await self.llm.chat(messages=self.context.messages, stream=True)  # added
        final_text = ""
        async for chunk in final_response:
            if chunk.content:
                final_text += chunk.content
                yield chunk.content
        self.context.add_message({"role": "assistant", "content": final_text})


async def on_start(session: AgentSession):
    agent = AssistantAgent()  # fixed: was MyAgent()
    session.add_node(agent)
    await session.start()
    await session.wait_until_complete()


if __name__ == "__main__":
    app = AtomsApp(setup_handler=on_start)
    app.run()
