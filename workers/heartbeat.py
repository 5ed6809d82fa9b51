"""Which queues have a live worker: each worker process writes a heartbeat into one Redis hash.

The arena samples only endpoints whose queue appears here, and the reaper fails messages whose
worker stopped beating.
"""

import json
import logging
import os
import socket
import threading
import time

from celery.signals import worker_ready, worker_shutdown
from django.conf import settings

from arena import redis_keys
from arena.redis_client import get_redis

log = logging.getLogger(__name__)
_stop = threading.Event()


def beat_once(hostname: str, queues: list[str]) -> None:
    ttl = settings.ARENA["HEARTBEAT_TTL"]
    record = {"queues": queues, "pid": os.getpid(), "host": socket.gethostname(), "expires": time.time() + ttl}
    get_redis().hset(redis_keys.WORKERS, hostname, json.dumps(record))


def live_workers() -> dict[str, dict]:
    now = time.time()
    live, stale = {}, []
    for name, raw in get_redis().hgetall(redis_keys.WORKERS).items():
        record = json.loads(raw)
        (live.__setitem__(name, record) if record["expires"] > now else stale.append(name))
    if stale:
        get_redis().hdel(redis_keys.WORKERS, *stale)
    return live


def live_queues() -> set[str]:
    return {queue for record in live_workers().values() for queue in record["queues"]}


def warm_up(queues: list[str]) -> None:
    """Load every local model this worker serves before announcing it, so that the arena never
    sends a battle to a worker that would first spend half a minute loading."""
    from arena.models import Backend, ModelEndpoint  # noqa: PLC0415 (Celery imports this module before Django sets up)
    from workers.engine import get_engine  # noqa: PLC0415 (torch stays out of the web process)

    seen = set()
    for endpoint in ModelEndpoint.objects.enabled().on_queues(queues).filter(
            backend__in=[Backend.TRANSFORMERS, Backend.SEARCH]):
        params = endpoint.params.get("base", endpoint.params) if endpoint.backend == Backend.SEARCH else endpoint.params
        if not isinstance(params, dict):
            continue  # a search endpoint over a named endpoint: that one is warmed up itself
        key = (params.get("model"), params.get("device", "auto"), params.get("dtype", "auto"))
        if key in seen or not key[0]:
            continue
        seen.add(key)
        log.info("loading %s for endpoint %s", key[0], endpoint.name)
        try:
            get_engine(key[0], device=key[1], dtype=key[2])
        except Exception:
            log.exception("could not load %s; its endpoints will fail until fixed", key[0])


def _loop(hostname: str, queues: list[str]) -> None:
    try:
        warm_up(queues)
    except Exception:
        log.exception("warm-up failed")
    log.info("worker %s is ready for queues %s", hostname, ", ".join(queues))
    interval = settings.ARENA["HEARTBEAT_SECONDS"]
    while not _stop.is_set():
        try:
            beat_once(hostname, queues)
        except Exception:  # Redis down: keep trying, the TTL covers the gap
            log.warning("heartbeat failed", exc_info=True)
        _stop.wait(interval)


@worker_ready.connect
def start_heartbeat(sender, **kwargs):
    hostname = sender.hostname
    queues = sorted(sender.app.amqp.queues.consume_from.keys())
    log.info("worker %s serves queues %s", hostname, ", ".join(queues))
    threading.Thread(target=_loop, args=(hostname, queues), daemon=True, name="arena-heartbeat").start()


@worker_shutdown.connect
def stop_heartbeat(sender, **kwargs):
    _stop.set()
    try:
        get_redis().hdel(redis_keys.WORKERS, sender.hostname)
    except Exception:
        log.warning("could not remove heartbeat", exc_info=True)
