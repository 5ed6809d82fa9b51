"""Bradley-Terry ratings by maximum likelihood, as LMArena publishes them.

P(a beats b) = 1 / (1 + base ** ((R_b - R_a) / scale)), scale 400, base 10; a tie or "both bad"
counts as half a win for each side. Internally ratings are natural log-odds `theta`, and
R = theta * scale / ln(base) + init_rating.

The likelihood only sees rating differences, so the MLE is defined up to a constant. Like
arena-rank (whose L-BFGS starts at zero and only ever moves along gradients, which sum to zero),
the fit returns the solution with mean zero in each connected part of the comparison graph, so
that published ratings average `init_rating`. An anchor (FastChat's "pin mixtral to 1114")
moves them afterwards; see `anchor_ratings`.

The fit is Newton's method on the aggregated counts: each step costs O(pairs + K^3) whatever the
number of votes. The same code fits a whole batch of count vectors at once (the bootstrap).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.special import expit

from ratings.battle_arrays import PairCounts

SCALE = 400.0
BASE = 10.0
INIT_RATING = 1000.0
FTOL = 1e-12


def rating_units(*, scale: float = SCALE, base: float = BASE) -> float:
    """Rating points per unit of natural log-odds (400 / ln 10 ~ 173.7)."""
    return scale / math.log(base)


def to_rating_scale(
    theta: np.ndarray, *, scale: float = SCALE, base: float = BASE, init_rating: float = INIT_RATING
) -> np.ndarray:
    return np.asarray(theta) * rating_units(scale=scale, base=base) + init_rating


def fit_bradley_terry(
    counts: PairCounts,
    *,
    init: np.ndarray | None = None,
    max_iter: int = 100,
    tol: float = 1e-10,
    l2: float = 0.0,
) -> np.ndarray:
    """MLE of the natural-unit strengths `theta` (shape (K,)), mean zero per connected part.

    Models with no battles get 0. When a model has only wins (or only losses) the MLE does not
    exist: the fit then stops where the loss stops changing (rel. 1e-12), which leaves that
    model some thousands of points away, as arena-rank's stopping rule does (about 1e-9 there).
    `ratings.leaderboard.rated_models` says which models have a finite rating; the leaderboard
    shows the others as "not enough data".

    `l2` > 0 adds the penalty l2/2 * sum(theta**2): a normal prior toward the mean with variance
    1/l2 (natural units), so every rating is finite and pulled toward 1000 in proportion to how
    little data it has. `prior_l2` turns "as if each model had tied n votes with an average model"
    into this number.
    """
    theta0 = None if init is None else np.asarray(init, dtype=np.float64)[None, :]
    return fit_bradley_terry_batch(
        counts.pairs, counts.n[None, :], counts.score[None, :], counts.n_models,
        init=theta0, max_iter=max_iter, tol=tol, l2=l2,
    )[0]


def prior_l2(prior_ties: float) -> float:
    """The L2 weight equal, near the mean, to `prior_ties` ties of each model against a model of
    rating 1000: n ties cost n * (softplus(theta) - theta / 2) ~ const + n * theta**2 / 8."""
    return max(0.0, float(prior_ties)) / 4.0


def fit_bradley_terry_batch(
    pairs: np.ndarray,
    n: np.ndarray,
    score: np.ndarray,
    n_models: int,
    *,
    init: np.ndarray | None = None,
    max_iter: int = 100,
    tol: float = 1e-10,
    l2: float = 0.0,
) -> np.ndarray:
    """Fit B independent count vectors over the same pairs at once.

    `n[b, i]` battles and `score[b, i]` summed scores of `pairs[i, 0]` in problem b; returns
    theta of shape (B, K). Damped Newton: each problem solves its own K x K system and backtracks
    its own step, and stops when its step is below `tol` (natural units). `l2`: as in
    `fit_bradley_terry`. The penalty's gradient has mean zero per part too, so the per-part
    centring below still holds at the penalised optimum.
    """
    pairs = np.asarray(pairs, dtype=np.int64)
    n = np.atleast_2d(np.asarray(n, dtype=np.float64))
    score = np.atleast_2d(np.asarray(score, dtype=np.float64))
    batch, k = n.shape[0], n_models
    theta = np.zeros((batch, k)) if init is None else np.array(np.broadcast_to(init, (batch, k)), dtype=np.float64)
    if len(pairs) == 0:
        return theta
    a, b = pairs[:, 0], pairs[:, 1]
    incidence = _incidence(pairs, k)
    laplacian = _laplacian_map(pairs, k)
    # The Hessian is singular along each connected part's constant direction. A tiny ridge makes
    # the systems solvable, and every step is projected off those directions, so per-part means
    # stay where they started (zero from the default start) instead of drifting with rounding.
    ridge = 1e-10 * max(1.0, float(n.sum(axis=1).max()))
    eye = np.eye(k)
    centre = centring_by_part(pairs[(n > 0).any(axis=0)], k)

    def loss(th: np.ndarray, rows: np.ndarray) -> np.ndarray:
        d = th[:, a] - th[:, b]
        return (n[rows] * _softplus(d) - score[rows] * d).sum(axis=1) + 0.5 * l2 * (th**2).sum(axis=1)

    # Near the optimum Newton converges quadratically: a step below `final` is taken without a
    # line search and leaves an error around final**2, far below `tol`.
    final = 0.1 * np.sqrt(tol)
    known_loss = np.full(batch, np.nan)  # loss at the current theta, when the line search saw it
    active = np.arange(batch)
    for _ in range(max_iter):
        th = theta[active]
        d = th[:, a] - th[:, b]
        p = expit(d)
        grad = (incidence.T @ (n[active] * p - score[active]).T).T + l2 * th
        weights = n[active] * p * (1.0 - p)
        hess = (laplacian.T @ weights.T).T.reshape(-1, k, k) + (ridge + l2) * eye
        step = centre(-np.linalg.solve(hess, grad[:, :, None])[:, :, 0])
        size = np.abs(step).max(axis=1)
        last = size <= final
        theta[active[last]] = th[last] + step[last]
        searching = np.flatnonzero(~last)
        rows = active[searching]
        if len(rows) == 0:
            break
        th, step, grad, d = th[searching], step[searching], grad[searching], d[searching]
        f0 = known_loss[rows]
        unknown = np.isnan(f0)
        f0[unknown] = loss(th[unknown], rows[unknown])
        slope = (grad * step).sum(axis=1)
        t = np.ones(len(rows))
        f_new = np.empty(len(rows))
        todo = np.arange(len(rows))
        for _ in range(40):  # backtracking (Armijo); Newton's full step is almost always taken
            f_trial = loss(th[todo] + t[todo, None] * step[todo], rows[todo])
            ok = f_trial <= f0[todo] + 1e-4 * t[todo] * slope[todo] + 1e-12 * np.abs(f0[todo])
            f_new[todo[ok]] = f_trial[ok]
            todo = todo[~ok]
            if len(todo) == 0:
                break
            t[todo] *= 0.5
        theta[rows] = th + t[:, None] * step
        known_loss[rows] = f_new
        # Also stop once the mean loss barely moves (arena-rank's ftol test, tighter). A converging
        # fit gets here only within ~1e-6 of the optimum, where the next step would not matter;
        # a diverging one (a model that never lost) gets here instead of running to max_iter.
        battles = np.maximum(n[rows].sum(axis=1), 1.0)
        flat = (f0 - f_new) / battles <= FTOL * np.maximum(np.abs(f_new) / battles, 1.0)
        active = rows[(t * size[searching] > tol) & ~flat]
        if len(active) == 0:
            break
    return theta


def _softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + e^x), stable, and about twice as fast as np.logaddexp(0, x)."""
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def centring_by_part(pairs: np.ndarray, k: int) -> Callable[[np.ndarray], np.ndarray]:
    """A function removing, from each row of a (B, K) array, its mean over each connected part."""
    graph = sp.csr_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(k, k))
    n_parts, labels = connected_components(graph, directed=False)
    averaging = np.zeros((k, n_parts))
    averaging[np.arange(k), labels] = 1.0
    averaging /= averaging.sum(axis=0)

    def centre(x: np.ndarray) -> np.ndarray:
        return x - (x @ averaging)[:, labels]

    return centre


