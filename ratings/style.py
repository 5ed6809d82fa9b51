"""Style control: a Bradley-Terry model with answer-style features, as LMArena fits it.

Each battle gets one feature per style element: the relative difference (a - b) / (a + b) of the
two answers' counts (0 when both are 0), standardised over the battles. The model is

    logit P(a beats b) = theta_a - theta_b + features . beta

fitted on one row per battle (the features differ per battle, so nothing aggregates), with
arena-rank's defaults: an L2 penalty `reg / 2 * |beta|^2` on the mean log-likelihood and, unless
turned off, inverse-pair-frequency weights 1 / max(battles of the pair, 50) normalised to mean 1.
The style-controlled rating is theta on the usual scale: the strength left once length and
markdown are accounted for.

FastChat's older code divided by (a + b + 1) instead; LMArena's current pipeline (arena-rank's
example) uses (a + b) with 0/0 read as 0, which is what `style_features` does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from ratings.bradley_terry import FTOL, centring_by_part
from ratings.features import relative_difference


def style_features(style_a: np.ndarray, style_b: np.ndarray, *, standardize: bool = True) -> np.ndarray:
    """Per-battle features (N, F) from the two answers' counts (N, F) each."""
    features = relative_difference(style_a, style_b)
    return standardize_features(features) if standardize else features


def standardize_features(features: np.ndarray) -> np.ndarray:
    """Each column to mean 0 and standard deviation 1 over the battles (a constant column to 0)."""
    features = np.asfortranarray(features, dtype=np.float64)  # column by column: contiguous reductions
    std = features.std(axis=0)
    return (features - features.mean(axis=0)) / np.where(std == 0, 1.0, std)


def pair_frequency_weights(model_a: np.ndarray, model_b: np.ndarray, *, min_pair_count: int = 50) -> np.ndarray:
    """arena-rank's reweighting: 1 / max(battles of this unordered pair, min), mean 1."""
    lo = np.minimum(model_a, model_b).astype(np.int64)
    hi = np.maximum(model_a, model_b).astype(np.int64)
    key = lo * (int(hi.max(initial=0)) + 1) + hi
    pair_counts = np.bincount(key)
    weights = 1.0 / np.maximum(pair_counts[key], min_pair_count)
    return weights / weights.mean()


@dataclass(frozen=True)
class StyleFit:
    theta: np.ndarray  # (K,) natural units, mean zero
    beta: np.ndarray  # (F,) log-odds per standard deviation of each feature


def fit_style_bradley_terry(
    model_a: np.ndarray,
    model_b: np.ndarray,
    score: np.ndarray,
    features: np.ndarray,
    n_models: int,
    *,
    weights: np.ndarray | None = None,
    reg: float = 1.0,
    init: tuple[np.ndarray, np.ndarray] | None = None,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> StyleFit:
    """Minimise -mean(w * loglik) + reg/2 |beta|^2 by damped Newton over (theta, beta).

    `score` is a's score per battle (1, 0 or 0.5); `weights` default to 1 (pass
    `pair_frequency_weights(...)` for LMArena's reweighting). `weights` may also carry bootstrap
    multiplicities: the mean still divides by the number of rows, as arena-rank's does.
    """
    a = np.asarray(model_a, dtype=np.int64)
    b = np.asarray(model_b, dtype=np.int64)
    o = np.asarray(score, dtype=np.float64)
    x = np.asarray(features, dtype=np.float64)
    w = np.ones(len(o)) if weights is None else np.asarray(weights, dtype=np.float64)
    k, f, rows = n_models, x.shape[1], len(o)
    params = np.zeros(k + f)
    ridge = 1e-12 * np.eye(k + f)
    keys = _pair_keys(a, b, k)
    # As in bradley_terry: steps are kept off each connected part's constant direction.
    played = w > 0
    centre = centring_by_part(np.stack([a[played], b[played]], axis=1), k)
    if init is not None:  # centred like the fit from zero, so that any start ends at the same optimum
        params[:k], params[k:] = centre(np.asarray(init[0], dtype=np.float64)[None, :])[0], init[1]
    final = 0.1 * np.sqrt(tol)

    def logits(par: np.ndarray) -> np.ndarray:
        return (par[:k, None] - par[None, :k]).ravel()[keys] + _times(x, par[k:])

    def objective(z: np.ndarray, par: np.ndarray) -> float:
        softplus = np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))  # log(1 + e^z), stable; 3x np.logaddexp's speed
        return float(-(w * (o * z - softplus)).sum() / rows + 0.5 * reg * par[k:] @ par[k:])

    z = logits(params)
    f0 = objective(z, params)
    for _ in range(max_iter):
        p = expit(z)
        r = w * (p - o) / rows  # d(loss)/dz per row
        grad = np.concatenate([_scatter_pairs(keys, r, k), _transposed_times(x, r) + reg * params[k:]])
        hess = _style_hessian(keys, x, w * p * (1.0 - p) / rows, k)
        hess[k:, k:] += reg * np.eye(f)
        step = -np.linalg.solve(hess + ridge, grad)
        step[:k] = centre(step[None, :k])[0]
        if np.abs(step).max() <= final:  # quadratic convergence from here: take it and stop
            params = params + step
            break
        slope, t = grad @ step, 1.0
        z = logits(params + step)
        f_new = objective(z, params + step)
        while f_new > f0 + 1e-4 * t * slope + 1e-14 * abs(f0) and t > 1e-12:
            t *= 0.5
            z = logits(params + t * step)
            f_new = objective(z, params + t * step)
        params, f_old, f0 = params + t * step, f0, f_new
        if np.abs(t * step).max() <= tol or f_old - f_new <= FTOL * max(abs(f_new), 1.0):
            break
    return StyleFit(theta=params[:k], beta=params[k:])


