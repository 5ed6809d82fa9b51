"""Per-client and per-address limits, counted in Redis through django-ratelimit.

Each limit is a setting (``ARENA_LIMITS``), e.g. ``{"battles": "30/m", "votes": "500/d"}``;
the ``*_ip`` twins bound what one address can do by throwing cookies away.
"""

import math

from django.conf import settings
from django_ratelimit.core import get_usage

from arena.errors import ArenaError

class RateLimited(ArenaError):
    status = 429

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


def enforce(request, action: str, *, client_id: str) -> None:
    """Count one ``action`` for this client and its address; raise RateLimited past a limit."""
    limits = settings.ARENA_LIMITS
    checks = [(action, limits.get(action), client_id),
              (f"{action}_ip", limits.get(f"{action}_ip"), request.META.get("REMOTE_ADDR", ""))]
    for group, rate, value in checks:
        if not rate:
            continue
        usage = get_usage(request, group=f"arena:{group}", key=lambda g, r, v=value: v, rate=rate, increment=True)
        if usage and usage["should_limit"]:
            wait = max(1, math.ceil(usage.get("time_left", 60)))
            raise RateLimited(f"Too many {action} in a short time (the limit is {rate}); "
                              f"try again in {wait} s.", wait)
