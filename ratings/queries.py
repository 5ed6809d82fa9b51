"""The ORM side of the ratings: counted votes out of PostgreSQL as arrays or LMSYS records.

Pair counts are aggregated by PostgreSQL (GROUP BY), so the overall fit never loads one row per
vote; the per-vote facts (for Elo, categories and style) come as compact value lists.
"""

import numpy as np
from django.db.models import Count, F, Q, Window
from django.db.models.functions import RowNumber

from arena.models import ModelEndpoint, Vote
from ratings.battles import Outcome, PairCounts, pair_counts_from_arrays

CHOICE_CODE = {"a": Outcome.A, "b": Outcome.B, "tie": Outcome.TIE, "bothbad": Outcome.BOTH_BAD}
WINNER = {"a": "model_a", "b": "model_b", "tie": "tie", "bothbad": "tie (bothbad)"}


DEDUPLICATED = Q(pk__isnull=False)  # a marker: handled by deduplicated(), not by a filter
LONG_PROMPT_TOKENS = 500

# How each category is decided (see docs/ratings.md); the facts were computed when the vote was cast.
CATEGORY_FILTERS: dict[str, Q | None] = {
    "overall": None,
    "multi_turn": Q(features__turn__gt=1),
    "long_prompt": Q(features__prompt_tokens__gte=LONG_PROMPT_TOKENS),
    "code": Q(features__code=True),
    "math": Q(features__math=True),
    "english": Q(features__language="English"),
    "non_english": ~Q(features__language__in=["English", "unknown"]),
    "deduplicated": DEDUPLICATED,
}


def counted_votes():
    """Votes that enter the ratings: counted when cast, and not from a client flagged as anomalous."""
    from ratings.models import FlaggedClient

    flagged = FlaggedClient.objects.filter(cleared=False).values("client_id")
    return Vote.objects.filter(counts=True).exclude(client_id__in=flagged)


def deduplicated(votes, *, percentile: float = 99.99):
    """Down-sample the most repeated prompts: no prompt counts more often than the given percentile
    of per-prompt counts (LMArena's de-duplication), keeping the earliest votes."""
    per_prompt = np.array(list(votes.values("features__prompt_hash").annotate(n=Count("id")).order_by()
                               .values_list("n", flat=True)))
    if not len(per_prompt):
        return votes
    cap = max(1, int(np.percentile(per_prompt, percentile)))
    ranked = votes.annotate(nth=Window(RowNumber(), partition_by=[F("features__prompt_hash")], order_by=F("id").asc()))
    return ranked.filter(nth__lte=cap)


def public_names() -> dict[int, str]:
    return {e.id: e.public_name for e in ModelEndpoint.objects.all()}


def pair_counts(endpoint_ids: list[int], condition: Q | None = None) -> PairCounts:
    """Counted votes per (model a, model b, outcome), grouped in the database."""
    index = {e: i for i, e in enumerate(endpoint_ids)}
    votes = counted_votes()
    if condition is DEDUPLICATED:
        votes = deduplicated(votes)
    elif condition is not None:
        votes = votes.filter(condition)
    rows = list(votes.values_list("battle__endpoint_a_id", "battle__endpoint_b_id", "choice")
                .annotate(n=Count("id")).order_by())
    pairs = np.array([(index[a], index[b]) for a, b, _, _ in rows], dtype=np.int64).reshape(-1, 2)
    counts = np.zeros((len(rows), 4))
    for row, (_, _, choice, n) in enumerate(rows):
        counts[row, CHOICE_CODE[choice]] = n
    return pair_counts_from_arrays(len(index), pairs, counts)


def exclusion_counts() -> dict[str, int]:
    from ratings.models import FlaggedClient

    rows = Vote.objects.filter(counts=False).values_list("excluded_reason").annotate(n=Count("id")).order_by()
    excluded = {reason or "excluded": n for reason, n in rows}
    flagged = Vote.objects.filter(counts=True, client_id__in=FlaggedClient.objects.filter(cleared=False)
                                  .values("client_id")).count()
    if flagged:
        excluded["Votes from clients flagged as anomalous (improbable given the ratings)."] = flagged
    return excluded


