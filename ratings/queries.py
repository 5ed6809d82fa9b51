"""The ORM side of the ratings: counted votes out of PostgreSQL as arrays or LMSYS records.

Pair counts of every category are aggregated by PostgreSQL (one GROUP BY over the votes table's
typed columns), so the fits never load one row per vote. A pair count is the sum of its votes'
weights (`Vote.weight`: 1, or an arena's weight for anonymous votes), so the Bradley-Terry fit
takes a vote of weight w as w of a vote; what needs votes one by one (online Elo,
style control) reads them, weights included, as numpy arrays through a binary COPY.
"""

import numpy as np
from django.db.models import Avg, BooleanField, Count, ExpressionWrapper, FloatField, IntegerField, Q, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce

from arena.models import Message, Status, Vote
from ratings import vote_chunks
from ratings.battle_arrays import CHOICE_CODE, PairCounts, pair_counts_from_arrays
from ratings.categories import ARENA_CATEGORIES, DEDUPLICATED
from ratings.models import FlaggedVote

DEDUP_PERCENTILE = 99.99

# How each category is decided (see ratings/categories.py and docs/ratings.md); the facts were
# computed when the vote was cast and stored in typed columns of the vote (arena.votes.rating_columns).
CATEGORY_FILTERS: dict[str, Q | None] = {name: category.condition for name, category in ARENA_CATEGORIES.items()}


def counted_votes():
    """Votes that enter the ratings: counted when cast, and not flagged as rigging."""
    flagged = FlaggedVote.objects.in_force().values("vote_id")
    return Vote.objects.filter(counts=True).exclude(id__in=flagged)


def dedup_cap(votes, *, percentile: float = DEDUP_PERCENTILE) -> int:
    """The most votes one prompt may count: the given percentile of the per-prompt vote counts.

    Each counted vote carries `prompt_nth`, its position among the votes on its prompt, so the
    number of votes with prompt_nth == k is the number of prompts with at least k votes: a short
    histogram query gives the whole distribution without grouping the prompts themselves.
    """
    rows = votes.values_list("prompt_nth").annotate(n=Count("id")).order_by()
    at_least = dict(rows)
    if not at_least:
        return 1
    top = max(at_least)
    prompts_with = np.array([at_least.get(k, 0) for k in range(1, top + 2)])
    exactly = np.maximum(prompts_with[:-1] - prompts_with[1:], 0)
    per_prompt = np.repeat(np.arange(1, top + 1), exactly)
    return max(1, int(np.percentile(per_prompt, percentile))) if len(per_prompt) else 1


def dedup_condition(votes) -> Q:
    """LMArena's de-duplication: no prompt counts more often than the cap; the earliest votes stay."""
    return Q(prompt_nth__lte=dedup_cap(votes))


def pair_counts(endpoint_ids: list[int], condition: Q | None = None) -> PairCounts:
    """Counted votes per (model a, model b, outcome), grouped in the database."""
    votes = counted_votes()
    if condition is DEDUPLICATED:
        condition = dedup_condition(votes)
    if condition is not None:
        votes = votes.filter(condition)
    rows = list(votes.values_list("endpoint_a_id", "endpoint_b_id", "choice").annotate(n=_weights()).order_by())
    return _pair_counts_from_rows(endpoint_ids, rows, [3])[0]


def _weights(condition: Q | None = None) -> Sum:
    """The summed weights of a group's votes (those meeting ``condition``), 0 for none."""
    return Sum("weight", filter=condition, default=0.0, output_field=FloatField())


