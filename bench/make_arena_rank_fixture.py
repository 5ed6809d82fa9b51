"""Write tests/ratings/fixtures/arena_rank_reference.json: synthetic battles and arena-rank's answers.

arena-rank (LMArena's published rating code) needs jax and pins numpy, so it lives in its own
virtual environment and this script runs there, not in the project's:

    python3 -m venv /tmp/arenarank-venv
    /tmp/arenarank-venv/bin/pip install arena-rank==0.1.1
    /tmp/arenarank-venv/bin/python bench/make_arena_rank_fixture.py

The battles come from a seeded generator with known strengths, style counts that move the
outcome, and ties of both kinds. They are stored compactly as integer rows
[a, b, outcome, tokens_a, tokens_b, headers_a, headers_b, lists_a, lists_b, bold_a, bold_b]
with outcome 0 = model a, 1 = model b, 2 = tie, 3 = both bad (ratings.battle_arrays.Outcome).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parent.parent / "tests" / "ratings" / "fixtures" / "arena_rank_reference.json"
WINNERS = np.array(["model_a", "model_b", "tie", "both_bad"], dtype=object)
STYLE = ["tokens", "headers", "lists", "bold"]


def synthetic_battles(seed: int, n_models: int, n_battles: int, *,
                      style_effect: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows as described above, and the true strengths (natural units)."""
    rng = np.random.default_rng(seed)
    theta = np.sort(rng.normal(0.0, 0.6, n_models))[::-1]
    # Uneven pair frequencies, like an arena where some models are sampled more.
    popularity = rng.uniform(0.3, 1.0, n_models)
    a = rng.choice(n_models, n_battles, p=popularity / popularity.sum())
    b = (a + rng.integers(1, n_models, n_battles)) % n_models
    verbosity = rng.uniform(0.5, 2.0, n_models)
    tokens = np.stack([rng.poisson(300 * verbosity[m]) for m in (a, b)], axis=1)
    markdown = {
        name: np.stack([rng.poisson(rate * verbosity[m]) for m in (a, b)], axis=1)
        for name, rate in (("headers", 1.5), ("lists", 4.0), ("bold", 2.0))
    }
    length_ratio = (tokens[:, 0] - tokens[:, 1]) / np.maximum(tokens.sum(axis=1), 1)
    p_a = 1.0 / (1.0 + np.exp(-(theta[a] - theta[b] + style_effect * length_ratio)))
    # Ties are drawn so that a's expected score stays p_a: P(tie) = t, P(a wins) = p_a - t/2.
    t = np.minimum(0.18, 2 * np.minimum(p_a, 1 - p_a))
    u = rng.random(n_battles)
    outcome = np.where(u < p_a - t / 2, 0, np.where(u < p_a + t / 2, 2, 1))
    outcome = np.where((outcome == 2) & (rng.random(n_battles) < 0.35), 3, outcome)
    rows = np.column_stack([
        a, b, outcome, tokens, markdown["headers"], markdown["lists"], markdown["bold"],
    ]).astype(np.int64)
    return rows, theta


def frame(rows: np.ndarray, names: list[str]) -> pd.DataFrame:
    names_arr = np.array(names, dtype=object)
    df = pd.DataFrame({"model_a": names_arr[rows[:, 0]], "model_b": names_arr[rows[:, 1]],
                       "winner": WINNERS[rows[:, 2]]})
    for j, name in enumerate(STYLE):
        df[f"{name}_a"] = rows[:, 3 + 2 * j]
        df[f"{name}_b"] = rows[:, 4 + 2 * j]
    return df


def add_style_feature_cols(df: pd.DataFrame) -> pd.DataFrame:
    """As arena-rank's examples/example_utils.py: (a - b) / (a + b), 0/0 -> 0, standardised."""
    for name in STYLE:
        diff = df[f"{name}_a"] - df[f"{name}_b"]
        total = (df[f"{name}_a"] + df[f"{name}_b"]).replace(0, 1)
        raw = diff / total
        df[name] = (raw - raw.mean()) / raw.std()
    return df


def tolist(x) -> list[float]:
    return [float(v) for v in np.asarray(x)]


