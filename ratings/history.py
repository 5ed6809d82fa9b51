"""The leaderboard over time, read from the published snapshots (ratings/snapshots.py keeps them all).

A moment names the snapshot in force then: the newest one published at or before it. A date alone
(2026-03-01) means the end of that day in UTC, so "the leaderboard of 1 March" is the one that stood
when the day ended. History charts take one point per day, the table in force at the day's end.
"""

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta

from django.db import connection
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from arena.errors import Invalid
from ratings.models import LeaderboardSnapshot

HISTORY_DAYS = 730  # the points a history chart can hold readably, and a bound on what one request reads
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
# The last snapshot of each day, newest day first: one index lookup per day (a loose index scan on
# snapshot_arena_latest), so the cost follows the days shown, not the snapshots kept.
LAST_OF_EACH_DAY = """
WITH RECURSIVE last_of_day AS (
    (SELECT id, computed_at FROM ratings_leaderboardsnapshot
     WHERE arena = %(arena)s AND category = %(category)s AND computed_at <= %(until)s
     ORDER BY computed_at DESC LIMIT 1)
    UNION ALL
    SELECT earlier.id, earlier.computed_at FROM last_of_day d CROSS JOIN LATERAL (
        SELECT id, computed_at FROM ratings_leaderboardsnapshot
        WHERE arena = %(arena)s AND category = %(category)s
          AND computed_at < date_trunc('day', d.computed_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
        ORDER BY computed_at DESC LIMIT 1) earlier
)
SELECT id FROM last_of_day LIMIT %(days)s
"""


def parse_moment(text: str, *, name: str = "at") -> datetime:
    """A date (YYYY-MM-DD: the end of that day, UTC) or an ISO 8601 date and time (UTC if it names
    no zone), checked to lie between 2000 and now; anything else is `Invalid` with a sentence."""
    text = text.strip()
    try:
        day, moment = parse_date(text), None if len(text) <= 10 else parse_datetime(text)
    except ValueError:  # well formed but impossible, such as 2026-02-30
        raise Invalid(f"{name}: {text[:40]!r} is not a real date.") from None
    if day is None and moment is None:
        raise Invalid(f"{name}: {text[:40]!r} is not a date; use YYYY-MM-DD or an ISO 8601 date and time "
                      "such as 2026-03-01T12:00:00Z.")
    if moment is None:
        moment = datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC) - timedelta(microseconds=1)
    elif timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    if moment < EARLIEST:
        raise Invalid(f"{name}: {text[:40]!r} is before the year 2000; no leaderboard is that old.")
    if moment - timedelta(days=1) > timezone.now():
        raise Invalid(f"{name}: {text[:40]!r} is in the future; the leaderboard has no history there yet.")
    return moment


def snapshot_at(category: str, *, arena: str, moment: datetime | None = None) -> LeaderboardSnapshot | None:
    """The snapshot in force at `moment` (now when None), or None if none had been published by then."""
    snapshots = LeaderboardSnapshot.objects.filter(arena=arena, category=category)
    if moment is not None:
        snapshots = snapshots.filter(computed_at__lte=moment)
    return snapshots.order_by("-computed_at").first()


def daily_history(category: str, *, arena: str, until: datetime | None = None) -> dict:
    """Each model's rating, interval, rank (UB) and votes at the end of every day a table was in
    force, oldest day first, for the last HISTORY_DAYS such days up to `until` (default now).
    Style-controlled values come along where the snapshot has them."""
    with connection.cursor() as cursor:
        cursor.execute(LAST_OF_EACH_DAY, {"arena": arena, "category": category, "until": until or timezone.now(),
                                          "days": HISTORY_DAYS})
        ids = [row[0] for row in cursor.fetchall()]
    days = list(LeaderboardSnapshot.objects.filter(pk__in=ids)
                .annotate(day=TruncDate("computed_at", tzinfo=UTC), rows=KeyTransform("rows", "data"))
                .order_by("computed_at").values("day", "computed_at", "rows"))
    models: dict[str, list[dict]] = {}
    for entry in days:
        for row in entry["rows"] or []:
            point = {"day": entry["day"].isoformat(), **{k: row[k] for k in HISTORY_FIELDS if k in row}}
            models.setdefault(row["model"], []).append(point)
    return {"arena": arena, "category": category, "days": [d["day"].isoformat() for d in days],
            "published": [d["computed_at"].isoformat() for d in days], "models": models}


HISTORY_FIELDS = ("rating", "ci_lower", "ci_upper", "rank_ub", "votes", "style_rating", "style_ci_lower",
                  "style_ci_upper", "style_rank_ub")


def rank_changes(now: Iterable[dict], then: Iterable[dict], *, rank_key: str = "rank_ub") -> dict[str, int | None]:
    """Per model of `now`: how many places it rose since `then` (negative: fell), or None where it
    had no rank then. Ranks are the rows' `rank_key`."""
    before = {row["model"]: row[rank_key] for row in then if row.get(rank_key) is not None}
    return {row["model"]: (before[row["model"]] - row[rank_key]
                           if row["model"] in before and row.get(rank_key) is not None else None) for row in now}
