"""The leaderboard recompute from a real PostgreSQL votes table: N synthetic anonymous votes over
50 models (inserted with SQL generate_series), then each part of `ratings.snapshots.recompute`
timed: the GROUP BY pair counts and fit per category, online Elo (reads one row per vote), style
control (reads four numbers per side per vote), and the whole recompute.

    .venv/bin/python bench/recompute_bench.py --votes 100k,1M
"""

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from arena.localservices import LocalPostgres, free_port, log  # noqa: E402

STATE = Path(tempfile.mkdtemp(prefix="arena-recompute-"))
STATE.chmod(0o755)
PORT = free_port()
os.environ.update({"DATABASE_URL": f"postgres://arena@127.0.0.1:{PORT}/arena", "DJANGO_SETTINGS_MODULE": "arena.settings",
                   "REDIS_URL": "redis://127.0.0.1:1/0"})

FILL = """
INSERT INTO arena_battle (uuid, mode, endpoint_a_id, endpoint_b_id, client_id, created_at, updated_at)
SELECT md5(i::text || 'b')::uuid, 'anony', e.lo + a, e.lo + b, 'bench', now() - (i || ' seconds')::interval, now()
FROM (SELECT i, (i::bigint * 7919) %% 50 AS a, ((i::bigint * 7919) %% 50 + 1 + (i::bigint * 104729) %% 49) %% 50 AS b
      FROM generate_series(1, %(n)s) AS i) s, (SELECT min(id) AS lo FROM arena_modelendpoint) e;
INSERT INTO arena_vote (battle_id, choice, client_id, counts, excluded_reason, features, created_at)
SELECT id, CASE WHEN random() < 0.1 THEN 'tie'
                WHEN random() < 1 / (1 + power(10, ((endpoint_b_id - endpoint_a_id) * 8.0) / 400)) THEN 'a'
                ELSE 'b' END,
       'bench', true, '',
       jsonb_build_object('turn', 1 + (id %% 5 = 0)::int, 'language', CASE WHEN id %% 4 = 0 THEN 'German' ELSE 'English' END,
                          'prompt_tokens', (id %% 700), 'code', id %% 3 = 0, 'math', id %% 7 = 0,
                          'prompt_hash', md5((id %% 20000)::text),
                          'conv_metadata', jsonb_build_object('sum_assistant_a_tokens', 100 + id %% 300,
                             'sum_assistant_b_tokens', 100 + id %% 250, 'header_count_a', id %% 3, 'header_count_b', id %% 2,
                             'list_count_a', id %% 5, 'list_count_b', id %% 4, 'bold_count_a', id %% 2, 'bold_count_b', id %% 3)),
       created_at
FROM arena_battle;
"""


def parse_size(text: str) -> int:
    text = text.strip().lower()
    return int(float(text[:-1]) * {"k": 1e3, "m": 1e6}[text[-1]]) if text[-1] in "km" else int(text)


def timed(label: str, fn, results: list):
    t0 = time.perf_counter()
    value = fn()
    results.append((label, time.perf_counter() - t0))
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--votes", default="100k,1M")
    args = parser.parse_args()
    pg = LocalPostgres(STATE / "pg", PORT, STATE / "postgres.log")
    pg.start()
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        from django.db import connection

        from arena.models import Backend, ModelEndpoint, Vote
        from ratings import snapshots
        from ratings.queries import category_pair_counts, elo_arrays, pair_counts, style_battles

        endpoints = [ModelEndpoint.objects.create(name=f"model-{i:02d}", backend=Backend.OPENAI, queue="q",
                                                  params={}) for i in range(50)]
        ids, names = [e.id for e in endpoints], [e.name for e in endpoints]
        table = []
        for size in [parse_size(s) for s in args.votes.split(",")]:
            log(f"inserting {size:,} battles and votes")
            with connection.cursor() as cursor:
                cursor.execute("TRUNCATE arena_vote, arena_battle CASCADE")
                cursor.execute(FILL, {"n": size})
                cursor.execute("ANALYZE")
            assert Vote.objects.count() == size
            parts: list = []
            log(f"timing the recompute of {size:,} votes")
            counts = timed("GROUP BY pair counts (overall)", lambda: pair_counts(ids), parts)
            timed("fit + sandwich (overall)", lambda: snapshots.table_from_counts(names, counts), parts)
            timed("all 8 categories (one scan + dedup, fits)",
                  lambda: [snapshots.table_from_counts(names, c) for c in category_pair_counts(ids).values()], parts)
            timed("online Elo from scratch (one row per vote)", lambda: elo_arrays(ids), parts)
            timed("style control (one row per vote)", lambda: snapshots.compute_leaderboard(style_battles(),
                                                                                             style_control=True), parts)
            from ratings.models import LeaderboardSnapshot

            LeaderboardSnapshot.objects.all().delete()
            timed("first recompute() (Elo and style from scratch)", snapshots.recompute, parts)
            timed("next recompute() (incremental Elo, style kept)", snapshots.recompute, parts)
            for label, seconds in parts:
                table.append((f"{size:,}", label, seconds))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\n{'votes':>10}  {'part':<50} {'seconds':>8}")
        print("-" * 72)
        for size, label, seconds in table:
            print(f"{size:>10}  {label:<50} {seconds:>8.2f}")
        print(f"\npeak memory of this process: {peak:.0f} MB; PostgreSQL on the same 2-core machine")
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
