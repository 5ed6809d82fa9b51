"""Checks what can be checked in an answer: stated arithmetic, and that Python code parses.

"12 * 7 = 84" is re-computed exactly (see safe_math); a chain "3 + 4 = 7 * 2 = 14" is
checked link by link; a final "Answer: N" must agree with the result of the last
equation. Nothing here executes model output.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from ..accounting import Ledger
from ..answers import explicit_answer, parse_number
from ..arithmetic import EQUALS, EXPRESSION, MAX_LINE_CHARS, agrees, has_operator, strip_units, value_of
from ..candidates import Candidate, Problem

MAX_TEXT_CHARS = 50_000
MAX_CODE_CHARS = 20_000
MAX_CHECKS = 50

_CHAIN = re.compile(r"(?<![\w.])" + EXPRESSION + r"(?:" + EQUALS + EXPRESSION + r"){1,8}")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_CURRENCY = re.compile(r"[$€£](?=\s?\d)")


@dataclass
class CheckReport:
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        """1 when every check passes, 0.5 when there was nothing to check, below 0.5 once one fails."""
        total = len(self.passed) + len(self.failed)
        if total == 0:
            return 0.5
        if not self.failed:
            return 1.0
        return 0.5 * len(self.passed) / total


def check_text(text: str) -> CheckReport:
    report = CheckReport()
    text = (text or "")[:MAX_TEXT_CHARS]
    prose, blocks = _split_fences(text)
    for language, code in blocks[:MAX_CHECKS]:
        if language in ("python", "python3", "py"):
            _check_code(code, report)
    last_value = _check_arithmetic(prose, report)
    if last_value is not None:
        _check_final_answer(prose, last_value, report)
    return report


def _split_fences(text: str) -> tuple[str, list[tuple[str, str]]]:
    """(prose, [(language, code)]) by splitting on ``` fences: linear time, unlike a lazy regex."""
    parts = text.split("```")
    prose = parts[0::2]
    blocks = []
    for inside in parts[1::2]:
        first, _, code = inside.partition("\n")
        blocks.append((first.strip().lower(), code))
    return " ".join(prose), blocks


def _check_code(code: str, report: CheckReport) -> None:
    if len(code) > MAX_CODE_CHARS:
        report.failed.append("python block too long to check")
        return
    try:
        ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        report.failed.append(f"python block does not parse: {type(exc).__name__}")
    else:
        report.passed.append("python block parses")


def _check_arithmetic(prose: str, report: CheckReport) -> Fraction | None:
    """Check each equation; return the value the last checked equation arrives at."""
    prose = _CURRENCY.sub("", _THOUSANDS.sub("", prose))
    last_value = None
    for match in (m for piece in _pieces(prose) for m in _CHAIN.finditer(piece)):
        if len(report.passed) + len(report.failed) >= MAX_CHECKS:
            break
        sides = [strip_units(s) for s in match.group(0).split("=")]
        for left, right in zip(sides, sides[1:]):
            if not (has_operator(left) or has_operator(right)):
                continue  # "x = 5" or "5 = 5" claims nothing we can check
            lhs, rhs = value_of(left), value_of(right)
            if lhs is None or rhs is None:
                continue
            claim = " ".join(f"{left} = {right}".split())
            if agrees(lhs, rhs, right):
                report.passed.append(claim)
            else:
                report.failed.append(claim)
            last_value = lhs
    return last_value


def _pieces(prose: str):
    """Lines, with long lines cut at sentence ends; a piece still too long is skipped, not searched."""
    for line in prose.splitlines():
        if len(line) <= MAX_LINE_CHARS:
            yield line
            continue
        for sentence in re.split(r"(?<=[.;:!?])\s+", line):
            if len(sentence) <= MAX_LINE_CHARS:
                yield sentence


def _check_final_answer(prose: str, last_value: Fraction, report: CheckReport) -> None:
    answer = explicit_answer(prose)
    stated = parse_number(answer) if answer else None
    if stated is None:
        return
    if agrees(last_value, stated, answer.strip()):
        report.passed.append("final answer matches the working")
    else:
        report.failed.append("final answer does not match the working")


class CheckerVerifier:
    name = "checker"

    def score(self, problem: Problem, candidates: Sequence[Candidate], ledger: Ledger) -> list[float]:
        return [check_text(c.text).score for c in candidates]
