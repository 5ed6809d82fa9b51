"""Battles as plain numpy arrays, their outcome vocabulary, and aggregation to counts.

A battle is (model a, model b, outcome). Every rating in this package is computed either from a
`Battles` (one row per vote: online Elo, style control, categories) or from its `PairCounts`
(one row per unordered model pair: Bradley-Terry, intervals, matrices), which is what keeps the
fits independent of the number of votes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import numpy as np


class Outcome(IntEnum):
    A = 0  # model a won
    B = 1  # model b won
    TIE = 2
    BOTH_BAD = 3


# Score of model a for each outcome code; ties and "both bad" count as half a win for each side
# (the convention of FastChat and arena-rank).
OUTCOME_SCORE = np.array([1.0, 0.0, 0.5, 0.5])

# LMSYS winner strings (the public battle files; see ratings.lmsys) as outcome codes, and back.
WINNER_CODES = {
    "model_a": Outcome.A,
    "model_b": Outcome.B,
    "tie": Outcome.TIE,
    "tie (bothbad)": Outcome.BOTH_BAD,
    "both_bad": Outcome.BOTH_BAD,  # spelling used by the newer lmarena-ai datasets
}
WINNER_NAMES = ("model_a", "model_b", "tie", "tie (bothbad)")

# The arena's vote choices (`arena.models.Vote.choice`) as outcome codes.
CHOICE_CODE = {"a": Outcome.A, "b": Outcome.B, "tie": Outcome.TIE, "bothbad": Outcome.BOTH_BAD}

@dataclass(frozen=True, eq=False)
class Battles:
    """One row per vote. `model_a`/`model_b` index into `models`; `outcome` holds `Outcome` codes."""

    models: tuple[str, ...]
    model_a: np.ndarray
    model_b: np.ndarray
    outcome: np.ndarray
    fields: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.outcome)
        if len(self.model_a) != n or len(self.model_b) != n:
            raise ValueError("model_a, model_b and outcome must have the same length")
        for name, values in self.fields.items():
            if len(values) != n:
                raise ValueError(f"field {name!r} has {len(values)} rows, expected {n}")
        if n and (np.any(self.model_a == self.model_b)):
            raise ValueError("a battle needs two different models")

    def __len__(self) -> int:
        return len(self.outcome)

    @property
    def n_models(self) -> int:
        return len(self.models)

    @classmethod
    def from_names(
        cls,
        model_a: Sequence[str],
        model_b: Sequence[str],
        winner: Sequence[str],
        **fields: Any,
    ) -> Battles:
        """Build from model names and LMSYS winner strings; models are indexed in sorted order."""
        names_a = np.asarray(model_a, dtype=object)
        names_b = np.asarray(model_b, dtype=object)
        models, codes = np.unique(np.concatenate([names_a, names_b]).astype(str), return_inverse=True)
        n = len(names_a)
        try:
            outcome = np.array([WINNER_CODES[w] for w in winner], dtype=np.int8)
        except KeyError as exc:
            raise ValueError(f"unknown winner {exc.args[0]!r}; expected one of {sorted(WINNER_CODES)}") from None
        return cls(
            models=tuple(models.tolist()),
            model_a=codes[:n].astype(np.int32),
            model_b=codes[n:].astype(np.int32),
            outcome=outcome,
            fields={k: np.asarray(v) for k, v in fields.items()},
        )

    def select(self, mask: np.ndarray) -> Battles:
        """The battles where `mask` is true (or at the given indices); the model list is kept."""
        return Battles(
            models=self.models,
            model_a=self.model_a[mask],
            model_b=self.model_b[mask],
            outcome=self.outcome[mask],
            fields={k: v[mask] for k, v in self.fields.items()},
        )

    def votes_per_model(self) -> np.ndarray:
        k = self.n_models
        return np.bincount(self.model_a, minlength=k) + np.bincount(self.model_b, minlength=k)

    def model_index(self, name: str) -> int:
        try:
            return self.models.index(name)
        except ValueError:
            raise KeyError(f"model {name!r} has no battles") from None


@dataclass(frozen=True, eq=False)
class PairCounts:
    """Battles aggregated per unordered pair: `pairs[i] = (a, b)` with a < b, and `counts[i, c]`
    the number of battles between them with outcome code c, seen from a's side."""

    n_models: int
    pairs: np.ndarray  # (P, 2) int
    counts: np.ndarray  # (P, 4) float, columns indexed by Outcome

    @property
    def n(self) -> np.ndarray:
        """Battles per pair."""
        return self.counts.sum(axis=1)

    @property
    def score(self) -> np.ndarray:
        """Sum of a's scores per pair (wins + half the ties)."""
        return self.counts @ OUTCOME_SCORE

    @property
    def total(self) -> float:
        return float(self.counts.sum())


# Above this many (pair, outcome) cells a dense bincount would waste memory; sort instead.
_DENSE_CELL_LIMIT = 20_000_000


def aggregate(battles: Battles) -> PairCounts:
    """Count battles per (unordered pair, outcome).

    A battle (a, b, outcome) and its mirror (b, a, mirrored outcome) carry the same likelihood,
    gradient, Hessian and sandwich "meat", so orientation is dropped and each pair is stored once
    with a < b. This makes the count table at most K(K-1)/2 rows for K models.
    """
    k = battles.n_models
    a = battles.model_a.astype(np.int64)
    b = battles.model_b.astype(np.int64)
    outcome = battles.outcome.astype(np.int64)
    swap = a > b
    lo = np.where(swap, b, a)
    hi = np.where(swap, a, b)
    # Seen from the lower index, a win for "a" becomes a win for "b" when the pair was swapped.
    mirrored = np.array([Outcome.B, Outcome.A, Outcome.TIE, Outcome.BOTH_BAD], dtype=np.int64)
    outcome = np.where(swap, mirrored[outcome], outcome)
    cell = (lo * k + hi) * 4 + outcome
    if k * k * 4 <= _DENSE_CELL_LIMIT:
        table = np.bincount(cell, minlength=k * k * 4).reshape(k * k, 4)
        pair_ids = np.flatnonzero(table.sum(axis=1))
        counts = table[pair_ids]
    else:
        cells, cell_counts = np.unique(cell, return_counts=True)
        pair_ids, pair_pos = np.unique(cells // 4, return_inverse=True)
        counts = np.zeros((len(pair_ids), 4), dtype=np.int64)
        np.add.at(counts, (pair_pos, cells % 4), cell_counts)
    pairs = np.stack([pair_ids // k, pair_ids % k], axis=1)
    return PairCounts(n_models=k, pairs=pairs, counts=counts.astype(np.float64))


def pair_counts_from_arrays(n_models: int, pairs: np.ndarray, counts: np.ndarray) -> PairCounts:
    """Canonicalise counts given per ordered pair (any orientation, repeats allowed)."""
    pairs = np.asarray(pairs, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.float64)
    swap = pairs[:, 0] > pairs[:, 1]
    counts = counts.copy()
    counts[swap] = counts[swap][:, [Outcome.B, Outcome.A, Outcome.TIE, Outcome.BOTH_BAD]]
    lo = np.where(swap, pairs[:, 1], pairs[:, 0])
    hi = np.where(swap, pairs[:, 0], pairs[:, 1])
    ids, pos = np.unique(lo * n_models + hi, return_inverse=True)
    summed = np.zeros((len(ids), 4))
    np.add.at(summed, pos, counts)
    keep = summed.sum(axis=1) > 0
    ids = ids[keep]
    return PairCounts(n_models, np.stack([ids // n_models, ids % n_models], axis=1), summed[keep])
