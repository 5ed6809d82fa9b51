"""Time the ratings (fit + sandwich CIs + 1000-round bootstrap) against arena-rank and FastChat.

    .venv/bin/python bench/ratings_bench.py                       # 10k, 100k, 1M, 10M battles
    .venv/bin/python bench/ratings_bench.py --sizes 10k,100k --arena-rank-rounds 1000

arena-rank pins jax and numpy, so it and scikit-learn live in their own environment:

    python3 -m venv /tmp/arenarank-venv
    /tmp/arenarank-venv/bin/pip install arena-rank==0.1.1 scikit-learn==1.9.1

Every size is 50 synthetic models (ratings.synthetic, seeded) with 15% ties. Each tool runs in
its own fresh process, timed inside that process, so peak memory (ru_maxrss) is per tool:
  ours        this package: aggregate -> Newton fit -> sandwich -> 1000-round batched bootstrap
  arena-rank  0.1.1 in a separate venv (--arena-rank-python): PairDataset.from_pandas -> fit ->
              sandwich -> bootstrap; its bootstrap re-jits every resample (seconds each), so by
              default a few rounds run and the 1000-round time is extrapolated (marked ~)
  fastchat    FastChat's compute_mle_elo: scikit-learn LogisticRegression on one row per battle
              (duplicated for ties); no sandwich; bootstrap refits on resampled rows (extrapolated)
Sizes above --max-row-size are generated directly as aggregated counts for ours; the row-based
tools are skipped there with the reason printed.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ratings.battle_arrays import Battles, PairCounts, aggregate  # noqa: E402
from ratings.bradley_terry import fit_bradley_terry, to_rating_scale  # noqa: E402
from ratings.intervals import bootstrap_thetas, normal_intervals, quantile_intervals, sandwich_covariance  # noqa: E402
from ratings.synthetic import simulate_battles, simulate_pair_counts, true_strengths  # noqa: E402

WORKER = ROOT / "bench" / "arena_rank_worker.py"
N_MODELS = 50


def parse_size(text: str) -> int:
    text = text.strip().lower()
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text[:-1] if factor > 1 else text) * factor)


def human(n: int) -> str:
    return (f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0
            else f"{n // 1000}k" if n % 1000 == 0 else str(n))


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


# --- our side, run as `ratings_bench.py --worker DATA ROUNDS` in a fresh process ----------------


def run_ours(path: str, rounds: int) -> dict:
    def timed(label, fn, *args, **kwargs):
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        elapsed = time.perf_counter() - t0
        print(f"    [ours {time.strftime('%H:%M:%S')}] {label}: {elapsed:.3f}s", file=sys.stderr, flush=True)
        return result, elapsed

    data = np.load(path)
    names = tuple(f"model-{i:03d}" for i in range(int(data["n_models"])))
    out: dict = {}
    baseline = current_rss_mb()
    if "model_a" in data:
        battles = Battles(names, data["model_a"], data["model_b"], data["outcome"])
        counts, out["aggregate_s"] = timed("aggregate rows to pair counts", aggregate, battles)
    else:
        counts = PairCounts(len(names), data["pairs"], data["counts"])
        out["aggregate_s"] = None
    theta, out["fit_s"] = timed("fit (Newton on pair counts)", fit_bradley_terry, counts)
    cov, out["sandwich_s"] = timed("sandwich covariance", sandwich_covariance, counts, theta)
    lower, upper = normal_intervals(theta, np.diag(cov))
    samples, out["bootstrap_s"] = timed(f"bootstrap x{rounds}", bootstrap_thetas, counts, theta, rounds=rounds, seed=0)
    boot_lower, boot_upper = quantile_intervals(to_rating_scale(samples))
    out.update(
        competitors=list(names),
        ratings=to_rating_scale(theta).tolist(),
        lower=to_rating_scale(lower).tolist(),
        upper=to_rating_scale(upper).tolist(),
        boot_lower=boot_lower.tolist(),
        boot_upper=boot_upper.tolist(),
        unique_rows=int(len(counts.pairs)),
        baseline_rss_mb=baseline,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )
    return out


# --- the driver ---------------------------------------------------------------------------------


def make_data(size: int, seed: int, as_rows: bool, directory: Path) -> Path:
    theta = true_strengths(N_MODELS, seed=seed)
    path = directory / f"battles-{size}.npz"
    if as_rows:
        battles = simulate_battles(theta, size, seed=seed + 1)
        np.savez(path, n_models=N_MODELS, model_a=battles.model_a, model_b=battles.model_b, outcome=battles.outcome)
    else:
        counts = simulate_pair_counts(theta, size, seed=seed + 1)
        np.savez(path, n_models=N_MODELS, pairs=counts.pairs, counts=counts.counts)
    return path


def run_worker(command: list[str], timeout: float) -> dict | str:
    try:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=None, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return f"skipped (timed out after {timeout:.0f}s)"
    if done.returncode != 0:
        return f"failed (exit {done.returncode})"
    return json.loads(done.stdout.strip().splitlines()[-1])


def total_seconds(result: dict, rounds: int) -> tuple[float, bool]:
    """aggregate + fit + sandwich + bootstrap(rounds); True when the bootstrap was extrapolated."""
    boot = result.get("bootstrap_s")
    estimated = False
    if boot is None and result.get("bootstrap_run_rounds"):
        run_rounds, run_s = result["bootstrap_run_rounds"], result["bootstrap_run_s"]
        if "bootstrap_small_s" in result:
            # fixed cost (pool start) + per-round cost, from a small and a larger call
            small_rounds, small_s = result["bootstrap_small_rounds"], result["bootstrap_small_s"]
            per_round = max(run_s - small_s, 0.0) / (run_rounds - small_rounds)
            boot = small_s + per_round * (rounds - small_rounds)
        else:
            boot = run_s / run_rounds * rounds
        estimated = run_rounds < rounds
        result["bootstrap_s"] = boot
        result["bootstrap_estimated"] = estimated
    parts = [result.get("aggregate_s") or 0.0, result.get("fit_s") or 0.0, result.get("sandwich_s") or 0.0, boot or 0.0]
    return sum(parts), estimated


def fmt(seconds: float | None, estimated: bool = False) -> str:
    if seconds is None:
        return "n/a"
    text = f"{seconds:.3f}" if seconds < 10 else f"{seconds:.1f}"
    return ("~" + text) if estimated else text


def agreement(ours: dict, theirs: dict) -> tuple[float, float | None]:
    order = [ours["competitors"].index(m) for m in theirs["competitors"]]
    ours_r = np.array(ours["ratings"])[order]
    max_rating = float(np.max(np.abs(ours_r - np.array(theirs["ratings"])) / np.abs(theirs["ratings"])))
    if "lower" not in theirs:
        return max_rating, None
    ours_w = (np.array(ours["upper"]) - np.array(ours["lower"]))[order]
    their_w = np.array(theirs["upper"]) - np.array(theirs["lower"])
    return max_rating, float(np.max(np.abs(ours_w - their_w) / their_w))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10k,100k,1M,10M", help="comma-separated battle counts (k, M suffixes)")
    parser.add_argument("--rounds", type=int, default=1000, help="bootstrap rounds to report (default 1000)")
    parser.add_argument("--arena-rank-python", default="/tmp/arenarank-venv/bin/python")
    parser.add_argument("--arena-rank-rounds", type=int, default=20,
                        help="arena-rank bootstrap rounds actually run; the rest is extrapolated (default 20)")
    parser.add_argument("--fastchat-rounds", type=int, default=2,
                        help="FastChat bootstrap rounds actually run; the rest is extrapolated (default 2)")
    parser.add_argument("--max-row-size", default="1M", help="largest size generated as rows for the row-based tools")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per tool and size before skipping")
    parser.add_argument("--skip", default="", help="comma-separated tools to skip: arena-rank,fastchat")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write every tool's raw timings here")
    parser.add_argument("--worker", nargs=2, metavar=("DATA", "ROUNDS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_ours(args.worker[0], int(args.worker[1]))))
        return

    sizes = [parse_size(s) for s in args.sizes.split(",")]
    max_rows = parse_size(args.max_row_size)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    have_arena_rank = Path(args.arena_rank_python).exists()
    rows_out: list[tuple] = []
    checks: list[tuple] = []
    with tempfile.TemporaryDirectory(prefix="ratings-bench-") as tmp:
        for size in sizes:
            as_rows = size <= max_rows
            progress(f"{human(size)} battles, {N_MODELS} models: generating {'rows' if as_rows else 'pair counts'}")
            path = make_data(size, args.seed, as_rows, Path(tmp))
            progress(f"{human(size)}: ours")
            ours = run_worker([sys.executable, str(Path(__file__).resolve()), "--worker", str(path), str(args.rounds)],
                              args.timeout)
            if isinstance(ours, str):
                rows_out.append((human(size), "ours", ours))
                continue
            ours_total, _ = total_seconds(ours, args.rounds)
            rows_out.append((human(size), "ours", ours, ours_total, False))
            for tool, rounds in (("arena-rank", args.arena_rank_rounds), ("fastchat", args.fastchat_rounds)):
                if tool in skip:
                    rows_out.append((human(size), tool, "skipped (--skip)"))
                    continue
                if not have_arena_rank:
                    rows_out.append((human(size), tool, f"skipped ({args.arena_rank_python} not found)"))
                    continue
                if not as_rows:
                    reason = (
                        "needs one DataFrame row per battle; its bootstrap and fit run on <= 7,350 unique rows "
                        "whatever N, so only from_pandas would grow" if tool == "arena-rank"
                        else f"a dense {2 * size:,} x {N_MODELS} design matrix is "
                             f"{2 * size * N_MODELS * 8 / 1e9:.0f} GB"
                    )
                    rows_out.append((human(size), tool, f"skipped ({reason})"))
                    progress(f"{human(size)}: {tool} skipped")
                    continue
                progress(f"{human(size)}: {tool} (bootstrap: {rounds} rounds run, extrapolated to {args.rounds})")
                result = run_worker([args.arena_rank_python, str(WORKER), tool, str(path), str(rounds)], args.timeout)
                if isinstance(result, str):
                    rows_out.append((human(size), tool, result))
                    continue
                total, estimated = total_seconds(result, args.rounds)
                rows_out.append((human(size), tool, result, total, estimated))
                checks.append((human(size), tool) + agreement(ours, result))

    if args.json:
        args.json.write_text(json.dumps(
            [{"size": e[0], "tool": e[1],
              "result": {k: v for k, v in e[2].items()
                         if k not in ("competitors", "ratings", "lower", "upper", "boot_lower", "boot_upper")}}
             if not isinstance(e[2], str) else {"size": e[0], "tool": e[1], "result": e[2]}
             for e in rows_out], indent=1))
    print()
    print(f"Seconds per step; bootstrap = {args.rounds} rounds (~ extrapolated from the rounds run); "
          "speedup = tool / ours, with and without the bootstrap; RSS of the tool's process in MB, "
          "after loading its input and at peak.")
    header = ("size", "tool", "aggregate", "fit", "sandwich", "bootstrap", "total", "speedup",
              "total w/o bootstrap", "speedup w/o bootstrap", "RSS loaded", "RSS peak", "note")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    ours_totals = {}
    for entry in rows_out:
        size, tool = entry[0], entry[1]
        if isinstance(entry[2], str):
            print(f"| {size} | {tool} | " + " | ".join([""] * (len(header) - 3)) + f" | {entry[2]} |")
            continue
        result, total, estimated = entry[2], entry[3], entry[4]
        no_boot = total - (result.get("bootstrap_s") or 0.0)
        if tool == "ours":
            ours_totals[size] = (total, no_boot)
        speedup = "" if tool == "ours" else f"{total / ours_totals[size][0]:,.0f}x"
        speedup_no_boot = "" if tool == "ours" else f"{no_boot / ours_totals[size][1]:,.0f}x"
        note = []
        if tool == "arena-rank":
            note.append(f"2nd fit in same process {result['fit_again_s']:.2f}s")
        if tool == "ours" and result.get("aggregate_s") is None:
            note.append("generated as counts")
        if result.get("peak_child_rss_mb"):
            note.append(f"bootstrap workers peak {result['peak_child_rss_mb']:.0f} MB")
        print(
            f"| {size} | {tool} | {fmt(result.get('aggregate_s'))} | {fmt(result.get('fit_s'))} | "
            f"{fmt(result.get('sandwich_s'))} | "
            f"{fmt(result.get('bootstrap_s'), result.get('bootstrap_estimated', False))} | "
            f"{fmt(total, estimated)} | {speedup} | {fmt(no_boot)} | {speedup_no_boot} | "
            f"{result['baseline_rss_mb']:.0f} | {result['peak_rss_mb']:.0f} | {'; '.join(note)} |"
        )
    if checks:
        print()
        print("Agreement with ours (max relative difference over the 50 models):")
        print("| size | tool | rating | sandwich CI width |")
        print("|---|---|---|---|")
        for size, tool, rating, width in checks:
            print(f"| {size} | {tool} | {rating:.1e} | {'n/a' if width is None else f'{width:.1e}'} |")


if __name__ == "__main__":
    main()
