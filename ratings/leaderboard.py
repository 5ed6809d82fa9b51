"""The leaderboard: Bradley-Terry ratings with intervals, UB ranks, vote counts and online Elo.

Free of Django on purpose: the ORM side aggregates votes into a `Battles` and calls
`compute_leaderboard`; the result is plain JSON-ready data.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ratings.battles import OUTCOME_SCORE, Battles, aggregate
from ratings.bradley_terry import anchor_ratings, fit_bradley_terry, to_rating_scale
from ratings.elo import online_elo
from ratings.intervals import (
    anchored_covariance,
    bootstrap_thetas,
    normal_intervals,
    quantile_intervals,
    rank_upper_bound,
    sandwich_covariance,
)
from ratings.style import (
    fit_style_bradley_terry,
    pair_frequency_weights,
    standardize_features,
    style_features,
    style_sandwich_covariance,
)


def compute_leaderboard(
    battles: Battles,
    *,
    style_control: bool = False,
    bootstrap_rounds: int = 0,
    anchor: tuple[str, float] | None = None,
    seed: int = 0,
    significance: float = 0.05,
) -> list[dict[str, Any]]:
    """One row per model that has votes, best rating first.

    Keys: model, rating (BT MLE on the 400/base-10 scale, mean 1000 unless anchored), ci_lower,
    ci_upper (sandwich when `bootstrap_rounds` is 0, else bootstrap percentiles), ci_method,
    votes, rank_ub, elo (online Elo in vote order: by `tstamp` when the battles have it).
    With `style_control`: style_rating, style_ci_lower, style_ci_upper, style_rank_ub (needs the
    `style_a`/`style_b` fields). `anchor=("model", 1114.0)` pins that model's rating, as FastChat
    does; its own interval then has zero width.
    """
    battles = _without_idle_models(battles)
    if len(battles) == 0:
        return []
    anchor_index = None if anchor is None else battles.model_index(anchor[0])
    counts = aggregate(battles)
    theta = fit_bradley_terry(counts)
    if bootstrap_rounds:
        samples = bootstrap_thetas(counts, theta, rounds=bootstrap_rounds, seed=seed)
        rating, lower, upper = _bootstrap_scale(theta, samples, anchor_index, anchor, significance)
    else:
        cov = sandwich_covariance(counts, theta)
        rating, lower, upper = _sandwich_scale(theta, cov, anchor_index, anchor, significance)

    order = np.argsort(battles.fields["tstamp"], kind="stable") if "tstamp" in battles.fields else slice(None)
    elo = online_elo(battles.model_a[order], battles.model_b[order], battles.outcome[order], battles.n_models)
    rows = [
        {
            "model": name,
            "rating": float(rating[i]),
            "ci_lower": float(lower[i]),
            "ci_upper": float(upper[i]),
            "ci_method": "bootstrap" if bootstrap_rounds else "sandwich",
            "votes": int(votes),
            "rank_ub": int(rank),
            "elo": float(elo[i]),
        }
        for i, (name, votes, rank) in enumerate(
            zip(battles.models, battles.votes_per_model(), rank_upper_bound(lower, upper))
        )
    ]

    if style_control:
        style_rating, style_lower, style_upper = _style_ratings(
            battles, bootstrap_rounds=bootstrap_rounds, seed=seed, significance=significance,
            anchor_index=anchor_index, anchor=anchor,
        )
        for row, r, lo, hi, rank in zip(
            rows, style_rating, style_lower, style_upper, rank_upper_bound(style_lower, style_upper)
        ):
            row.update(
                style_rating=float(r), style_ci_lower=float(lo), style_ci_upper=float(hi), style_rank_ub=int(rank)
            )
    return sorted(rows, key=lambda row: -row["rating"])


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
        bootstrap_rounds=bootstrap_rounds, seed=seed, significance=significance, anchor_index=anchor_index, anchor=anchor,
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
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Style-controlled rating, lower and upper bound per model from one row per battle.

    `relative` (N, F) holds each battle's (a - b) / (a + b) per style element; it is standardised
    here, over these battles. Every model must have battles (drop idle ones first). `start`, the
    models' strengths in natural units from a plain Bradley-Terry fit, only saves Newton steps:
    the optimum is the same.
    """
    features = standardize_features(relative)
    weights = pair_frequency_weights(a, b)
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
