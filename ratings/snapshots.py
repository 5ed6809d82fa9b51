"""Recompute the leaderboards from the votes and store them as snapshots; pages only read snapshots.

Each arena has its own leaderboard, from the votes of the battles drawn in it: one snapshot per
(arena, category). Every table comes from pair counts that PostgreSQL groups in one scan of the
votes table (one row per arena, model pair and outcome, one count column per category), so the
fits never load one row per vote. Only two things need votes one by one, read as arrays: online Elo (vote order
matters; continued from the last snapshot over the new votes only) and style control (four
relative differences per vote; refitted every LEADERBOARD_STYLE_SECONDS). The recompute first packs
the votes cast since the last chunk into column-store chunks (ratings/vote_chunks.py), so a refit
reads a few blobs and a short tail instead of a million rows.

Every published table is kept: it is the leaderboard's history (ratings/history.py). A recompute
that finds a table unchanged (same votes, same rows) publishes nothing new; it only refreshes the
state the next recompute continues from (Elo, style fit time) in the snapshot in force. Only the
newest FULL_SNAPSHOTS of each arena and category keep their matrices and that state: history needs
the rows, and an old snapshot's pair-by-pair matrices would grow the table by models² per row.
"""

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from arena.models import DEFAULT_ARENA, Arena, ModelEndpoint
from ratings import vote_chunks
from ratings.battle_arrays import OUTCOME_SCORE, PairCounts, pair_counts_from_arrays
from ratings.bradley_terry import fit_bradley_terry
from ratings.elo import online_elo
from ratings.intervals import rank_upper_bound
from ratings.leaderboard import leaderboard_table, style_controlled_ratings
from ratings.models import LeaderboardSnapshot
from ratings.pair_sampling import active_pair_weights, pair_score_variance
from ratings.queries import (
    CATEGORY_FILTERS,
    arena_category_pair_counts,
    compute_per_answer,
    exclusion_counts,
    vote_arrays,
)

log = logging.getLogger(__name__)
MIN_VOTES_FOR_STYLE = 30
FULL_SNAPSHOTS = 5
# What only the newest snapshots need: the charts' matrices and the state the next recompute continues from.
HEAVY_KEYS = ["battle_counts", "win_fraction", "predicted_win_rate", "average_win_rate", "sampling", "elo_state",
              "style", "compute_per_answer"]
# What a reader sees: a recompute that leaves all of it as it was publishes no new snapshot.
PUBLIC_KEYS = ("rows", "unrated", "excluded")


def sampling_state(ids: list[int], counts: PairCounts) -> dict:
    """What active pair sampling needs, precomputed: the paper's weight per pair and the votes per
    model (see ratings/pair_sampling.py); the arena reads it when it starts a battle."""
    n = np.zeros((len(ids), len(ids)))
    n[counts.pairs[:, 0], counts.pairs[:, 1]] = counts.n
    n += n.T
    weights = active_pair_weights(n, pair_score_variance(counts))
    return {"endpoint_ids": ids, "weights": np.round(weights, 8).tolist(), "votes": n.sum(axis=1).astype(int).tolist()}


def per_vote_parts(ids: list[int], names: list[str], previous: dict | None, *, arena: str = DEFAULT_ARENA) -> dict:
    """Online Elo of one arena, continued from its previous snapshot's state over the votes cast
    since, and the slower parts (style control over every vote, compute per answer over every
    answer), refreshed at most every ``LEADERBOARD_STYLE_SECONDS`` and carried over in between.
    One read of the votes (the packed chunks, then a binary COPY of the rest) serves both."""
    state = (previous or {}).get("elo_state") or {"last_vote_id": 0, "ratings": {}}
    refresh = previous is None or time.time() - previous.get("style_fitted_at", 0) >= settings.LEADERBOARD_STYLE_SECONDS
    votes = vote_arrays(ids, after_id=0 if refresh else state["last_vote_id"], style=refresh, arena=arena)
    new = votes["id"] > state["last_vote_id"]
    initial = np.array([state["ratings"].get(str(e), 1000.0) for e in ids])
    elo = online_elo(votes["a"][new], votes["b"][new], votes["outcome"][new], len(ids), initial=initial,
                     weights=votes["weight"][new])
    last = int(votes["id"][-1]) if len(votes["id"]) else state["last_vote_id"]
    parts = {"elo_state": {"last_vote_id": max(last, state["last_vote_id"]),
                           "ratings": {str(e): float(r) for e, r in zip(ids, elo, strict=True)}}}
    if refresh:
        parts["style_fitted_at"] = time.time()
        parts["style"] = _style_rows(names, votes, start=_plain_strengths(votes, len(ids)))
        parts["compute_per_answer"] = {str(e): v for e, v in compute_per_answer().items()}
    else:
        for key in ("style_fitted_at", "style", "compute_per_answer"):
            parts[key] = previous.get(key, {})
    return parts


