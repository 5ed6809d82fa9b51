"""Votes needed by uniform vs active pair sampling to reach the same 95% interval width.

    .venv/bin/python bench/active_sampling_bench.py [--models 20] [--seeds 5] [--target 50]

Synthetic models of known strength (ratings.synthetic, 15% ties). Votes arrive in batches of
--batch; before each batch the sampler recomputes its pair weights from the counts so far
(ratings.pair_sampling: the Chatbot Arena paper's rule, with each pair's outcome variance estimated
from its own battles). After each batch the Bradley-Terry fit and sandwich intervals are
recomputed; a run stops when the widest interval on the board (rating points) is at most
--target. Two situations:
  cold start   every model starts with no votes
  new models   --new models join a board whose others already have --prior-votes votes
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.special import expit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ratings.battle_arrays import PairCounts  # noqa: E402
from ratings.bradley_terry import fit_bradley_terry, rating_units  # noqa: E402
from ratings.intervals import sandwich_covariance  # noqa: E402
from ratings.pair_sampling import active_pair_weights, mix_weights, pair_score_variance  # noqa: E402
from ratings.synthetic import true_strengths  # noqa: E402

TIE_RATE, BOTH_BAD_SHARE = 0.15, 0.35


class Board:
    """Running counts per unordered pair and outcome, for all K(K-1)/2 pairs."""

    def __init__(self, theta: np.ndarray, rng: np.random.Generator):
        self.theta, self.rng = theta, rng
        self.k = len(theta)
        self.lo, self.hi = np.triu_indices(self.k, 1)
        self.counts = np.zeros((len(self.lo), 4))
        p = expit(theta[self.lo] - theta[self.hi])
        t = np.minimum(TIE_RATE, 2 * np.minimum(p, 1 - p))
        self.outcome_p = np.stack([p - t / 2, 1 - p - t / 2, t * (1 - BOTH_BAD_SHARE), t * BOTH_BAD_SHARE], axis=1)

    def vote(self, pair_probs: np.ndarray, n: int) -> None:
        per_pair = self.rng.multinomial(n, pair_probs / pair_probs.sum())
        for i in np.flatnonzero(per_pair):
            self.counts[i] += self.rng.multinomial(per_pair[i], self.outcome_p[i])

    def pair_counts(self) -> PairCounts:
        keep = self.counts.sum(axis=1) > 0
        return PairCounts(self.k, np.stack([self.lo, self.hi], axis=1)[keep], self.counts[keep])

    def widths(self) -> np.ndarray:
        counts = self.pair_counts()
        played = np.zeros(self.k, dtype=bool)
        played[counts.pairs.ravel()] = True
        if not played.all():
            return np.full(self.k, np.inf)
        theta = fit_bradley_terry(counts)
        return 2 * 1.959964 * np.sqrt(np.diag(sandwich_covariance(counts, theta))) * rating_units()

    def n_matrix(self) -> np.ndarray:
        n = np.zeros((self.k, self.k))
        n[self.lo, self.hi] = n[self.hi, self.lo] = self.counts.sum(axis=1)
        return n


def pair_vector(weights: np.ndarray, board: Board) -> np.ndarray:
    return weights[board.lo, board.hi]


def run(strategy: str, theta: np.ndarray, seed: int, *, target: float, batch: int, new: np.ndarray,
        prior_votes: int, max_votes: int) -> int:
    board = Board(theta, np.random.default_rng(seed))
    if prior_votes:
        established = ~new
        old_pairs = (established[board.lo] & established[board.hi]).astype(float)
        board.vote(old_pairs, prior_votes)
    uniform = np.ones(len(board.lo))
    votes = 0
    while votes < max_votes:
        if strategy == "uniform":
            probs = uniform
        else:
            weights = active_pair_weights(board.n_matrix(), pair_score_variance(board.pair_counts()))
            if strategy == "active + new-model share":
                weights = mix_weights(weights, new_models=new, new_model_share=0.25)
            probs = pair_vector(weights, board)
        board.vote(probs, batch)
        votes += batch
        if board.widths().max() <= target:
            return votes
    return max_votes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--new", type=int, default=4, help="models joining in the 'new models' situation")
    parser.add_argument("--prior-votes", type=int, default=20000)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--target", type=float, default=50.0, help="widest 95%% interval allowed, rating points")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--max-votes", type=int, default=400_000)
    args = parser.parse_args()

    situations = {
        "cold start": (np.zeros(args.models, dtype=bool), 0, ["uniform", "active"]),
        "new models": (np.arange(args.models) >= args.models - args.new, args.prior_votes,
                       ["uniform", "active", "active + new-model share"]),
    }
    results = []
    for name, (new, prior, strategies) in situations.items():
        for strategy in strategies:
            needed = []
            for seed in range(args.seeds):
                theta = true_strengths(args.models, seed=100 + seed)
                if name == "new models":  # the newcomers are spread over the board, not all at the bottom
                    theta = np.random.default_rng(seed).permutation(theta)
                t0 = time.perf_counter()
                votes = run(strategy, theta, seed, target=args.target, batch=args.batch, new=new,
                            prior_votes=prior, max_votes=args.max_votes)
                needed.append(votes)
                print(f"[active-sampling {time.strftime('%H:%M:%S')}] {name} / {strategy} / seed {seed}: "
                      f"{votes:,} votes ({time.perf_counter() - t0:.1f}s)", flush=True)
            results.append((name, strategy, needed))

    print()
    print(f"{args.models} models, widest 95% interval <= {args.target:g} rating points, "
          f"batches of {args.batch}, {args.seeds} seeds; new votes only (prior votes not counted).")
    print("| situation | sampling | votes needed (median) | min - max | vs uniform |")
    print("|---|---|---|---|---|")
    base = {}
    for name, strategy, needed in results:
        median = float(np.median(needed))
        base.setdefault(name, median)
        print(f"| {name} | {strategy} | {median:,.0f} | {min(needed):,} - {max(needed):,} | "
              f"{median / base[name]:.2f}x |")


if __name__ == "__main__":
    main()
