"""An outcome verifier: P(this answer is right | question, answer), learned from labelled samples.

Cobbe et al. 2021 trained a verifier on the base model's own samples, each labelled by
whether its final answer was the exact one, and picked the best of N by it. This is the
same idea at the size of a CPU arena: a logistic model over features a small model's
answers differ in, fitted in seconds (L2-regularised, convex; scipy's L-BFGS).

Features of (question, answer):
* word x operation: each word (and word pair) of the question crossed with each operation
  the answer's stated arithmetic uses (+, -, *, /, or none stated). Small models mostly fail a
  word problem by choosing the wrong operation; which words call for which operation is
  learned from the samples, not written down here.
* word x size: each question word crossed with where the final answer falls against the
  question's numbers (above them all, between, below them all, equal to one): "how many are
  left" answers fall below, "in total" ones above.
* the grounding and checker scores, whether the answer states arithmetic and a final answer,
  its length, and a bias.
Words are hashed into a fixed number of slots, so the file is a fixed-size weight vector.

The file is a NumPy .npz with no pickled objects, so loading a model file cannot run code.
"""

from __future__ import annotations

import math
import random
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .answers import final_answer, parse_number
from .arithmetic import EQUALS, EXPRESSION, MAX_LINE_CHARS, has_operator, strip_units
from .reward_model import fit_bradley_terry
from .verifiers.checker import check_text
from .verifiers.grounding import grounding_score, numbers_in
from .weights_file import load_weights, save_weights

FEATURE_VERSION = 1
HASH_SLOTS = 4096
DENSE = ("bias", "grounding", "checker", "states_arithmetic", "has_answer", "log_words")
FEATURES = HASH_SLOTS + len(DENSE)
MIN_SAMPLES = 20
MAX_TEXT_CHARS = 20_000

_WORD = re.compile(r"[a-z]{2,20}")
_LEFT_SIDE = re.compile(r"(?<![\w.])(" + EXPRESSION + r")" + EQUALS)
_OPERATION = {"+": "add", "-": "sub", "*": "mul", "x": "mul", "X": "mul", "×": "mul", "/": "div", "÷": "div",
              "^": "pow"}
_OPERATOR_BETWEEN = re.compile(r"(?<=[\d)\s])(\*\*|[+\-*/×÷xX^])(?=[\s(\d-])")


def question_terms(question: str) -> list[str]:
    words = _WORD.findall(question[:MAX_TEXT_CHARS].lower())
    return words + [f"{a}_{b}" for a, b in zip(words, words[1:])]


def operations(answer: str) -> set[str]:
    """The operations in the answer's stated arithmetic ("52 - 25 = 27" -> {"sub"}); {"none"} if it states none."""
    found: set[str] = set()
    for line in answer[:MAX_TEXT_CHARS].splitlines():
        if len(line) > MAX_LINE_CHARS:
            continue
        for match in _LEFT_SIDE.finditer(line):
            side = strip_units(match.group(1))
            if has_operator(side):
                for op in _OPERATOR_BETWEEN.findall(side):
                    found.add("pow" if op == "**" else _OPERATION[op])
    return found or {"none"}


def size_class(question: str, answer: str) -> str:
    """Where the final answer falls against the question's numbers."""
    given = numbers_in(question[:MAX_TEXT_CHARS])
    stated = final_answer(answer[:MAX_TEXT_CHARS])
    value = parse_number(stated) if stated else None
    if value is None:
        return "no_answer"
    if not given:
        return "no_numbers"
    if value in given:
        return "equal"
    if value > max(given):
        return "above"
    if value < min(given):
        return "below"
    return "between"


def _slot(term: str) -> int:
    return zlib.crc32(term.encode()) % HASH_SLOTS


def features(questions: Sequence[str], answers: Sequence[str]) -> np.ndarray:
    rows = np.zeros((len(answers), FEATURES))
    terms_of: dict[str, list[str]] = {}
    for i, (question, answer) in enumerate(zip(questions, answers, strict=True)):
        answer = answer or ""
        terms = terms_of.setdefault(question, question_terms(question))
        crosses = [f"{op}" for op in operations(answer)] + [f"size:{size_class(question, answer)}"]
        scale = 1.0 / math.sqrt(max(1, len(terms)))
        for cross in crosses:
            rows[i, _slot(cross)] += 1.0  # the operation or size on its own
            for term in terms:
                rows[i, _slot(f"{term}|{cross}")] += scale
        report = check_text(answer)
        dense = {
            "bias": 1.0,
            "grounding": grounding_score(question, answer),
            "checker": report.score,
            "states_arithmetic": float(bool(report.passed or report.failed)),
            "has_answer": float(final_answer(answer) is not None),
            "log_words": math.log1p(len(answer.split())) / 5.0,
        }
        rows[i, HASH_SLOTS:] = [dense[name] for name in DENSE]
    return rows


