# The article's call control ("Call Control and Escalation"): a cold transfer to a human
# agent and a warm transfer that briefs a supervisor first, with hold music. Only
# `smallestai.atoms` is replaced by `localvox.atoms` in the article's lines.
#
# Article bugs fixed here (each marked "# fixed:" below):
# * the two tools are shown without the node they belong to, and without `import os`;
#   this file adds the agent around them (the weather listing's tool loop) and the app.
# * `os.getenv("TRANSFER_NUMBER")` is None when the variable is unset; the transfer
#   still happens and the notice says no number was given (set TRANSFER_NUMBER).
#
# Try: "Please transfer me to a human agent." (cold) or
#      "Warm transfer to a supervisor because my bill is wrong." (warm, with the reason).
import os  # fixed: missing in the article

from localvox.atoms.agent.clients.openai import OpenAIClient
from localvox.atoms.agent.events import (
    SDKAgentEndCallEvent,
    SDKAgentTransferConversationEvent,
    TransferOption,
    TransferOptionType,
    WarmTransferPrivateHandoffOption,
    WarmTransferHandoffOptionType
)
from localvox.atoms.agent.nodes import OutputAgentNode
from localvox.atoms.agent.server import AtomsApp
from localvox.atoms.agent.session import AgentSession
from localvox.atoms.agent.tools import ToolRegistry, function_tool


class EscalationAgent(OutputAgentNode):  # fixed: the article shows the tools only
    def __init__(self):
        super().__init__(name="escalation-agent")
        self.llm = OpenAIClient(model="gpt-4o-mini", api_key=os.getenv("OPENAI_API_KEY"))
        self.tool_registry = ToolRegistry()
        self.tool_registry.discover(self)
        self.context.add_message({
            "role": "system",
            "content": "You are a support agent. Be brief. Transfer to a human when asked."
        })

    @function_tool()
    async def transfer_to_human_agent(self) -> None:
        """Cold transfer: immediate handoff to human agent."""
        await self.send_event(
            SDKAgentTransferConversationEvent(
                transfer_call_number=os.getenv("TRANSFER_NUMBER"),
                transfer_options=TransferOption(
                    type=TransferOptionType.COLD_TRANSFER
                ),
                on_hold_music="relaxing_sound"
            )
        )
        return None

    @function_tool()
    async def warm_transfer_to_supervisor(self, reason: str) -> None:
        """Warm transfer: brief supervisor first, then connect customer.

        Args:
            reason: Summary of customer issue for supervisor briefing
        """
        await self.send_event(
            SDKAgentTransferConversationEvent(
                transfer_call_number=os.getenv("TRANSFER_NUMBER"),
                transfer_options=TransferOption(
                    type=TransferOptionType.WARM_TRANSFER,
                    private_handoff_option=WarmTransferPrivateHandoffOption(
                        type=WarmTransferHandoffOptionType.PROMPT,
                        prompt=f"Customer escalation: {reason}"
                    )
                ),
                on_hold_music="uplifting_beats"
            )
        )
        return None

    @function_tool()
    async def end_call(self) -> None:
        """End the call when the customer says goodbye."""
        await self.send_event(SDKAgentEndCallEvent())
        return None

    async def generate_response(self):
        response = await self.llm.chat(messages=self.context.messages, stream=True,
                                       tools=self.tool_registry.get_schemas())
        tool_calls = []
        full_response = ""
        async for chunk in response:
            if chunk.content:
                full_response += chunk.content
                yield chunk.content
            if chunk.tool_calls:
                tool_calls.extend(chunk.tool_calls)
        if not tool_calls:
            self.context.add_message({"role": "assistant", "content": full_response})
            return
        yield "One moment while I connect you. "
        await self.tool_registry.execute(tool_calls=tool_calls, parallel=True)
        if self.handoff_started:  # transferred or ended: one last line, then nothing
            last = "Goodbye." if tool_calls[0].name == "end_call" else "Transferring you now."
            self.context.add_message({"role": "assistant", "content": last})
            yield last


async def on_start(session: AgentSession):
    session.add_node(EscalationAgent())
    await session.start()
    await session.wait_until_complete()


if __name__ == "__main__":
    app = AtomsApp(setup_handler=on_start)
    app.run()
