"""The whole arena on one machine: PostgreSQL and Redis (unless the environment points elsewhere),
migrations, demo endpoints, the ASGI web server, a Celery worker and Celery beat.

Used by ``make run`` (``python -m arena.stack``) and, piece by piece, by the test setup.
Every service logs to a file under the state folder, named in the output.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from arena.localservices import LocalPostgres, LocalRedis, log, port_open, wait_for

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


@dataclass
class Stack:
    state: Path
    env: dict = field(default_factory=lambda: dict(os.environ))
    children: list[tuple[str, subprocess.Popen]] = field(default_factory=list)
    extra_env: dict[str, dict] = field(default_factory=dict)
    postgres: LocalPostgres | None = None
    redis: LocalRedis | None = None

    def __post_init__(self) -> None:
        # Without an SMTP server (EMAIL_HOST) mail, such as sign-up confirmation links, is written
        # as files here, where the person running the arena finds it.
        if not self.env.get("EMAIL_HOST"):
            self.env.setdefault("ARENA_MAIL_DIR", str(self.state / "mail"))

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    def start_databases(self, *, pg_port: int, redis_port: int) -> None:
        if not self.env.get("DATABASE_URL"):
            self.postgres = LocalPostgres(self.state / "postgres", pg_port, self.logs / "postgres.log")
            log(f"starting PostgreSQL on 127.0.0.1:{pg_port} (log: {self.postgres.logfile})")
            self.postgres.start()
            self.env["DATABASE_URL"] = self.postgres.url
        if not self.env.get("REDIS_URL"):
            self.redis = LocalRedis(self.state / "redis", redis_port, self.logs / "redis.log")
            log(f"starting Redis on 127.0.0.1:{redis_port} (log: {self.redis.logfile})")
            self.redis.start()
            self.env["REDIS_URL"] = self.redis.url

    def keep_secrets(self) -> None:
        """A random ``SECRET_KEY``, and a ``/v1`` key unless the environment opens ``/v1`` or names
        its own keys: each made on the first run and kept under the state folder (readable by its
        owner only), so sessions and keys outlive a restart. Every service gets them in its environment."""
        if not self.env.get("SECRET_KEY"):
            self.env["SECRET_KEY"] = kept_secret(self.state / "secret_key")
        v1_open = self.env.get("ARENA_V1_OPEN", "").lower() in ("1", "true", "yes", "on")
        if not self.env.get("ARENA_API_KEYS") and not v1_open:
            path = self.state / "api_key"
            self.env["ARENA_API_KEYS"] = kept_secret(path)
            log(f"/v1 API key: {self.env['ARENA_API_KEYS']}  (kept in {path}; send it as "
                "'Authorization: Bearer <key>', or set ARENA_V1_OPEN=1 to open /v1 to everyone)")

    def manage(self, *args: str) -> None:
        subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=self.env, check=True)

    def respawn(self, name: str, old: subprocess.Popen) -> subprocess.Popen:
        """Start ``old``'s command line again with its environment, in its place among the children."""
        process = self.spawn(name, list(old.args), **self.extra_env.get(name, {}))
        self.children.pop()  # spawn appended it
        self.children[self.children.index((name, old))] = (name, process)
        return process

    def spawn(self, name: str, args: list[str], **extra_env) -> subprocess.Popen:
        self.extra_env[name] = extra_env
        self.logs.mkdir(parents=True, exist_ok=True)
        logfile = self.logs / f"{name}.log"
        handle = open(logfile, "ab")
        process = subprocess.Popen(args, cwd=ROOT, env={**self.env, **extra_env}, stdout=handle,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        self.children.append((name, process))
        log(f"started {name} (pid {process.pid}, log: {logfile})")
        return process

    def start_web(self, port: int, *, workers: int = 1) -> subprocess.Popen:
        proxies = self.env.get("FORWARDED_ALLOW_IPS", "")  # X-Forwarded-For is believed only from these
        process = self.spawn("web", [PYTHON, "-m", "uvicorn", "arena.asgi:application", "--host",
                                     self.env.get("HOST", "127.0.0.1"), "--port", str(port), "--workers", str(workers),
                                     "--timeout-graceful-shutdown", "3", "--no-access-log",
                                     *(["--forwarded-allow-ips", proxies] if proxies else ["--no-proxy-headers"])])
        wait_for(lambda: port_open(port) or process.poll() is not None, timeout=60, what="the web server")
        if process.poll() is not None:
            raise RuntimeError(f"the web server exited; see {self.logs / 'web.log'}")
        return process

    def start_worker(self, name: str, queues: list[str], *, concurrency: int = 16) -> subprocess.Popen:
        return self.spawn(name, [PYTHON, "-m", "celery", "-A", "workers.celery", "worker", "-Q", ",".join(queues),
                                 "-n", f"{name}@%h", "--pool", "threads", "--concurrency", str(concurrency),
                                 "--loglevel", "INFO", "--without-gossip", "--without-mingle"])

    def start_beat(self) -> subprocess.Popen:
        schedule = self.state / "celerybeat-schedule"
        return self.spawn("beat", [PYTHON, "-m", "celery", "-A", "workers.celery", "beat", "--loglevel", "INFO",
                                   "--schedule", str(schedule)])

    def stop_on_sigterm(self) -> None:
        """Make SIGTERM (``kill``, a timeout) end this process as an exception does, so that the
        caller's ``finally: stack.stop()`` runs and no service is left behind (a bench's use)."""
        def on_sigterm(signum, frame):
            sys.exit(128 + signum)

        signal.signal(signal.SIGTERM, on_sigterm)

    def stop(self) -> None:
        for _name, process in reversed(self.children):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for _name, process in reversed(self.children):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.children.clear()
        for service in (self.redis, self.postgres):
            if service:
                service.stop()


def kept_secret(path: Path) -> str:
    """The secret stored in ``path``, made (mode 0600) if there is none yet."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
        handle.write(value + "\n")
    return value


class Supervised:
    """One service of the stack kept running, as a process supervisor (systemd, Kubernetes) would.

    ``ensure()`` starts it with ``start`` the first time and, whenever it has exited, starts the same
    command line again; ``restarts`` counts those.
    """

    def __init__(self, stack: Stack, name: str, start: Callable[[], subprocess.Popen]) -> None:
        self.stack = stack
        self.name = name
        self._start = start
        self.process: subprocess.Popen | None = None
        self.restarts = 0

    @property
    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def ensure(self) -> subprocess.Popen:
        if self.process is None:
            self.process = self._start()
        elif self.exited:
            self.restarts += 1
            self.process = self.stack.respawn(self.name, self.process)
        return self.process


def run() -> None:
    port = int(os.environ.get("PORT", "8000"))
    stack = Stack(state=Path(os.environ.get("ARENA_STATE", ROOT / ".state")))
    stopping = False

    def on_signal(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack.keep_secrets()
        stack.start_databases(pg_port=int(os.environ.get("ARENA_PG_PORT", "5433")),
                              redis_port=int(os.environ.get("ARENA_REDIS_PORT", "6380")))
        log("applying migrations")
        stack.manage("migrate", "--noinput", "-v", "0")
        stack.manage("load_demo")
        queues = os.environ.get("ARENA_QUEUES", "arena,smollm2").split(",")
        web_workers = int(os.environ.get("WEB_WORKERS", "1"))  # more processes serve more votes at once
        services = [Supervised(stack, "worker", lambda: stack.start_worker("worker", queues)),
                    Supervised(stack, "beat", stack.start_beat),
                    Supervised(stack, "web", lambda: stack.start_web(port, workers=web_workers))]
        for service in services:
            service.ensure()
        log(f"the arena is up at http://127.0.0.1:{port}/  (admin: /admin/, API: /api/docs; Ctrl-C stops everything)")
        log("the first battle waits for the demo model to load; the worker log shows its progress")
        if "ARENA_MAIL_DIR" in stack.env:
            log(f"mail (sign-up confirmation links) goes to files in {stack.env['ARENA_MAIL_DIR']}")
        restarts: list[float] = []
        while not stopping:
            for service in services:
                if not service.exited or stopping:
                    continue
                name = service.name
                log(f"{name} exited with code {service.process.returncode}; see {stack.logs / (name + '.log')}")
                restarts = [t for t in restarts if t > time.monotonic() - 60] + [time.monotonic()]
                if len(restarts) > 5:
                    log("services keep exiting; giving up")
                    stopping = True
                    break
                log(f"restarting {name}")
                service.ensure()
            time.sleep(0.5)
    finally:
        log("stopping")
        stack.stop()
        log("stopped")


if __name__ == "__main__":
    run()