def compute_per_answer() -> dict[int, dict]:
    """Mean generated tokens (all candidates, for search models) and wall time per finished answer."""
    from django.db.models import Avg, IntegerField
    from django.db.models.fields.json import KT
    from django.db.models.functions import Cast, Coalesce

    from arena.models import Message, Status

    generated = Coalesce(Cast(KT("compute__generated_tokens"), IntegerField()), "tokens", output_field=IntegerField())
    totals: dict[int, list] = {}
    for side in ("a", "b"):
        rows = (Message.objects.filter(status=Status.DONE, side=side).values(f"turn__battle__endpoint_{side}")
                .annotate(n=Count("id"), tokens=Avg(generated), ms=Avg("duration_ms")).order_by())
        for row in rows:
            entry = totals.setdefault(row[f"turn__battle__endpoint_{side}"], [0, 0.0, 0.0])
            n = row["n"]
            entry[1] = (entry[1] * entry[0] + (row["tokens"] or 0) * n) / (entry[0] + n)
            entry[2] = (entry[2] * entry[0] + (row["ms"] or 0) * n) / (entry[0] + n)
            entry[0] += n
    return {endpoint: {"answers": n, "tokens_per_answer": round(tokens, 1), "seconds_per_answer": round(ms / 1000, 2)}
            for endpoint, (n, tokens, ms) in totals.items()}


def category_pair_counts(endpoint_ids: list[int]) -> dict[str, PairCounts]:
    """Pair counts of every category from one scan of the votes (one filtered COUNT per category)."""
    index = {e: i for i, e in enumerate(endpoint_ids)}
    plain = {name: cond for name, cond in CATEGORY_FILTERS.items() if cond is not DEDUPLICATED}
    counts = {name: Count("id", filter=cond) if cond is not None else Count("id") for name, cond in plain.items()}
    rows = list(counted_votes().values_list("battle__endpoint_a_id", "battle__endpoint_b_id", "choice")
                .annotate(**counts).order_by())
    pairs = np.array([(index[r[0]], index[r[1]]) for r in rows], dtype=np.int64).reshape(-1, 2)
    result = {}
    for column, name in enumerate(plain, start=3):
        table = np.zeros((len(rows), 4))
        for row_number, row in enumerate(rows):
            table[row_number, CHOICE_CODE[row[2]]] = row[column]
        result[name] = pair_counts_from_arrays(len(index), pairs, table)
    for name, cond in CATEGORY_FILTERS.items():
        if cond is DEDUPLICATED:
            result[name] = pair_counts(endpoint_ids, cond)
    return {name: result[name] for name in CATEGORY_FILTERS}


def elo_arrays(endpoint_ids: list[int], *, after_id: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Model indices and outcome codes of the counted votes after ``after_id``, in vote (id) order,
    and the last id read: online Elo only ever needs the votes it has not seen."""
    index = {e: i for i, e in enumerate(endpoint_ids)}
    rows = counted_votes().filter(id__gt=after_id).order_by("id").values_list(
        "battle__endpoint_a_id", "battle__endpoint_b_id", "choice", "id")
    data = np.array([(index[a], index[b], CHOICE_CODE[c], i) for a, b, c, i in rows.iterator(chunk_size=20000)],
                    dtype=np.int64).reshape(-1, 4)
    last = int(data[-1, 3]) if len(data) else after_id
    return data[:, 0], data[:, 1], data[:, 2], last


def style_battles():
    """Counted votes with their style counts, for style control."""
    from ratings.battles import battles_from_records

    names = public_names()
    rows = counted_votes().values_list("battle__endpoint_a_id", "battle__endpoint_b_id", "choice",
                                       "features__conv_metadata")
    return battles_from_records({"model_a": names[a], "model_b": names[b], "winner": WINNER[c], "conv_metadata": meta or {}}
                                for a, b, c, meta in rows.iterator(chunk_size=20000))
