"""Prompt-to-leaderboard (light): training time of the linear head over 384-number prompt embeddings (MiniLM's
size) and its held-out log-loss against the global Bradley-Terry fit, on a simulation whose strengths
depend on the prompt's topic (P2L must win and be published) and on one where they do not (it must not be
published). Generated data: ratings.synthetic.simulate_prompt_battles.

    .venv/bin/python bench/p2l_bench.py --votes 100k --models 20
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ratings.p2l import held_out_comparison  # noqa: E402
from ratings.synthetic import simulate_prompt_battles  # noqa: E402


def count(text: str) -> int:
    text = text.lower().replace("_", "")
    scale = 1_000_000 if text.endswith("m") else 1_000 if text.endswith("k") else 1
    return int(float(text.rstrip("mk")) * scale)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--votes", default="100k")
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--l2", type=float, default=1.0)
    o = parser.parse_args()
    n = count(o.votes)
    print(f"\nP2L head: {n:,} votes, {o.models} models, {o.dims}-number embeddings in 8 topics, 80/20 split, "
          f"L2 {o.l2}")
    print(f"{'simulation':<44} {'train s':>8} {'global':>8} {'P2L':>8} {'gain':>8} {'2 SE':>7}  published  verdict")
    for name, spread, must in (("strengths depend on the topic (sd 0.6)", 0.6, True),
                               ("strengths independent of the prompt", 0.0, False)):
        x, battles, _ = simulate_prompt_battles(n, o.models, dims=o.dims, topic_spread=spread, seed=1)
        started = time.perf_counter()
        _, r = held_out_comparison(x, battles.model_a, battles.model_b, battles.outcome, battles.n_models, l2=o.l2)
        seconds = time.perf_counter() - started
        verdict = "met" if r.publish == must else "NOT MET"
        print(f"{name:<44} {seconds:>8.1f} {r.global_log_loss:>8.5f} {r.prompt_log_loss:>8.5f} "
              f"{r.global_log_loss - r.prompt_log_loss:>8.5f} {2 * r.gain_standard_error:>7.5f}  "
              f"{'yes' if r.publish else 'no':>9}  {verdict}")
    load = os.getloadavg()
    print(f"(train s: the head and the global fit together; {os.cpu_count()} CPUs, load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f})")


if __name__ == "__main__":
    main()
