"""Generation for the OpenAI-compatible API: same backends and queues as battles, but the job
lives only in Redis (a request hash and an event stream), since nothing about it is kept."""

import json
import logging
import time

from arena import events, jobs, redis_keys
from arena.codepoints import storable
from arena.models import ModelEndpoint
from arena.redis_client import get_redis
from workers.backends import BackendError, Delta, Usage, get_backend

log = logging.getLogger(__name__)
JOB_TTL = 3600


def create_job(*, endpoint_id: int, messages: list[dict], overrides: dict, queue: str = "",
               job_id: str | None = None) -> str:
    """Store a completion's request for a worker to claim; returns its job id. ``queue``: the
    queue whose /v1 share the job holds (arena/openai_api.py), if any."""
    job_id = job_id or jobs.new_job_id()
    key = redis_keys.completion_job(job_id)
    get_redis().hset(key, mapping={"endpoint_id": endpoint_id, "queue": queue, "messages": json.dumps(messages),
                                   "overrides": json.dumps(overrides)})
    get_redis().expire(key, JOB_TTL)
    return job_id


def run_job(job_id: str, *, retry: bool = False) -> None:
    """Stream the completion's pieces, then its end event.

    With ``retry``, a transient BackendError that comes before any text was sent releases the
    claim and propagates, for the task to run the job again later; once text is out the error
    ends the job, since a second run would repeat what the caller already has."""
    r = get_redis()
    job_key, stop_key = redis_keys.completion_job(job_id), redis_keys.completion_stop(job_id)
    if not r.hsetnx(job_key, "claimed", "1"):
        return  # a redelivered task: the first claim already ran it
    job = r.hgetall(job_key)
    if "endpoint_id" not in job:
        return
    endpoint = ModelEndpoint.objects.filter(id=int(job["endpoint_id"])).first()
    key = redis_keys.completion_events(job_id)
    tokens, reason, error, sent = 0, "stop", None, False
    started = time.monotonic()
    try:
        if endpoint is None:
            raise BackendError("The model was removed.", permanent=True)
        backend = get_backend(endpoint, overrides=json.loads(job["overrides"]))
        should_stop = events.StopPoller(stop_key)
        for item in backend.stream(json.loads(job["messages"]), should_stop=should_stop):
            if isinstance(item, Usage):
                tokens = item.completion_tokens if item.completion_tokens is not None else tokens
                reason = item.finish_reason or reason
            elif isinstance(item, Delta) and item.text:
                tokens += item.tokens
                sent = True
                events.publish(key, {"type": "delta", "text": storable(item.text)})
        if r.exists(stop_key):
            reason = "stopped"
    except BackendError as exc:
        if retry and not exc.permanent and not sent and not r.exists(stop_key):
            r.hdel(job_key, "claimed")
            raise
        error = str(exc)
    except Exception:
        log.exception("completion %s failed", job_id)  # the details go to the log, not to the caller
        error = "The model failed while answering; the operator's worker log has the details."
    events.publish(key, events.completion_end(finish_reason=reason, completion_tokens=tokens, error=error,
                                              duration_ms=int((time.monotonic() - started) * 1000)))
