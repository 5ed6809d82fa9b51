"""Thin Celery tasks: take ids, then call a service."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from arena.models import Message, Status
from workers import generation
from workers.heartbeat import live_queues, live_workers


@shared_task(ignore_result=True)
def generate_message(message_id: int, attempt: int) -> None:
    generation.generate(message_id, attempt, worker=generate_message.request.hostname or "")


@shared_task(ignore_result=True)
def reap_stuck_messages() -> int:
    """Fail messages whose worker died, that ran past the time limit, or that no live worker can take."""
    now = timezone.now()
    timeout = timedelta(seconds=settings.ARENA["GENERATION_TIMEOUT"])
    grace = timedelta(seconds=settings.ARENA["HEARTBEAT_TTL"] * 2)
    workers = live_workers()
    queues = live_queues()
    reaped = 0
    streaming = Message.objects.filter(status=Status.STREAMING).select_related("turn__battle")
    for message in streaming:
        if message.started_at and message.started_at < now - timeout:
            reaped += generation.fail_message(message, "The answer took longer than the time limit.")
        elif message.worker not in workers and message.started_at and message.started_at < now - grace:
            reaped += generation.fail_message(message, "The worker generating this answer stopped.")
    pending = Message.objects.filter(status=Status.PENDING, queued_at__lt=now - grace).select_related(
        "turn__battle__endpoint_a", "turn__battle__endpoint_b")
    for message in pending:
        endpoint = message.turn.battle.endpoint_for(message.side)
        if endpoint.queue not in queues or message.queued_at < now - timeout:
            reaped += generation.fail_message(message, "No worker serving this model is running.")
    return reaped


@shared_task(ignore_result=True)
def generate_completion(job_id: str) -> None:
    from workers import completions

    completions.run_job(job_id)
