"""Which model is best for questions like mine? A leaderboard where each counted vote weighs by
how similar its prompt is to the asked one (cosine of all-MiniLM embeddings).

Weights are exp((similarity − 1) / temperature) over the votes, so near-duplicates count fully and
unrelated prompts almost not at all; the Bradley-Terry fit runs on the weighted pair counts. The
effective number of votes (Σw)² / Σw² says how much evidence the answer rests on. Runs on a worker
(it needs the embedding model) as a job the web process waits for (arena/jobs.py).
"""

import numpy as np

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
        "id", "battle__endpoint_a_id", "battle__endpoint_b_id", "choice"))
    if not rows:
        return {"prompt": prompt, "rows": [], "effective_votes": 0.0}
    vectors = dict(PromptEmbedding.objects.filter(vote_id__in=[r[0] for r in rows]).values_list("vote_id", "vector"))
    matrix = np.stack([np.frombuffer(bytes(vectors[r[0]]), dtype=np.float32) for r in rows])
    query = encoder.encode([prompt])[0]
    weights = np.exp((matrix @ query - 1.0) / TEMPERATURE)
    pairs = np.array([(index[a], index[b]) for _, a, b, _ in rows])
    counts = np.zeros((len(rows), 4))
    counts[np.arange(len(rows)), [CHOICE_CODE[c] for *_, c in rows]] = weights
    table = leaderboard_table(names, pair_counts_from_arrays(len(ids), pairs, counts))
    for row in table["rows"]:
        row["weighted_votes"] = round(float(row.pop("votes")), 2)
    effective = float(weights.sum() ** 2 / (weights ** 2).sum())
    return {"prompt": prompt, "rows": table["rows"], "effective_votes": round(effective, 1),
            "votes_considered": len(rows)}
