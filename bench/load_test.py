"""Load test on loopback: many concurrent clients running battles and voting against a real stack
(PostgreSQL, Redis, a Celery worker on a tiny fast model, one uvicorn web process).

Phases, each printed as a row:
  battles   N clients each run a whole battle (create, follow the SSE stream, vote)
  streams   M SSE streams held open at once on one web process (answers that never start)
  votes     votes paced at a fixed rate; latency percentiles, and under them the web server's CPU
            per vote, the share of a core this client used (it runs on the same cores as the
            server, PostgreSQL, Redis and the worker) and how busy the whole machine was
Afterwards it checks that every acknowledged vote is in the database exactly once.

Each client asks its own question, as people do. ``--same-prompt`` makes every battle ask the
same one: counted votes on one prompt take their de-duplication numbers one at a time (an
advisory lock in the vote's transaction), so that is the worst case for vote latency.

    .venv/bin/python bench/load_test.py [--clients 200] [--streams 1000] [--vote-rate 100 [50 ...]]
"""

import argparse
import asyncio
import itertools
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import django
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from arena.localservices import free_port, log  # noqa: E402
from arena.redis_client import get_redis  # noqa: E402
from arena.stack import Stack  # noqa: E402
from workers.heartbeat import live_queues  # noqa: E402

STATE = Path(tempfile.mkdtemp(prefix="arena-load-"))
STATE.chmod(0o755)
PG_PORT, REDIS_PORT = free_port(), free_port()
os.environ.update({
    "DATABASE_URL": f"postgres://arena@127.0.0.1:{PG_PORT}/arena", "REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
    "DJANGO_SETTINGS_MODULE": "arena.settings", "ARENA_HEARTBEAT_SECONDS": "1", "ARENA_HEARTBEAT_TTL": "3",
    "ARENA_LIMITS": '{"battles": "1000000/m", "battles_ip": "1000000/m", "votes": "1000000/d", '
                    '"votes_ip": "1000000/d", "turns": "1000000/m", "turns_ip": "1000000/m"}',
    "HF_HUB_OFFLINE": "1", "DB_CONN_MAX_AGE": "60",
})


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


PROMPTS = itertools.count()


class Client:
    same_prompt = False

    def __init__(self, http):
        self.http = http

    async def start(self):
        token = (await self.http.get("/api/session")).json()["csrf_token"]
        self.http.headers["X-CSRFToken"] = token

    async def battle(self) -> str:
        prompt = "Say something short." if self.same_prompt else f"Say something short about topic {next(PROMPTS)}."
        r = await self.http.post("/api/battles", json={"prompt": prompt})
        r.raise_for_status()
        return r.json()["id"]

    async def follow(self, battle_id: str) -> int:
        events = 0
        async with self.http.stream("GET", f"/api/battles/{battle_id}/stream", timeout=120) as response:
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    events += 1
                    if line.strip() == "event: idle":
                        break
        return events


async def run_battles(base: str, clients: int) -> tuple[list[float], list[tuple[str, str]], float]:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    latencies, acknowledged = [], []

    async def one():
        async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as http:
            client = Client(http)
            await client.start()
            battle_id = await client.battle()
            await client.follow(battle_id)
            for _ in range(200):  # the idle event can beat the final database write by a hair
                if (await http.get(f"/api/battles/{battle_id}")).json()["finished"]:
                    break
                await asyncio.sleep(0.05)
            t0 = time.perf_counter()
            r = await http.post(f"/api/battles/{battle_id}/vote", json={"choice": "tie"})
            latencies.append(time.perf_counter() - t0)
            if r.status_code == 200:
                acknowledged.append((battle_id, "tie"))

    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(clients)))
    return latencies, acknowledged, time.perf_counter() - t0


async def hold_streams(base: str, battle_id: str, count: int, hold: float) -> tuple[int, float]:
    opened = 0
    ready = asyncio.Event()

    async def one(http):
        nonlocal opened
        async with http.stream("GET", f"/api/battles/{battle_id}/stream", timeout=hold + 60) as response:
            async for line in response.aiter_lines():
                if line.startswith("retry:"):
                    opened += 1
                    if opened == count:
                        ready.set()
                    break
            await asyncio.sleep(hold)

    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(base_url=base, limits=limits) as http:
        tasks = [asyncio.create_task(one(http)) for _ in range(count)]
        t0 = time.perf_counter()
        try:
            await asyncio.wait_for(ready.wait(), timeout=120)
        except TimeoutError:
            pass
        took = time.perf_counter() - t0
        held = opened
        await asyncio.gather(*tasks, return_exceptions=True)
    return held, took


