"""Thin Celery tasks: take ids, then call a service.

Generation retries a transient remote error (BackendError with ``permanent`` false) twice, after
1 s and 2 s, when it came before any text; a permanent one (a 4xx: bad key, unknown model, bad
request) fails at once. The services decide which errors may be retried and raise only those.
"""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from arena.models import Message, Status
from workers import completions, generation
from workers.backends import BackendError
from workers.heartbeat import instance_id, live_instances, live_queues

RETRY_TRANSIENT = {"autoretry_for": (BackendError,), "max_retries": 2, "retry_backoff": 1, "retry_jitter": False}


@shared_task(bind=True, ignore_result=True, **RETRY_TRANSIENT)
def generate_message(self, message_id: int, attempt: int) -> None:
    generation.generate(message_id, attempt, worker=instance_id(self.request.hostname or ""),
                        retry=self.request.retries < self.max_retries)


@shared_task(ignore_result=True)
def reap_stuck_messages() -> int:
    """Fail messages whose worker instance died (its beat expired, or a restarted worker of the same
    name replaced it), that ran past the time limit, or that no live worker can take."""
    now = timezone.now()
    timeout = timedelta(seconds=settings.ARENA["GENERATION_TIMEOUT"])
    grace = timedelta(seconds=settings.ARENA["HEARTBEAT_TTL"] * 2)
    queues = live_queues()
    streaming = list(Message.objects.filter(status=Status.STREAMING).select_related("turn__battle"))
    reaped = 0
    for message in streaming:
        if message.started_at and message.started_at < now - timeout:
            reaped += generation.fail_message(message, "The answer took longer than the time limit.")
    reaped += len(recover_orphaned(streaming, instances=live_instances()))
    pending = Message.objects.filter(status=Status.PENDING, queued_at__lt=now - grace).select_related(
        "turn__battle__endpoint_a", "turn__battle__endpoint_b")
    for message in pending:
        endpoint = message.turn.battle.endpoint_for(message.side)
        if endpoint.queue not in queues or message.queued_at < now - timeout:
            reaped += generation.fail_message(message, "No worker serving this model is running.",
                                              statuses=(Status.PENDING,))
    return reaped


def recover_orphaned(messages: list[Message], *, instances: set[str]) -> list[int]:
    """Deal with the messages whose worker instance died (``generation.orphaned``): ask again those
    of which nothing was shown yet, on their endpoint's queue, and fail the others with their partial
    text kept. ``messages``: with their turns and battles. Returns the ids of both kinds."""
    ended = []
    for message in generation.orphaned(messages, instances=instances):
        attempt = generation.take_back(message)
        if attempt is not None:
            queue = message.turn.battle.endpoint_for(message.side).queue
            transaction.on_commit(lambda m=message.id, a=attempt, q=queue:
                                  generate_message.apply_async((m, a), queue=q))
            ended.append(message.id)
        elif generation.fail_message(message, generation.WORKER_STOPPED):
            ended.append(message.id)
    return ended


@shared_task(bind=True, ignore_result=True, **RETRY_TRANSIENT)
def generate_completion(self, job_id: str) -> None:
    completions.run_job(job_id, retry=self.request.retries < self.max_retries)
