"""Ties modelled rather than halved: the Davidson (1970) model, and which model predicts held-out votes better.

Davidson: with strengths p = e^theta and a tie parameter nu > 0,

    P(a wins) = p_a / D,  P(b wins) = p_b / D,  P(tie) = nu * sqrt(p_a p_b) / D,  D = p_a + p_b + nu sqrt(p_a p_b).

Among decisive votes P(a wins | not a tie) = sigmoid(theta_a - theta_b), the Bradley-Terry form, so its
ratings sit on the same 400-point scale; nu / (2 + nu) is the chance that two equal models tie. A tie and
"both bad" both count as a tie (leaderbot's tie="both"). The negative log-likelihood is convex in
(theta, log nu) (a log-sum-exp of linear functions less a linear one), so Newton's method from the
ties-as-half-a-win fit converges to the one optimum; as in `ratings.bradley_terry`, theta has mean zero in
each connected part of the comparison graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from ratings.battle_arrays import Battles, Outcome, PairCounts, aggregate
from ratings.bradley_terry import centring_by_part, fit_bradley_terry, laplacian


@dataclass(frozen=True)
class DavidsonFit:
    theta: np.ndarray  # natural-unit strengths (K,), mean zero per connected part
    log_nu: float  # the tie parameter, as log nu
    iterations: int

    @property
    def nu(self) -> float:
        return float(np.exp(self.log_nu))

    @property
    def tie_between_equals(self) -> float:
        """P(tie) between two models of equal strength."""
        return self.nu / (2.0 + self.nu)


def tie_counts(counts: PairCounts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pair: wins of the first model, wins of the second, and ties (tie + both bad)."""
    c = counts.counts
    return c[:, Outcome.A], c[:, Outcome.B], c[:, Outcome.TIE] + c[:, Outcome.BOTH_BAD]


