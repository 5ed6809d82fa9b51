"""Start a private PostgreSQL and Redis for `make run` and the tests.

Both run as child processes with their data and logs under one state folder, on loopback only.
PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` system user
that Debian's package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


def log(message: str) -> None:
    print(f"[arena] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def wait_for(condition, *, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} did not become ready within {timeout:.0f} s")


def postgres_bin(name: str) -> str:
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    found = candidates[0] if candidates else shutil.which(name)
    if not found:
        raise FileNotFoundError(
            f"{name} not found: install PostgreSQL (apt-get install postgresql) or set DATABASE_URL."
        )
    return found


def _as_postgres_user() -> dict:
    """Popen arguments that drop root to the postgres user (PostgreSQL refuses to run as root)."""
    if os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam("postgres")  # raises KeyError naming the missing user
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _give_to_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        for p in [path, *path.rglob("*")]:
            os.chown(p, entry.pw_uid, entry.pw_gid)


@dataclass
class LocalPostgres:
    datadir: Path
    port: int
    logfile: Path
    user: str = "arena"
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"postgres://{self.user}@127.0.0.1:{self.port}/arena"

    def start(self) -> None:
        as_postgres = _as_postgres_user()
        if not (self.datadir / "PG_VERSION").exists():
            log(f"initialising PostgreSQL in {self.datadir} (once)")
            self.datadir.mkdir(parents=True, exist_ok=True)
            _give_to_postgres(self.datadir)
            subprocess.run(
                [postgres_bin("initdb"), "-D", str(self.datadir), "-U", self.user,
                 "--auth=trust", "--encoding=UTF8", "--no-sync"],
                check=True, stdout=subprocess.DEVNULL, cwd="/", **as_postgres,
            )
        self.datadir.chmod(0o700)
        self.logfile.parent.mkdir(parents=True, exist_ok=True)
        log_handle = open(self.logfile, "ab")
        self.process = subprocess.Popen(
            [postgres_bin("postgres"), "-D", str(self.datadir), "-p", str(self.port),
             "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.datadir}",
             "-c", "fsync=off", "-c", "max_connections=400", "-c", "shared_buffers=128MB"],
            stdout=log_handle, stderr=log_handle, start_new_session=True, cwd="/", **as_postgres,
        )
        wait_for(self._ready, timeout=60, what="PostgreSQL")
        subprocess.run(
            [postgres_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "arena"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def _ready(self) -> bool:
        if self.process and self.process.poll() is not None:
            raise RuntimeError(f"PostgreSQL exited; see {self.logfile}")
        return subprocess.run(
            [postgres_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "-q"]
        ).returncode == 0

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown: disconnect clients, then stop cleanly
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class LocalRedis:
    datadir: Path
    port: int
    logfile: Path
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if not binary:
            raise FileNotFoundError("redis-server not found: install it (apt-get install redis-server) "
                                    "or set REDIS_URL.")
        self.datadir.mkdir(parents=True, exist_ok=True)
        self.logfile.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.datadir),
             "--logfile", str(self.logfile), "--save", "60 1", "--appendonly", "yes",
             "--maxclients", "10000"],
            start_new_session=True,
        )
        wait_for(lambda: port_open(self.port), timeout=20, what="Redis")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