def _pair_counts_from_rows(endpoint_ids: list[int], rows: list[tuple], columns: list[int]) -> list[PairCounts]:
    """PairCounts from GROUP BY rows (endpoint a, endpoint b, choice, count, count, ...), one per count column."""
    index = {e: i for i, e in enumerate(endpoint_ids)}
    rows = [r for r in rows if r[0] in index and r[1] in index]
    pairs = np.array([(index[r[0]], index[r[1]]) for r in rows], dtype=np.int64).reshape(-1, 2)
    outcome = np.array([CHOICE_CODE[r[2]] for r in rows], dtype=np.int64)
    result = []
    for column in columns:
        table = np.zeros((len(rows), 4))
        table[np.arange(len(rows)), outcome] = [r[column] for r in rows]
        result.append(pair_counts_from_arrays(len(index), pairs, table))
    return result


def exclusion_counts() -> dict[str, int]:
    rows = Vote.objects.filter(counts=False).values_list("excluded_reason").annotate(n=Count("id")).order_by()
    excluded = {reason or "excluded": n for reason, n in rows}
    flagged = (FlaggedVote.objects.in_force().filter(vote__counts=True).values_list("detector")
               .annotate(n=Count("vote_id")).order_by())
    for detector, n in flagged:
        excluded[f"Flagged as rigging ({detector}): improbable given the ratings."] = n
    return excluded


def compute_per_answer() -> dict[int, dict]:
    """Per endpoint, over its finished answers: mean tokens of the answer itself, mean tokens it
    generated to get there (every candidate, for search models; the answer's own for others) and
    mean wall time."""
    generated = Coalesce(Cast(KT("compute__generated_tokens"), IntegerField()), "tokens", output_field=IntegerField())
    totals: dict[int, list] = {}
    for side in ("a", "b"):
        rows = (Message.objects.filter(status=Status.DONE, side=side).values(f"turn__battle__endpoint_{side}")
                .annotate(n=Count("id"), answer_tokens=Avg("tokens"), generated_tokens=Avg(generated),
                          ms=Avg("duration_ms"))
                .order_by())
        for row in rows:
            entry = totals.setdefault(row[f"turn__battle__endpoint_{side}"], [0, 0.0, 0.0, 0.0])
            n = row["n"]
            for i, key in enumerate(("answer_tokens", "generated_tokens", "ms"), start=1):
                entry[i] = (entry[i] * entry[0] + (row[key] or 0) * n) / (entry[0] + n)
            entry[0] += n
    return {endpoint: {"answers": n, "tokens_per_answer": round(tokens, 1),
                       "compute_tokens_per_answer": round(generated, 1), "seconds_per_answer": round(ms / 1000, 2)}
            for endpoint, (n, tokens, generated, ms) in totals.items()}


def category_pair_counts(endpoint_ids: list[int]) -> dict[str, PairCounts]:
    """Pair counts of every category over the votes of all arenas together (see
    `arena_category_pair_counts`)."""
    votes = counted_votes()
    conditions = _category_conditions(votes)
    rows = list(votes.values_list("endpoint_a_id", "endpoint_b_id", "choice")
                .annotate(**_category_counts(conditions)).order_by())
    tables = _pair_counts_from_rows(endpoint_ids, rows, list(range(3, 3 + len(conditions))))
    return dict(zip(conditions, tables, strict=True))


def arena_category_pair_counts(endpoint_ids: list[int], arenas: list[str]) -> dict[str, dict[str, PairCounts]]:
    """Pair counts of every category of every arena (by slug) from one scan of the votes table:
    the arena joins the GROUP BY, one filtered COUNT per category, plus the short de-duplication
    histogram. The de-duplication cap is the arena-wide one: a prompt's votes are numbered
    across arenas (`prompt_nth`)."""
    votes = counted_votes()
    conditions = _category_conditions(votes)
    rows = list(votes.values_list("arena_id", "endpoint_a_id", "endpoint_b_id", "choice")
                .annotate(**_category_counts(conditions)).order_by())
    columns = list(range(3, 3 + len(conditions)))
    return {arena: dict(zip(conditions, _pair_counts_from_rows(endpoint_ids, [r[1:] for r in rows if r[0] == arena],
                                                               columns), strict=True))
            for arena in arenas}


