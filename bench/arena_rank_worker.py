"""Timing worker for bench/ratings_bench.py, run inside arena-rank's own virtual environment.

    /tmp/arenarank-venv/bin/python bench/arena_rank_worker.py {arena-rank|fastchat} DATA.npz ROUNDS

Reads the battles the bench generated (model_a, model_b, outcome codes 0 = a, 1 = b, 2 = tie,
3 = both bad), turns them into the DataFrame both tools expect, times each step inside this
process, prints progress on stderr and one JSON object on stdout. It imports nothing from the
project, so the project's and arena-rank's pinned dependencies never meet.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import resource
import sys
import time

import numpy as np
import pandas as pd

WINNERS = np.array(["model_a", "model_b", "tie", "tie (bothbad)"], dtype=object)


def log(message: str) -> None:
    print(f"    [{sys.argv[1]} {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def peak_rss_mb() -> dict:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"peak_rss_mb": own, "peak_child_rss_mb": children}


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def load_frame(path: str) -> pd.DataFrame:
    data = np.load(path)
    names = np.array([f"model-{i:03d}" for i in range(int(data["n_models"]))], dtype=object)
    return pd.DataFrame({
        "model_a": names[data["model_a"]],
        "model_b": names[data["model_b"]],
        "winner": WINNERS[data["outcome"]],
    })


def timed(label: str, fn, *args, **kwargs):
    t0 = time.perf_counter()
    result = fn(*args, **kwargs)
    elapsed = time.perf_counter() - t0
    log(f"{label}: {elapsed:.2f}s")
    return result, elapsed


def run_arena_rank(df: pd.DataFrame, rounds: int) -> dict:
    import jax  # noqa: PLC0415 (jax and arena-rank: heavy, optional, loaded only for the runs that need them)
    from arena_rank.models.bradley_terry import BradleyTerry  # noqa: PLC0415 (jax and arena-rank: heavy, optional, loaded only for the runs that need them)
    from arena_rank.utils.data_utils import PairDataset  # noqa: PLC0415 (jax and arena-rank: heavy, optional, loaded only for the runs that need them)

    def block(model):
        jax.block_until_ready(model.params["ratings"])
        return model

    out: dict = {}
    dataset, out["aggregate_s"] = timed("PairDataset.from_pandas", PairDataset.from_pandas, df)
    out["unique_rows"] = int(dataset.pairs.shape[0])
    model = BradleyTerry(n_competitors=len(dataset.competitors))
    model, out["fit_s"] = timed("fit (includes jit compile)", lambda: block(model.fit(dataset)))
    # lbfgs_minimize defines its jitted loop inside the call, so a second fit compiles again.
    _, out["fit_again_s"] = timed(
        "fit again, same process", lambda: block(BradleyTerry(len(dataset.competitors)).fit(dataset))
    )
    sandwich, out["sandwich_s"] = timed(
        "sandwich CIs", model.compute_ratings_and_cis, dataset, significance_level=0.05, ci_method="sandwich"
    )
    out["competitors"] = list(sandwich["competitors"])
    out["ratings"] = np.asarray(sandwich["ratings"]).tolist()
    out["lower"] = np.asarray(sandwich["rating_lower"]).tolist()
    out["upper"] = np.asarray(sandwich["rating_upper"]).tolist()
    # Each bootstrap call starts a process pool (spawn + import jax) before any resample; timing
    # a 2-round call as well separates that fixed cost from the per-round cost.
    for key, n in (("bootstrap_small", 2), ("bootstrap_run", rounds)):
        if n and (key == "bootstrap_run" or rounds > 2):
            _, elapsed = timed(
                f"bootstrap x{n} (multiprocessing, {mp.cpu_count()} workers)",
                model.compute_ratings_and_cis, dataset, significance_level=0.05, ci_method="bootstrap",
                num_bootstrap=n, seed=42,
            )
            out[f"{key}_rounds"] = n
            out[f"{key}_s"] = elapsed
    return out


def fastchat_compute_mle_elo(df: pd.DataFrame, scale: float = 400, base: float = 10, init_rating: float = 1000):
    """FastChat's `compute_mle_elo` (Chatbot Arena notebook, 2023): one logistic-regression row per
    battle, every battle duplicated so that a tie becomes one win for each side."""
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415 (scikit-learn: optional, only for FastChat's fit)

    models = pd.concat([df["model_a"], df["model_b"]]).unique()
    models = pd.Series(np.arange(len(models)), index=models)
    df = pd.concat([df, df], ignore_index=True)
    p, n = len(models.index), df.shape[0]
    x = np.zeros([n, p])
    x[np.arange(n), models[df["model_a"]]] = +math.log(base)
    x[np.arange(n), models[df["model_b"]]] = -math.log(base)
    y = np.zeros(n)
    y[df["winner"] == "model_a"] = 1.0
    tie_idx = (df["winner"] == "tie") | (df["winner"] == "tie (bothbad)")
    tie_idx[len(tie_idx) // 2:] = False
    y[tie_idx] = 1.0
    # penalty=None in FastChat; scikit-learn >= 1.8 spells it C=inf.
    lr = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-6)
    lr.fit(x, y)
    return pd.Series(scale * lr.coef_[0] + init_rating, index=models.index)


def run_fastchat(df: pd.DataFrame, rounds: int) -> dict:
    out: dict = {}
    ratings, out["fit_s"] = timed("compute_mle_elo (sklearn, one row per battle)", fastchat_compute_mle_elo, df)
    ratings = ratings - ratings.mean() + 1000.0  # FastChat anchors to a model; centre instead to compare
    out["competitors"] = list(ratings.index)
    out["ratings"] = ratings.tolist()
    if rounds:
        # FastChat's get_bootstrap_result: resample the rows, refit, `rounds` times in sequence.
        rng_state = np.random.RandomState(42)

        def bootstrap():
            return [fastchat_compute_mle_elo(df.sample(frac=1.0, replace=True, random_state=rng_state))
                    for _ in range(rounds)]

        _, elapsed = timed(f"bootstrap x{rounds}", bootstrap)
        out["bootstrap_run_rounds"] = rounds
        out["bootstrap_run_s"] = elapsed
    return out


def main() -> None:
    tool, path, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    t0 = time.perf_counter()
    df = load_frame(path)
    log(f"{len(df):,} battles as a DataFrame in {time.perf_counter() - t0:.2f}s")
    baseline = current_rss_mb()
    result = run_arena_rank(df, rounds) if tool == "arena-rank" else run_fastchat(df, rounds)
    result.update(peak_rss_mb())
    result["baseline_rss_mb"] = baseline
    print(json.dumps(result))


if __name__ == "__main__":
    # arena-rank's bootstrap uses multiprocessing.Pool; with the default 'fork' the workers hang
    # (the parent already runs jax's threads), so they are spawned.
    mp.set_start_method("spawn")
    main()
