"""The admin's "Test endpoint": one short prompt through the real worker path, timed. A failure
says its cause and the address tried, as the backend found them (workers/backends/openai.py names
DNS, refused connections, TLS, timeouts, a refused key, a wrong address and an unknown model)."""

import time
from dataclasses import dataclass

from arena import jobs, redis_keys
from arena.models import ModelEndpoint
from workers.completions import create_job
from workers.heartbeat import live_queues
from workers.tasks import generate_completion

PROMPT = "Say hello in one short sentence."


@dataclass
class CheckResult:
    ok: bool
    text: str = ""
    tokens: int = 0
    ttft_ms: int | None = None
    tokens_per_second: float | None = None
    error: str = ""


def _address(endpoint: ModelEndpoint) -> str:
    base_url = endpoint.params.get("base_url") if isinstance(endpoint.params, dict) else None
    if endpoint.backend == "openai" and base_url:
        return f"{base_url}/chat/completions (through the worker on queue {endpoint.queue!r})"
    return f"the worker on queue {endpoint.queue!r}"


def check_endpoint(endpoint: ModelEndpoint, *, timeout: float = 120) -> CheckResult:
    if endpoint.queue not in live_queues():
        return CheckResult(False, error=f"No worker is consuming the queue {endpoint.queue!r}; start one with "
                                        f"celery -A workers.celery worker -Q {endpoint.queue} --pool threads.")
    job_id = create_job(endpoint_id=endpoint.id, messages=[{"role": "user", "content": PROMPT}],
                        overrides={"max_tokens": 32})
    started = time.monotonic()
    jobs.submit(generate_completion, job_id, queue=endpoint.queue)
    pieces, ttft, end = [], None, {}
    try:
        for event in jobs.follow(redis_keys.completion_events(job_id), timeout=timeout):
            if event["type"] == "delta":
                ttft = ttft if ttft is not None else int((time.monotonic() - started) * 1000)
                pieces.append(event["text"])
            else:
                end = event
    except jobs.JobTimeout:
        return CheckResult(False, text="".join(pieces), error=f"No answer within {timeout:.0f} s from "
                                                               f"{_address(endpoint)}.")
    if end.get("error"):
        return CheckResult(False, text="".join(pieces), error=end["error"])
    seconds = max(end.get("duration_ms", 0), 1) / 1000
    tokens = end.get("completion_tokens", 0)
    return CheckResult(True, "".join(pieces), tokens, ttft, round(tokens / seconds, 1))
