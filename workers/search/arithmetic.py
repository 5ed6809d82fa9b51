"""Arithmetic as models state it in prose ("12 trays * 7 cookies = 84"), found without backtracking blow-ups.

Shared by the checker verifier, which re-computes each claim, and the calculator, which
corrects a wrong result while the answer is being written. Evaluation itself is
safe_math's: nothing here executes model output.
"""

from __future__ import annotations

import re
from fractions import Fraction

from .safe_math import UnsafeExpression, evaluate

_NUM = r"\d{1,30}(?:\.\d{1,30})?"
# A number may carry a few unit words ("12 trays * 7 cookies per tray = 88"); they are dropped
# before evaluation. "x" is never a unit word: it is the multiplication sign.
_UNIT = r"(?:[ \t]{1,4}(?![xX]\b)[A-Za-z]{2,20}){0,3}"
# Quantifiers are bounded, and callers do not search lines longer than MAX_LINE_CHARS, so that
# no input can make a search backtrack for long.
_ATOM = r"\({0,8}[ \t]{0,4}-?[ \t]{0,4}" + _NUM + _UNIT + r"[ \t]{0,4}\){0,8}"
EXPRESSION = _ATOM + r"(?:[ \t]{0,4}(?:\*\*|[+\-*/×÷xX^])[ \t]{0,4}" + _ATOM + r"){0,16}"
# An equals sign that is not part of <=, >=, != or ==.
EQUALS = r"[ \t]{0,4}(?<![<>!=])=(?!=)[ \t]{0,4}"
MAX_LINE_CHARS = 1_000
_OPERATOR = re.compile(r"\d\s*[+\-*/×÷xX^]\s*[\d(]|\)\s*[+\-*/×÷xX^]")


def strip_units(side: str) -> str:
    return re.sub(r"[A-Za-z]{2,}", " ", side).strip()


def has_operator(side: str) -> bool:
    return bool(_OPERATOR.search(side))


def value_of(side: str) -> Fraction | None:
    """The exact value of one side of a stated equation (unit words dropped), or None if it is not arithmetic."""
    try:
        return evaluate(strip_units(side))
    except UnsafeExpression:
        return None


def agrees(computed: Fraction, stated: Fraction, stated_text: str) -> bool:
    """Whether a stated result is the computed one, or the computed one rounded to the decimals written."""
    if computed == stated:
        return True
    # "10 / 3 = 3.33": accept the true value rounded to the decimals written.
    decimals = re.search(r"\.(\d+)\s*$", stated_text)
    if decimals:
        places = len(decimals.group(1))
        return round(computed, places) == round(stated, places)
    return False


def format_value(value: Fraction, *, places: int = 4) -> str:
    """How a calculator writes a result: whole numbers as they are, others to at most `places` decimals."""
    if value.denominator == 1:
        return str(value.numerator)
    scaled = round(abs(value) * 10**places)  # exact: Fractions round half to even
    whole, part = divmod(scaled, 10**places)
    digits = f"{whole}.{part:0{places}d}".rstrip("0").rstrip(".")
    return ("-" if value < 0 and scaled else "") + digits
