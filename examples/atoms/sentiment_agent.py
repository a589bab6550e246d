# The article's background sentiment node ("Customer Support and IVR Replacement"): a
# BackgroundAgentNode scores every caller turn off the reply path and, after three
# negative or frustrated turns, has the main agent escalate (a warm transfer whose private
# hand-off prompt says why). Only `smallestai.atoms` is replaced by `localvox.atoms` in
# the article's lines.
#
# Article bugs fixed here (each marked "# fixed:" below):
# * `_analyze_sentiment` and `notify_main_agent_to_escalate` are called but never defined:
#   the first uses localvox's offline lexicon scorer, the second tells the main agent
#   through the session's per-call state (a background node's own events do not reach the
#   main agent, and an event queued behind the reply would arrive a turn late).
# * the main agent and the app are not shown: added (the minimal agent, plus the escalation).
import os

from localvox.atoms.agent.clients.openai import OpenAIClient
from localvox.atoms.agent.events import (SDKAgentTranscriptUpdateEvent,
                                         SDKAgentTransferConversationEvent, SDKEvent,
                                         TransferOption, TransferOptionType,
                                         WarmTransferHandoffOptionType,
                                         WarmTransferPrivateHandoffOption)
from localvox.atoms.agent.nodes import BackgroundAgentNode, OutputAgentNode
from localvox.atoms.agent.server import AtomsApp
from localvox.atoms.agent.session import AgentSession


class SentimentAnalyzer(BackgroundAgentNode):
    def __init__(self):
        super().__init__(name="sentiment-analyzer")
        self.frustration_count = 0

    async def process_event(self, event: SDKEvent):
        if isinstance(event, SDKAgentTranscriptUpdateEvent):
            if event.role == "user":
                sentiment = await self._analyze_sentiment(event.content)
                if sentiment in ["negative", "frustrated"]:
                    self.frustration_count += 1
                    if self.frustration_count >= 3:
                        # Automatically trigger escalation
                        await self.notify_main_agent_to_escalate()

    async def _analyze_sentiment(self, text: str) -> str:  # fixed: not defined in the article
        from localvox.examples.sentiment_score import score

        return score(text).label  # positive | neutral | negative | frustrated (offline lexicon)

    async def notify_main_agent_to_escalate(self):  # fixed: not defined in the article
        self.session.state["escalate"] = (
            f"caller sounded negative or frustrated in {self.frustration_count} turns")


class SupportAgent(OutputAgentNode):  # fixed: the article does not show the main agent
    def __init__(self):
        super().__init__(name="support-agent")
        self.llm = OpenAIClient(model="gpt-4o-mini", api_key=os.getenv("OPENAI_API_KEY"))
        self.context.add_message({
            "role": "system",
            "content": "You are a calm, kind support agent for a broadband company. Be brief."
        })

    async def generate_response(self):
        if not self.session.state.get("escalate"):
            response = await self.llm.chat(messages=self.context.messages, stream=True)
            full_response = ""
            async for chunk in response:
                if chunk.content:
                    full_response += chunk.content
                    yield chunk.content
            self.context.add_message({"role": "assistant", "content": full_response})
        reason = self.session.state.get("escalate")
        if reason:
            yield " I can hear this has been frustrating. I'm bringing in a supervisor now."
            await self.send_event(SDKAgentTransferConversationEvent(
                transfer_call_number=os.getenv("TRANSFER_NUMBER"),
                transfer_options=TransferOption(
                    type=TransferOptionType.WARM_TRANSFER,
                    private_handoff_option=WarmTransferPrivateHandoffOption(
                        type=WarmTransferHandoffOptionType.PROMPT,
                        prompt=f"Customer escalation: {reason}")),
                on_hold_music="uplifting_beats"))


async def on_start(session: AgentSession):
    session.add_node(SentimentAnalyzer())  # silent: sees every event, never delays a reply
    session.add_node(SupportAgent())
    await session.start()
    await session.wait_until_complete()


if __name__ == "__main__":
    app = AtomsApp(setup_handler=on_start)
    app.run()
