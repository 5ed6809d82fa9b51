"""Which queues have a live worker: each worker process writes a heartbeat into one Redis hash.

The arena samples only endpoints whose queue appears here, and the reaper fails messages whose
worker instance stopped beating. An instance is one run of one process (node name, pid and a
random boot id): a supervisor that restarts a killed worker under the same node name starts a new
instance, so the old one's answers are known to be orphaned as soon as the new one beats, and at
the latest when the old beat expires. An instance beats from the moment it can take tasks; its
queues are announced only once its models are loaded.
"""

import json
import logging
import os
import secrets
import socket
import threading
import time

from celery.signals import worker_ready, worker_shutdown
from django.conf import settings

from arena import redis_keys
from arena.redis_client import get_redis

log = logging.getLogger(__name__)
_stop = threading.Event()
_ready = threading.Event()
BOOT_ID = secrets.token_hex(4)  # per process run: a restart under the same name is a new instance


def instance_id(hostname: str) -> str:
    """This process's instance of the worker ``hostname``: what a claim names (Message.worker)."""
    return f"{hostname}/{os.getpid()}/{BOOT_ID}"


def beat_once(hostname: str, queues: list[str], *, ready: bool = True) -> None:
    ttl = settings.ARENA["HEARTBEAT_TTL"]
    record = {"queues": queues if ready else [], "instance": instance_id(hostname), "pid": os.getpid(),
              "host": socket.gethostname(), "expires": time.time() + ttl}
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


def live_instances() -> set[str]:
    return {record["instance"] for record in live_workers().values() if "instance" in record}


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


def _warm_up_then_announce(hostname: str, queues: list[str]) -> None:
    try:
        warm_up(queues)
    except Exception:
        log.exception("warm-up failed")
    log.info("worker %s is ready for queues %s", hostname, ", ".join(queues))
    _ready.set()


def _loop(hostname: str, queues: list[str]) -> None:
    interval = settings.ARENA["HEARTBEAT_SECONDS"]
    was_ready = False
    while not _stop.is_set():
        try:
            beat_once(hostname, queues, ready=_ready.is_set())
        except Exception:  # Redis down: keep trying, the TTL covers the gap
            log.warning("heartbeat failed", exc_info=True)
        if not was_ready:  # beat at once when the models are loaded, not an interval later
            was_ready = _ready.wait(interval)
        else:
            _stop.wait(interval)


@worker_ready.connect
def start_heartbeat(sender, **kwargs):
    hostname = sender.hostname
    queues = sorted(sender.app.amqp.queues.consume_from.keys())
    log.info("worker %s serves queues %s", hostname, ", ".join(queues))
    threading.Thread(target=_loop, args=(hostname, queues), daemon=True, name="arena-heartbeat").start()
    threading.Thread(target=_warm_up_then_announce, args=(hostname, queues), daemon=True, name="arena-warm-up").start()


@worker_shutdown.connect
def stop_heartbeat(sender, **kwargs):
    _stop.set()
    try:
        get_redis().hdel(redis_keys.WORKERS, sender.hostname)
    except Exception:
        log.warning("could not remove heartbeat", exc_info=True)
