"""The leaderboard: Bradley-Terry ratings with intervals, UB ranks, vote counts and the matrices,
plus online Elo and style control over battles one by one.

Free of Django on purpose. `leaderboard_table` builds the table from pair counts: the recompute
(ratings/snapshots.py) and the prompt leaderboard hand it counts that PostgreSQL grouped, and
`compute_leaderboard` (`manage.py leaderboard`, over a battles file) the counts of its battles. The
result is plain JSON-ready data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ratings.battle_arrays import OUTCOME_SCORE, Battles, Outcome, PairCounts, aggregate
from ratings.bradley_terry import anchor_ratings, fit_bradley_terry, prior_l2, to_rating_scale
from ratings.elo import online_elo
from ratings.intervals import (
    anchored_covariance,
    bootstrap_thetas,
    normal_intervals,
    quantile_intervals,
    rank_upper_bound,
    sandwich_covariance,
)
from ratings.matrices import average_win_rate, battle_count_matrix, predicted_win_rate_matrix, win_fraction_matrix
from ratings.style import (
    fit_style_bradley_terry,
    pair_frequency_weights,
    standardize_features,
    style_features,
    style_sandwich_covariance,
)
from ratings.ties import DavidsonFit, davidson_sandwich_covariance, fit_davidson


def leaderboard_table(
    names: Sequence[str],
    counts: PairCounts,
    *,
    bootstrap_rounds: int = 0,
    seed: int = 0,
    anchor: tuple[str, float] | None = None,
    significance: float = 0.05,
    prior_ties: float = 0.0,
    pair_weighting: bool = False,
) -> dict[str, Any]:
    """Ratings, intervals, UB ranks and the matrices for the models of `names` that can be rated.

    `rows`: one per rated model (see `rated_models`), best rating first, with model, rating (BT
    MLE on the 400/base-10 scale, mean 1000 over the rated models unless anchored), ci_lower,
    ci_upper (sandwich when `bootstrap_rounds` is 0, else bootstrap percentiles), ci_method, votes
    (the counts' total per model, truncated to an integer) and rank_ub. `models`,
    `battle_counts`, `win_fraction`, `predicted_win_rate` and `average_win_rate` are in the rows'
    order. `unrated`: the models with votes but no finite rating, with their votes, wins, losses,
    ties and the reason; their votes are left out of the fit. `anchor=("model", 1114.0)` pins
    that model's rating, as FastChat does; its own interval then has zero width. Fewer than two
    rated models: no rows.

    `prior_ties` > 0 fits with a weak prior toward the mean (`bradley_terry.prior_l2`);
    `pair_weighting` weighs each battle by the inverse of its pair's battle count
    (`reweight_by_pair_frequency`). Both default off, which keeps the plain MLE.
    """
    votes = np.zeros(counts.n_models)
    np.add.at(votes, counts.pairs[:, 0], counts.n)
    np.add.at(votes, counts.pairs[:, 1], counts.n)
    rated = rated_models(counts)
    unrated = _unrated_rows(names, counts, votes, rated)
    used = np.flatnonzero(rated)
    if len(used) < 2:
        return {"rows": [], "models": [], "unrated": unrated}
    remap = np.full(counts.n_models, -1)
    remap[used] = np.arange(len(used))
    between_rated = (remap[counts.pairs] >= 0).all(axis=1)
    counts = PairCounts(len(used), remap[counts.pairs[between_rated]], counts.counts[between_rated])
    names, votes = [names[i] for i in used], votes[used]
    anchor_index = None if anchor is None else _model_index(names, anchor[0])
    fitted = reweight_by_pair_frequency(counts) if pair_weighting else counts
    l2 = prior_l2(prior_ties)
    theta = fit_bradley_terry(fitted, l2=l2)
    if bootstrap_rounds:
        samples = bootstrap_thetas(fitted, theta, rounds=bootstrap_rounds, seed=seed, l2=l2)
        rating, lower, upper = _bootstrap_scale(theta, samples, anchor_index, anchor, significance)
    else:
        cov = sandwich_covariance(fitted, theta, l2=l2)
        rating, lower, upper = _sandwich_scale(theta, cov, anchor_index, anchor, significance)
    ranks = rank_upper_bound(lower, upper)
    order = np.argsort(-rating, kind="stable")
    predicted = predicted_win_rate_matrix(rating[order])
    win = win_fraction_matrix(counts)[np.ix_(order, order)]
    return {
        "rows": [{"model": names[i], "rating": float(rating[i]), "ci_lower": float(lower[i]),
                  "ci_upper": float(upper[i]), "ci_method": "bootstrap" if bootstrap_rounds else "sandwich",
                  "votes": int(votes[i]), "rank_ub": int(ranks[i])} for i in order],
        "models": [names[i] for i in order],
        "battle_counts": battle_count_matrix(counts)[np.ix_(order, order)].astype(int).tolist(),
        "win_fraction": _json_matrix(win),
        "predicted_win_rate": _json_matrix(predicted),
        "average_win_rate": _json_matrix(average_win_rate(predicted)),
        "unrated": unrated,
    }


def rated_models(counts: PairCounts) -> np.ndarray:
    """Which models get a rating: a boolean mask over the models.

    The Bradley-Terry MLE is finite exactly when, within each connected part, every model has
    beaten and lost to every other through some chain of results (the win graph is strongly
    connected). Only decisive votes make these chains: a tie or "both bad" enters the fit as half a
    win for each side, but a model that has only tied shows no direction, and its sandwich interval
    would have zero width. So within each connected part the rated models are the strongly
    connected group of decisive results with the most votes, when it has at least two models; the
    others (first of all any model that has never won or never lost) have no rating yet. When every
    part is one such group, as in any well-posed fit, every model with votes is rated.
    """
    k = counts.n_models
    c = counts.counts
    a, b = counts.pairs[:, 0], counts.pairs[:, 1]
    a_won, b_won = c[:, Outcome.A] > 0, c[:, Outcome.B] > 0
    beats = sp.csr_matrix((np.ones(int(a_won.sum() + b_won.sum())),
                           (np.concatenate([a[a_won], b[b_won]]), np.concatenate([b[a_won], a[b_won]]))),
                          shape=(k, k))
    _, strong = connected_components(beats, directed=True, connection="strong")
    has_votes = counts.n > 0
    met = sp.csr_matrix((np.ones(int(has_votes.sum())), (a[has_votes], b[has_votes])), shape=(k, k))
    _, part = connected_components(met, directed=False)
    votes = np.zeros(k)
    np.add.at(votes, a, counts.n)
    np.add.at(votes, b, counts.n)
    group_votes = np.bincount(strong, weights=votes, minlength=k)
    group_size = np.bincount(strong, minlength=k)
    rated = np.zeros(k, dtype=bool)
    for p in np.unique(part[votes > 0]):
        groups = np.unique(strong[part == p])
        best = groups[np.argmax(group_votes[groups])]  # the first of equals: deterministic
        if group_size[best] >= 2:
            rated |= strong == best
    return rated


def reweight_by_pair_frequency(counts: PairCounts, *, min_pair_count: float = 50.0) -> PairCounts:
    """LMArena's reweighting on pair counts: each battle weighs 1 / max(battles of its pair,
    `min_pair_count`), scaled so the average battle weighs 1 (as `style.pair_frequency_weights`
    does battle by battle). A pair that is sampled often then no longer dominates the fit."""
    n = counts.n
    weights = 1.0 / np.maximum(n, min_pair_count)
    total = n.sum()
    if total == 0:
        return counts
    weights *= total / (n * weights).sum()
    return PairCounts(counts.n_models, counts.pairs, counts.counts * weights[:, None])


def _unrated_rows(names: Sequence[str], counts: PairCounts, votes: np.ndarray, rated: np.ndarray) -> list[dict]:
    c = counts.counts
    a, b = counts.pairs[:, 0], counts.pairs[:, 1]
    wins, losses = np.zeros(counts.n_models), np.zeros(counts.n_models)
    np.add.at(wins, a, c[:, Outcome.A])
    np.add.at(wins, b, c[:, Outcome.B])
    np.add.at(losses, a, c[:, Outcome.B])
    np.add.at(losses, b, c[:, Outcome.A])
    rows = []
    for i in np.flatnonzero((votes > 0) & ~rated):
        if wins[i] == 0 and losses[i] == 0:
            reason = "only ties so far"
        elif losses[i] == 0:
            reason = "has not lost a vote yet"
        elif wins[i] == 0:
            reason = "has not won a vote yet"
        else:
            reason = "not yet both beaten and beaten by the rated models"
        rows.append({"model": names[i], "votes": int(votes[i]), "wins": round(float(wins[i]), 2),
                     "losses": round(float(losses[i]), 2), "ties": round(float(votes[i] - wins[i] - losses[i]), 2),
                     "reason": reason})
    rows.sort(key=lambda r: -r["votes"])
    return rows


def compute_leaderboard(
    battles: Battles,
    *,
    style_control: bool = False,
    bootstrap_rounds: int = 0,
    anchor: tuple[str, float] | None = None,
    seed: int = 0,
    significance: float = 0.05,
) -> list[dict[str, Any]]:
    """The rows of `leaderboard_table` for these battles, each with elo (`elo_in_vote_order`) and, with
    `style_control`, style_rating, style_ci_lower, style_ci_upper, style_rank_ub (needs the
    `style_a`/`style_b` fields).
    """
    battles = _without_idle_models(battles)
    if len(battles) == 0:
        return []
    rows = leaderboard_table(battles.models, aggregate(battles), bootstrap_rounds=bootstrap_rounds, seed=seed,
                             anchor=anchor, significance=significance)["rows"]
    index = {name: i for i, name in enumerate(battles.models)}
    elo = elo_in_vote_order(battles)
    for row in rows:
        row["elo"] = elo[row["model"]]
    if style_control:
        anchor_index = None if anchor is None else battles.model_index(anchor[0])
        style_rating, style_lower, style_upper = _style_ratings(
            battles, bootstrap_rounds=bootstrap_rounds, seed=seed, significance=significance,
            anchor_index=anchor_index, anchor=anchor,
        )
        style_rank = rank_upper_bound(style_lower, style_upper)
        for row in rows:
            i = index[row["model"]]
            row.update(style_rating=float(style_rating[i]), style_ci_lower=float(style_lower[i]),
                       style_ci_upper=float(style_upper[i]), style_rank_ub=int(style_rank[i]))
    return rows


def elo_in_vote_order(battles: Battles) -> dict[str, float]:
    """Online Elo per model name after every battle, in vote order (by `tstamp` when the battles have it)."""
    order = np.argsort(battles.fields["tstamp"], kind="stable") if "tstamp" in battles.fields else slice(None)
    elo = online_elo(battles.model_a[order], battles.model_b[order], battles.outcome[order], battles.n_models)
    return {name: float(rating) for name, rating in zip(battles.models, elo, strict=True)}


def add_davidson_columns(
    battles: Battles, rows: list[dict[str, Any]], *, anchor: tuple[str, float] | None = None,
    significance: float = 0.05,
) -> DavidsonFit:
    """Add davidson_rating, davidson_ci_lower, davidson_ci_upper (sandwich) and davidson_rank_ub to the
    rows of `compute_leaderboard`, fitted over the same rated models; returns the fit (its tie parameter)."""
    names = [row["model"] for row in rows]
    index = np.array([battles.model_index(name) for name in names])
    remap = np.full(battles.n_models, -1)
    remap[index] = np.arange(len(index))
    counts = aggregate(battles)
    between_rated = (remap[counts.pairs] >= 0).all(axis=1)
    counts = PairCounts(len(names), remap[counts.pairs[between_rated]], counts.counts[between_rated])
    fit = fit_davidson(counts)
    cov = davidson_sandwich_covariance(counts, fit)
    anchor_index = None if anchor is None else _model_index(names, anchor[0])
    rating, lower, upper = _sandwich_scale(fit.theta, cov, anchor_index, anchor, significance)
    ranks = rank_upper_bound(lower, upper)
    for i, row in enumerate(rows):
        row.update(davidson_rating=float(rating[i]), davidson_ci_lower=float(lower[i]),
                   davidson_ci_upper=float(upper[i]), davidson_rank_ub=int(ranks[i]))
    return fit


def _model_index(names: list[str], name: str) -> int:
    try:
        return names.index(name)
    except ValueError:
        raise KeyError(f"model {name!r} has no battles") from None


def _json_matrix(values: np.ndarray) -> list:
    """Rounded, with the undefined cells (a model against itself) as null: JSON has no NaN."""
    return np.where(np.isnan(values), None, np.round(values, 4)).tolist()


def _without_idle_models(battles: Battles) -> Battles:
    """Drop models with no battles: they have no rating, only a singular Hessian row."""
    votes = battles.votes_per_model()
    if votes.all():
        return battles
    used = np.flatnonzero(votes)
    new_index = np.full(battles.n_models, -1, dtype=np.int32)
    new_index[used] = np.arange(len(used), dtype=np.int32)
    return Battles(
        models=tuple(battles.models[i] for i in used),
        model_a=new_index[battles.model_a],
        model_b=new_index[battles.model_b],
        outcome=battles.outcome,
        fields=battles.fields,
    )


def _sandwich_scale(theta, cov, anchor_index, anchor, significance):
    if anchor_index is not None:
        cov = anchored_covariance(cov, anchor_index)
    lower, upper = normal_intervals(theta, np.diag(cov), significance=significance)
    rating, lower, upper = (to_rating_scale(x) for x in (theta, lower, upper))
    if anchor_index is not None:
        shift = anchor[1] - rating[anchor_index]
        rating, lower, upper = rating + shift, lower + shift, upper + shift
    return rating, lower, upper


def _bootstrap_scale(theta, samples, anchor_index, anchor, significance):
    rating, samples = to_rating_scale(theta), to_rating_scale(samples)
    if anchor_index is not None:
        rating = anchor_ratings(rating, anchor_index, anchor[1])
        samples = anchor_ratings(samples, anchor_index, anchor[1])
    lower, upper = quantile_intervals(samples, significance=significance)
    return rating, lower, upper


def _style_ratings(battles, *, bootstrap_rounds, seed, significance, anchor_index, anchor):
    if "style_a" not in battles.fields or "style_b" not in battles.fields:
        raise ValueError("style control needs the style_a and style_b fields (answer length and markdown counts)")
    relative = style_features(battles.fields["style_a"], battles.fields["style_b"], standardize=False)
    return style_controlled_ratings(
        battles.model_a, battles.model_b, OUTCOME_SCORE[battles.outcome], relative, battles.n_models,
        bootstrap_rounds=bootstrap_rounds, seed=seed, significance=significance,
        anchor_index=anchor_index, anchor=anchor,
    )


def style_controlled_ratings(
    a: np.ndarray,
    b: np.ndarray,
    score: np.ndarray,
    relative: np.ndarray,
    n_models: int,
    *,
    bootstrap_rounds: int = 0,
    seed: int = 0,
    significance: float = 0.05,
    anchor_index: int | None = None,
    anchor: tuple[str, float] | None = None,
    start: np.ndarray | None = None,
    vote_weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Style-controlled rating, lower and upper bound per model from one row per battle.
    `vote_weights` (default 1 each) weigh the battles on top of the pair-frequency weights.

    `relative` (N, F) holds each battle's (a - b) / (a + b) per style element; it is standardised
    here, over these battles. Every model must have battles (drop idle ones first). `start`, the
    models' strengths in natural units from a plain Bradley-Terry fit, only saves Newton steps:
    the optimum is the same.
    """
    features = standardize_features(relative)
    weights = pair_frequency_weights(a, b)
    if vote_weights is not None:
        weights = weights * vote_weights
    init = None if start is None else (start, np.zeros(features.shape[1]))
    fit = fit_style_bradley_terry(a, b, score, features, n_models, weights=weights, init=init)
    k = n_models
    if not bootstrap_rounds:
        cov = style_sandwich_covariance(fit, a, b, score, features, weights=weights)[:k, :k]
        return _sandwich_scale(fit.theta, cov, anchor_index, anchor, significance)
    rng = np.random.default_rng(seed)
    rows = len(score)
    samples = np.empty((bootstrap_rounds, k))
    for i in range(bootstrap_rounds):
        multiplicity = np.bincount(rng.integers(0, rows, rows), minlength=rows)
        samples[i] = fit_style_bradley_terry(
            a, b, score, features, k, weights=weights * multiplicity, init=(fit.theta, fit.beta)
        ).theta
    return _bootstrap_scale(fit.theta, samples, anchor_index, anchor, significance)
