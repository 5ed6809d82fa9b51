"""Every Redis key the arena and its workers share, by what it holds.

Web processes and workers meet only here (besides the database), so a key's name is written
once: a writer and its reader can never drift apart.
"""

from uuid import UUID

WORKERS = "arena:workers"  # hash: worker hostname -> its heartbeat (queues, pid, host, expiry)
LEADERBOARD_SCHEDULED = "arena:leaderboard:scheduled"  # set while a debounced recompute is queued


def battle_events(battle_uuid: UUID | str) -> str:
    """Stream: a battle's start, delta and end events."""
    return f"arena:battle:{battle_uuid}:events"


def stop(message_id: int, attempt: int) -> str:
    """Flag: stop generating this attempt of a battle message."""
    return f"arena:stop:{message_id}:{attempt}"


def completion_job(job_id: str) -> str:
    """Hash: a ``/v1`` completion's request, and whether a worker has claimed it."""
    return f"arena:completion:{job_id}"


def completion_events(job_id: str) -> str:
    """Stream: a ``/v1`` completion's delta and end events."""
    return f"arena:completion:{job_id}:events"


def completion_stop(job_id: str) -> str:
    """Flag: the caller of a ``/v1`` completion went away."""
    return f"arena:stop:completion:{job_id}"


def completions_running(queue: str) -> str:
    """Sorted set: the ``/v1`` completions running on a queue (job id -> when it started)."""
    return f"arena:completion:running:{queue}"


def prompt_leaderboard(job_id: str) -> str:
    """Stream: the end event carrying a prompt leaderboard."""
    return f"arena:prompt-leaderboard:{job_id}"


def rate_limit(group: str) -> str:
    """The prefix of a rate limit's counters; django-ratelimit appends the window and the client."""
    return f"arena:{group}"


def counted_votes(kind: str, who: str, day: str) -> str:
    """Counter: the counted votes of one client, address or signed-in person (``kind``) on one UTC day."""
    return f"arena:counted-votes:{kind}:{day}:{who}"
