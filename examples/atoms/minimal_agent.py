# The article's minimal agent ("AtomsApp lifecycle and setup_handler pattern"), with only
# `smallestai.atoms` replaced by `localvox.atoms`. Run it: `python minimal_agent.py`
# (the terminal app), `--text`, `--input call.wav --output reply.wav`, `--serve 127.0.0.1:8765`.
# Without OPENAI_BASE_URL / OPENAI_API_KEY the local offline model answers (it says so).
import os
from localvox.atoms.agent.nodes import OutputAgentNode
from localvox.atoms.agent.clients.openai import OpenAIClient
from localvox.atoms.agent.server import AtomsApp
from localvox.atoms.agent.session import AgentSession
from localvox.atoms.agent.events import SDKSystemUserJoinedEvent


class MyAgent(OutputAgentNode):
    def __init__(self):
        super().__init__(name="my-agent")
        self.llm = OpenAIClient(
            model="gpt-4o-mini",
            api_key=os.getenv("OPENAI_API_KEY")
        )
        self.context.add_message({
            "role": "system",
            "content": "You are a helpful assistant. Be concise and friendly."
        })

    async def generate_response(self):
        response = await self.llm.chat(
            messages=self.context.messages,
            stream=True
        )
        full_response = ""
        async for chunk in response:
            if chunk.content:
                full_response += chunk.content
                yield chunk.content
        if full_response:
            self.context.add_message({"role": "assistant", "content": full_response})


async def on_start(session: AgentSession):
    agent = MyAgent()
    session.add_node(agent)
    await session.start()
    await session.wait_until_complete()


if __name__ == "__main__":
    app = AtomsApp(setup_handler=on_start)
    app.run()
