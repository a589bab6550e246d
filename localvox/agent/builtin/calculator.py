"""Calculator tool: an AST walk over a whitelist. No eval, no names, no attributes.

A model (or the intent router) hands us text; evaluating it with ``eval`` would let
"__import__('os')" through, so only numeric literals, arithmetic operators and a few math
functions are interpreted, and anything else is a :class:`CalculationError` whose message
is spoken to the user.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from typing import Any, Callable

from localvox.agent.tools import function_tool

__all__ = ["CalculationError", "safe_calculate", "format_number", "speak_expression",
           "CalculatorTools"]


class CalculationError(ValueError):
    """The expression is not arithmetic we evaluate (the message is spoken)."""


_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_FUNCS: dict[str, Callable[..., float]] = {
    "sqrt": math.sqrt, "cbrt": lambda x: math.copysign(abs(x) ** (1 / 3), x), "abs": abs,
    "round": round, "sin": math.sin, "cos": math.cos, "tan": math.tan, "log": math.log10,
    "ln": math.log, "exp": math.exp,
}
_CONSTS = {"pi": math.pi, "e": math.e}


def safe_calculate(expression: str) -> float:
    """Evaluate arithmetic: + - * / // % **, parentheses, sqrt/cbrt/abs/round/sin/cos/tan/
    log/ln/exp, pi and e. Anything else (names, attributes, subscripts, strings, lambdas)
    is a ``CalculationError`` naming what was refused."""
    text = expression.strip().replace("^", "**").replace("×", "*").replace("÷", "/")
    if len(text) > 200:
        raise CalculationError("that expression is too long")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise CalculationError(f"I can't read {expression!r} as arithmetic") from None
    return _eval(tree.body)


def _eval(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and (abs(right) > 1000 or abs(left) > 1e6 and right > 10):
            raise CalculationError("that power is too large to compute")
        try:
            return _BINOPS[type(node.op)](left, right)
        except ZeroDivisionError:
            raise CalculationError("you can't divide by zero") from None
        except OverflowError:
            raise CalculationError("the result is too large") from None
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
            and node.func.id in _FUNCS and not node.keywords and len(node.args) == 1:
        try:
            return _FUNCS[node.func.id](_eval(node.args[0]))
        except (ValueError, OverflowError):
            raise CalculationError(f"{node.func.id} is undefined for that number") from None
    if isinstance(node, ast.Name) and node.id in _CONSTS:
        return _CONSTS[node.id]
    what = {ast.Attribute: "attribute access", ast.Name: "names", ast.Subscript: "indexing",
            ast.Call: "that function", ast.Lambda: "lambdas"}.get(type(node),
                                                                    type(node).__name__)
    raise CalculationError(f"the calculator only does arithmetic, not {what}")


def format_number(value: float) -> str:
    """Speakable: 84, 62.5, 0.333, 1,234,567."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) >= 1e15 or (value != 0 and abs(value) < 1e-4):
        return f"{value:.3e}"
    if abs(value) >= 100:
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{value:.4g}" if abs(value) < 1 else f"{value:,.3f}".rstrip("0").rstrip(".")


def speak_expression(expr: str) -> str:
    """``"12*7"`` -> ``"12 times 7"``: the answer repeats the question, so a misheard
    number is obvious when it is spoken back."""
    t = expr.replace(" ", "")
    t = re.sub(r"sqrt\(([^()]*)\)", r"the square root of \1", t)
    t = re.sub(r"cbrt\(([^()]*)\)", r"the cube root of \1", t)
    t = re.sub(r"\(([\d.]+)/100\)\*", r"\1 percent of ", t)
    for sym, word in (("**", " to the power of "), ("*", " times "), ("/", " divided by "),
                      ("+", " plus "), ("-", " minus ")):
        t = t.replace(sym, word)
    return re.sub(r"\s+", " ", t).strip()


class CalculatorTools:
    """The ``calculate`` tool (stateless; mixed into :class:`BuiltinTools`)."""

    @function_tool
    def calculate(self, expression: str) -> str:
        """Calculate an arithmetic expression, e.g. "12 * 7", "sqrt(144)", "15/100*80".

        Args:
            expression: The arithmetic to evaluate, digits and + - * / ** ( ) sqrt.
        """
        expr = expression
        try:
            value = safe_calculate(expr)
        except CalculationError:
            from localvox.agent.slots import parse_expression  # lazy: slots imports us

            spoken = parse_expression(expression)  # "twelve times seven" from a model
            if spoken is None:
                raise
            expr = spoken
            value = safe_calculate(expr)
        return f"{speak_expression(expr).capitalize()} is {format_number(value)}."
