"""`make bench`: every benchmark, one after another, each printing its own table.

The ratings comparison needs LMArena's `arena-rank` and scikit-learn, and the ties bench `leaderbot`
(numba, pandas, matplotlib), kept out of the project's environment: they are installed once into
.state/bench-venv (progress is shown).
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
    ("path: direct chats through the API at 1/4/8/16 concurrent, and a search contestant beside plain ones (SmolLM2)",
     ["bench/path_throughput.py"]),
    ("memory: a process serving SmolLM2 and a random ~1B Llama, against the weights' size",
     ["bench/worker_memory.py"]),
    ("ratings: fit + CIs + bootstrap vs arena-rank and FastChat",
     ["bench/ratings_bench.py", "--arena-rank-python", str(BENCH_VENV / "bin" / "python")]),
    ("recompute: the leaderboard from a PostgreSQL votes table", ["bench/recompute_bench.py"]),
    ("history: reading the leaderboard's kept snapshots as they accumulate", ["bench/history_bench.py"]),
    ("interchange: manage.py leaderboard on 1.7M battles from JSON lines, a JSON list and Parquet",
     ["bench/interchange_bench.py"]),
    ("ties: Davidson fit, agreement with leaderbot, held-out log-loss", ["bench/ties_bench.py"]),
    ("p2l: prompt-to-leaderboard head vs the global fit on held-out votes", ["bench/p2l_bench.py"]),
    ("active sampling: votes to a target CI width, uniform vs active", ["bench/active_sampling_bench.py"]),
    ("search: test-time compute strategies on generated tasks (SmolLM2)", ["bench/search_eval.py"]),
    ("load: concurrent battles, open streams, paced votes", ["bench/load_test.py"]),
    ("blind: can a voter tell the search contestant apart before voting? (the demo, SmolLM2)",
     ["bench/blind_attack.py"]),
    ("rigging simulation: rank shift of a target with and without each defence (pure ratings code)",
     ["bench/rigging_sim.py"]),
    ("rigging attack: one machine, rotating cookies and spoofed X-Forwarded-For, on the real stack (10 min)",
     ["bench/rigging_attack.py"]),
    ("replay: simulated voters through the real arena recover who is better (the demo, SmolLM2; resumable)",
     ["bench/arena_replay.py", "--attacker", "40"]),
]


BENCH_PACKAGES = ["arena-rank==0.1.1", "scikit-learn==1.9.1", "leaderbot==0.4.3"]


def ensure_bench_venv() -> None:
    stamp = BENCH_VENV / "installed.txt"
    if stamp.exists() and stamp.read_text().split() == BENCH_PACKAGES:
        return
    print(f"[bench] installing {', '.join(BENCH_PACKAGES)} into {BENCH_VENV} (once)", flush=True)
    if not (BENCH_VENV / "bin" / "python").exists():
        subprocess.run([PYTHON, "-m", "venv", str(BENCH_VENV)], check=True)
    subprocess.run([str(BENCH_VENV / "bin" / "pip"), "install", "--progress-bar", "on", *BENCH_PACKAGES], check=True)
    stamp.write_text("\n".join(BENCH_PACKAGES))


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
