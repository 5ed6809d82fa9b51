"""Labelled samples for the outcome verifier: the base model's own answers to questions with known answers.

As in Cobbe et al. 2021, the verifier learns from the model it will judge: each question is
answered N times by sampling (the same settings the search endpoint uses), and each answer
is labelled right when its final answer is the known one (numbers compared exactly).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .answers import answer_key, final_answer
from .config import SearchConfig
from .runner import run_search

MAX_TASKS = 100_000
MAX_FIELD_CHARS = 4_000


@dataclass(frozen=True)
class LabelledTask:
    question: str
    answer: str


def is_right(text: str, expected: str) -> bool:
    key = answer_key(final_answer(text or ""))
    return key is not None and key == answer_key(expected)


def read_tasks(path: str | Path) -> list[LabelledTask]:
    """JSON lines of {"question": ..., "answer": ...}; a bad line raises ValueError naming it."""
    tasks = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path} line {number} is not JSON: {exc.msg}.") from None
            if not isinstance(item, dict) or not all(isinstance(item.get(k), (str, int, float))
                                                     and not isinstance(item.get(k), bool)
                                                     for k in ("question", "answer")):
                raise ValueError(f"{path} line {number} needs \"question\" and \"answer\" (text or a number).")
            question, answer = str(item["question"]).strip(), str(item["answer"]).strip()
            if not question or not answer or len(question) > MAX_FIELD_CHARS or len(answer) > MAX_FIELD_CHARS:
                raise ValueError(f"{path} line {number}: question and answer must be non-empty and at most "
                                 f"{MAX_FIELD_CHARS} characters.")
            tasks.append(LabelledTask(question, answer))
            if len(tasks) > MAX_TASKS:
                raise ValueError(f"{path} has more than {MAX_TASKS} tasks.")
    if not tasks:
        raise ValueError(f"{path} has no tasks.")
    return tasks


def sample_labelled(engine, loaded, tasks: Sequence[LabelledTask], params: dict, *,
                    messages_for: Callable[[str], list[dict]] = lambda q: [{"role": "user", "content": q}],
                    system_prompt: str | None = None,
                    progress: Callable[[int, int, int], None] | None = None) -> list[tuple[str, str, bool]]:
    """(question, answer, right) for params["n"] samples of each task, drawn as a search endpoint draws them.

    params are a search endpoint's (n, temperature, calculator, ...); samples are drawn with
    the majority strategy and no verifier, which is only the sampling. progress(done, total,
    right among this task's samples) is called after each task.
    """
    config = SearchConfig.from_params({**params, "strategy": "majority", "verifiers": {}})
    samples: list[tuple[str, str, bool]] = []
    for i, task in enumerate(tasks, 1):
        result = run_search(config, engine=engine, loaded=loaded, messages=messages_for(task.question),
                            system_prompt=system_prompt)
        labelled = [(task.question, c["text"], is_right(c["text"], task.answer))
                    for c in result.trace["candidates"]]
        samples.extend(labelled)
        if progress:
            progress(i, len(tasks), sum(right for _, _, right in labelled))
    return samples
