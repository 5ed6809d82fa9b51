"""The arena's prompt-to-leaderboard heads: trained on a worker over the stored prompt embeddings
(ratings/p2l.py has the math), kept in PromptHeadFit, and asked for one prompt's or one category's
leaderboard.

A head answers only while the newest one of its arena passed the held-out test (it predicted votes it
never saw better than the global fit by more than two standard errors); otherwise the votes on similar
prompts answer (ratings/prompt_leaderboard.py). A published head also gives each leaderboard category its
view: its ratings at the mean embedding of the category's prompts, kept with the head when it is trained,
so the web side reads them without an encoder or a pass over the votes. The head's likelihood counts every
vote once: it takes no vote weights, and it gives no intervals (its uncertainty is not estimated), so its
rows carry none.
"""

import logging
import time

import numpy as np
from django.conf import settings
from django.db.models import Count, Max

from arena.errors import NotFound
from arena.models import Arena, ModelEndpoint
from ratings import prompt_leaderboard as similar_prompts
from ratings.battle_arrays import CHOICE_CODE
from ratings.models import PromptEmbedding, PromptHeadFit
from ratings.p2l import held_out_comparison, mean_embeddings
from ratings.queries import category_members, counted_votes
from ratings.snapshots import latest

KEEP_FITS = 5  # per arena: the newest answers, a few before it show the admin how the test went
NO_INTERVALS = "The head gives no intervals: its uncertainty is not estimated."

log = logging.getLogger(__name__)


def train_prompt_heads(encoder) -> list[PromptHeadFit]:
    """Embed the prompts not embedded yet, then train a head for each arena with enough votes, new ones among them."""
    similar_prompts.embed_missing_prompts(encoder)
    fits = [train_prompt_head(arena) for arena in Arena.objects.values_list("slug", flat=True)]
    return [fit for fit in fits if fit is not None]


def train_prompt_head(arena: str) -> PromptHeadFit | None:
    """Train, test and store the arena's head on its newest P2L_MAX_VOTES counted votes with an embedded
    prompt; None where there are fewer than P2L_MIN_VOTES, or the same votes as the newest head's."""
    embedded = PromptEmbedding.objects.filter(vote__in=counted_votes().filter(
        arena_id=arena, endpoint_a__isnull=False, endpoint_b__isnull=False))
    seen = embedded.aggregate(n=Count("vote_id"), last=Max("vote_id"))
    n = min(seen["n"], settings.ARENA["P2L_MAX_VOTES"])
    newest = PromptHeadFit.objects.newest(arena)
    if n < settings.ARENA["P2L_MIN_VOTES"] or (newest and (newest.votes, newest.last_vote_id) == (n, seen["last"])):
        return None
    started = time.monotonic()
    rows = list(embedded.order_by("-vote_id").values_list(
        "vote_id", "vote__endpoint_a_id", "vote__endpoint_b_id", "vote__choice", "vector")[:n])[::-1]
    ids = sorted({r[1] for r in rows} | {r[2] for r in rows})
    index = {e: i for i, e in enumerate(ids)}
    a = np.array([index[r[1]] for r in rows])
    b = np.array([index[r[2]] for r in rows])
    outcome = np.array([CHOICE_CODE[r[3]] for r in rows])
    x = np.frombuffer(b"".join(bytes(r[4]) for r in rows), dtype=np.float32).reshape(len(rows), -1)
    head, result = held_out_comparison(x, a, b, outcome, len(ids))
    members = category_members(np.array([r[0] for r in rows]), arena=arena)
    categories = {name: {"votes": int(members[name].sum()), "mean": [round(v, 6) for v in mean.tolist()],
                         "model_votes": _votes_per_model(a, b, len(ids), members[name])}
                  for name, mean in mean_embeddings(x, members).items()}
    endpoints = ModelEndpoint.objects.in_bulk(ids)
    fit = PromptHeadFit.objects.create(
        arena=arena, endpoint_ids=ids, model_names=[endpoints[e].public_name for e in ids],
        model_votes=_votes_per_model(a, b, len(ids)), categories=categories,
        dimensions=x.shape[1], weights=head.weights.astype(np.float32).tobytes(), votes=len(rows),
        last_vote_id=rows[-1][0], held_out_votes=result.votes, global_log_loss=result.global_log_loss,
        prompt_log_loss=result.prompt_log_loss, gain_standard_error=result.gain_standard_error,
        published=result.publish)
    kept = PromptHeadFit.objects.filter(arena=arena).order_by("-trained_at").values("pk")[:KEEP_FITS]
    PromptHeadFit.objects.filter(arena=arena).exclude(pk__in=kept).delete()
    log.info("prompt head of arena %s trained on %s votes in %.1f s: %s", arena, len(rows),
             time.monotonic() - started, fit.verdict())
    return fit


