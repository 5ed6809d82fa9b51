"""Vote rigging in simulation (pure ratings code, seconds): how far attackers of the published size
move a target model, with no defence, with each defence alone, and with all of them; and what
share of honest votes the defences wrongly exclude.

Honest voters (a few votes each, heavy-tailed; some share an address, as behind a campus NAT)
vote by the true Bradley-Terry strengths. The attacker identifies the target from its answer with
95% accuracy (Huang et al. 2025) and votes for it in the battles it is in (Min et al. 2025's
target-only strategy), interleaved with the honest votes over one day. Attacks:

  one address    one machine, a fresh cookie for every vote (the published attack on this arena)
  many addresses every vote from a new address and cookie (a proxy pool)

Defences: the per-address daily cap on counted votes (arena/limits.py, 100 a day) and the rigging
tests of ratings/vote_surprise.py, each alone, then all together.

    .venv/bin/python bench/rigging_sim.py [--models 20] [--honest-votes 60000] [--seeds 3]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.special import expit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from the repository root

from ratings.actors import actor_index  # noqa: E402
from ratings.battle_arrays import Battles, Outcome, aggregate  # noqa: E402
from ratings.bradley_terry import fit_bradley_terry, prior_l2  # noqa: E402
from ratings.synthetic import model_names, true_strengths  # noqa: E402
from ratings.vote_surprise import (  # noqa: E402
    AGAINST_RATINGS,
    DETECTORS,
    FRESH_IDENTITIES,
    HEAVY_UNDERDOG,
    ONE_MODEL,
    detect_rigging_refit,
)

ADDRESS_CAP = 100  # ARENA["COUNTED_VOTES_PER_ADDRESS_DAY"]'s default
IDENTIFY_ACCURACY = 0.95
DEFENCES = [("none", False, ()), ("address cap alone", True, ()),
            *((f"{d} alone", False, (d,)) for d in (AGAINST_RATINGS, HEAVY_UNDERDOG, ONE_MODEL, FRESH_IDENTITIES)),
            ("all tests", False, DETECTORS), ("all tests and the cap", True, DETECTORS)]


def honest_votes(theta: np.ndarray, n: int, rng: np.random.Generator, *, nat_share: float, nat_addresses: int) -> dict:
    """Honest votes of one day: voters with geometric (mean 6) vote counts; ``nat_share`` of the
    voters behind ``nat_addresses`` shared addresses, the others each at an address of their own."""
    k = len(theta)
    per_voter = rng.geometric(1 / 6, size=n)  # more than enough voters
    voter = np.repeat(np.arange(n), per_voter)[:n]
    shared = rng.random(voter.max() + 1) < nat_share
    address = np.where(shared[voter], np.char.add("nat-", (voter % nat_addresses).astype(str)),
                       np.char.add("home-", voter.astype(str)))
    a = rng.integers(0, k, n)
    b = (a + rng.integers(1, k, n)) % k
    p_a = expit(theta[a] - theta[b])
    tie = rng.random(n) < 0.15
    outcome = np.where(tie, Outcome.TIE, np.where(rng.random(n) < p_a, Outcome.A, Outcome.B))
    return {"cookie": np.char.add("c-", voter.astype(str)), "address": address, "a": a, "b": b, "outcome": outcome}


def attack_votes(theta: np.ndarray, target: int, n: int, spread: bool, rng: np.random.Generator) -> dict:
    k = len(theta)
    other = (target + rng.integers(1, k, n)) % k
    target_is_a = rng.random(n) < 0.5
    a, b = np.where(target_is_a, target, other), np.where(target_is_a, other, target)
    right = rng.random(n) < IDENTIFY_ACCURACY  # else it took the other side for the target
    outcome = np.where(target_is_a == right, Outcome.A, Outcome.B)
    cookie = np.char.add("attack-", np.arange(n).astype(str))
    address = np.char.add("proxy-", np.arange(n).astype(str)) if spread else np.full(n, "attacker")
    return {"cookie": cookie, "address": address, "a": a, "b": b, "outcome": outcome}


def capped(address: np.ndarray, cap: int) -> np.ndarray:
    """Which votes count under a per-address cap (one day of votes, in order)."""
    _, inverse = np.unique(address, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    rank_in_group = np.empty(len(address), dtype=np.int64)
    sorted_groups = inverse[order]
    starts = np.r_[0, np.flatnonzero(sorted_groups[1:] != sorted_groups[:-1]) + 1]
    positions = np.arange(len(address)) - np.repeat(starts, np.diff(np.r_[starts, len(address)]))
    rank_in_group[order] = positions
    return rank_in_group < cap


def strengths_of(k: int, a, b, outcome, keep) -> np.ndarray:
    battles = Battles(models=model_names(k), model_a=a[keep], model_b=b[keep], outcome=outcome[keep])
    return fit_bradley_terry(aggregate(battles), l2=prior_l2(1.0))


def rank_of(theta: np.ndarray, model: int) -> int:
    return 1 + int((theta > theta[model]).sum())


def run(args, seed: int, attack_size: int, spread: bool) -> dict[str, tuple[int, float, int]]:
    rng = np.random.default_rng(seed)
    theta = true_strengths(args.models, seed=seed)
    target = int(args.models * 0.75)  # a model in the lower half, as the papers' targets
    honest = honest_votes(theta, args.honest_votes, rng, nat_share=args.nat_share, nat_addresses=args.nat_addresses)
    attack = attack_votes(theta, target, attack_size, spread, rng)
    order = rng.permutation(args.honest_votes + attack_size)  # the attack spread over the day
    votes = {name: np.r_[honest[name], attack[name]][order] for name in honest}
    is_attack = (order >= args.honest_votes)
    k = args.models
    a, b, outcome = votes["a"], votes["b"], votes["outcome"]
    actor = actor_index(votes["cookie"].astype(object), votes["address"].astype(object))
    base = rank_of(strengths_of(k, a, b, outcome, ~is_attack), target)
    results = {}
    for name, cap, detectors in DEFENCES:
        counts = capped(votes["address"], ADDRESS_CAP) if cap else np.ones(len(a), dtype=bool)
        excluded = ~counts
        if detectors:
            findings = detect_rigging_refit(
                actor, a, b, outcome, lambda without: strengths_of(k, a, b, outcome, counts & ~without),
                detectors=detectors)
            excluded |= findings.flagged
        rank = rank_of(strengths_of(k, a, b, outcome, ~excluded), target)
        honest_excluded = (excluded & ~is_attack).sum() / (~is_attack).sum()
        results[name] = (base - rank, float(honest_excluded), int((~excluded & is_attack).sum()), base)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--honest-votes", type=int, default=60_000)
    parser.add_argument("--attack-votes", type=int, nargs="+", default=[300, 1000])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--nat-share", type=float, default=0.05, help="share of honest voters behind shared addresses")
    parser.add_argument("--nat-addresses", type=int, default=100, help="how many shared addresses")
    args = parser.parse_args()
    started = time.monotonic()
    print(f"{args.models} models, {args.honest_votes} honest votes in a day ({args.nat_share:.0%} of the voters "
          f"behind {args.nat_addresses} shared addresses), target identified with "
          f"{IDENTIFY_ACCURACY:.0%} accuracy; ranks moved up (mean over {args.seeds} seeds, max in brackets), "
          "rigged votes still counted, honest votes wrongly excluded (max over seeds)\n")
    worst = {"all tests": 0.0, "all tests and the cap": 0.0}
    for spread in (False, True):
        for size in args.attack_votes:
            per_seed = [run(args, seed, size, spread) for seed in range(args.seeds)]
            attack = "many addresses" if spread else "one address"
            print(f"attack: {attack}, {size} rigged votes (target's honest rank "
                  f"{', '.join(str(r['none'][3]) for r in per_seed)})")
            print(f"  {'defence':28s} {'ranks up':>12s} {'rigged counted':>15s} {'honest excluded':>16s}")
            for name, _cap, _detectors in DEFENCES:
                shifts = [r[name][0] for r in per_seed]
                honest = max(r[name][1] for r in per_seed)
                counted = np.mean([r[name][2] for r in per_seed])
                if name in worst:
                    worst[name] = max(worst[name], honest)
                print(f"  {name:28s} {np.mean(shifts):6.1f} ({max(shifts):3d}) {counted:15.0f} {honest:15.2%}")
            print()
    for name, share in worst.items():
        print(f"honest votes wrongly excluded, {name}: at most {share:.2%} (target: at most 1%) -> "
              f"{'MET' if share <= 0.01 else 'NOT MET'}")
    print(f"[sim] took {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
