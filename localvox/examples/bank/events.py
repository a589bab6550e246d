"""Bank-specific events (user-defined event types of the SDK)."""

from __future__ import annotations

from dataclasses import dataclass, field

from localvox.agent.events import Event


@dataclass
class VerificationAttempt(Event, type="bank.verification"):
    """One identity check: which factors were given (never their values) and the outcome."""

    factors_given: list[str] = field(default_factory=list)
    ok: bool = False
    level: int = 0
    failed_attempts: int = 0
    locked: bool = False
    message: str = ""
