"""Reading the leaderboard's history from a PostgreSQL table that keeps every published snapshot:
N snapshots of 50 models, one a minute back from now (500k is about a year of a busy arena whose
table changes every minute), the newest five with their 50 x 50 matrices, the rest slimmed to
their rows as ratings/snapshots.py leaves them. Timed: the table in force now (the page and the
API), the one in force at a date (?at=), the daily history (the chart, /api/leaderboard/history),
and what each recompute adds (the in-force lookups and the slimming of what fell out).

    .venv/bin/python bench/history_bench.py --snapshots 10k,100k,300k
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import django  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from arena.localservices import LocalPostgres, free_port, log  # noqa: E402

STATE = Path(tempfile.mkdtemp(prefix="arena-history-"))
STATE.chmod(0o755)
PORT = free_port()
os.environ.update({"DATABASE_URL": f"postgres://arena@127.0.0.1:{PORT}/arena",
                   "DJANGO_SETTINGS_MODULE": "arena.settings", "REDIS_URL": "redis://127.0.0.1:1/0"})
MODELS = 50
FILL = """
INSERT INTO ratings_leaderboardsnapshot (arena, category, computed_at, total_votes, data)
SELECT 'text', 'overall', now() - (i || ' minutes')::interval, 10000000 - i,
       CASE WHEN i <= 5 THEN %(full)s::jsonb ELSE %(slim)s::jsonb END
FROM generate_series(0, %(n)s - 1) AS i
"""


def parse_size(text: str) -> int:
    text = text.strip().lower()
    return int(float(text[:-1]) * {"k": 1e3, "m": 1e6}[text[-1]]) if text[-1] in "km" else int(text)


def snapshot_data() -> tuple[str, str]:
    rows = [{"model": f"model-{i:02d}", "rating": 1200.0 - 7.3 * i, "ci_lower": 1190.0 - 7.3 * i,
             "ci_upper": 1210.0 - 7.3 * i, "votes": 20000 + i, "rank_ub": 1 + i // 3, "ci_method": "sandwich",
             "elo": 1199.0 - 7 * i, "style_rating": 1195.0 - 7.1 * i, "style_ci_lower": 1185.0 - 7.1 * i,
             "style_ci_upper": 1205.0 - 7.1 * i, "style_rank_ub": 1 + i // 3, "organisation": "Org",
             "license": "MIT", "backend": "openai", "tokens_per_answer": 300.0 + i} for i in range(MODELS)]
    matrix = [[0.5] * MODELS for _ in range(MODELS)]
    slim = {"rows": rows, "models": [r["model"] for r in rows], "unrated": [], "excluded": {}}
    full = {**slim, "battle_counts": matrix, "win_fraction": matrix, "predicted_win_rate": matrix,
            "average_win_rate": [0.5] * MODELS}
    return json.dumps(full), json.dumps(slim)


def timed(function, repeat: int = 5) -> float:
    """Median wall time in ms over `repeat` calls (after one warm-up)."""
    function()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--snapshots", default="10k,100k,300k")
    args = parser.parse_args()
    pg = LocalPostgres(STATE / "pg", PORT, STATE / "postgres.log")
    pg.start()
    try:
        django.setup()
        call_command("migrate", verbosity=0)
        from django.utils import timezone  # noqa: PLC0415 (Django app loading: after django.setup())

        from ratings import snapshots  # noqa: PLC0415 (Django app loading: models import after django.setup())
        from ratings.history import daily_history  # noqa: PLC0415 (Django app loading: after django.setup())
        from ratings.presenters import leaderboard_json  # noqa: PLC0415 (Django app loading: after django.setup())

        full, slim = snapshot_data()
        table = []
        for size in [parse_size(s) for s in args.snapshots.split(",")]:
            log(f"inserting {size:,} snapshots")
            with connection.cursor() as cursor:
                cursor.execute("TRUNCATE ratings_leaderboardsnapshot")
                cursor.execute(FILL, {"n": size, "full": full, "slim": slim})
                cursor.execute("VACUUM ANALYZE ratings_leaderboardsnapshot")
                cursor.execute("SELECT pg_total_relation_size('ratings_leaderboardsnapshot')")
                megabytes = cursor.fetchone()[0] / 2**20
            middle = timezone.now() - timedelta(minutes=size // 2)
            days = len(daily_history("overall", arena="text")["days"])
            table.append((f"{size:,}", f"{megabytes:,.0f}", f"{days:,}",
                          timed(lambda: leaderboard_json()),
                          timed(lambda m=middle: leaderboard_json(at=m)),
                          timed(lambda m=middle: leaderboard_json(since=m)),
                          timed(lambda: daily_history("overall", arena="text")),
                          timed(lambda: snapshots.latest("overall", arena="text")),
                          timed(lambda: snapshots.slim_superseded(["text"]))))
        print()
        print("| snapshots | table MB | days | board now ms | board ?at= ms | board ?since= ms | daily history ms "
              "| in-force lookup ms (x categories per recompute) | slimming per recompute ms |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for size, megabytes, days, *ms in table:
            print(f"| {size} | {megabytes} | {days} | " + " | ".join(f"{m:.1f}" for m in ms) + " |")
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