def _incidence(pairs: np.ndarray, k: int) -> sp.csr_matrix:
    """(P, K) matrix with +1 at (i, a_i) and -1 at (i, b_i): d = theta @ M.T, grad = M.T @ g."""
    p = len(pairs)
    rows = np.repeat(np.arange(p), 2)
    data = np.tile([1.0, -1.0], p)
    return sp.csr_matrix((data, (rows, pairs.ravel())), shape=(p, k))


def _laplacian_map(pairs: np.ndarray, k: int) -> sp.csr_matrix:
    """(P, K*K) map from per-pair weights w to the flattened weighted graph Laplacian
    sum_i w_i (e_a - e_b)(e_a - e_b)^T, which is the BT Hessian for w = n p (1 - p)."""
    a, b = pairs[:, 0], pairs[:, 1]
    p = len(pairs)
    rows = np.repeat(np.arange(p), 4)
    cols = np.stack([a * k + a, b * k + b, a * k + b, b * k + a], axis=1).ravel()
    data = np.tile([1.0, 1.0, -1.0, -1.0], p)
    return sp.csr_matrix((data, (rows, cols)), shape=(p, k * k))


def laplacian(pairs: np.ndarray, weights: np.ndarray, n_models: int) -> np.ndarray:
    """Dense K x K weighted graph Laplacian of the pairs."""
    mapping = _laplacian_map(np.asarray(pairs, dtype=np.int64), n_models)
    return (mapping.T @ np.asarray(weights, dtype=np.float64)).reshape(n_models, n_models)


def anchor_ratings(ratings: np.ndarray, index: int, value: float) -> np.ndarray:
    """Shift ratings (any units, last axis = models) so that model `index` sits at `value`.

    Applied to each bootstrap sample separately, as FastChat does, the anchor model's interval
    collapses to its pinned value and every other interval measures the gap to it.
    """
    ratings = np.asarray(ratings, dtype=np.float64)
    return ratings + (value - ratings[..., [index]])
