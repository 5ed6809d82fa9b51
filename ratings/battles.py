"""Battles as plain numpy arrays, the public LMSYS battle format, and aggregation to counts.

A battle is (model a, model b, outcome). Every rating in this package is computed either from a
`Battles` (one row per vote: online Elo, style control, categories) or from its `PairCounts`
(one row per unordered model pair: Bradley-Terry, intervals, matrices), which is what keeps the
fits independent of the number of votes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import IO, Any

import numpy as np

from ratings.style import STYLE_ELEMENTS, count_markdown_elements, count_tokens


class Outcome(IntEnum):
    A = 0  # model a won
    B = 1  # model b won
    TIE = 2
    BOTH_BAD = 3


# Score of model a for each outcome code; ties and "both bad" count as half a win for each side
# (the convention of FastChat and arena-rank).
OUTCOME_SCORE = np.array([1.0, 0.0, 0.5, 0.5])

WINNER_CODES = {
    "model_a": Outcome.A,
    "model_b": Outcome.B,
    "tie": Outcome.TIE,
    "tie (bothbad)": Outcome.BOTH_BAD,
    "both_bad": Outcome.BOTH_BAD,  # spelling used by the newer lmarena-ai datasets
}
WINNER_NAMES = ("model_a", "model_b", "tie", "tie (bothbad)")

# Per-battle fields the reader fills when the record has what they need:
#   turn (int), anony (bool), tstamp (float), language (str), prompt (str: the user turns joined
#   by newlines), prompt_tokens (int), style_a / style_b (float, shape (n, 4): answer tokens,
#   headers, list items, bold spans, summed over the assistant turns, in STYLE_ELEMENTS order).
OPTIONAL_FIELDS = ("turn", "anony", "tstamp", "language", "prompt", "prompt_tokens", "style_a", "style_b")
_FIELD_DTYPES = {
    "turn": np.int32, "anony": bool, "tstamp": np.float64, "language": object, "prompt": object,
    "prompt_tokens": np.int64, "style_a": np.float64, "style_b": np.float64,
}


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


# ---------------------------------------------------------------------------------------------
# The public LMSYS battle format


def _user_text(conversation: Sequence[Mapping[str, Any]]) -> str:
    return "".join(f"{_content(turn)}\n" for turn in conversation if turn.get("role") == "user")


def _assistant_text(conversation: Sequence[Mapping[str, Any]]) -> str:
    return "\n".join(_content(turn) for turn in conversation if turn.get("role") == "assistant")


def _content(turn: Mapping[str, Any]) -> str:
    content = turn.get("content", "")
    if isinstance(content, list):  # multimodal turns: keep the text parts
        return "\n".join(part if isinstance(part, str) else str(part.get("text", "")) for part in content)
    return content if isinstance(content, str) else ""


def _meta_count(value: Any) -> float:
    return float(sum(value.values()) if isinstance(value, Mapping) else value)


def _style_from_metadata(meta: Mapping[str, Any], side: str) -> list[float] | None:
    """Style counts from an LMArena `conv_metadata` record, when it has them."""
    keys = (f"sum_assistant_{side}_tokens", f"header_count_{side}", f"list_count_{side}", f"bold_count_{side}")
    if not all(k in meta for k in keys):
        return None
    return [_meta_count(meta[k]) for k in keys]


def _style_from_conversation(conversation: Sequence[Mapping[str, Any]]) -> list[float]:
    answer = _assistant_text(conversation)
    markdown = count_markdown_elements(answer)
    return [float(count_tokens(answer))] + [float(markdown[name]) for name in STYLE_ELEMENTS[1:]]


def battles_from_records(records: Iterable[Mapping[str, Any]]) -> Battles:
    """Battles from LMSYS-style records (dicts with model_a, model_b, winner and optional fields).

    Optional fields are kept only when every record has what they need, so the arrays stay dense.
    `turn` falls back to the number of user turns in `conversation_a`; `prompt` prefers `conversation_a`'s user turns, then a top-level `prompt`; style counts prefer
    `conv_metadata` (LMArena's precomputed tiktoken counts), then counting the conversations.
    """
    model_a: list[str] = []
    model_b: list[str] = []
    winner: list[str] = []
    columns: dict[str, list[Any]] = {name: [] for name in OPTIONAL_FIELDS}
    present = dict.fromkeys(OPTIONAL_FIELDS, True)
    for record in records:
        model_a.append(record["model_a"])
        model_b.append(record["model_b"])
        winner.append(record["winner"])
        conv_a, conv_b = record.get("conversation_a"), record.get("conversation_b")
        for name in ("turn", "anony", "tstamp", "language"):
            value = record.get(name)
            if value is None and name == "turn" and conv_a is not None:
                value = sum(1 for turn in conv_a if turn.get("role") == "user")
            if present[name] and value is not None:
                columns[name].append(value)
            else:
                present[name] = False
        if conv_a is not None:
            prompt = _user_text(conv_a)
        elif isinstance(record.get("prompt"), str):
            prompt = record["prompt"]
        else:
            prompt = None
        if present["prompt"] and prompt is not None:
            columns["prompt"].append(prompt)
            tokens = record.get("prompt_tokens")
            columns["prompt_tokens"].append(count_tokens(prompt) if tokens is None else tokens)
        else:
            present["prompt"] = present["prompt_tokens"] = False
        meta = record.get("conv_metadata") or {}
        for side, conv in (("a", conv_a), ("b", conv_b)):
            name = f"style_{side}"
            if not present[name]:
                continue
            style = _style_from_metadata(meta, side)
            if style is None and conv is not None:
                style = _style_from_conversation(conv)
            if style is None:
                present[name] = False
            else:
                columns[name].append(style)
    fields = {}
    for name in OPTIONAL_FIELDS:
        if present[name] and winner:
            if _FIELD_DTYPES[name] is object:  # strings stay Python strings, of any length
                fields[name] = np.empty(len(winner), dtype=object)
                fields[name][:] = columns[name]
            else:
                fields[name] = np.asarray(columns[name], dtype=_FIELD_DTYPES[name])
    return Battles.from_names(model_a, model_b, winner, **fields)


def _iter_records(stream: IO[str]) -> Iterator[Mapping[str, Any]]:
    head = stream.read(1)
    while head and head.isspace():
        head = stream.read(1)
    rest = stream.read()
    if head == "[":
        yield from json.loads(head + rest)
        return
    for line in (head + rest).splitlines():
        if line.strip():
            yield json.loads(line)


def read_battles(source: str | Path | IO[str]) -> Battles:
    """Read a JSON list or JSON-lines file of LMSYS battle records (see `battles_from_records`)."""
    if isinstance(source, (str, Path)):
        with open(source, encoding="utf-8") as stream:
            return battles_from_records(_iter_records(stream))
    return battles_from_records(_iter_records(source))


def records_from_battles(battles: Battles) -> Iterator[dict[str, Any]]:
    """LMSYS-style records for `battles`; style counts go into `conv_metadata`, the prompt into
    `prompt` (conversations themselves are not kept in a `Battles`)."""
    fields = battles.fields
    for i in range(len(battles)):
        record: dict[str, Any] = {
            "model_a": battles.models[battles.model_a[i]],
            "model_b": battles.models[battles.model_b[i]],
            "winner": WINNER_NAMES[battles.outcome[i]],
        }
        for name in ("turn", "anony", "tstamp", "language", "prompt", "prompt_tokens"):
            if name in fields:
                value = fields[name][i]
                record[name] = value.item() if isinstance(value, np.generic) else value
        if "style_a" in fields and "style_b" in fields:
            meta = {}
            for side in ("a", "b"):
                tokens, headers, lists, bold = (float(x) for x in fields[f"style_{side}"][i])
                meta[f"sum_assistant_{side}_tokens"] = tokens
                meta[f"header_count_{side}"] = headers
                meta[f"list_count_{side}"] = lists
                meta[f"bold_count_{side}"] = bold
            record["conv_metadata"] = meta
        yield record


def write_battles(battles: Battles, target: str | Path | IO[str], *, jsonl: bool = True) -> None:
    """Write battles as JSON lines (default) or as one JSON list."""
    def dump(stream: IO[str]) -> None:
        if jsonl:
            for record in records_from_battles(battles):
                stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            json.dump(list(records_from_battles(battles)), stream, ensure_ascii=False)

    if isinstance(target, (str, Path)):
        with open(target, "w", encoding="utf-8") as stream:
            dump(stream)
    else:
        dump(target)