def category_members(vote_ids: np.ndarray, *, arena: str) -> dict[str, np.ndarray]:
    """Which of the arena's counted votes `vote_ids` (ascending) each leaderboard category holds, as
    boolean masks over them: one query over their id range, a flag per category, decided as the
    category tables decide it (the de-duplication cap too). A vote no longer counted is in none."""
    conditions = _category_conditions(counted_votes())
    flags = {f"in_{name}": ExpressionWrapper(cond, output_field=BooleanField())
             for name, cond in conditions.items() if cond is not None}
    ids = np.asarray(vote_ids, dtype=np.int64)
    rows = list(counted_votes().filter(arena_id=arena, id__range=(int(ids.min(initial=0)), int(ids.max(initial=0))))
                .annotate(**flags).values_list("id", *flags).order_by("id")) if len(ids) else []
    table = np.array(rows, dtype=np.int64).reshape(-1, 1 + len(flags))
    at = np.searchsorted(table[:, 0], ids)
    known = at < len(table)
    known[known] = table[at[known], 0] == ids[known]
    found = dict(zip(flags, np.zeros((len(flags), len(ids)), dtype=bool), strict=True))
    for column, flag in enumerate(flags, start=1):
        found[flag][known] = table[at[known], column].astype(bool)
    return {name: known.copy() if cond is None else found[f"in_{name}"] for name, cond in conditions.items()}


def _category_conditions(votes) -> dict[str, Q | None]:
    return {name: dedup_condition(votes) if cond is DEDUPLICATED else cond for name, cond in CATEGORY_FILTERS.items()}


def _category_counts(conditions: dict[str, Q | None]) -> dict[str, Sum]:
    return {f"n_{name}": _weights(cond) for name, cond in conditions.items()}


def vote_arrays(endpoint_ids: list[int], *, after_id: int = 0, style: bool = False,
                arena: str | None = None) -> dict[str, np.ndarray]:
    """The counted votes after `after_id` (of one arena, by slug, if given) in vote (id) order as
    arrays: `id`, model indices `a`, `b` (into endpoint_ids), `outcome` codes, `weight` and, with `style`,
    the (N, F) relative style differences `style` (the STYLE_COLUMNS). The packed chunks
    (ratings/vote_chunks.py) are read as a few blobs, the votes after them with a binary COPY;
    flagged votes are left out of both."""
    packed, covered = vote_chunks.read(after_id)
    parts = [packed] if len(packed) else []
    flagged = np.fromiter(FlaggedVote.objects.in_force().filter(vote_id__lte=covered)
                          .values_list("vote_id", flat=True), dtype=np.int64)
    if len(parts) and len(flagged):
        parts = [packed[~np.isin(packed["id"], flagged)]]
    if len(parts) and arena is not None:
        parts = [parts[0][parts[0]["arena"] == vote_chunks.arena_hash(arena)]]
    tail = counted_votes().filter(id__gt=covered, endpoint_a__isnull=False, endpoint_b__isnull=False)
    parts.append(vote_chunks.copy_votes(tail if arena is None else tail.filter(arena_id=arena)))
    data = np.concatenate(parts) if len(parts) > 1 else parts[0]
    index = np.full(max(int(data["a"].max(initial=0)), int(data["b"].max(initial=0)), *endpoint_ids, 0) + 1, -1)
    index[endpoint_ids] = np.arange(len(endpoint_ids))
    a, b = index[data["a"]], index[data["b"]]
    known = (a >= 0) & (b >= 0)  # an endpoint added since endpoint_ids was read is left out
    if not known.all():
        data, a, b = data[known], a[known], b[known]
    result = {"id": data["id"], "a": a, "b": b, "outcome": data["outcome"].astype(np.int64), "weight": data["weight"]}
    if style:
        result["style"] = np.asfortranarray(data["style"])  # column by column, as the style fit reads it
    return result
