"""The admin's "Test endpoint": one short prompt through the real worker path, timed."""

import json
import secrets
import time
from dataclasses import dataclass

from arena.models import ModelEndpoint
from arena.redis_client import get_redis

PROMPT = "Say hello in one short sentence."


@dataclass
class CheckResult:
    ok: bool
    text: str = ""
    tokens: int = 0
    ttft_ms: int | None = None
    tokens_per_second: float | None = None
    error: str = ""


def check_endpoint(endpoint: ModelEndpoint, *, timeout: float = 120) -> CheckResult:
    from workers.completions import create_job, stream_key
    from workers.heartbeat import live_queues
    from workers.tasks import generate_completion

    if endpoint.queue not in live_queues():
        return CheckResult(False, error=f"No worker is consuming the queue {endpoint.queue!r}; start one with "
                                        f"celery -A workers worker -Q {endpoint.queue} --pool threads.")
    job_id = secrets.token_hex(12)
    create_job(job_id, endpoint_id=endpoint.id, messages=[{"role": "user", "content": PROMPT}],
               overrides={"max_tokens": 32})
    started = time.monotonic()
    generate_completion.apply_async((job_id,), queue=endpoint.queue)
    r, last, pieces, ttft = get_redis(), "0-0", [], None
    while time.monotonic() - started < timeout:
        for entry_id, fields in (r.xread({stream_key(job_id): last}, block=1000, count=100) or [[None, []]])[0][1]:
            last = entry_id
            event = json.loads(fields["data"])
            if event["type"] == "delta":
                ttft = ttft if ttft is not None else int((time.monotonic() - started) * 1000)
                pieces.append(event["text"])
                continue
            r.delete(stream_key(job_id))
            if event.get("error"):
                return CheckResult(False, text="".join(pieces), error=event["error"])
            seconds = max(event.get("duration_ms", 0), 1) / 1000
            tokens = event.get("completion_tokens", 0)
            return CheckResult(True, "".join(pieces), tokens, ttft, round(tokens / seconds, 1))
    return CheckResult(False, text="".join(pieces), error=f"No answer within {timeout:.0f} s.")
