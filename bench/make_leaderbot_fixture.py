"""Write tests/ratings/fixtures/leaderbot_davidson.json: pair counts and leaderbot's Davidson fit of them.

leaderbot (Ameli et al., ICLR 2025; BSD-3) brings numba, pandas, matplotlib and scikit-learn, so it lives in
the bench environment (bench/run_all.py installs it into .state/bench-venv) and this script runs there:

    .state/bench-venv/bin/python bench/make_leaderbot_fixture.py

The counts come from a seeded Davidson simulation: models of known strength, uneven pair frequencies,
ties more likely between close models. Each case stores pairs [i, j] and counts [wins i, wins j, ties],
leaderbot's fitted scores (natural units, sum zero) and its tie threshold, log nu. The original Davidson
model is leaderbot's Davidson(k_cov=None, k_tie=0): P(tie) = nu sqrt(p_i p_j) / D, as ratings/ties.py.
"""

from __future__ import annotations

import argparse
import json
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
from leaderbot.models import Davidson

OUT = Path(__file__).resolve().parent.parent / "tests" / "ratings" / "fixtures" / "leaderbot_davidson.json"
CASES = [  # (seed, models, battles, nu)
    (1, 8, 40_000, 0.4),
    (2, 20, 200_000, 0.9),
    (3, 40, 400_000, 0.2),
]


def simulate(seed: int, n_models: int, n_battles: int, nu: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    theta = rng.normal(0.0, 0.6, n_models)
    popularity = rng.uniform(0.3, 1.0, n_models)
    a = rng.choice(n_models, n_battles, p=popularity / popularity.sum())
    b = (a + rng.integers(1, n_models, n_battles)) % n_models
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    d = theta[lo] - theta[hi]
    weights = np.stack([np.exp(d / 2), np.exp(-d / 2), np.full_like(d, nu)], axis=1)
    probabilities = weights / weights.sum(axis=1, keepdims=True)
    outcome = (rng.random(n_battles)[:, None] > np.cumsum(probabilities, axis=1)).sum(axis=1)
    pair_id = lo * n_models + hi
    ids, position = np.unique(pair_id, return_inverse=True)
    counts = np.zeros((len(ids), 3), dtype=np.int64)
    np.add.at(counts, (position, outcome), 1)
    return np.stack([ids // n_models, ids % n_models], axis=1), counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--fit", type=Path, help="fit the counts of this JSON file ({pairs, counts}) instead; "
                                                 "write {scores, log_nu, seconds} to --out (bench/ties_bench.py)")
    o = parser.parse_args()
    if o.fit:
        given = json.loads(o.fit.read_text())
        pairs = np.array(given["pairs"])
        n_models = int(pairs.max()) + 1
        model = Davidson({"X": pairs, "Y": np.array(given["counts"]), "models": [f"m{i}" for i in range(n_models)]},
                         k_cov=None, k_tie=0)
        model.train(method="BFGS", max_iter=5000, tol=1e-12)  # once, to compile numba's kernels
        started = time.perf_counter()
        model.train(method="BFGS", max_iter=5000, tol=1e-12)
        o.out.write_text(json.dumps({"scores": model.param[:n_models].tolist(), "log_nu": float(model.param[-1]),
                                     "seconds": time.perf_counter() - started}))
        return
    cases = []
    for seed, n_models, n_battles, nu in CASES:
        pairs, counts = simulate(seed, n_models, n_battles, nu)
        data = {"X": pairs, "Y": counts, "models": [f"m{i:02d}" for i in range(n_models)]}
        model = Davidson(data, k_cov=None, k_tie=0)
        started = time.perf_counter()
        model.train(method="BFGS", max_iter=5000, tol=1e-12)
        seconds = time.perf_counter() - started
        cases.append({"seed": seed, "models": n_models, "battles": n_battles, "true_nu": nu,
                      "pairs": pairs.tolist(), "counts": counts.tolist(),
                      "leaderbot_scores": model.param[:n_models].tolist(), "leaderbot_log_nu": float(model.param[-1]),
                      "leaderbot_seconds": seconds})
        print(f"case {seed}: {n_models} models, {n_battles} battles, nu {np.exp(model.param[-1]):.4f}, {seconds:.2f} s")
    o.out.write_text(json.dumps({"leaderbot": version("leaderbot"), "cases": cases}))
    print(f"wrote {o.out}")


if __name__ == "__main__":
    main()