def _add_per_vote_parts(table: dict, ids: list[int], names: list[str], parts: dict) -> None:
    table.update(parts)
    for row in table["rows"]:
        row["elo"] = parts["elo_state"]["ratings"][str(ids[names.index(row["model"])])]
        row.update(parts["style"].get(row["model"], {}))


def _plain_strengths(votes: dict[str, np.ndarray], n_models: int) -> np.ndarray:
    """Plain Bradley-Terry strengths (natural units) from the vote arrays themselves: where the
    style fit starts, which saves it half its Newton steps (the optimum is the same)."""
    pair = votes["a"] * n_models + votes["b"]
    table = np.bincount(pair * 4 + votes["outcome"], weights=votes["weight"],
                        minlength=n_models * n_models * 4).reshape(-1, 4)
    used = np.flatnonzero(table.sum(axis=1))
    counts = pair_counts_from_arrays(n_models, np.stack([used // n_models, used % n_models], axis=1), table[used])
    return fit_bradley_terry(counts)


def _style_rows(names: list[str], votes: dict[str, np.ndarray], start: np.ndarray | None = None) -> dict[str, dict]:
    """Style-controlled rating, interval and UB rank per model name (none below MIN_VOTES_FOR_STYLE
    votes). `start` (strengths of all models, natural units) is where the fit starts, if given."""
    if len(votes["id"]) < MIN_VOTES_FOR_STYLE:
        return {}
    played = np.flatnonzero(np.bincount(votes["a"], minlength=len(names))
                            + np.bincount(votes["b"], minlength=len(names)))
    remap = np.full(len(names), -1)
    remap[played] = np.arange(len(played))
    try:
        rating, lower, upper = style_controlled_ratings(remap[votes["a"]], remap[votes["b"]],
                                                        OUTCOME_SCORE[votes["outcome"]], votes["style"], len(played),
                                                        start=None if start is None else start[played],
                                                        vote_weights=votes["weight"])
    except (ValueError, np.linalg.LinAlgError):
        log.warning("style control could not be fitted on %s votes", len(votes["id"]), exc_info=True)
        return {}
    ranks = rank_upper_bound(lower, upper)
    return {names[m]: {"style_rating": float(rating[i]), "style_ci_lower": float(lower[i]),
                       "style_ci_upper": float(upper[i]), "style_rank_ub": int(ranks[i])} for i, m in enumerate(played)}


def _in_own_connection(function, *args):
    """Run a query in a worker thread: Django gives the thread its own connection; close it after."""
    try:
        return function(*args)
    finally:
        connection.close()


def recompute() -> list[LeaderboardSnapshot]:
    started = time.monotonic()
    # The tables are stamped with the time this recompute began reading, not the time it finished:
    # a slow recompute that read the votes before another one began must not publish over it
    # (_publish keeps the later stamp), whichever of the two finishes last.
    now = timezone.now()
    packed = vote_chunks.pack()
    if packed:
        log.info("packed %s chunks of %s votes for the refits", packed, vote_chunks.CHUNK_VOTES)
    endpoints = list(ModelEndpoint.objects.order_by("id"))
    ids, names = [e.id for e in endpoints], [e.public_name for e in endpoints]
    arenas = list(Arena.objects.values_list("slug", flat=True))
    # PostgreSQL groups every arena's and category's counts while this process reads the votes one
    # by one and fits Elo and style control: the two overlap on the two sides of the connection.
    with ThreadPoolExecutor(max_workers=1) as pool:
        grouped = pool.submit(_in_own_connection, arena_category_pair_counts, ids, arenas)
        parts = {}
        for arena in arenas:
            previous = latest("overall", arena=arena)
            parts[arena] = per_vote_parts(ids, names, previous.data if previous else None, arena=arena)
        by_arena = grouped.result()
    excluded = exclusion_counts()
    snapshots = []
    for arena in arenas:
        snapshots += _arena_snapshots(arena, by_arena[arena], parts[arena], endpoints, excluded, now)
    with transaction.atomic():
        published = _publish(snapshots)
        slim_superseded(arenas)
    log.info("leaderboards of %s arenas recomputed in %.2f s (%s new snapshots)", len(arenas),
             time.monotonic() - started, len(published))
    return snapshots


# pg_advisory_xact_lock key held while publishing (any fixed number unique within the project).
PUBLISH_LOCK = 0x4C42_5055


def _publish(snapshots: list[LeaderboardSnapshot]) -> list[LeaderboardSnapshot]:
    """Insert the snapshots whose public table changed; for the others, carry the new recompute
    state into the snapshot in force, which keeps its publication time. Returns the inserted ones."""
    with connection.cursor() as cursor:  # two recomputes at once publish one after the other, not both
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [PUBLISH_LOCK])
    changed = []
    for snapshot in snapshots:  # one index lookup each: history can hold hundreds of thousands of rows
        current = latest(snapshot.category, arena=snapshot.arena)
        if current is not None and current.computed_at > snapshot.computed_at:
            continue  # a recompute that began later has already published: this table is older than it
        if current is not None and _same_table(current, snapshot):
            current.data = snapshot.data
            current.save(update_fields=["data"])
            snapshot.pk, snapshot.computed_at = current.pk, current.computed_at
        else:
            changed.append(snapshot)
    return LeaderboardSnapshot.objects.bulk_create(changed)


def _same_table(current: LeaderboardSnapshot, new: LeaderboardSnapshot) -> bool:
    return current.total_votes == new.total_votes and all(
        current.data.get(key) == json.loads(json.dumps(new.data.get(key))) for key in PUBLIC_KEYS)


def slim_superseded(arenas: list[str]) -> None:
    """Drop HEAVY_KEYS from the snapshots that fell out of the newest FULL_SNAPSHOTS (a few per
    arena and category at a time: those before were slimmed when they fell out)."""
    ids = []
    for arena in arenas:
        for category in CATEGORY_FILTERS:
            ids += LeaderboardSnapshot.objects.filter(arena=arena, category=category).order_by(
                "-computed_at").values_list("pk", flat=True)[FULL_SNAPSHOTS:FULL_SNAPSHOTS + 5]
    if ids:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE ratings_leaderboardsnapshot SET data = data - %s::text[] "
                           "WHERE id = ANY(%s) AND data ?| %s::text[]", [HEAVY_KEYS, ids, HEAVY_KEYS])


def _arena_snapshots(arena: str, by_category: dict[str, PairCounts], parts: dict, endpoints: list[ModelEndpoint],
                     excluded: dict[str, int], now) -> list[LeaderboardSnapshot]:
    ids, names = [e.id for e in endpoints], [e.public_name for e in endpoints]
    snapshots = []
    compute: dict = {}
    for category, counts in by_category.items():
        table = leaderboard_table(names, counts, bootstrap_rounds=settings.LEADERBOARD_BOOTSTRAP,
                                  prior_ties=settings.ARENA["LEADERBOARD_PRIOR_TIES"],
                                  pair_weighting=settings.ARENA["LEADERBOARD_PAIR_WEIGHTING"])
        if category == "overall":
            table["sampling"] = sampling_state(ids, counts)
        if category == "overall" and table["rows"]:
            _add_per_vote_parts(table, ids, names, parts)
            compute = table["compute_per_answer"]
        for row in table["rows"]:
            endpoint = endpoints[names.index(row["model"])]
            row["organisation"] = endpoint.public_organisation
            if endpoint.identity_published:  # a codename's kind, licence and compute would say what it is
                row.update(license=endpoint.license, backend=endpoint.backend, **compute.get(str(endpoint.id), {}))
            else:
                row.update(license="", backend="")
        table["excluded"] = excluded
        table["recomputed_at"] = now.isoformat()  # kept current even where the public table is unchanged
        total = int(round(counts.total))  # unrated models' votes too
        snapshots.append(LeaderboardSnapshot(arena=arena, category=category, computed_at=now, total_votes=total,
                                             data=table))
    return snapshots


def latest(category: str = "overall", *, arena: str = DEFAULT_ARENA) -> LeaderboardSnapshot | None:
    return LeaderboardSnapshot.objects.filter(arena=arena, category=category).order_by("-computed_at").first()


def latest_of_arenas(arenas: list[str]) -> list[LeaderboardSnapshot]:
    """The newest snapshot of every category of these arenas, in one query."""
    return list(LeaderboardSnapshot.objects.filter(arena__in=arenas).order_by("arena", "category", "-computed_at")
                .distinct("arena", "category"))