def style_sandwich_covariance(
    fit: StyleFit,
    model_a: np.ndarray,
    model_b: np.ndarray,
    score: np.ndarray,
    features: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    reg: float = 1.0,
    hessian_reg: float = 1e-5,
) -> np.ndarray:
    """Sandwich covariance of (theta, beta), computed exactly as arena-rank 0.1.1 does.

    That includes two of its choices: the Hessian leaves out the penalty's reg * I on the beta
    block (a `hessian_reg` ridge is added to the whole diagonal instead), and the score
    covariance subtracts reg^2 beta beta^T / N. Both only touch the style coefficients' block,
    and the rating intervals are what the leaderboard shows.
    """
    a = np.asarray(model_a, dtype=np.int64)
    b = np.asarray(model_b, dtype=np.int64)
    o = np.asarray(score, dtype=np.float64)
    x = np.asarray(features, dtype=np.float64)
    w = np.ones(len(o)) if weights is None else np.asarray(weights, dtype=np.float64)
    k, f, rows = len(fit.theta), x.shape[1], len(o)
    p = expit(fit.theta[a] - fit.theta[b] + _times(x, fit.beta))
    keys = _pair_keys(a, b, k)
    hess = _style_hessian(keys, x, p * (1.0 - p) * w / rows, k) + hessian_reg * np.eye(k + f)
    meat = _style_hessian(keys, x, ((o - p) * w) ** 2 / rows, k)
    padded = np.concatenate([np.zeros(k), fit.beta])
    meat -= reg**2 / rows * np.outer(padded, padded)
    h_inv = np.linalg.inv(hess)
    return h_inv @ meat @ h_inv / rows


# The products with the (N, F) feature matrix go through einsum's own loops, not BLAS: OpenBLAS
# threads these thin products past a size threshold (at five features, not at four), and on a
# busy host its threads' handover cost 10-100 times the product itself.
def _times(x: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.einsum("ij,j->i", x, v)


def _transposed_times(x: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.einsum("ij,i->j", x, v)


def _pair_keys(a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    """One integer per battle naming its ordered pair (a * k + b): every sum over battles below is
    a single bincount over these keys, then a K x K reshape."""
    return a * k + b


def _scatter_pairs(keys: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """sum_i values_i (e_a - e_b): per-model totals, + where the model was a, - where it was b."""
    by_pair = np.bincount(keys, values, minlength=k * k).reshape(k, k)
    return by_pair.sum(axis=1) - by_pair.sum(axis=0)


def _style_hessian(keys: np.ndarray, x: np.ndarray, h: np.ndarray, k: int) -> np.ndarray:
    """sum_i h_i v_i v_i^T with v_i = (e_a - e_b, x_i): the (K+F) x (K+F) Hessian-shaped sum."""
    f = x.shape[1]
    out = np.zeros((k + f, k + f))
    by_pair = np.bincount(keys, h, minlength=k * k).reshape(k, k)
    symmetric = by_pair + by_pair.T  # (a battle of a model with itself would cancel out below)
    out[:k, :k] = np.diag(symmetric.sum(axis=1)) - symmetric
    hx = np.empty_like(x, order="F")  # column by column: each bincount below reads one contiguous column
    np.multiply(x, h[:, None], out=hx)
    cross = np.stack([_scatter_pairs(keys, hx[:, j], k) for j in range(f)], axis=1)
    out[:k, k:] = cross
    out[k:, :k] = cross.T
    out[k:, k:] = np.einsum("ij,ik->jk", x, hx)
    return out
