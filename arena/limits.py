"""Per-client and per-address limits, counted in Redis.

Each limit is a setting (``ARENA_LIMITS``), e.g. ``{"battles": "30/m", "votes": "500/d"}``;
the ``*_ip`` twins bound what one address (an IPv6 /64, see ``clients.client_address``) can do by
throwing cookies away.

The windows, keys and counting are django-ratelimit's (fixed windows with a per-key offset; the
first hit sets the expiry, later hits increment). The counters go through the process-wide Redis
client, both limits in one round trip: Django's cache, which django-ratelimit counts through,
makes a cache object, and so a new Redis connection, for every request served under ASGI.
"""

import math
import time

from django.conf import settings
from django_ratelimit.core import EXPIRATION_FUDGE, _get_window, _make_cache_key, _split_rate

from arena import redis_keys
from arena.clients import client_address
from arena.errors import ArenaError
from arena.redis_client import get_redis


class RateLimited(ArenaError):
    status = 429

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


def enforce(request, action: str, *, client_id: str) -> None:
    """Count one ``action`` for this client and its address; raise RateLimited past a limit."""
    limits = settings.ARENA_LIMITS
    checks = [(action, limits.get(action), client_id),
              (f"{action}_ip", limits.get(f"{action}_ip"), client_address(request))]
    counted = []
    pipe = get_redis().pipeline(transaction=False)
    for group, rate, value in checks:
        if not rate:
            continue
        limit, period = _split_rate(rate)
        window = _get_window(value, period)
        key = _make_cache_key(redis_keys.rate_limit(group), window, rate, value, None)
        pipe.set(key, 0, ex=period + EXPIRATION_FUDGE, nx=True)
        pipe.incr(key)
        counted.append((rate, limit, window))
    if not counted:
        return
    counts = pipe.execute()[1::2]
    for (rate, limit, window), count in zip(counted, counts):
        if count > limit:
            wait = max(1, math.ceil(window - int(time.time())))
            raise RateLimited(f"Too many {action} in a short time (the limit is {rate}); "
                              f"try again in {wait} s.", wait)
