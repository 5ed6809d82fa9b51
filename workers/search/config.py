"""What a search endpoint does, parsed and validated from the endpoint's parameters.

`SearchConfig.from_params` is the only way in from the outside: a bad value raises
ValueError with a sentence the admin form shows as it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from workers.params import number, refuse_unknown, text

STRATEGIES = ("single", "best_of_n", "majority", "beam")
VERIFIERS = ("loglik", "consensus", "reward", "checker", "grounding", "outcome")
DEMO_CORPUS = "pydoc"
# Sequences generated in one engine call; beyond this a CPU host thrashes.
MAX_BATCH = 64

KNOWN = {
    "strategy", "retrieve", "n", "beam_width", "k", "max_steps", "step_tokens", "verifiers",
    "reward_model", "outcome_model", "corpus", "index_dir", "top_k", "temperature", "top_p", "max_new_tokens",
    "repetition_penalty", "seed", "stop_at_answer", "quorum", "calculator", "choose_after",
}
# best_of_n judges its candidates after this many tokens unless told otherwise (see choose_after).
DEFAULT_CHOOSE_AFTER = 32


@dataclass(frozen=True)
class SearchConfig:
    strategy: str = "best_of_n"
    retrieve: bool = False
    # best_of_n / majority: candidates sampled in one batch.
    n: int = 4
    # best_of_n / majority: the batch ends once this many samples have ended; the others are cut
    # where they are (finish_reason "stopped") and still scored. None waits for all n.
    quorum: int | None = None
    # best_of_n: judge the n candidates once each has this many tokens (or has ended), keep the best,
    # stop the others and stream the one kept as it is written (speculative rejection, Sun et al. 2024).
    # 0 waits for all n to end and streams nothing before the answer is whole. Left out, it is
    # DEFAULT_CHOOSE_AFTER, or 0 when a quorum is set (a quorum is about waiting for whole answers).
    choose_after: int = DEFAULT_CHOOSE_AFTER
    # beam: beams kept per round, continuations sampled per beam, rounds, tokens per step.
    beam_width: int = 2
    k: int = 2
    max_steps: int = 8
    step_tokens: int = 64
    # Verifier name -> weight; the combined score is the weighted mean of scores in [0, 1].
    verifiers: dict[str, float] = field(default_factory=lambda: {"loglik": 1.0})
    reward_model: str | None = None
    # outcome verifier: a file saved by manage.py train_outcome_verifier (see outcome_model.py).
    outcome_model: str | None = None
    # retrieve: a folder of .txt/.md/.html files, or "pydoc" for the demo corpus.
    corpus: str | None = None
    index_dir: str | None = None
    top_k: int = 3
    temperature: float = 0.8
    top_p: float = 0.95
    max_new_tokens: int = 256
    repetition_penalty: float = 1.0
    seed: int | None = None
    # End each sample once it has written a complete "Answer: ..." line (see answers.complete_answer),
    # so a batch does not wait for samples that ramble on after answering. For tasks with one final answer.
    stop_at_answer: bool = False
    # Correct stated arithmetic while sampling ("4 * 19 = 74" becomes "= 76" and sampling goes on from
    # there), as the calculator of Cobbe et al. 2021 did; see calculator.py. Any strategy.
    calculator: bool = False

    @classmethod
    def from_params(cls, params: dict) -> SearchConfig:
        if not isinstance(params, dict):
            raise ValueError("Search parameters must be a JSON object.")
        refuse_unknown(params, KNOWN, "search")
        strategy, retrieve = _strategy(params)
        verifiers = _verifiers(params.get("verifiers"), strategy)
        config = cls(
            strategy=strategy,
            retrieve=retrieve,
            n=number(params, "n", 4, low=1, high=MAX_BATCH, kind=int),
            quorum=number(params, "quorum", None, low=1, high=MAX_BATCH, kind=int),
            choose_after=number(params, "choose_after", 0 if params.get("quorum") is not None else DEFAULT_CHOOSE_AFTER,
                                low=0, high=8192, kind=int),
            beam_width=number(params, "beam_width", 2, low=1, high=16, kind=int),
            k=number(params, "k", 2, low=1, high=16, kind=int),
            max_steps=number(params, "max_steps", 8, low=1, high=64, kind=int),
            step_tokens=number(params, "step_tokens", 64, low=4, high=1024, kind=int),
            verifiers=verifiers,
            reward_model=text(params, "reward_model", None, max_length=4096),
            outcome_model=text(params, "outcome_model", None, max_length=4096),
            corpus=text(params, "corpus", None, max_length=4096),
            index_dir=text(params, "index_dir", None, max_length=4096),
            top_k=number(params, "top_k", 3, low=1, high=10, kind=int),
            temperature=number(params, "temperature", 0.8, low=0, high=2),
            top_p=number(params, "top_p", 0.95, low=0.01, high=1),
            max_new_tokens=number(params, "max_new_tokens", 256, low=1, high=8192, kind=int),
            repetition_penalty=number(params, "repetition_penalty", 1.0, low=0.5, high=2),
            seed=number(params, "seed", None, low=0, high=2**31, kind=int),
            stop_at_answer=_flag(params, "stop_at_answer"),
            calculator=_flag(params, "calculator"),
        )
        config._check_together()
        return config

    def _check_together(self) -> None:
        if self.quorum is not None and self.quorum > self.n:
            raise ValueError(f"quorum must be at most n ({self.n}), not {self.quorum}.")
        if self.strategy == "best_of_n" and self.quorum is not None and self.choose_after:
            raise ValueError("quorum ends a batch of whole answers; it does not go with choose_after "
                             f"{self.choose_after} (set choose_after to 0, or leave quorum out).")
        if self.strategy == "beam" and self.beam_width * self.k > MAX_BATCH:
            raise ValueError(f"beam_width × k must be at most {MAX_BATCH}, "
                             f"not {self.beam_width} × {self.k} = {self.beam_width * self.k}.")
        if self.strategy in ("best_of_n", "majority") and self.n > 1 and self.temperature == 0:
            raise ValueError(f"temperature 0 gives {self.n} identical candidates; "
                             "set a temperature above 0 or n to 1.")
        if "reward" in self.verifiers:
            if not self.reward_model:
                raise ValueError("The reward verifier needs reward_model: the path of a file "
                                 "saved by manage.py train_reward_model.")
            if not Path(self.reward_model).is_file():
                raise ValueError(f"reward_model {self.reward_model!r} does not exist on this host.")
        if "outcome" in self.verifiers:
            if not self.outcome_model:
                raise ValueError("The outcome verifier needs outcome_model: the path of a file "
                                 "saved by manage.py train_outcome_verifier.")
            if not Path(self.outcome_model).is_file():
                raise ValueError(f"outcome_model {self.outcome_model!r} does not exist on this host.")
        if self.retrieve:
            if not self.corpus:
                raise ValueError(f"Retrieval needs corpus: a folder of documents, or {DEMO_CORPUS!r} "
                                 "for the Python documentation demo corpus.")
            if self.corpus != DEMO_CORPUS and not Path(self.corpus).is_dir():
                raise ValueError(f"corpus {self.corpus!r} is not a folder on this host.")


def _flag(params: dict, key: str) -> bool:
    value = params.get(key, False)
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false, not {value!r}.")
    return value


def _strategy(params: dict) -> tuple[str, bool]:
    raw = params.get("strategy", "best_of_n")
    if not isinstance(raw, str):
        raise ValueError(f"strategy must be text, not {raw!r}.")
    parts = [p.strip() for p in raw.split("+") if p.strip()]
    retrieve = "retrieve" in parts
    rest = [p for p in parts if p != "retrieve"]
    choices = ", ".join(STRATEGIES) + ", retrieve, or retrieve+<one of those>"
    if len(rest) > 1 or (rest and rest[0] not in STRATEGIES) or not parts:
        raise ValueError(f"strategy must be one of {choices}; not {raw!r}.")
    return (rest[0] if rest else "single"), retrieve or _flag(params, "retrieve")


def _verifiers(raw, strategy: str) -> dict[str, float]:
    if raw is None:
        # Voting needs no verifier; the other choosing strategies need something to choose by.
        return {} if strategy in ("single", "majority") else {"loglik": 1.0}
    if isinstance(raw, str):
        raw = [name.strip() for name in raw.split(",") if name.strip()]
    if isinstance(raw, list):
        raw = {name: 1.0 for name in raw}
    if not isinstance(raw, dict):
        raise ValueError("verifiers must map verifier names to weights, "
                         "e.g. {\"loglik\": 1, \"checker\": 2}.")
    weights = {}
    for name, weight in raw.items():
        if name not in VERIFIERS:
            raise ValueError(f"Unknown verifier {name!r}; choose from {', '.join(VERIFIERS)}.")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) \
                or weight < 0:
            raise ValueError(f"The weight of verifier {name} must be a number of at least 0, not {weight!r}.")
        if weight > 0:
            weights[name] = float(weight)
    if not weights and strategy in ("best_of_n", "beam"):
        raise ValueError(f"The {strategy} strategy needs at least one verifier with a weight above 0.")
    return weights
