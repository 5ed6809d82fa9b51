"""Which model is best for questions like mine? A leaderboard where each counted vote weighs by
how similar its prompt is to the asked one (cosine of all-MiniLM embeddings).

Weights are exp((similarity − 1) / temperature) over the votes, so near-duplicates count fully and
unrelated prompts almost not at all; the Bradley-Terry fit runs on the weighted pair counts. The
effective number of votes (Σw)² / Σw² says how much evidence the answer rests on: only models
with at least ``ARENA["PROMPT_LEADERBOARD_MIN_EFFECTIVE_VOTES"]`` effective votes of their own are
fitted and shown, with a weak prior toward the mean (``PROMPT_LEADERBOARD_PRIOR_TIES``), since a
few near votes would otherwise make a confident-looking rating from almost nothing. Runs on a worker
(it needs the embedding model) as a job the web process waits for (arena/jobs.py).
"""

import numpy as np
from django.conf import settings

from arena.models import ModelEndpoint
from ratings.battle_arrays import CHOICE_CODE, pair_counts_from_arrays
from ratings.leaderboard import leaderboard_table
from ratings.models import PromptEmbedding
from ratings.queries import counted_votes

TEMPERATURE = 0.1


def embed_missing_prompts(encoder, *, batch: int = 256) -> int:
    """Embed the prompts of counted votes that have no embedding yet; returns how many were added."""
    done = PromptEmbedding.objects.values("vote_id")
    missing = counted_votes().exclude(id__in=done).values_list("id", "features__prompt")
    added = 0
    rows = list(missing)
    for start in range(0, len(rows), batch):
        chunk = rows[start:start + batch]
        vectors = encoder.encode([prompt or "" for _, prompt in chunk])
        PromptEmbedding.objects.bulk_create(
            [PromptEmbedding(vote_id=vote_id, vector=vector.astype(np.float32).tobytes())
             for (vote_id, _), vector in zip(chunk, vectors, strict=True)],
            ignore_conflicts=True)
        added += len(chunk)
    return added


def leaderboard_for_prompt(prompt: str, encoder, *, arena: str = "text") -> dict:
    """From the votes of one arena (by slug), as the arena's own leaderboard."""
    embed_missing_prompts(encoder)
    endpoints = list(ModelEndpoint.objects.order_by("id"))
    ids, names = [e.id for e in endpoints], [e.public_name for e in endpoints]
    index = {e: i for i, e in enumerate(ids)}
    votes = counted_votes().filter(arena_id=arena)
    rows = list(votes.filter(id__in=PromptEmbedding.objects.values("vote_id")).values_list(
        "id", "battle__endpoint_a_id", "battle__endpoint_b_id", "choice", "weight"))
    if not rows:
        return {"prompt": prompt, "rows": [], "effective_votes": 0.0, "not_enough_data": []}
    vectors = dict(PromptEmbedding.objects.filter(vote_id__in=[r[0] for r in rows]).values_list("vote_id", "vector"))
    matrix = np.stack([np.frombuffer(bytes(vectors[r[0]]), dtype=np.float32) for r in rows])
    query = encoder.encode([prompt])[0]
    # each vote weighs its prompt's similarity times its own weight (an arena's for anonymous votes)
    weights = np.exp((matrix @ query - 1.0) / TEMPERATURE) * np.array([r[4] for r in rows])
    pairs = np.array([(index[a], index[b]) for _, a, b, _, _ in rows])
    effective_per_model = effective_votes_per_model(pairs, weights, len(ids))
    enough = effective_per_model >= settings.ARENA["PROMPT_LEADERBOARD_MIN_EFFECTIVE_VOTES"]
    kept = enough[pairs].all(axis=1)
    counts = np.zeros((len(rows), 4))
    counts[np.arange(len(rows)), [CHOICE_CODE[r[3]] for r in rows]] = weights
    table = leaderboard_table(names, pair_counts_from_arrays(len(ids), pairs[kept], counts[kept]),
                              prior_ties=settings.ARENA["PROMPT_LEADERBOARD_PRIOR_TIES"])
    for row in table["rows"]:
        row["weighted_votes"] = round(float(row.pop("votes")), 2)
        row["effective_votes"] = round(float(effective_per_model[names.index(row["model"])]), 1)
    effective = float(weights.sum() ** 2 / (weights ** 2).sum())
    shown = {row["model"] for row in table["rows"]}
    too_few = [names[i] for i in np.flatnonzero(effective_per_model > 0) if names[i] not in shown]
    return {"prompt": prompt, "rows": table["rows"], "effective_votes": round(effective, 1),
            "votes_considered": len(rows), "not_enough_data": sorted(too_few)}


def effective_votes_per_model(pairs: np.ndarray, weights: np.ndarray, n_models: int) -> np.ndarray:
    """(Σw)² / Σw² over each model's own votes: how many equally weighted votes its weighted ones are worth."""
    total, squares = np.zeros(n_models), np.zeros(n_models)
    for side in (0, 1):
        np.add.at(total, pairs[:, side], weights)
        np.add.at(squares, pairs[:, side], weights ** 2)
    return np.divide(total ** 2, squares, out=np.zeros(n_models), where=squares > 0)