def davidson_probabilities(d: np.ndarray, log_nu: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(P(a wins), P(b wins), P(tie), log D) for differences d = theta_a - theta_b, computed stably
    with D = e^(d/2) + e^(-d/2) + nu."""
    top = np.maximum(np.abs(d) / 2.0, log_nu)
    ea, eb, et = np.exp(d / 2.0 - top), np.exp(-d / 2.0 - top), np.exp(log_nu - top)
    total = ea + eb + et
    return ea / total, eb / total, et / total, top + np.log(total)


def davidson_loss(counts: PairCounts, theta: np.ndarray, log_nu: float) -> float:
    """Total negative log-likelihood of the counts."""
    wins_a, wins_b, ties = tie_counts(counts)
    d = theta[counts.pairs[:, 0]] - theta[counts.pairs[:, 1]]
    *_, log_d = davidson_probabilities(d, log_nu)
    return float(((wins_a + wins_b + ties) * log_d - (wins_a - wins_b) * d / 2.0 - ties * log_nu).sum())


def _gradient_and_hessian(counts: PairCounts, theta: np.ndarray, log_nu: float) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian of `davidson_loss` in (theta, log nu): K + 1 of each."""
    pairs, k = counts.pairs, counts.n_models
    wins_a, wins_b, ties = tie_counts(counts)
    n = wins_a + wins_b + ties
    d = theta[pairs[:, 0]] - theta[pairs[:, 1]]
    pa, pb, pt, _ = davidson_probabilities(d, log_nu)
    grad_d = n * (pa - pb) / 2.0 - (wins_a - wins_b) / 2.0
    grad = np.zeros(k + 1)
    np.add.at(grad, pairs[:, 0], grad_d)
    np.add.at(grad, pairs[:, 1], -grad_d)
    grad[k] = (n * pt - ties).sum()
    hess = np.zeros((k + 1, k + 1))
    hess[:k, :k] = laplacian(pairs, n * ((pa + pb) - (pa - pb) ** 2) / 4.0, k)
    cross = np.zeros(k)
    np.add.at(cross, pairs[:, 0], -n * (pa - pb) * pt / 2.0)
    np.add.at(cross, pairs[:, 1], n * (pa - pb) * pt / 2.0)
    hess[:k, k] = hess[k, :k] = cross
    hess[k, k] = (n * pt * (1.0 - pt)).sum()
    return grad, hess


def fit_davidson(counts: PairCounts, *, max_iter: int = 100, tol: float = 1e-10) -> DavidsonFit:
    """Maximum-likelihood Davidson strengths and tie parameter (damped Newton; stops when the step is below
    `tol` in natural units). Needs at least one tie and one decisive vote."""
    wins_a, wins_b, ties = tie_counts(counts)
    if ties.sum() == 0 or (wins_a + wins_b).sum() == 0:
        raise ValueError("the Davidson tie model needs both ties and decisive votes")
    k = counts.n_models
    theta = fit_bradley_terry(counts)  # ties as half a win: the same decisive-vote scale, a close start
    share = ties.sum() / counts.total
    log_nu = float(np.log(2.0 * share / (1.0 - share))) if share < 1 else 0.0
    centre = centring_by_part(counts.pairs[counts.n > 0], k)
    ridge = 1e-10 * max(1.0, counts.total)
    loss = davidson_loss(counts, theta, log_nu)
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        grad, hess = _gradient_and_hessian(counts, theta, log_nu)
        step = -np.linalg.solve(hess + ridge * np.eye(k + 1), grad)
        step[:k] = centre(step[None, :k])[0]
        slope, t = float(grad @ step), 1.0
        for _ in range(40):  # backtracking (Armijo)
            trial = davidson_loss(counts, theta + t * step[:k], log_nu + t * step[k])
            if trial <= loss + 1e-4 * t * slope + 1e-12 * abs(loss):
                break
            t /= 2.0
        theta, log_nu, loss = theta + t * step[:k], log_nu + t * step[k], trial
        if t * np.abs(step).max() <= tol:
            break
    return DavidsonFit(theta=theta, log_nu=float(log_nu), iterations=iterations)


def davidson_sandwich_covariance(counts: PairCounts, fit: DavidsonFit, *, hessian_reg: float = 1e-5) -> np.ndarray:
    """Robust covariance H^-1 G H^-1 of theta (K x K), with log nu estimated alongside: as
    `ratings.intervals.sandwich_covariance` (the same ridge of `hessian_reg` times the battles), for the
    Davidson likelihood."""
    pairs, k = counts.pairs, counts.n_models
    wins_a, wins_b, ties = tie_counts(counts)
    d = fit.theta[pairs[:, 0]] - fit.theta[pairs[:, 1]]
    pa, pb, pt, _ = davidson_probabilities(d, fit.log_nu)
    meat = np.zeros((k + 1, k + 1))
    mean_d = (pa - pb) / 2.0
    # One score vector per (pair, outcome): g_d on (e_a - e_b), g_nu on log nu.
    for count, g_d, g_nu in ((wins_a, mean_d - 0.5, pt), (wins_b, mean_d + 0.5, pt), (ties, mean_d, pt - 1.0)):
        meat[:k, :k] += laplacian(pairs, count * g_d**2, k)
        cross = np.zeros(k)
        np.add.at(cross, pairs[:, 0], count * g_d * g_nu)
        np.add.at(cross, pairs[:, 1], -count * g_d * g_nu)
        meat[:k, k] += cross
        meat[k, :k] += cross
        meat[k, k] += (count * g_nu**2).sum()
    _, hess = _gradient_and_hessian(counts, fit.theta, fit.log_nu)
    bread = np.linalg.inv(hess + hessian_reg * counts.total * np.eye(k + 1))
    return (bread @ meat @ bread)[:k, :k]


def compare_on_held_out(battles: Battles, *, held_out: float = 0.2, seed: int = 0) -> dict[str, float]:
    """`held_out_log_loss` of both models fitted on a random (1 - held_out) of the battles and scored
    on the rest; pairs the training part never saw are left out of the score."""
    test_rows = np.random.default_rng(seed).random(len(battles)) < held_out
    train, test = aggregate(battles.select(~test_rows)), aggregate(battles.select(test_rows))
    seen = {(a, b) for a, b in train.pairs.tolist()}
    keep = np.array([(a, b) in seen for a, b in test.pairs.tolist()], dtype=bool)
    test = PairCounts(test.n_models, test.pairs[keep], test.counts[keep])
    return held_out_log_loss(train, test, bradley_terry_theta=fit_bradley_terry(train), davidson=fit_davidson(train))


def held_out_log_loss(
    train: PairCounts, test: PairCounts, *, bradley_terry_theta: np.ndarray, davidson: DavidsonFit
) -> dict[str, float]:
    """Mean log-loss per held-out vote of ties-as-half-a-win Bradley-Terry and of Davidson, both fitted on
    `train`. Two measures: over all three outcomes (Bradley-Terry has no tie probability of its own, so
    it predicts the training tie share for every pair, and its win probability for the rest), and over
    the decisive votes only (P(a wins | not a tie), where both models are sigmoids of a rating gap).
    """
    wins_a, wins_b, ties = tie_counts(test)
    a, b = test.pairs[:, 0], test.pairs[:, 1]
    _, _, train_ties = tie_counts(train)
    tie_share = train_ties.sum() / train.total
    p_bt = expit(bradley_terry_theta[a] - bradley_terry_theta[b])
    d = davidson.theta[a] - davidson.theta[b]
    pa, pb, pt, _ = davidson_probabilities(d, davidson.log_nu)
    p_dv = expit(d)
    votes, decisive = test.total, float((wins_a + wins_b).sum())

    def three(p_a: np.ndarray, p_b: np.ndarray, p_t: np.ndarray) -> float:
        return float(-(wins_a * np.log(p_a) + wins_b * np.log(p_b) + ties * np.log(p_t)).sum() / votes)

    def two(p: np.ndarray) -> float:
        return float(-(wins_a * np.log(p) + wins_b * np.log1p(-p)).sum() / decisive)

    return {
        "votes": votes,
        "bradley_terry": three((1 - tie_share) * p_bt, (1 - tie_share) * (1 - p_bt), np.full_like(p_bt, tie_share)),
        "davidson": three(pa, pb, pt),
        "bradley_terry_decisive": two(p_bt),
        "davidson_decisive": two(p_dv),
    }
