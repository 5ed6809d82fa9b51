"""Test setup: real PostgreSQL, Redis, Celery worker and ASGI server processes, started once per run.

Services start lazily, so pure tests (ratings math, engine) never pay for them. Ports are chosen
here, before Django reads its settings, so the test process and every child agree on them.
"""

import os
import shutil
import time
from pathlib import Path

import httpx
import pytest
from django.db import connection

from arena.localservices import free_port
from arena.models import Arena, Backend, ModelEndpoint
from arena.redis_client import get_redis
from arena.stack import Stack, Supervised
from tests.apiclient import ApiClient
from tests.testenv import PG_PORT, REDIS_PORT, STATE
from workers.heartbeat import live_queues

TINY_QUEUE = "tiny"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def wait_until(condition, *, timeout: float = 30, what: str = "condition", interval: float = 0.05):
    """Poll ``condition`` until it returns something truthy; fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def stack():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    s = Stack(state=STATE, env=env)
    s.start_databases(pg_port=PG_PORT, redis_port=REDIS_PORT)
    assert s.env["DATABASE_URL"] == os.environ["DATABASE_URL"]
    s.manage("migrate", "--noinput", "-v", "0")
    yield s
    s.stop()
    # Keep the services' logs where a person can read them after the run.
    shutil.rmtree(ARTIFACTS / "logs", ignore_errors=True)
    shutil.copytree(s.logs, ARTIFACTS / "logs", dirs_exist_ok=True)
    shutil.rmtree(STATE, ignore_errors=True)


@pytest.fixture(scope="session")
def django_db_setup(stack):
    """The database is the real one the stack migrated; tests commit, and the fixture below cleans."""


@pytest.fixture
def arena_db(stack, django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        _truncate(connection)
        for key in [*get_redis().scan_iter("arena:battle:*"), *get_redis().scan_iter("arena:stop:*")]:
            get_redis().delete(key)
        yield
        _truncate(connection)


def _truncate(connection):
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE arena_vote, arena_message, arena_turn, arena_battle, arena_modelendpoint, "
                       "ratings_leaderboardsnapshot, ratings_promptheadfit CASCADE")
        cursor.execute("DELETE FROM arena_arena WHERE slug <> 'text'")  # the migration's arena stays


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    from workers.engine.tiny import build_tiny_model  # noqa: PLC0415 (torch loads only where a test needs the model)

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


class SupervisedWorker:
    """The session's Celery worker, restarted if it has exited, as the stack's supervisor does.

    Celery's Redis transport can crash a worker while it reconnects after a broker restart
    (kombu restoring unacknowledged messages on a closed connection); production runs workers
    under a supervisor, and so do the tests.
    """

    def __init__(self, stack):
        self.stack = stack
        self.service = Supervised(stack, "worker-tiny",
                                  lambda: stack.start_worker("worker-tiny", ["arena", TINY_QUEUE], concurrency=8))

    @property
    def restarts(self) -> int:
        return self.service.restarts

    def ensure(self):
        """A live worker whose heartbeat is current (after a Redis restart it re-announces itself)."""
        for _ in range(3):
            process = self.service.ensure()
            try:
                wait_for_queue(TINY_QUEUE, process, self.stack)
                return process
            except AssertionError:
                if process.poll() is None:
                    raise  # alive but silent: a real failure
                # it was already going down when we looked (e.g. the broker-reconnect crash): again
        raise AssertionError("the worker kept exiting; see tests/artifacts/logs/worker-tiny.log")


@pytest.fixture(scope="session")
def supervised_worker(stack, tiny_model_dir):
    supervisor = SupervisedWorker(stack)
    supervisor.ensure()
    stack.start_beat()
    return supervisor


@pytest.fixture
def worker(supervised_worker):
    """A live Celery worker serving the maintenance queue and the tiny model's queue."""
    return supervised_worker.ensure()


def wait_for_queue(queue: str, process, stack, timeout: float = 90, name: str = "worker-tiny"):
    def ready():
        if process.poll() is not None:
            raise AssertionError(f"worker exited: {(stack.logs / (name + '.log')).read_text()[-3000:]}")
        return queue in live_queues()

    wait_until(ready, timeout=timeout, what=f"a worker heartbeat for queue {queue}")


@pytest.fixture(scope="session")
def web(stack):
    port = free_port()
    stack.start_web(port)
    return f"http://127.0.0.1:{port}"


def tiny_endpoint(name: str, tiny_model_dir, **params):
    return ModelEndpoint.objects.create(
        name=name, organisation=f"{name}-org", backend=Backend.TRANSFORMERS, queue=TINY_QUEUE,
        params={"model": str(tiny_model_dir), "temperature": 0, "max_new_tokens": 24, **params})


@pytest.fixture
def endpoints(arena_db, tiny_model_dir):
    return [tiny_endpoint(name, tiny_model_dir, seed=i) for i, name in enumerate(["alpha-model", "beta-model"])]


DOCS_MODULES = ("json", "textwrap", "uuid")


@pytest.fixture(scope="session")
def docs_corpus(tmp_path_factory):
    """(corpus folder, index folder) of a few standard library modules' documentation, indexed here
    once so that the worker loads the index instead of building it."""
    from workers.search.corpus import build_pydoc_corpus  # noqa: PLC0415 (torch loads only where a test needs it)
    from workers.search.index import open_index  # noqa: PLC0415 (torch loads only where a test needs it)

    corpus = build_pydoc_corpus(tmp_path_factory.mktemp("docs") / "corpus", DOCS_MODULES)
    index = tmp_path_factory.mktemp("docs-index")
    open_index(corpus, cache_dir=index)
    return corpus, index


def retrieval_endpoint(name: str, tiny_model_dir, docs_corpus, *, arenas=("search",), **params):
    """A search endpoint that retrieves from ``docs_corpus`` and answers with the tiny model."""
    corpus, index = docs_corpus
    Arena.objects.get_or_create(slug="search", defaults={"title": "Search", "position": 1})
    return ModelEndpoint.objects.create(
        name=name, organisation=f"{name}-org", backend=Backend.SEARCH, queue=TINY_QUEUE, arenas=list(arenas),
        params={"base": {"model": str(tiny_model_dir), "temperature": 0}, "strategy": "retrieve",
                "corpus": str(corpus), "index_dir": str(index), "temperature": 0, "max_new_tokens": 16, **params})


@pytest.fixture
def api(web, worker):
    with httpx.Client(base_url=web, timeout=30) as http:
        yield ApiClient(http)
