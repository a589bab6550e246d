# The article's bank CSR ("Multi-Node Architectures", "Identity Verification", "Banking
# Voice Agent"): a silent AuditLogger node beside the conversational CSRAgent, knowledge-
# based verification, a read-only SQL tool and deterministic analysis. The article's lines
# are kept with only `smallestai.atoms` replaced by `localvox.atoms`.
#
# Article bugs fixed here (each marked "# fixed:" below):
# * missing imports (json, re, datetime, defaultdict, os);
# * `CSRAgent`, `BankingDB` and `_get_amount` are used but never shown: a small SQLite bank
#   (one customer, 13 Amazon payments since January 2024: Rs 3,76,000) and the agent are
#   added; "# ... additional factor checking" is written out (city, debit card);
# * nothing stopped `execute_query` before verification, although the article requires
#   it: the agent refuses data tools until `verify_customer` succeeds;
# * `setup_session` is never given to an app: added at the end.
#
# Picking these tools needs a model with function calling (a server via OPENAI_BASE_URL,
# or a local GGUF that does it); on the packaged 135M model the agent chats.
import json  # fixed: missing imports
import os
import re
import sqlite3
from collections import defaultdict
from datetime import datetime

from localvox.atoms.agent.clients.openai import OpenAIClient
from localvox.atoms.agent.events import (SDKAgentTranscriptUpdateEvent, SDKEvent,
                                         SDKSystemUserJoinedEvent)
from localvox.atoms.agent.nodes import BackgroundAgentNode, OutputAgentNode
from localvox.atoms.agent.server import AtomsApp
from localvox.atoms.agent.session import AgentSession
from localvox.atoms.agent.tools import ToolRegistry, function_tool

AMAZON_2024 = [("2024-01-14", 18500), ("2024-02-03", 42000), ("2024-03-22", 9500),
               ("2024-05-09", 31000), ("2024-06-30", 27500), ("2024-08-15", 55000),
               ("2024-09-02", 12000), ("2024-10-21", 48000), ("2024-11-29", 36500),
               ("2025-01-07", 22000), ("2025-02-18", 30500), ("2025-04-04", 26000),
               ("2025-06-12", 17500)]  # 13 payments, Rs 3,76,000 (the article's figure)


class BankingDB:  # fixed: not shown in the article
    """One customer's bank in SQLite (in memory, or BANK_DB), plus the audit table."""

    def __init__(self, path: str = os.getenv("BANK_DB", ":memory:")):
        self.con = sqlite3.connect(path, check_same_thread=False)
        self.con.row_factory = sqlite3.Row
        self.con.executescript("""
            CREATE TABLE IF NOT EXISTS customers (id INTEGER PRIMARY KEY, name, dob, city);
            CREATE TABLE IF NOT EXISTS accounts (id INTEGER PRIMARY KEY, customer_id,
                                                 account_number);
            CREATE TABLE IF NOT EXISTS cards (id INTEGER PRIMARY KEY, customer_id, type,
                                              last_four);
            CREATE TABLE IF NOT EXISTS transactions (id INTEGER PRIMARY KEY, date, merchant,
                                                     amount);
            CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY, at, kind, payload);""")
        if not self.con.execute("SELECT 1 FROM customers").fetchone():
            self.con.execute("INSERT INTO customers VALUES (1, 'Asha Rao', '1990-04-12', 'Pune')")
            self.con.execute("INSERT INTO accounts VALUES (1, 1, '50100012345678')")
            self.con.execute("INSERT INTO cards VALUES (1, 1, 'debit', '4321')")
            self.con.executemany("INSERT INTO transactions (date, merchant, amount) "
                                 "VALUES (?, 'Amazon', ?)", AMAZON_2024)
            self.con.execute("INSERT INTO transactions (date, merchant, amount) "
                             "VALUES ('2024-03-01', 'Swiggy', 850)")
            self.con.commit()

    def execute_read_query(self, sql: str) -> list:
        if not re.match(r"(?i)^\s*SELECT\b", sql):
            raise ValueError("Only SELECT queries allowed")
        return [dict(row) for row in self.con.execute(sql).fetchall()]

    def log_audit(self, kind: str, payload: str) -> None:
        self.con.execute("INSERT INTO audit (at, kind, payload) VALUES (?, ?, ?)",
                         (datetime.now().isoformat(), kind, payload))
        self.con.commit()


class AuditLogger(BackgroundAgentNode):
    def __init__(self, db):
        super().__init__(name="audit-logger")
        self.db = db
        self._call_start = None
        self._transcript = []

    async def process_event(self, event: SDKEvent):
        if isinstance(event, SDKSystemUserJoinedEvent):
            self._call_start = datetime.utcnow().isoformat()
            self.db.log_audit("CALL_START", json.dumps({"timestamp": self._call_start}))
        elif isinstance(event, SDKAgentTranscriptUpdateEvent):
            entry = {"role": event.role, "content": event.content}
            self._transcript.append(entry)
            self.db.log_audit("TRANSCRIPT", json.dumps(entry))

    def log_tool_call(self, tool_name: str, args: dict, result: str):
        self.db.log_audit("TOOL_CALL", json.dumps({
            "tool": tool_name,
            "arguments": args,
            "result_preview": result[:500] if result else ""
        }))


