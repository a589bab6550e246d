"""What a tool is: ``@function_tool``, the ``ToolInfo`` it attaches, ``RunContext``, ``ToolResult``.

Why apart from the registry (``tools``): turning a function's type hints and docstring
into the JSON schema the LLM sees happens once, at definition time (an unsupported
parameter type is a ``TypeError`` there), and needs none of the machinery that runs the
model's calls. The schema and coercion rules themselves are in ``schema``. Import these
names from ``localvox.agent.tools``, the SDK's path.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from localvox.agent.schema import encode_default, parse_docstring, resolve_hints, schema_for
from localvox.llm.base import ToolCall


@dataclass
class RunContext:
    """Injected into a tool parameter annotated ``RunContext`` (or named ``context``).

    Gives a free-function tool what a method tool gets from ``self``: the session (and
    its per-conversation ``state``), the node running the tool loop and the call itself.
    """

    session: Any = None
    node: Any = None
    call: ToolCall | None = None

    @property
    def state(self) -> dict[str, Any]:
        return self.session.state if self.session is not None else {}


@dataclass(frozen=True)
class ToolInfo:
    """What ``@function_tool`` attaches to a function as ``__tool_info__``."""

    name: str
    description: str
    parameters: dict[str, Any]
    """JSON schema of the arguments: ``{"type": "object", "properties", "required"}``."""
    fn: Callable[..., Any]
    timeout_s: float | None = None
    hints: dict[str, Any] = field(default_factory=dict)
    nullable: frozenset[str] = frozenset()
    context_param: str | None = None
    accepts_kwargs: bool = False
    sentences: Any = None
    """How the tool is spoken (``SentenceSpec``, from ``sentences=``): the intent router
    tries it before the LLM. Not part of the schema the LLM sees."""

    def schema(self) -> dict[str, Any]:
        return {"type": "function", "function": {
            "name": self.name, "description": self.description, "parameters": self.parameters}}


@dataclass(frozen=True)
class ToolResult:
    tool_call_id: str
    name: str
    content: str
    is_error: bool = False
    latency_ms: float = 0.0

    def to_message(self) -> dict[str, Any]:
        return {"role": "tool", "tool_call_id": self.tool_call_id, "name": self.name,
                "content": self.content}


# -- the decorator ------------------------------------------------------------------------

def function_tool(fn: Callable[..., Any] | None = None, *, name: str | None = None,
                  description: str | None = None, timeout_s: float | None = None,
                  sentences: Any = None) -> Any:
    """Mark ``fn`` as a tool. Usable as ``@function_tool``, ``@function_tool()`` or with
    ``name=``, ``description=``, ``timeout_s=`` (overrides the registry's default).

    ``sentences=`` says how people ask for it: hassil templates (``["order (a|an)
    {size} {drink}"]``, each ``{slot}`` a parameter) or a ``SentenceSpec`` from a Rhino
    grammar (``load_rhino(path).spec("orderDrink")``). The intent router matches them
    before the LLM, exactly and then fuzzily against the parameters' allowed values.

    The function is returned unchanged (so methods stay methods) with ``__tool_info__``.
    Unsupported parameter types raise ``TypeError`` here, at definition time.
    """
    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        target = f.__func__ if isinstance(f, (staticmethod, classmethod)) else f
        target.__tool_info__ = build_tool_info(  # type: ignore[attr-defined]
            target, name=name, description=description, timeout_s=timeout_s,
            frame_depth=3 if fn is None else 4, sentences=sentences)
        return f

    return decorate(fn) if fn is not None else decorate


def is_function_tool(fn: Any) -> bool:
    return get_tool_info(fn) is not None


def get_tool_info(fn: Any) -> ToolInfo | None:
    info = getattr(fn, "__tool_info__", None)
    return info if isinstance(info, ToolInfo) else None


def build_tool_info(fn: Callable[..., Any], *, name: str | None = None,
                    description: str | None = None, timeout_s: float | None = None,
                    frame_depth: int = 2, sentences: Any = None) -> ToolInfo:
    from localvox.agent.grammar import as_sequence

    sig = inspect.signature(fn)
    hints = resolve_hints(fn, frame_depth)
    summary, arg_docs = parse_docstring(inspect.getdoc(fn) or "")
    properties: dict[str, Any] = {}
    required: list[str] = []
    nullable: set[str] = set()
    param_hints: dict[str, Any] = {}
    context_param = None
    accepts_kwargs = False
    for index, (pname, param) in enumerate(sig.parameters.items()):
        if index == 0 and pname in ("self", "cls"):
            continue
        if param.kind is param.VAR_KEYWORD:
            accepts_kwargs = True
            continue
        if param.kind is param.VAR_POSITIONAL:
            continue
        hint = hints.get(pname, param.annotation)
        if _is_run_context(hint) or (pname == "context" and hint is inspect.Parameter.empty):
            context_param = pname
            continue
        if hint is inspect.Parameter.empty:
            hint = str  # unannotated: the model sends text (as the Atoms SDK assumes)
        try:
            schema, is_nullable, doc = schema_for(hint)
        except TypeError as exc:
            raise TypeError(f"tool {fn.__qualname__}: parameter {pname!r}: {exc}") from None
        schema["description"] = doc if doc is not None else arg_docs.get(pname, "")
        if param.default is inspect.Parameter.empty:
            required.append(pname)
        else:
            default = encode_default(param.default)
            if default is not None:
                schema["default"] = default
        if is_nullable or param.default is None:
            nullable.add(pname)
        properties[pname] = schema
        param_hints[pname] = hint
    return ToolInfo(
        name=name or fn.__name__,
        description=description if description is not None else summary,
        parameters={"type": "object", "properties": properties, "required": required},
        fn=fn, timeout_s=timeout_s, hints=param_hints, nullable=frozenset(nullable),
        context_param=context_param, accepts_kwargs=accepts_kwargs,
        sentences=as_sequence(sentences))


def _is_run_context(hint: Any) -> bool:
    if typing.get_origin(hint) is Annotated:
        hint = typing.get_args(hint)[0]
    return isinstance(hint, type) and issubclass(hint, RunContext)
