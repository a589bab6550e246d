"""localvox examples: the reference article's agents, built on the public SDK only.

Each example module exposes ``create_app(config, **kw) -> localvox.agent.app.App``.
Run one with ``localvox example NAME`` (speech loop) or ``localvox example NAME --text``.
"""

EXAMPLES: dict[str, tuple[str, str]] = {
    "weather": ("localvox.examples.weather",
                "the article's weather agent: a tool loop with 'one moment' feedback"),
    "bank": ("localvox.examples.bank.app",
             "bank customer service: verification, guarded SQL, exact analysis, audit trail"),
    "sentiment": ("localvox.examples.sentiment",
                  "support agent with a sentiment monitor that offers a warm transfer"),
    "barista": ("localvox.examples.barista",
                "coffee orders: a grammar-typed tool, fuzzy slots, a read-back confirmation"),
}