async def paced_votes(base: str, battle_ids: list[str], rate: float, cookies_by_battle) -> tuple[list[float], list]:
    latencies, acknowledged = [], []

    async def vote(http, battle_id):
        t0 = time.perf_counter()
        r = await http.post(f"/api/battles/{battle_id}/vote", json={"choice": "a"})
        latencies.append(time.perf_counter() - t0)
        if r.status_code == 200:
            acknowledged.append((battle_id, "a"))

    tasks = []
    start = time.perf_counter()
    for i, (battle_id, http) in enumerate(cookies_by_battle):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(vote(http, battle_id)))
    await asyncio.gather(*tasks)
    return latencies, acknowledged


async def prepare_finished_battles(base: str, count: int):
    """Battles ready to vote on, each with its own session; returns (battle_id, client) pairs."""
    pairs = []
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)

    async def one():
        http = httpx.AsyncClient(base_url=base, timeout=120, limits=limits)
        client = Client(http)
        await client.start()
        battle_id = await client.battle()
        await client.follow(battle_id)
        pairs.append((battle_id, http))

    await asyncio.gather(*(one() for _ in range(count)))
    for _ in range(600):
        done = 0
        for battle_id, http in pairs:
            done += (await http.get(f"/api/battles/{battle_id}")).json()["finished"]
        if done == len(pairs):
            break
        await asyncio.sleep(0.2)
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--hold", type=float, default=5.0, help="seconds to hold the open streams")
    parser.add_argument("--vote-rate", type=float, nargs="+", default=[100.0],
                        help="votes per second; several rates give a row each")
    parser.add_argument("--votes", type=int, default=300, help="votes at the first rate (3 s of them at the others)")
    parser.add_argument("--same-prompt", action="store_true", help="every battle asks the same question")
    parser.add_argument("--phases", default="battles,streams,votes", help="which phases to run (comma-separated)")
    parser.add_argument("--web-workers", type=int, default=1, help="uvicorn worker processes (the streams "
                        "target is for one)")
    args = parser.parse_args()
    phases = set(args.phases.split(","))
    Client.same_prompt = args.same_prompt
    # A thousand open streams need more file descriptors than the usual soft limit of 1024, in this
    # client and in the web server it starts (children inherit the limit).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))

    stack = Stack(state=STATE, env={k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")})
    stack.stop_on_sigterm()  # a killed bench stops its services too
    try:
        stack.start_databases(pg_port=PG_PORT, redis_port=REDIS_PORT)
        stack.manage("migrate", "--noinput", "-v", "0")
        django.setup()
        from arena.models import Backend, ModelEndpoint, Vote  # noqa: PLC0415 (Django sets up once the databases run)
        from workers.engine.tiny import build_tiny_model  # noqa: PLC0415 (torch, only to build the model)

        tiny = build_tiny_model(STATE / "tiny")
        for i in range(4):
            ModelEndpoint.objects.create(name=f"fast-{i}", backend=Backend.TRANSFORMERS, queue="tiny",
                                         params={"model": str(tiny), "temperature": 0, "max_new_tokens": 8, "seed": i})
        ModelEndpoint.objects.create(name="never-1", backend=Backend.TRANSFORMERS, queue="nobody",
                                     params={"model": str(tiny)}, enabled=True)
        ModelEndpoint.objects.create(name="never-2", backend=Backend.TRANSFORMERS, queue="nobody",
                                     params={"model": str(tiny)}, enabled=True)
        stack.start_worker("worker", ["arena", "tiny"], concurrency=32)
        port = free_port()
        web_group = stack.start_web(port, workers=args.web_workers).pid  # its own process group
        base = f"http://127.0.0.1:{port}"

        deadline = time.time() + 120
        while "tiny" not in live_queues() and time.time() < deadline:
            time.sleep(0.2)

        rows, ack1, ack3 = [], [], []
        if "battles" in phases:
            log(f"phase 1: {args.clients} clients each running a battle and voting")
            latencies, ack1, seconds = asyncio.run(run_battles(base, args.clients))
            rows.append(("battles", f"{args.clients} clients", f"{len(ack1) / seconds:.1f} battles/s",
                         f"vote p50 {percentile(latencies, 50) * 1000:.0f} ms, "
                         f"p99 {percentile(latencies, 99) * 1000:.0f} ms"))

        if "streams" in phases:
            log(f"phase 2: {args.streams} SSE streams held open for {args.hold:.0f} s on one web process")
            from arena.models import Battle, Message, Mode, Turn  # noqa: PLC0415 (Django is set up in main)

            pending = Battle.objects.create(mode=Mode.NAMED, endpoint_a=ModelEndpoint.objects.get(name="never-1"),
                                            endpoint_b=ModelEndpoint.objects.get(name="never-2"), client_id="load")
            turn = Turn.objects.create(battle=pending, index=0, prompt="waiting")
            Message.objects.create(turn=turn, side="a")
            Message.objects.create(turn=turn, side="b")
            held, took = asyncio.run(hold_streams(base, str(pending.uuid), args.streams, args.hold))
            web_rss = _rss_mb(stack)
            time.sleep(3)
            rows.append(("streams", f"{args.streams} opened", f"{held} held at once",
                         f"all open after {took:.1f} s; web process RSS {web_rss:.0f} MB; "
                         f"{_streams_followed()} still followed 3 s after their clients left"))

        for n, rate in enumerate(args.vote_rate if "votes" in phases else []):
            votes = args.votes if n == 0 else int(3 * rate)
            log(f"phase 3: {votes} votes paced at {rate:.0f}/s")

            async def phase3():
                pairs = await prepare_finished_battles(base, votes)
                log(f"phase 3: {len(pairs)} battles ready; voting")
                before = CpuUse(web_group)
                result = await paced_votes(base, [b for b, _ in pairs], rate, pairs)
                used = before.since()
                for _, http in pairs:
                    await http.aclose()
                return result, used

            (latencies, acked), used = asyncio.run(phase3())
            ack3 += acked
            rows.append(("votes", f"{votes} at {rate:.0f}/s", f"{len(acked)} acknowledged",
                         f"p50 {percentile(latencies, 50) * 1000:.1f} ms, "
                         f"p99 {percentile(latencies, 99) * 1000:.1f} ms"))
            rows.append(("", "", "", f"web {used['web'] / max(len(acked), 1) * 1000:.1f} ms CPU a vote; "
                         f"this client {used['client'] / used['wall']:.0%} of a core; "
                         f"machine {used['busy'] / used['wall'] / os.cpu_count():.0%} busy"))

        acknowledged = ack1 + ack3
        stored = {str(u): c for u, c in Vote.objects.values_list("battle__uuid", "choice")}
        missing = [b for b, c in acknowledged if stored.get(b) != c]
        duplicates = Vote.objects.count() - len(stored)
        rows.append(("integrity", f"{len(acknowledged)} acknowledged", f"{len(stored)} in database",
                     f"missing {len(missing)}, duplicated {duplicates}"))

        print()
        print(f"{'phase':<10} {'load':<22} {'throughput':<22} latency / notes")
        print("-" * 100)
        for row in rows:
            print(f"{row[0]:<10} {row[1]:<22} {row[2]:<22} {row[3]}")
        web = "one uvicorn process" if args.web_workers == 1 else f"{args.web_workers} uvicorn processes"
        print(f"\nmachine: {os.cpu_count()} cores, {web}, one Celery worker (tiny model, 8 tokens); "
              f"{'one prompt for every battle' if args.same_prompt else 'a different prompt per battle'}")
        if missing or duplicates:
            sys.exit("acknowledged votes were lost or duplicated")
    finally:
        stack.stop()


class CpuUse:
    """CPU seconds spent from now on: by the web server's processes, by this load client (which
    shares the machine's cores with the server, PostgreSQL, Redis and the worker) and by the whole
    machine, beside the wall-clock seconds."""

    def __init__(self, web_group: int):
        self.web_group = web_group
        self.start = self._now()

    def _now(self) -> dict:
        tick = os.sysconf("SC_CLK_TCK")
        web = 0.0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # the process ended meanwhile
            if int(fields[2]) == self.web_group:  # pgrp
                web += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        with open("/proc/stat") as f:
            jiffies = [int(v) for v in f.readline().split()[1:]]
        own = os.times()
        return {"web": web, "client": own.user + own.system, "busy": (sum(jiffies) - jiffies[3] - jiffies[4]) / tick,
                "wall": time.perf_counter()}

    def since(self) -> dict:
        now = self._now()
        return {key: now[key] - self.start[key] for key in now}


def _streams_followed() -> int:
    """Event streams the server still reads from Redis (an XREAD within the last second or two)."""
    return sum(1 for c in get_redis().client_list() if c.get("cmd") == "xread" and int(c.get("idle", 0)) < 2)


def _rss_mb(stack) -> float:
    for name, process in stack.children:
        if name == "web":
            try:
                with open(f"/proc/{process.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS"):
                            return int(line.split()[1]) / 1024
            except OSError:
                pass
    return float("nan")


if __name__ == "__main__":
    main()