class CSRAgent(OutputAgentNode):  # fixed: not shown in the article
    GUARDED = {"execute_query", "analyze_data"}

    def __init__(self, db, audit):
        super().__init__(name="csr-agent")
        self.db = db
        self.audit = audit
        self.is_verified = False
        self.verification_level = 0
        self.llm = OpenAIClient(model="gpt-4o-mini", api_key=os.getenv("OPENAI_API_KEY"))
        self.tool_registry = ToolRegistry()
        self.tool_registry.discover(self)
        self.context.add_message({"role": "system", "content": (
            "You are a bank customer service agent on a phone call. Be brief. Verify the "
            "caller with verify_customer before any account question; then answer with "
            "execute_query (SQLite tables: transactions(date, merchant, amount)) and "
            "analyze_data.")})

    @function_tool()
    def verify_customer(
        self,
        name: str = "",
        dob: str = "",
        account_last_four: str = "",
        city: str = "",
        debit_card_last_four: str = ""
    ) -> str:
        """Verify customer identity using Knowledge-Based Authentication.

        Level 1 (info queries): 2 matching factors
        Level 2 (banking actions): 3 matching factors

        Args:
            name: Customer's full name
            dob: Date of birth (YYYY-MM-DD)
            account_last_four: Last 4 digits of savings account
            city: City from address
            debit_card_last_four: Last 4 digits of debit card
        """
        if self.is_verified:
            return f"Customer already verified at Level {self.verification_level}"

        # Fetch ground truth from database
        row = self.db.execute_read_query(
            "SELECT c.name, c.dob, c.city, a.account_number, ca.last_four AS debit_last_four "
            "FROM customers c JOIN accounts a ON a.customer_id = c.id "
            "JOIN cards ca ON ca.customer_id = c.id WHERE ca.type = 'debit'"
        )
        truth = row[0]

        factors_matched = []
        if name and name.strip().lower() == truth["name"].strip().lower():
            factors_matched.append("name")
        if dob and dob.strip() == truth["dob"]:
            factors_matched.append("dob")
        if account_last_four and account_last_four.strip() == truth["account_number"][-4:]:
            factors_matched.append("account_last_four")
        # fixed: the article elides "# ... additional factor checking"
        if city and city.strip().lower() == truth["city"].strip().lower():
            factors_matched.append("city")
        if debit_card_last_four and debit_card_last_four.strip() == truth["debit_last_four"]:
            factors_matched.append("debit_card_last_four")

        n = len(factors_matched)
        if n >= 3:
            self.is_verified = True
            self.verification_level = 2
            return "Level 2 verification successful -- high-risk actions allowed"
        elif n >= 2:
            self.is_verified = True
            self.verification_level = 1
            return "Level 1 verification successful -- info queries allowed"
        else:
            return "Verification failed -- insufficient matching factors"

    @function_tool()
    def execute_query(self, sql: str) -> str:
        """Execute a SELECT query against the banking database.

        Args:
            sql: Valid SELECT statement
        """
        # Validate query is read-only
        if not re.match(r"(?i)^\s*SELECT\b", sql.strip()):
            raise ValueError("Only SELECT queries allowed")
        rows = self.db.execute_read_query(sql)
        return json.dumps(rows)

    @function_tool()
    def analyze_data(self, data_json: str, analysis_type: str) -> dict:
        """Perform deterministic analysis on query results.

        Args:
            data_json: JSON string of query results
            analysis_type: One of 'total', 'trend_yearly', 'comparison'
        """
        rows = json.loads(data_json)
        if analysis_type == "total":
            total = sum(self._get_amount(r) for r in rows)
            return {"total": total, "count": len(rows), "currency": "INR"}
        elif analysis_type == "trend_yearly":
            # Group by year, compute YoY changes
            yearly = defaultdict(int)
            for row in rows:
                year = row["date"][:4]
                yearly[year] += self._get_amount(row)
            return {"yearly_totals": dict(yearly)}
        raise ValueError(f"unknown analysis_type {analysis_type!r}")  # fixed: fell through

    @staticmethod
    def _get_amount(row: dict) -> int:  # fixed: not shown in the article
        return int(row.get("amount") or 0)

    async def generate_response(self):
        for _ in range(4):  # tool rounds: verify -> query -> analyze -> answer
            response = await self.llm.chat(messages=self.context.messages, stream=True,
                                           tools=self.tool_registry.get_schemas())
            tool_calls, text = [], ""
            async for chunk in response:
                if chunk.content:
                    text += chunk.content
                    yield chunk.content
                if chunk.tool_calls:
                    tool_calls.extend(chunk.tool_calls)
            if not tool_calls:
                self.context.add_message({"role": "assistant", "content": text})
                return
            allowed = [tc for tc in tool_calls
                       if self.is_verified or tc.name not in self.GUARDED]
            results = await self.tool_registry.execute(tool_calls=allowed, parallel=True)
            by_id = {tc.id: r.content for tc, r in zip(allowed, results)}
            self.context.add_message({"role": "assistant", "content": text, "tool_calls": [
                {"id": tc.id, "type": "function",
                 "function": {"name": tc.name, "arguments": tc.arguments}}
                for tc in tool_calls]})
            for tc in tool_calls:
                result = by_id.get(tc.id, "Error: verify the customer first (verify_customer)")
                try:
                    args = json.loads(tc.arguments or "{}")
                except ValueError:  # a model's malformed JSON is logged as it came
                    args = {"unparsed": tc.arguments}
                self.audit.log_tool_call(tc.name, args, result)
                self.context.add_message({"role": "tool", "tool_call_id": tc.id,
                                          "content": result})


async def setup_session(session: AgentSession):
    db = BankingDB()

    # Background audit logger -- silent compliance node
    audit = AuditLogger(db=db)
    session.add_node(audit)

    # Main conversational agent
    csr = CSRAgent(db=db, audit=audit)
    session.add_node(csr)

    await session.start()


if __name__ == "__main__":
    app = AtomsApp(setup_handler=setup_session)  # fixed: the article never makes the app
    app.run()