def run_scenario(seed: int, n_models: int, n_battles: int, *, style: bool, bootstrap_rounds: int) -> dict:
    from arena_rank.models.bradley_terry import BradleyTerry  # noqa: PLC0415 (jax and arena-rank: heavy, optional, loaded only for the runs that need them)
    from arena_rank.models.contextual_bradley_terry import ContextualBradleyTerry  # noqa: PLC0415 (jax and arena-rank: heavy, optional, loaded only for the runs that need them)
    from arena_rank.utils.data_utils import ContextualPairDataset, PairDataset  # noqa: PLC0415 (jax and arena-rank: heavy, optional, loaded only for the runs that need them)

    rows, theta = synthetic_battles(seed, n_models, n_battles, style_effect=0.8 if style else 0.0)
    names = [f"model-{i:02d}" for i in range(n_models)]
    df = frame(rows, names)
    scenario = {
        "seed": seed,
        "models": names,
        "true_theta": tolist(theta),
        "battles": rows.tolist(),
    }

    dataset = PairDataset.from_pandas(df)
    t0 = time.perf_counter()
    sandwich = BradleyTerry(n_competitors=len(dataset.competitors)).compute_ratings_and_cis(
        dataset, significance_level=0.05
    )
    print(f"  bt + sandwich: {time.perf_counter() - t0:.1f}s", flush=True)
    scenario["bt"] = {
        "competitors": list(sandwich["competitors"]),
        "ratings": tolist(sandwich["ratings"]),
        "rating_lower": tolist(sandwich["rating_lower"]),
        "rating_upper": tolist(sandwich["rating_upper"]),
        "variances": tolist(sandwich["variances"]),
    }
    if bootstrap_rounds:
        t0 = time.perf_counter()
        boot = BradleyTerry(n_competitors=len(dataset.competitors)).compute_ratings_and_cis(
            dataset, significance_level=0.05, ci_method="bootstrap", num_bootstrap=bootstrap_rounds, seed=42
        )
        print(f"  bt bootstrap x{bootstrap_rounds}: {time.perf_counter() - t0:.1f}s", flush=True)
        scenario["bt_bootstrap"] = {
            "rounds": bootstrap_rounds,
            "competitors": list(boot["competitors"]),
            "ratings": tolist(boot["ratings"]),
            "rating_lower": tolist(boot["rating_lower"]),
            "rating_upper": tolist(boot["rating_upper"]),
        }
    if style:
        styled = add_style_feature_cols(df.copy())
        context = ContextualPairDataset.from_pandas(styled, feature_cols=STYLE)
        t0 = time.perf_counter()
        result = ContextualBradleyTerry(
            n_competitors=len(context.competitors), n_features=len(STYLE)
        ).compute_ratings_and_cis(context, significance_level=0.05)
        print(f"  contextual bt + sandwich: {time.perf_counter() - t0:.1f}s", flush=True)
        scenario["style"] = {
            "features": STYLE,
            "competitors": list(result["competitors"]),
            "ratings": tolist(result["ratings"]),
            "coeffs": tolist(result["coeffs"]),
            "rating_lower": tolist(result["rating_lower"]),
            "rating_upper": tolist(result["rating_upper"]),
            "variances": tolist(result["variances"]),
        }
    return scenario


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap-rounds", type=int, default=100,
                        help="arena-rank bootstrap rounds for the main scenario (each takes seconds: it re-jits)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    fixture = {
        "generated_by": "bench/make_arena_rank_fixture.py",
        "arena_rank_version": version("arena-rank"),
        "jax_version": version("jax"),
        "conventions": {
            "outcome_codes": {"0": "model_a", "1": "model_b", "2": "tie", "3": "both_bad"},
            "row": ["a", "b", "outcome"] + [f"{s}_{side}" for s in STYLE for side in ("a", "b")],
            "scale": 400, "base": 10, "init_rating": 1000, "significance_level": 0.05,
        },
        "scenarios": {},
    }
    print("main scenario: 10 models, 4000 battles, style", flush=True)
    fixture["scenarios"]["main"] = run_scenario(20240611, 10, 4000, style=True, bootstrap_rounds=args.bootstrap_rounds)
    print("small scenario: 6 models, 120 battles", flush=True)
    fixture["scenarios"]["small"] = run_scenario(7, 6, 120, style=False, bootstrap_rounds=0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(fixture, separators=(",", ":"))
    # One battle per line keeps diffs readable and the file small.
    text = text.replace("],[", "],\n[")
    args.out.write_text(text + "\n")
    print(f"wrote {args.out} ({len(text) / 1e3:.0f} kB)")


if __name__ == "__main__":
    # arena-rank's bootstrap uses multiprocessing.Pool; forking a process that already runs jax's
    # threads hangs here, so the workers are spawned.
    mp.set_start_method("spawn")
    main()
