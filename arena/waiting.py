"""What the battle page may say while answers are awaited: how many answers wait ahead in the
model's queue, and how long answers of this model (of this pair, in a blind battle) usually take.

Queue position comes from the database, not the broker. ``LLEN`` on the Celery queue's Redis list
is O(1), but it undercounts: a worker prefetches tasks (``worker_prefetch_multiplier`` times its
concurrency) off the list before it can start them. A message stays ``pending`` until a worker
claims it, so the pending messages queued before this one on the same queue are exactly the
answers ahead of it.

Both numbers are one per battle, never one per side. In a blind battle the estimate is the arena's
(its recent anonymous answers, whatever models gave them), not the pair's: a pair's figure would
tell a voter that a notably slow model is one of the two before the vote.
"""

import math
import statistics
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from arena.models import Battle, Message, Mode, ModelEndpoint, Status

RECENT_ANSWERS = 40  # answers an estimate is drawn from
MIN_ANSWERS = 3  # fewer than this and there is no estimate
QUEUE_HORIZON = timedelta(hours=1)  # older pending rows are the reaper's, not a queue
# Estimates read answers started this recently: the (status, started_at) index finds them, and an
# endpoint's speed of last week says little about its load now.
ESTIMATE_HORIZON = timedelta(hours=6)


def typical_seconds(durations: list[float]) -> int | None:
    """The median of recent answer times, rounded up to whole seconds; None without enough of them."""
    if len(durations) < MIN_ANSWERS:
        return None
    return max(1, math.ceil(statistics.median(durations)))


def _on_endpoint(endpoint: ModelEndpoint) -> Q:
    return Q(side="a", turn__battle__endpoint_a=endpoint) | Q(side="b", turn__battle__endpoint_b=endpoint)


def _on_queue(queue: str) -> Q:
    return Q(side="a", turn__battle__endpoint_a__queue=queue) | Q(side="b", turn__battle__endpoint_b__queue=queue)


def answer_seconds(answers: Q) -> int | None:
    """How long, from Send to the whole answer, the recent finished answers of ``answers`` took."""
    rows = (Message.objects.filter(answers, status=Status.DONE, started_at__gte=timezone.now() - ESTIMATE_HORIZON,
                                   finished_at__isnull=False)
            .order_by("-finished_at").values_list("queued_at", "finished_at")[:RECENT_ANSWERS])
    return typical_seconds([(finished - queued).total_seconds() for queued, finished in rows])


def estimate_seconds(battle: Battle) -> int | None:
    """The arena's typical answer time for a blind battle; the slower model's for a named pair."""
    if battle.mode == Mode.ANONYMOUS:
        return answer_seconds(Q(turn__battle__mode=Mode.ANONYMOUS, turn__battle__arena_id=battle.arena_id))
    estimates = [answer_seconds(_on_endpoint(battle.endpoint_for(side))) for side in battle.sides]
    return None if None in estimates else max(estimates)


def ahead_in_queue(message: Message, queue: str) -> int:
    """Answers on the same queue that no worker has claimed yet and were queued before this one."""
    return (Message.objects.filter(_on_queue(queue), status=Status.PENDING, queued_at__lt=message.queued_at,
                                   queued_at__gte=message.queued_at - QUEUE_HORIZON)
            .exclude(pk=message.pk).count())


def waiting_json(battle: Battle, last: list[Message]) -> dict | None:
    """``last``: the last turn's messages. None once no answer of it is unfinished."""
    if not any(m.status in (Status.PENDING, Status.STREAMING) for m in last):
        return None
    pending = [m for m in last if m.status == Status.PENDING]
    ahead = [ahead_in_queue(m, battle.endpoint_for(m.side).queue) for m in pending]
    return {"queue_ahead": max(ahead, default=0),
            "estimate_s": estimate_seconds(battle)}


