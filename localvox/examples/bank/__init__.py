"""Bank customer-service example: a real SQLite bank, verification, guarded SQL, audit.

Modules: ``db`` (schema and paths), ``seed`` (deterministic synthetic data), ``sqlguard``
(the read-only, one-customer SQL sandbox), ``verification`` (knowledge-based
authentication), ``analysis`` (exact integer-paise arithmetic), ``speech`` (Indian number
words), ``audit`` (append-only trail), ``agent`` (the SDK wiring and dialogue policy).
"""
