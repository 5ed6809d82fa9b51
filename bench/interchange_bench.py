"""Battle files: the whole `manage.py leaderboard` command on a generated file of N battles in the
public LMArena shape (question_id, model_a, model_b, winner, judge, turn, anony, language, tstamp,
conv_metadata with per-level markdown counts, dedup_tag; no conversations, like the published
clean-battle files), from JSON lines, a JSON list and Parquet; then the reader alone, the writers, and
the interpreter and Django start-up the command pays before it reads anything.

Targets (issue 19, 2 cores, 1.7M battles): the command < 5 s on JSON lines, < 2 s on Parquet.

    .venv/bin/python bench/interchange_bench.py --battles 1.7M --models 129
    .venv/bin/python bench/interchange_bench.py --battles 1.7M --baseline /work/main   # another checkout's command too
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from ratings.battle_arrays import WINNER_NAMES  # noqa: E402
from ratings.battle_files import read_battles, write_battles, write_records  # noqa: E402
from ratings.synthetic import model_names, simulate_battles, true_strengths  # noqa: E402

LANGUAGES = np.array(["English", "Chinese", "Russian", "German", "Japanese", "Spanish", "French", "unknown"])
LANGUAGE_SHARE = np.array([0.6, 0.12, 0.08, 0.05, 0.05, 0.04, 0.03, 0.03])


def count(text: str) -> int:
    text = text.lower().replace("_", "")
    scale = 1_000_000 if text.endswith("m") else 1_000 if text.endswith("k") else 1
    return int(float(text.rstrip("mk")) * scale)


def lmarena_table(n_battles: int, n_models: int, *, seed: int = 0) -> pa.Table:
    """Battles as LMArena publishes them (a clean-battle file's columns, without conversations)."""
    rng = np.random.default_rng(seed)
    battles = simulate_battles(true_strengths(n_models, seed=seed), n_battles, seed=seed)
    models = pa.array(model_names(n_models))

    def level_counts(names: tuple[str, ...], mean: float) -> pa.StructArray:
        return pa.StructArray.from_arrays([pa.array(rng.poisson(mean, n_battles)) for _ in names], names=list(names))

    meta = {"sum_user_tokens": pa.array(rng.integers(3, 400, n_battles))}
    for side in "ab":
        meta[f"sum_assistant_{side}_tokens"] = pa.array(rng.integers(5, 1500, n_battles))
        meta[f"header_count_{side}"] = level_counts(("h1", "h2", "h3", "h4", "h5", "h6"), 0.3)
        meta[f"list_count_{side}"] = level_counts(("ordered", "unordered"), 2.0)
        meta[f"bold_count_{side}"] = level_counts(("**", "__"), 1.0)
    meta["turns"] = pa.array(1 + (rng.random(n_battles) < 0.15))
    return pa.table({
        "question_id": pa.array([f"{x:032x}" for x in rng.integers(0, 2**63, n_battles)]),
        "model_a": models.take(pa.array(battles.model_a)),
        "model_b": models.take(pa.array(battles.model_b)),
        "winner": pa.array(WINNER_NAMES).take(pa.array(battles.outcome.astype(np.int64))),
        "judge": pa.array([f"arena_user_{x}" for x in rng.integers(0, 10**6, n_battles)]),
        "turn": meta["turns"],
        "anony": pa.array(rng.random(n_battles) < 0.9),
        "language": pa.array(LANGUAGES[rng.choice(len(LANGUAGES), n_battles, p=LANGUAGE_SHARE)]),
        "tstamp": pa.array(1.68e9 + np.sort(rng.random(n_battles)) * 6e7),
        "conv_metadata": pa.StructArray.from_arrays(list(meta.values()), names=list(meta)),
        "dedup_tag": pa.StructArray.from_arrays([pa.array(rng.random(n_battles) < 0.01),
                                                 pa.array(rng.random(n_battles) < 0.99)],
                                                names=["high_freq", "sampled"]),
    })


class Rows:
    """The table, printed a row at a time (a long run shows what it has measured so far)."""

    def append(self, row: tuple[str, str, tuple[float, float], str]) -> None:
        what, size, (wall, cpu), verdict = row
        print(f"{what:<62} {size:>9} {wall:>7.2f} {cpu:>7.2f}  {verdict}", flush=True)


def write_file(table: pa.Table, path: Path, fmt: str) -> None:
    if fmt == "parquet":
        pq.write_table(table, path)
    else:
        write_records((row for batch in table.to_batches(65_536) for row in batch.to_pylist()), path, fmt=fmt)


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def timed(fn, repeat: int) -> tuple[tuple[float, float], object]:
    """Median (wall, CPU) seconds of `fn` in this process, and its last result."""
    times, result = [], None
    for _ in range(repeat):
        started, cpu = time.perf_counter(), cpu_seconds(resource.RUSAGE_SELF)
        result = fn()
        times.append((time.perf_counter() - started, cpu_seconds(resource.RUSAGE_SELF) - cpu))
    return median(times), result


def median(times: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)


def command(checkout: Path, *args: str, repeat: int = 1) -> tuple[float, float]:
    """Median (wall, CPU) seconds of a manage.py command, start-up included."""
    times = []
    for _ in range(repeat):
        started, cpu = time.perf_counter(), cpu_seconds(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, str(checkout / "manage.py"), *args], cwd=checkout, check=True,
                       stdout=subprocess.DEVNULL, env={**os.environ, "DJANGO_SETTINGS_MODULE": "arena.settings"})
        times.append((time.perf_counter() - started, cpu_seconds(resource.RUSAGE_CHILDREN) - cpu))
    return median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--battles", default="1.7M")
    parser.add_argument("--models", type=int, default=129)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each timing (the median is shown)")
    parser.add_argument("--baseline", type=Path, help="another checkout whose leaderboard command is timed too")
    parser.add_argument("--keep", type=Path, help="write the files here and keep them")
    parser.add_argument("--formats", default="jsonl,json,parquet",
                        help="which files to time (a JSON list of 1.7M records takes about 5 GB to hold)")
    o = parser.parse_args()
    n = count(o.battles)
    workdir = o.keep or Path(tempfile.mkdtemp(prefix="arena-interchange-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"[bench] generating {n:,} battles between {o.models} models in {workdir} (--keep: kept for a rerun)",
          flush=True)
    table = lmarena_table(n, o.models)
    files = {fmt: workdir / f"battles.{fmt}" for fmt in o.formats.split(",")}
    write_rows = {}
    for fmt, path in files.items():
        if path.exists() and o.keep is not None:
            write_rows[fmt] = (float("nan"), float("nan"))  # kept from an earlier run with the same arguments
            continue
        write_rows[fmt], _ = timed(lambda fmt=fmt, path=path, table=table: write_file(table, path, fmt), 1)
    del table

    load = os.getloadavg()
    print(f"\n{n:,} battles, {o.models} models, {os.cpu_count()} CPUs, load average at the start {load[0]:.2f} "
          f"{load[1]:.2f} {load[2]:.2f} (median of {o.repeat} runs where repeated). Wall is what a user waits; CPU is")
    print("user + system time over all threads: under load it stays near what a quiet machine takes, and with 2")
    print("cores the quiet wall time is at least CPU / 2 (pyarrow reads JSON lines and Parquet on both cores).")
    print(f"{'what':<62} {'file':>9} {'wall s':>7} {'CPU s':>7}  target (wall)", flush=True)
    rows = Rows()
    rows.append(("interpreter + Django start-up (leaderboard --help)", "-",
                 command(ROOT, "leaderboard", "--help", repeat=o.repeat), ""))
    for fmt, path in files.items():
        size = f"{path.stat().st_size / 1e6:,.0f} MB"
        seconds, _ = timed(lambda path=path: read_battles(path, fields={"anony", "tstamp"}), o.repeat)
        rows.append((f"read_battles, the fields the command reads ({fmt})", size, seconds, ""))
        seconds, battles = timed(lambda path=path: read_battles(path), 1)
        rows.append((f"read_battles, every field ({fmt})", size, seconds, ""))
        target = {"jsonl": 5.0, "parquet": 2.0}.get(fmt)
        seconds = command(ROOT, "leaderboard", "--battles", str(path), repeat=o.repeat)
        verdict = "" if target is None else f"< {target:.0f} s: {'met' if seconds[0] < target else 'NOT MET'}"
        rows.append((f"manage.py leaderboard ({fmt})", size, seconds, verdict))
        if fmt == "jsonl":
            seconds = command(ROOT, "leaderboard", "--battles", str(path), "--style-control", repeat=o.repeat)
            rows.append(("manage.py leaderboard --style-control (jsonl)", size, seconds, ""))
        if o.baseline is not None:
            rows.append((f"  baseline {o.baseline}: manage.py leaderboard ({fmt})", size,
                         command(o.baseline, "leaderboard", "--battles", str(path), repeat=o.repeat), ""))
    for fmt in files:
        rows.append((f"write {fmt} (generated table, row writer / pyarrow)", "-", write_rows[fmt], ""))
    for fmt in ("jsonl", "parquet"):
        out = workdir / f"roundtrip.{fmt}"
        seconds, _ = timed(lambda fmt=fmt, out=out: write_battles(battles, out, fmt=fmt), 1)
        size = f"{out.stat().st_size / 1e6:,.0f} MB"
        rows.append((f"write_battles ({fmt}, every field read back)", size, seconds, ""))

    load = os.getloadavg()
    print(f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if o.keep is None:
        for path in workdir.iterdir():
            path.unlink()
        workdir.rmdir()


if __name__ == "__main__":
    main()
