"""Ties modelled: the Davidson fit (ratings/ties.py) on the pair counts of N battles, its time and its
agreement with leaderbot (live when .state/bench-venv has it, see bench/run_all.py, and on the counts of
tests/ratings/fixtures/leaderbot_davidson.json), then the held-out log-loss of ties-as-half-a-win
Bradley-Terry and of Davidson on simulations whose ties do and do not follow Davidson.

Target (issue 19): ratings agree with leaderbot to <= 1e-4 relative.

    .venv/bin/python bench/ties_bench.py --battles 1.7M --models 129
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from ratings.battle_arrays import aggregate, pair_counts_from_arrays  # noqa: E402
from ratings.bradley_terry import fit_bradley_terry, to_rating_scale  # noqa: E402
from ratings.synthetic import simulate_battles, simulate_davidson_battles, true_strengths  # noqa: E402
from ratings.ties import (  # noqa: E402
    compare_on_held_out,
    davidson_sandwich_covariance,
    fit_davidson,
    tie_counts,
)

BENCH_PYTHON = ROOT / ".state" / "bench-venv" / "bin" / "python"
FIXTURE = ROOT / "tests" / "ratings" / "fixtures" / "leaderbot_davidson.json"


def count(text: str) -> int:
    text = text.lower().replace("_", "")
    scale = 1_000_000 if text.endswith("m") else 1_000 if text.endswith("k") else 1
    return int(float(text.rstrip("mk")) * scale)


def relative(ours: np.ndarray, theirs: np.ndarray) -> float:
    """Largest rating difference over the largest rating, on the 400-point scale (mean 1000)."""
    ours, theirs = to_rating_scale(ours), to_rating_scale(theirs)
    return float(np.abs(ours - theirs).max() / np.abs(theirs).max())


def leaderbot_live(counts) -> dict | None:
    if not BENCH_PYTHON.exists():
        return None
    wins_a, wins_b, ties = tie_counts(counts)
    with tempfile.TemporaryDirectory() as tmp:
        given, out = Path(tmp) / "counts.json", Path(tmp) / "fit.json"
        given.write_text(json.dumps({"pairs": counts.pairs.tolist(),
                                     "counts": np.column_stack([wins_a, wins_b, ties]).astype(int).tolist()}))
        subprocess.run([str(BENCH_PYTHON), str(ROOT / "bench" / "make_leaderbot_fixture.py"), "--fit", str(given),
                        "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
        return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--battles", default="1.7M")
    parser.add_argument("--models", type=int, default=129)
    parser.add_argument("--repeat", type=int, default=3)
    o = parser.parse_args()
    n = count(o.battles)
    theta = true_strengths(o.models, seed=7)
    battles = simulate_davidson_battles(theta, 0.5, n, seed=7)
    counts = aggregate(battles)

    print(f"\nDavidson fit: {n:,} battles (Davidson-simulated, nu 0.5), {o.models} models, {len(counts.pairs):,} pairs")
    rows = []
    times = []
    for _ in range(o.repeat):
        started = time.perf_counter()
        fit = fit_davidson(counts)
        times.append(time.perf_counter() - started)
    rows.append(("fit_davidson (Newton, from the Bradley-Terry fit)", statistics.median(times),
                 f"{fit.iterations} Newton steps, nu {fit.nu:.5f}"))
    started = time.perf_counter()
    davidson_sandwich_covariance(counts, fit)
    rows.append(("davidson_sandwich_covariance", time.perf_counter() - started, ""))
    started = time.perf_counter()
    fit_bradley_terry(counts)
    rows.append(("fit_bradley_terry (ties as half a win), for scale", time.perf_counter() - started, ""))
    live = leaderbot_live(counts)
    if live is None:
        rows.append(("leaderbot (not installed: run bench/run_all.py once)", float("nan"), ""))
    else:
        rows.append(("leaderbot Davidson(k_cov=None, k_tie=0), BFGS tol 1e-12", live["seconds"],
                     f"max rel. rating diff {relative(fit.theta, np.array(live['scores'])):.1e}, "
                     f"log nu diff {abs(fit.log_nu - live['log_nu']):.1e}"))
    print(f"{'what':<58} {'seconds':>8}  notes")
    for what, seconds, note in rows:
        print(f"{what:<58} {seconds:>8.3f}  {note}")

    reference = json.loads(FIXTURE.read_text())
    print(f"\nAgreement with leaderbot {reference['leaderbot']} on the fixture's counts (target <= 1e-4 relative)")
    print(f"{'case':<28} {'max rel. rating diff':>21} {'log nu diff':>12} {'ours s':>8}  verdict")
    for case in reference["cases"]:
        c = np.asarray(case["counts"], dtype=np.float64)
        fixture_counts = pair_counts_from_arrays(case["models"], np.asarray(case["pairs"]),
                                                 np.column_stack([c, np.zeros(len(c))]))
        started = time.perf_counter()
        fit_case = fit_davidson(fixture_counts)
        seconds = time.perf_counter() - started
        diff = relative(fit_case.theta, np.array(case["leaderbot_scores"]))
        print(f"{case['models']:>3} models, {case['battles']:>7,} battles {diff:>21.1e} "
              f"{abs(fit_case.log_nu - case['leaderbot_log_nu']):>12.1e} {seconds:>8.3f}  "
              f"{'met' if diff <= 1e-4 else 'NOT MET'}")

    print("\nHeld-out log-loss per vote (80/20 split; lower is better): win/loss/tie, and decisive votes only")
    print(f"{'simulation':<52} {'BT (half)':>10} {'Davidson':>10} {'BT dec.':>9} {'Dav. dec.':>9}  better")
    sims = [
        ("Davidson ties (nu 0.5; ties likelier between equals)", simulate_davidson_battles(theta, 0.5, n, seed=8)),
        ("15% ties whatever the gap (ratings.synthetic)", simulate_battles(theta, n, seed=8)),
        ("Davidson ties, 20k battles", simulate_davidson_battles(theta, 0.5, 20_000, seed=9)),
    ]
    for name, sim in sims:
        s = compare_on_held_out(sim, seed=1)
        better = "Davidson" if s["davidson"] < s["bradley_terry"] else "ties as half a win"
        print(f"{name:<52} {s['bradley_terry']:>10.5f} {s['davidson']:>10.5f} {s['bradley_terry_decisive']:>9.5f} "
              f"{s['davidson_decisive']:>9.5f}  {better}")
    load = os.getloadavg()
    print(f"\n{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
