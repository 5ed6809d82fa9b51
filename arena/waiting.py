"""What the battle page may say while answers are awaited: how many answers wait ahead in the
model's queue, and how long answers of this model (of this pair, in a blind battle) usually take.

Queue position comes from the database, not the broker. ``LLEN`` on the Celery queue's Redis list
is O(1), but it undercounts: a worker prefetches tasks (``worker_prefetch_multiplier`` times its
concurrency) off the list before it can start them. A message stays ``pending`` until a worker
claims it, so the pending messages queued before this one on the same queue are exactly the
answers ahead of it.

In a blind battle both numbers are one for the pair (the larger), so nothing tells the sides apart.
"""

import math
import statistics
from datetime import timedelta

from django.db.models import Q

from arena.models import Battle, Message, ModelEndpoint, Status

RECENT_ANSWERS = 20  # answers an estimate is drawn from
MIN_ANSWERS = 3  # fewer than this and there is no estimate
QUEUE_HORIZON = timedelta(hours=1)  # older pending rows are the reaper's, not a queue


def typical_seconds(durations: list[float]) -> int | None:
    """The median of recent answer times, rounded up to whole seconds; None without enough of them."""
    if len(durations) < MIN_ANSWERS:
        return None
    return max(1, math.ceil(statistics.median(durations)))


def _on_endpoint(endpoint: ModelEndpoint) -> Q:
    return Q(side="a", turn__battle__endpoint_a=endpoint) | Q(side="b", turn__battle__endpoint_b=endpoint)


def _on_queue(queue: str) -> Q:
    return Q(side="a", turn__battle__endpoint_a__queue=queue) | Q(side="b", turn__battle__endpoint_b__queue=queue)


def answer_seconds(endpoint: ModelEndpoint) -> int | None:
    """How long, from Send to the whole answer, the endpoint's recent finished answers took."""
    rows = (Message.objects.filter(_on_endpoint(endpoint), status=Status.DONE, finished_at__isnull=False)
            .order_by("-finished_at").values_list("queued_at", "finished_at")[:RECENT_ANSWERS])
    return typical_seconds([(finished - queued).total_seconds() for queued, finished in rows])


def ahead_in_queue(message: Message, queue: str) -> int:
    """Answers on the same queue that no worker has claimed yet and were queued before this one."""
    return (Message.objects.filter(_on_queue(queue), status=Status.PENDING, queued_at__lt=message.queued_at,
                                   queued_at__gte=message.queued_at - QUEUE_HORIZON)
            .exclude(pk=message.pk).count())


def waiting_json(battle: Battle, last: list[Message]) -> dict | None:
    """``last``: the last turn's messages. None once no answer of it is unfinished."""
    if not any(m.status in (Status.PENDING, Status.STREAMING) for m in last):
        return None
    endpoints = [battle.endpoint_for(side) for side in battle.sides]
    estimates = [answer_seconds(e) for e in endpoints]
    pending = [m for m in last if m.status == Status.PENDING]
    ahead = [ahead_in_queue(m, battle.endpoint_for(m.side).queue) for m in pending]
    return {"queue_ahead": max(ahead, default=0),
            "estimate_s": None if None in estimates else max(estimates)}


