"""Pull the final answer out of a free-text solution, for voting and checking.

Models end solutions in many ways: "Answer: 42", "the answer is 42", "\\boxed{42}",
"... = 42." or just a short phrase. `final_answer` tries those in order of how
explicit they are; `answer_key` turns an answer into the key that votes group on,
so "$1,200", "1200.0" and "1200" count as one answer.
"""

from __future__ import annotations

import re
from fractions import Fraction

_NUMBER = r"(?:(?<![\w.])-)?\$?\d[\d,]*(?:\.\d+)?"
_EXPLICIT = [
    re.compile(r"\\boxed\{([^{}]{1,80})\}"),
    re.compile(r"(?:final answer|answer)\s*(?:is\s*:?|:|=)\s*\**\s*([^\n]{1,80})", re.IGNORECASE),
    re.compile(r"(?:^|\n)\s*####\s*([^\n]{1,80})"),
]
_NUMBER_RE = re.compile(_NUMBER)
_LAST_EQUALS = re.compile(r"=\s*(" + _NUMBER + r")")
_MAX_PHRASE_WORDS = 8


def final_answer(text: str) -> str | None:
    """The answer a solution commits to, as written, or None if it commits to nothing."""
    text = text or ""
    explicit = explicit_answer(text)
    if explicit:
        return explicit
    equals = _LAST_EQUALS.findall(text)
    if equals:
        return equals[-1]
    numbers = _NUMBER_RE.findall(text)
    if numbers:
        return numbers[-1]
    phrase = _first_sentence(text)
    return phrase or None


def complete_answer(text: str) -> bool:
    """Whether the text has announced an answer and finished its line ("Answer: 42" then a line break).

    Generation can stop there: what follows a finished "Answer:" line is at best a repeat.
    """
    text = text or ""
    for pattern in _EXPLICIT:
        for match in pattern.finditer(text):
            if pattern is _EXPLICIT[0] or text[match.end():match.end() + 1] == "\n":
                if _trim(match.group(1)):
                    return True
    return False


def explicit_answer(text: str) -> str | None:
    """The answer a solution announces ("Answer: 42", "\\boxed{42}"), ignoring bare numbers."""
    for pattern in _EXPLICIT:
        matches = pattern.findall(text or "")
        if matches:
            return _trim(matches[-1])
    return None


def answer_key(answer: str | None) -> str | None:
    """Canonical form for grouping votes: exact numbers for numeric answers, else a normalised phrase."""
    if answer is None:
        return None
    number = parse_number(answer)
    if number is not None:
        return _format_number(number)
    words = re.sub(r"[^\w\s]", " ", answer.lower()).split()
    words = [w for w in words if w not in {"the", "a", "an"}]
    return " ".join(words[:_MAX_PHRASE_WORDS]) or None


def parse_number(answer: str) -> Fraction | None:
    """The leading number of a short answer ("42 apples", "$3.50"), or None."""
    match = re.match(r"\s*\**\s*(" + _NUMBER + r")", answer)
    if not match:
        return None
    literal = match.group(1).replace("$", "").replace(",", "")
    if len(literal) > 40:
        return None
    try:
        return Fraction(literal)
    except (ValueError, ZeroDivisionError):
        return None


def _format_number(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return f"{float(value):.6g}"


def _trim(answer: str) -> str:
    answer = answer.strip().strip("*").strip()
    # "42. Because ..." -> "42"; keep decimals like "3.5".
    answer = re.split(r"(?<!\d)\.(?!\d)|\.\s", answer, maxsplit=1)[0]
    return answer.strip().rstrip(".").strip()


def _first_sentence(text: str) -> str:
    sentence = re.split(r"[.!?\n]", text.strip(), maxsplit=1)[0]
    words = sentence.split()
    if not words or len(words) > _MAX_PHRASE_WORDS:
        return ""
    return " ".join(words)
