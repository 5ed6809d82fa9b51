"""Per-endpoint health for the admin: live worker, queue length, recent speed and error rate."""

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, Q, Sum
from django.utils import timezone

from arena.models import Message, Status
from arena.redis_client import get_redis


@dataclass
class Recent:
    answers: int = 0
    failed: int = 0
    tokens: int = 0
    milliseconds: int = 0

    @property
    def tokens_per_second(self) -> float | None:
        return self.tokens / (self.milliseconds / 1000) if self.milliseconds else None

    @property
    def error_rate(self) -> float | None:
        return self.failed / self.answers if self.answers else None


def recent_stats(hours: int = 24) -> dict[int, Recent]:
    """Finished answers of the last ``hours``, grouped in the database by endpoint (two queries)."""
    since = timezone.now() - timedelta(hours=hours)
    finished = Message.objects.filter(finished_at__gte=since).exclude(status__in=[Status.PENDING, Status.STREAMING])
    stats: dict[int, Recent] = {}
    for side in ("a", "b"):
        rows = (finished.filter(side=side).values(f"turn__battle__endpoint_{side}")
                .annotate(answers=Count("id"), failed=Count("id", filter=Q(status=Status.FAILED)),
                          tokens=Sum("tokens", filter=Q(status=Status.DONE)),
                          ms=Sum("duration_ms", filter=Q(status=Status.DONE))))
        for row in rows:
            entry = stats.setdefault(row[f"turn__battle__endpoint_{side}"], Recent())
            entry.answers += row["answers"]
            entry.failed += row["failed"]
            entry.tokens += row["tokens"] or 0
            entry.milliseconds += row["ms"] or 0
    return stats


def queue_lengths(queues) -> dict[str, int]:
    pipe = get_redis().pipeline(transaction=False)
    names = sorted(set(queues))
    for name in names:
        pipe.llen(name)
    return dict(zip(names, pipe.execute(), strict=True))
