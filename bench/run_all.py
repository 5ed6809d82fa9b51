"""`make bench`: every benchmark, one after another, each printing its own table.

The ratings comparison needs LMArena's `arena-rank` and scikit-learn, kept out of the project's
environment: they are installed once into .state/bench-venv (progress is shown).
"""

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_VENV = ROOT / ".state" / "bench-venv"
PYTHON = sys.executable

BENCHES = [
    ("batching: the worker path (Celery, continuous batching) vs one-at-a-time generate (SmolLM2)",
     ["bench/batching_bench.py"]),
    ("ratings: fit + CIs + bootstrap vs arena-rank and FastChat",
     ["bench/ratings_bench.py", "--arena-rank-python", str(BENCH_VENV / "bin" / "python")]),
    ("recompute: the leaderboard from a PostgreSQL votes table", ["bench/recompute_bench.py"]),
    ("active sampling: votes to a target CI width, uniform vs active", ["bench/active_sampling_bench.py"]),
    ("search: test-time compute strategies on generated tasks (SmolLM2)", ["bench/search_eval.py"]),
    ("load: concurrent battles, open streams, paced votes", ["bench/load_test.py"]),
    ("blind: can a voter tell the search contestant apart before voting? (the demo, SmolLM2)",
     ["bench/blind_attack.py"]),
    ("replay: simulated voters through the real arena recover who is better (the demo, SmolLM2; resumable)",
     ["bench/arena_replay.py", "--attacker", "40"]),
]


def ensure_bench_venv() -> None:
    if (BENCH_VENV / "bin" / "python").exists():
        return
    print(f"[bench] creating {BENCH_VENV} with arena-rank and scikit-learn (once)", flush=True)
    subprocess.run([PYTHON, "-m", "venv", str(BENCH_VENV)], check=True)
    subprocess.run([str(BENCH_VENV / "bin" / "pip"), "install", "--progress-bar", "on", "arena-rank==0.1.1",
                    "scikit-learn==1.9.1"], check=True)


def main() -> None:
    only = sys.argv[1:]
    ensure_bench_venv()
    failed = []
    for title, args in BENCHES:
        if only and not any(word in title for word in only):
            continue
        print(f"\n=== {title} ===", flush=True)
        started = time.monotonic()
        result = subprocess.run([PYTHON, *args], cwd=ROOT)
        print(f"[bench] {title.split(':')[0]} took {time.monotonic() - started:.0f} s", flush=True)
        if result.returncode:
            failed.append(title)
    if failed:
        sys.exit("failed: " + "; ".join(failed))


if __name__ == "__main__":
    main()
