"""Exact arithmetic over untrusted text, without eval.

Model output is hostile input: an expression is parsed with `ast` and only a
whitelist of node types is walked. Numbers are `Fraction`s so that
"0.1 + 0.2 = 0.3" checks out, and every intermediate value is bounded so that
"9**9**9" or a kilometre of digits costs microseconds, not the worker.
"""

from __future__ import annotations

import ast
import math
import operator
from fractions import Fraction

MAX_EXPRESSION_CHARS = 200
MAX_DEPTH = 64
MAX_ABS_VALUE = Fraction(10) ** 18
MAX_EXPONENT = 64
# Bounds the size of numerators/denominators too, so repeated division cannot
# grow a Fraction without limit while its value stays small.
MAX_BITS = 128


class UnsafeExpression(ValueError):
    """The text is not a small arithmetic expression we are willing to evaluate."""


_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}


def evaluate(expression: str) -> Fraction:
    """Evaluate `expression` exactly, or raise UnsafeExpression.

    Accepts numbers, + - * / // % ** and parentheses. `×`, `÷`, `^` and `x`
    between numbers are read as the usual operators because models write them.
    """
    if not isinstance(expression, str):
        raise UnsafeExpression("expression must be text")
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise UnsafeExpression("expression is too long")
    text = normalise_operators(expression)
    # The parser recurses on nesting; refuse deep input before it sees it.
    if _paren_depth(text) > MAX_DEPTH:
        raise UnsafeExpression("expression is nested too deeply")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise UnsafeExpression("expression does not parse") from exc
    return _eval(tree.body, depth=0)


def normalise_operators(text: str) -> str:
    text = text.replace("×", "*").replace("·", "*").replace("÷", "/").replace("−", "-")
    text = text.replace("^", "**")
    # "12 x 7" means multiplication; only between digits/brackets so names stay names.
    out = []
    for i, ch in enumerate(text):
        if ch in "xX" and _between_operands(text, i):
            out.append("*")
        else:
            out.append(ch)
    return "".join(out)


def _between_operands(text: str, i: int) -> bool:
    left = text[:i].rstrip()
    right = text[i + 1 :].lstrip()
    return bool(left) and bool(right) and (left[-1].isdigit() or left[-1] == ")") and (
        right[0].isdigit() or right[0] in "(."
    )


def _paren_depth(text: str) -> int:
    depth = deepest = 0
    for ch in text:
        if ch in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")]}":
            depth -= 1
    return deepest


def _eval(node: ast.AST, *, depth: int) -> Fraction:
    if depth > MAX_DEPTH:
        raise UnsafeExpression("expression is nested too deeply")
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UnsafeExpression("only numbers are allowed")
        if isinstance(value, float) and not math.isfinite(value):
            raise UnsafeExpression("number is not finite")
        return _bounded(Fraction(value) if isinstance(value, int) else Fraction(repr(value)))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _bounded(_UNARY[type(node.op)](_eval(node.operand, depth=depth + 1)))
    if isinstance(node, ast.BinOp):
        left = _eval(node.left, depth=depth + 1)
        right = _eval(node.right, depth=depth + 1)
        if isinstance(node.op, ast.Pow):
            return _power(left, right)
        op = _BINARY.get(type(node.op))
        if op is None:
            raise UnsafeExpression("operator is not allowed")
        if op in (operator.truediv, operator.floordiv, operator.mod) and right == 0:
            raise UnsafeExpression("division by zero")
        return _bounded(op(left, right))
    raise UnsafeExpression(f"{type(node).__name__} is not allowed")


def _power(base: Fraction, exponent: Fraction) -> Fraction:
    if exponent.denominator != 1 or abs(exponent) > MAX_EXPONENT:
        raise UnsafeExpression("exponent must be a small whole number")
    if base == 0 and exponent < 0:
        raise UnsafeExpression("division by zero")
    # Check the size from logarithms before computing anything.
    if base != 0:
        digits = max(math.log10(abs(base.numerator)), math.log10(base.denominator))
        if abs(exponent) * digits > 18:
            raise UnsafeExpression("number is too large")
    return _bounded(base ** int(exponent))


def _bounded(value: Fraction) -> Fraction:
    if abs(value) > MAX_ABS_VALUE:
        raise UnsafeExpression("number is too large")
    if value.numerator.bit_length() > MAX_BITS or value.denominator.bit_length() > MAX_BITS:
        raise UnsafeExpression("number is too precise")
    return value
