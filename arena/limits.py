"""Per-client and per-address limits, counted in Redis, and the daily caps on counted votes.

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

import redis.exceptions
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


def take_counted_vote(*, client_id: str, address: str, user_id: int | None = None) -> str:
    """Count a vote that would count toward the ratings against today's caps (UTC day) of this
    client, this address and, when signed in, this person (``ARENA["COUNTED_VOTES_PER_CLIENT_DAY"]``,
    ``..._PER_ADDRESS_DAY``, ``..._PER_PERSON_DAY``; 0 is no cap): a person's votes from all their
    browsers share one cap. Returns "" when it may count, else the sentence the vote's ``excluded_reason``
    carries; a vote over a cap takes nothing, so honest votes later in the day are not crowded out
    by refused ones. Caps bound how much one person can move the ratings (FastChat caps each user's
    votes too); they are not rate limits: the vote is kept, only its weight is gone.
    """
    caps = [(key, cap, who) for key, cap, who in _counted_vote_caps(client_id, address, user_id) if cap > 0]
    if not caps:
        return ""
    pipe = get_redis().pipeline(transaction=False)
    for key, _cap, _who in caps:
        pipe.incr(key)
        pipe.expire(key, 2 * 24 * 3600)
    counts = pipe.execute()[::2]
    over = next(((cap, who) for (_key, cap, who), count in zip(caps, counts, strict=True) if count > cap), None)
    if over is None:
        return ""
    _give_back([key for key, _cap, _who in caps])
    cap, who = over
    return (f"Over today's cap of {cap} counted votes from {who}: the vote is kept but does not count "
            "toward the ratings.")


def counted_vote_cap_reached(*, client_id: str, address: str, user_id: int | None = None) -> str:
    """What ``take_counted_vote`` would say now, taking nothing: "" while a vote may still count,
    else its sentence. The page shows it before the vote, so that nobody learns it after."""
    caps = [(key, cap, who) for key, cap, who in _counted_vote_caps(client_id, address, user_id) if cap > 0]
    if not caps:
        return ""
    try:
        counts = get_redis().mget([key for key, _cap, _who in caps])
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        return ""  # Redis is away: the battle still reads from the database, and the vote itself will tell
    over = next(((cap, who) for (_key, cap, who), count in zip(caps, counts, strict=True) if int(count or 0) >= cap),
                None)
    if over is None:
        return ""
    cap, who = over
    return f"Over today's cap of {cap} counted votes from {who}: a vote is kept but does not count toward the ratings."


def give_back_counted_vote(*, client_id: str, address: str, user_id: int | None = None) -> None:
    """Undo ``take_counted_vote`` for a vote that was not stored after all."""
    _give_back([key for key, cap, _who in _counted_vote_caps(client_id, address, user_id) if cap > 0])


def _counted_vote_caps(client_id: str, address: str, user_id: int | None) -> list[tuple[str, int, str]]:
    day = time.strftime("%Y-%m-%d", time.gmtime())
    caps = [(redis_keys.counted_votes("client", client_id, day), settings.ARENA["COUNTED_VOTES_PER_CLIENT_DAY"],
             "this browser"),
            (redis_keys.counted_votes("address", address, day), settings.ARENA["COUNTED_VOTES_PER_ADDRESS_DAY"],
             "this address")]
    if user_id is not None:
        caps.append((redis_keys.counted_votes("person", str(user_id), day),
                     settings.ARENA["COUNTED_VOTES_PER_PERSON_DAY"], "your account"))
    return caps


def _give_back(keys: list[str]) -> None:
    pipe = get_redis().pipeline(transaction=False)
    for key in keys:
        pipe.decr(key)
    pipe.execute()
