"""Ways to spend more compute on one answer. Each takes a SearchContext and a Problem, yields the answer's
text as far as it has committed to it, and returns an Outcome (see context.py)."""

from __future__ import annotations

from collections.abc import Callable

from . import beam, best_of_n, majority, single
from .context import Outcome, SearchContext, Strategy


def get_strategy(name: str) -> Callable[[SearchContext, object], Strategy]:
    return {"single": single.run, "best_of_n": best_of_n.run, "majority": majority.run, "beam": beam.run}[name]


__all__ = ["Outcome", "SearchContext", "get_strategy"]
