"""Whether the working uses what the question gives: the share of the question's numbers that appear
as operands in the answer's stated arithmetic.

A small model often writes tidy, correct arithmetic on the wrong numbers ("14 + 7 = 21" for
"Tom has 14 marbles, buys 17 more and gives away 7"): the checker and the calculator find
nothing wrong with it. Word problems (GSM8K's and the ones bench/search_eval.py generates)
give numbers in order to use them, so working that leaves some unused is likely to have
set the problem up wrong. It judges nothing when the question has no numbers or the
answer states no arithmetic (0.5, no opinion); it does not penalise numbers the question
does not give (60 minutes in an hour). Questions with distracting numbers mislead it:
give it a weight below the checker's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fractions import Fraction

from ..accounting import Ledger
from ..arithmetic import EQUALS, EXPRESSION, MAX_LINE_CHARS, has_operator, strip_units
from ..candidates import Candidate, Problem

_NUMBER = re.compile(r"(?<![\w.])\d{1,30}(?:\.\d{1,30})?(?![\d])")
_LEFT_SIDE = re.compile(r"(?<![\w.])(" + EXPRESSION + r")" + EQUALS)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
MAX_TEXT_CHARS = 20_000


def numbers_in(text: str) -> set[Fraction]:
    return {Fraction(n) for n in _NUMBER.findall(_THOUSANDS.sub("", text))}


def operands(text: str) -> set[Fraction] | None:
    """The numbers used on the left of stated arithmetic ("a op b = ..."), or None if there is none."""
    found: set[Fraction] | None = None
    for line in _THOUSANDS.sub("", text[:MAX_TEXT_CHARS]).splitlines():
        if len(line) > MAX_LINE_CHARS:
            continue
        for match in _LEFT_SIDE.finditer(line):
            side = strip_units(match.group(1))
            if has_operator(side):
                found = (found or set()) | numbers_in(side)
    return found


def grounding_score(question: str, answer: str) -> float:
    given = numbers_in(question[:MAX_TEXT_CHARS])
    used = operands(answer or "")
    if not given or used is None:
        return 0.5
    return len(given & used) / len(given)


class GroundingVerifier:
    name = "grounding"

    def score(self, problem: Problem, candidates: Sequence[Candidate], ledger: Ledger) -> list[float]:
        return [grounding_score(problem.question, c.text) for c in candidates]