@dataclass
class OutcomeModel:
    weights: np.ndarray
    feature_version: int = FEATURE_VERSION
    trained_samples: int = 0
    heldout_accuracy: float | None = None

    def probability(self, questions: Sequence[str], answers: Sequence[str]) -> np.ndarray:
        if len(questions) != len(answers):
            raise ValueError("probability needs one question per answer.")
        if not answers:
            return np.zeros(0)
        return 1.0 / (1.0 + np.exp(-(features(questions, answers) @ self.weights)))

    def save(self, path: str | Path) -> Path:
        meta = {"feature_version": self.feature_version, "trained_samples": self.trained_samples,
                "heldout_accuracy": self.heldout_accuracy}
        return save_weights(path, self.weights, meta)

    @classmethod
    def load(cls, path: str | Path) -> OutcomeModel:
        weights, meta = load_weights(path, what="an outcome verifier file saved by train_outcome_verifier")
        if meta.get("feature_version") != FEATURE_VERSION or weights.shape != (FEATURES,):
            raise ValueError(f"{path} was trained with other features; retrain it with "
                             "manage.py train_outcome_verifier.")
        return cls(weights=weights, feature_version=meta["feature_version"],
                   trained_samples=int(meta.get("trained_samples") or 0),
                   heldout_accuracy=meta.get("heldout_accuracy"))


def train_outcome_model(samples: Sequence[tuple[str, str, bool]], *, heldout_fraction: float = 0.2,
                        l2: float = 1.0, seed: int = 0) -> tuple[OutcomeModel, float]:
    """Fit on (question, answer, whether it is right); return the model and its held-out accuracy.

    Samples are held out by question (a seeded shuffle of the distinct questions), so the
    accuracy is on questions the model did not see; the returned model is the one fitted on
    the rest, so the accuracy describes it exactly.
    """
    samples = _validated(samples)
    if not 0 < heldout_fraction < 1:
        raise ValueError("heldout_fraction must be between 0 and 1.")
    questions = list(dict.fromkeys(q for q, _, _ in samples))
    random.Random(seed).shuffle(questions)
    held = set(questions[:max(1, round(len(questions) * heldout_fraction))]) if len(questions) > 1 else set()
    train = [s for s in samples if s[0] not in held] or samples
    test = [s for s in samples if s[0] in held]
    model = fit_outcome_model(train, l2=l2)
    accuracy = float("nan")
    if test:
        p = model.probability([q for q, _, _ in test], [a for _, a, _ in test])
        accuracy = float(np.mean((p > 0.5) == np.array([y for _, _, y in test])))
    model.heldout_accuracy = None if math.isnan(accuracy) else accuracy
    return model, accuracy


def fit_outcome_model(samples: Sequence[tuple[str, str, bool]], *, l2: float = 1.0) -> OutcomeModel:
    samples = _validated(samples)
    x = features([q for q, _, _ in samples], [a for _, a, _ in samples])
    signs = np.array([1.0 if y else -1.0 for _, _, y in samples])
    # Logistic regression is Bradley-Terry against a zero-feature opponent: rows y * x.
    weights = fit_bradley_terry(x * signs[:, None], l2=l2)
    return OutcomeModel(weights=weights, trained_samples=len(samples))


def _validated(samples) -> list[tuple[str, str, bool]]:
    cleaned = []
    for item in samples:
        if not isinstance(item, (tuple, list)) or len(item) != 3 or not isinstance(item[0], str) \
                or not isinstance(item[1], str) or not isinstance(item[2], (bool, np.bool_)):
            raise ValueError("Each sample must be (question, answer, whether the answer is right).")
        cleaned.append((item[0], item[1], bool(item[2])))
    if len(cleaned) < MIN_SAMPLES:
        raise ValueError(f"Training an outcome verifier needs at least {MIN_SAMPLES} labelled answers, "
                         f"not {len(cleaned)}.")
    if len({y for _, _, y in cleaned}) < 2:
        raise ValueError("Training an outcome verifier needs both right and wrong answers among the samples.")
    return cleaned
