"""The bank example as an SDK ``App`` (what ``localvox example bank`` runs).

Kept apart from ``agent.py`` so the node and its tools stay under ~400 lines; this module
only wires one call's nodes (the audit logger, then ``BankCSR``) and shares the LLM and the
audit store between sessions.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

from localvox.examples.bank.agent import BankCSR
from localvox.examples.bank.db import ensure_bank


def create_app(config: Any, *, llm: Any = None, bank_path: Path | None = None,
               audit_path: Path | None = None, today: dt.date | None = None) -> Any:
    """The bank example as an SDK ``App``: CSR output node plus the audit logger."""
    from localvox.agent.app import App
    from localvox.examples._common import create_llm, tool_mode
    from localvox.examples.bank.audit import AuditStore
    from localvox.examples.bank.audit_node import AuditLogger
    from localvox.examples.bank.db import default_audit_path

    path = ensure_bank(bank_path)
    shared: dict[str, Any] = {"llm": llm, "store": None}

    async def setup(session: Any) -> None:
        if shared["llm"] is None:
            shared["llm"] = create_llm(config)
        if shared["store"] is None:
            shared["store"] = AuditStore(audit_path or default_audit_path())
        session_id = getattr(session, "id", None) or uuid.uuid4().hex[:12]
        session.state["audit_session_id"] = session_id
        agent = config.agent
        session.add_node(AuditLogger(shared["store"], session_id))
        session.add_node(BankCSR(path, shared["llm"], tool_mode=tool_mode(config), today=today,
                                 tool_timeout_s=agent.tool_timeout_s,
                                 holding_phrase=agent.holding_phrase,
                                 holding_after_ms=agent.holding_after_ms,
                                 max_tool_rounds=agent.max_tool_rounds))
        await session.start()

    app = App(setup)

    def finish() -> None:
        """Commit every queued audit record and stop the writer (after ``app.close()``)."""
        store = shared["store"]
        if store is not None:
            store.flush()
            store.close()
            shared["store"] = None

    app.audit = shared  # type: ignore[attr-defined]
    app.finish = finish  # type: ignore[attr-defined]
    return app