def _votes_per_model(a: np.ndarray, b: np.ndarray, n_models: int, among: np.ndarray | None = None) -> list[int]:
    if among is not None:
        a, b = a[among], b[among]
    return (np.bincount(a, minlength=n_models) + np.bincount(b, minlength=n_models)).tolist()


def board_for_prompt(prompt: str, encoder, *, arena: str = "text") -> dict:
    """One prompt's leaderboard: from the arena's newest head where it was published, else from the votes
    on similar prompts. `method` says which answered ("p2l_head" or "similar_prompts"), `p2l` how the
    newest head did on its held-out votes (None before the first)."""
    fit = PromptHeadFit.objects.newest(arena)
    p2l = fit.summary() if fit is not None else None
    if fit is not None and fit.published:
        embedding = encoder.encode([prompt])[0]
        rows = head_rows(fit, embedding, arena=arena) if len(embedding) == fit.dimensions else []
        if rows:
            return {"prompt": prompt, "method": "p2l_head", "rows": rows, "intervals": NO_INTERVALS, "p2l": p2l}
    return {**similar_prompts.leaderboard_for_prompt(prompt, encoder, arena=arena),
            "method": "similar_prompts", "p2l": p2l}


def board_for_category(category: str, *, arena: str = "text") -> dict:
    """A leaderboard category in the view of the arena's newest head, where it was published: its ratings
    at the mean embedding of the category's prompts among the votes it was trained and tested on (stored
    when it was trained), the mean of its per-prompt strengths over them. `votes` is how many those are, a
    row's `votes` the model's among them. NotFound, with a sentence, where there is no such view."""
    fit = PromptHeadFit.objects.newest(arena)
    if fit is None:
        raise NotFound("No prompt-to-leaderboard head has been trained for this arena yet.")
    if not fit.published:
        raise NotFound("This arena's newest prompt-to-leaderboard head is not published (it did not beat the "
                       "global fit on held-out votes), so it gives no leaderboard for a category.")
    entry = fit.categories.get(category)
    if entry is None:
        raise NotFound("None of the votes this arena's prompt-to-leaderboard head was trained on is in this category.")
    rows = head_rows(fit, np.asarray(entry["mean"]), arena=arena, votes=entry["model_votes"])
    if not rows:
        raise NotFound("None of the models this arena's prompt-to-leaderboard head rates is on its leaderboard now.")
    return {"arena": arena, "category": category, "method": "p2l_head", "votes": entry["votes"], "rows": rows,
            "intervals": NO_INTERVALS, "p2l": fit.summary()}


def head_rows(fit: PromptHeadFit, embedding: np.ndarray, *, arena: str, votes: list[int] | None = None) -> list[dict]:
    """The head's ratings at one embedding, best first, of the models it covers that the arena's
    leaderboard lists now (mean 1000 over those); `votes` are each model's votes the head saw (or those
    given, in the head's order)."""
    votes = fit.model_votes if votes is None else votes
    snapshot = latest("overall", arena=arena)
    listed = {row["model"] for row in snapshot.data.get("rows", [])} if snapshot else set()
    endpoints = ModelEndpoint.objects.in_bulk(fit.endpoint_ids)
    shown = [i for i, e in enumerate(fit.endpoint_ids) if e in endpoints and endpoints[e].public_name in listed]
    if not shown:
        return []
    ratings = fit.head().ratings(embedding, shown)
    rows = [{"model": endpoints[fit.endpoint_ids[i]].public_name, "rating": round(float(r), 1),
             "votes": votes[i]} for i, r in zip(shown, ratings, strict=True)]
    return sorted(rows, key=lambda row: -row["rating"])
